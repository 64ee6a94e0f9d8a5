package diagnose

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/redact"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/build"
)

// Stage is Finding.Stage of every diagnose finding.
const Stage = "diagnose"

// Finding is one diagnosis: the shared finding (ID, severity, object,
// message, hint, and the repository file and line when the object came
// from the repository) with the evidence it rests on and the field of the
// object at fault.
type Finding struct {
	finding.Finding
	// Field is the path of the field at fault inside Object's manifest
	// ("spec.template.spec.containers[name=web].readinessProbe.httpGet.port"),
	// "" when the finding is about the whole object.
	Field string `json:"field,omitempty"`
	// Evidence are the status lines, events and log lines the finding
	// rests on, redacted.
	Evidence []string `json:"evidence,omitempty"`
}

// Report is the outcome of one diagnosis.
type Report struct {
	Namespace string `json:"namespace"`
	// Service is the service diagnosed, "" for the whole namespace.
	Service string `json:"service,omitempty"`
	// Findings are ordered most severe first.
	Findings []Finding `json:"findings"`
	// Logs are the bounded, redacted log excerpts read.
	Logs []Log `json:"logs,omitempty"`
	// Notes say what could not be read or traced, and why.
	Notes []string `json:"notes,omitempty"`
	// RootCause is the model's ranked root cause (WithRootCause), nil
	// without a model or when its answer was not usable (a note says why).
	RootCause *RootCause `json:"rootCause,omitempty"`
	Stats     Stats      `json:"stats"`
}

