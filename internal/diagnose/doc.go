// Package diagnose answers "why is this service failing, and what do we
// change in git?" without a model and without changing the cluster.
//
// Diagnose reads one namespace through client-go, read-only: one List per
// resource kind (Deployments, StatefulSets, ReplicaSets, Pods, Events,
// Services, EndpointSlices, Ingresses, HPAs, PVCs, ConfigMaps and Secrets
// by name only, Nodes, and Flux's Kustomizations, HelmReleases and image
// automation objects when their CRDs are served), then the bounded logs of
// the containers that fail. Everything it keeps passes internal/redact
// first. Detectors (rules, each with a KW-DIAG ID) turn that snapshot
// into findings with evidence and a hint, and each finding is traced to
// the file and line of the repository that defines the object, and where
// it can be, the field at fault, through the source mapping validation
// uses (internal/validate/build).
//
// With a model (WithRootCause, any llm.Answerer), the findings, the
// objects in scope and the logs, redacted again and fenced as data, go to
// a diagnose agent that ranks the root cause; its answer is held strictly
// to a schema and to the findings (Report.RootCause), or dropped with a
// note. Reads lists what a diagnosis reads, for the read-only role
// deploy/base ships; diagnosetest is the cluster the tests run against.
//
// The Report renders as text, Markdown and JSON; its findings embed
// finding.Finding, so every other rendering of findings applies too.
package diagnose
