// Package ops carries out Day-2 operations on a repository tree as typed
// edits: Scale, Image, Autoscale, Resources and Rollback. Each finds every
// place that defines the service (k8s/ manifests, gitops/apps bases,
// overlay patches, kustomize images: and replicas: entries, Flux image
// setters) and edits all of them consistently, keeping comments, key
// order and setter markers: values are replaced where they stand in the
// text, and every edited file must decode to exactly the intended change.
//
// The job drives it in four steps: Parse (a command's words) or
// ParseIntent (a model's structured answer) gives an Operation; Load
// reads the checkout; Repo.Plan says what will change and why, with the
// current values (the plan reply and the pull request body); Plan.Apply
// writes the edited files. Nothing here runs git, talks to GitHub or
// changes a cluster: rollback reads old trees through a TreeAt the job
// provides, and resources --from-metrics asks a UsageSource
// (internal/ops/metrics queries Prometheus).
package ops