// Stats are the figures of a diagnosis.
type Stats struct {
	Pods        int `json:"pods"`
	FailingPods int `json:"failingPods"`
	// Requests is how many API requests the diagnosis made (0 when the
	// Cluster was not built by NewCluster).
	Requests int64         `json:"requests,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
}

// Option changes a default of Diagnose.
type Option func(*options)

type options struct {
	fluxNamespace      string
	logLines, logBytes int64
	maxLogStreams      int
	concurrency        int
	now                func() time.Time
	input              *validate.Input
	loadFindings       []finding.Finding
	answerer           llm.Answerer
	meter              *llm.Meter
}

// WithFluxNamespace is where Flux's own objects live besides the
// diagnosed namespace ("flux-system" by default; "" reads only the
// diagnosed namespace).
func WithFluxNamespace(ns string) Option { return func(o *options) { o.fluxNamespace = ns } }

// WithLogLimits bounds each log read: its last lines lines and at most
// bytes bytes (50 lines and 32 KiB by default).
func WithLogLimits(lines, bytes int64) Option {
	return func(o *options) {
		if lines > 0 {
			o.logLines = lines
		}
		if bytes > 0 {
			o.logBytes = bytes
		}
	}
}

// WithMaxLogStreams bounds how many logs (current or previous, one
// container each) one diagnosis reads (10 by default).
func WithMaxLogStreams(n int) Option { return func(o *options) { o.maxLogStreams = n } }

// WithNow sets the clock (for the staleness of image automation).
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithInput correlates with an already loaded repository (and the
// findings its load reported) instead of loading repoDir again.
func WithInput(in *validate.Input, loadFindings []finding.Finding) Option {
	return func(o *options) { o.input, o.loadFindings = in, loadFindings }
}

// Diagnose reads namespace through cl, read-only, and returns the
// findings about service ("" for every workload of the namespace), each
// traced to the file and line of the repository at repoDir that defines
// its object ("" for no repository). It fails only when the namespace's
// Pods cannot be listed or the repository cannot be read; what else
// cannot be read becomes a note.
func Diagnose(ctx context.Context, cl Cluster, namespace, service, repoDir string, opts ...Option) (*Report, error) {
	start := time.Now()
	o := options{fluxNamespace: "flux-system", logLines: 50, logBytes: 32 << 10, maxLogStreams: 10, concurrency: 8, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if namespace == "" {
		return nil, fmt.Errorf("diagnose: no namespace given: name the namespace the service runs in (--namespace)")
	}
	before := cl.Requests()
	in := o.input
	if in == nil && repoDir != "" {
		var err error
		if in, o.loadFindings, err = build.Load(ctx, repoDir); err != nil {
			return nil, fmt.Errorf("diagnose: read repository %s: %w", repoDir, err)
		}
	}
	s, err := collect(ctx, cl, namespace, o)
	if err != nil {
		return nil, fmt.Errorf("diagnose: %w", err)
	}
	d := newDiag(s, service, o, in)
	d.readLogs(ctx, cl)
	issues := d.detect()
	r := &Report{Namespace: namespace, Service: service, Logs: s.Logs}
	r.Findings = d.findings(issues)
	r.Notes = append(append(slices.Clone(s.Notes), d.notes...), loadNotes(o.loadFindings)...)
	r.Stats = Stats{Pods: d.podsInScope(), FailingPods: d.failingPods(), Requests: cl.Requests() - before}
	if o.answerer != nil {
		d.explain(ctx, r)
	}
	sort.Strings(r.Notes)
	r.Stats.Duration = time.Since(start)
	return r, nil
}

// loadNotes turns the repository's load errors into notes: objects of a
// root that does not build cannot be traced to their lines.
func loadNotes(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Severity != finding.Error {
			continue
		}
		where := f.File
		if f.Line > 0 {
			where = fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		out = append(out, fmt.Sprintf("the repository does not load at %s (%s: %s): what it defines is not traced to its lines", where, f.ID, firstLine(f.Message)))
	}
	return out
}

// diag is one diagnosis in progress.
type diag struct {
	s           *Snapshot
	o           options
	scope       *scope
	loc         *locator
	replicaSets map[string]*appsv1.ReplicaSet
	events      eventIndex
	notes       []string
}

func newDiag(s *Snapshot, service string, o options, in *validate.Input) *diag {
	d := &diag{s: s, o: o, replicaSets: replicaSetIndex(s.ReplicaSets), events: newEventIndex(s.Events), loc: newLocator(in)}
	d.scope = d.buildScope(service)
	if d.scope.empty {
		d.notes = append(d.notes, fmt.Sprintf("no Deployment, StatefulSet, Service or Pod in namespace %s is named %s or labelled app=%s: only Flux objects were checked", s.Namespace, service, service))
	}
	return d
}

// issue is a detector's result before it is traced to the repository.
type issue struct {
	id       string
	sev      finding.Severity
	obj      objRef
	field    path
	msg      string
	hint     string
	evidence []string
	// at, when set, is where to fix it, found otherwise than through obj
	// (the line a repository build fails at).
	at *finding.Finding
}

// detectors run in this order; each reads the snapshot and the scope.
func (d *diag) detect() []issue {
	var out []issue
	for _, det := range []func() []issue{
		d.detectContainers, d.detectPending, d.detectClaims, d.detectReadiness,
		d.detectServices, d.detectLogErrors, d.detectFlux,
	} {
		out = append(out, det()...)
	}
	return out
}

// findings traces issues to the repository, merges repeats (the same
// problem in every replica) and redacts what they quote.
func (d *diag) findings(issues []issue) []Finding {
	out := []Finding{}
	seen := map[string]int{}
	for _, is := range issues {
		f := Finding{Finding: finding.Finding{ID: is.id, Severity: is.sev, Stage: Stage, Object: is.obj.String(), Message: is.msg, Hint: is.hint},
			Field: is.field.String()}
		f.File, f.Line = d.loc.locate(is.obj, is.field)
		if is.at != nil {
			f.File, f.Line, f.Field = is.at.File, is.at.Line, ""
		}
		k := strings.Join([]string{f.ID, f.Object, f.Field, f.Message}, "\x00")
		if i, ok := seen[k]; ok {
			out[i].Evidence = mergeEvidence(out[i].Evidence, is.evidence)
			continue
		}
		f.Evidence = mergeEvidence(nil, is.evidence)
		seen[k] = len(out)
		out = append(out, f)
	}
	for i := range out {
		out[i].Finding = redact.Findings([]finding.Finding{out[i].Finding})[0]
		redact.Strings(out[i].Evidence)
	}
	sortFindings(out)
	return out
}

// maxEvidence bounds the evidence lines of one finding.
const maxEvidence = 12

func mergeEvidence(have, more []string) []string {
	for _, e := range more {
		if len(have) < maxEvidence && !slices.Contains(have, e) {
			have = append(have, e)
		}
	}
	return have
}

// sortFindings orders findings most severe first, then by ID and object.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := a.Severity.Rank(), b.Severity.Rank(); ra != rb {
			return ra > rb
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Message < b.Message
	})
}

func (d *diag) podsInScope() int {
	n := 0
	for _, p := range d.s.Pods {
		if d.scope.pod(p.Name) {
			n++
		}
	}
	return n
}

func (d *diag) failingPods() int {
	n := 0
	for i := range d.s.Pods {
		if p := &d.s.Pods[i]; d.scope.pod(p.Name) && failing(p) {
			n++
		}
	}
	return n
}

// failing tells whether a Pod is not doing its job: pending, failed, or
// with a container that waits, restarts or is not ready.
func failing(p *corev1.Pod) bool {
	switch p.Status.Phase {
	case corev1.PodPending, corev1.PodFailed:
		return true
	case corev1.PodSucceeded:
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if unhealthy(cs) {
			return true
		}
	}
	return false
}

// unhealthy tells whether a container status shows a problem now: it
// waits (other than for its start), exited with an error, or runs
// without being ready.
func unhealthy(cs corev1.ContainerStatus) bool {
	switch {
	case cs.State.Waiting != nil:
		return cs.State.Waiting.Reason != "ContainerCreating" && cs.State.Waiting.Reason != "PodInitializing"
	case cs.State.Terminated != nil:
		return cs.State.Terminated.ExitCode != 0
	}
	return !cs.Ready
}
