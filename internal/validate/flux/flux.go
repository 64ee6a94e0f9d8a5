// Package flux is the flux stage of validation: the Flux objects of the
// repository (Kustomizations, HelmReleases, sources, image automation) and
// the setter comments in its YAML must point at things that exist, and
// their durations must parse.
package flux

// Flux wiring rules: paths, sources, dependencies, image policies and
// setter comments must point at things that exist, and durations must parse.
//
// ID, default severity, what:
//
//	KW-FLUX-001  error    Kustomization spec.path is not a directory of the repository
//	                      (Git sources only; the source root is the repository root)
//	KW-FLUX-002  error    sourceRef / chartRef names a source that is not defined in the
//	                      repository and is not allowed as external (flux-system/flux-system,
//	                      validate.allowedSources)
//	KW-FLUX-003  error    sourceRef / chartRef kind is empty or not one the referrer can use
//	KW-FLUX-004  error    dependsOn names a Kustomization/HelmRelease that is not defined
//	KW-FLUX-005  error    dependsOn cycle (one finding per cycle, on its first member)
//	KW-FLUX-006  error    {"$imagepolicy": "ns:name"} setter names an ImagePolicy that is not defined
//	KW-FLUX-007  error    malformed $imagepolicy setter comment
//	KW-FLUX-008  error    ImagePolicy spec.imageRepositoryRef names an ImageRepository that is not defined
//	KW-FLUX-009  warning  setter is outside the spec.update.path of every ImageUpdateAutomation
//	KW-FLUX-010  warning  setters exist but no ImageUpdateAutomation does
//	KW-FLUX-011  error    HelmRelease sets neither or both of spec.chart and spec.chartRef,
//	                      or spec.chart.spec.chart is empty
//	KW-FLUX-012  error    spec.interval / retryInterval / timeout of a Flux object is not a
//	                      positive Flux duration

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

const (
	fluxKustomizeGroup = "kustomize.toolkit.fluxcd.io"
	fluxHelmGroup      = "helm.toolkit.fluxcd.io"
	fluxSourceGroup    = "source.toolkit.fluxcd.io"
	fluxImageGroup     = "image.toolkit.fluxcd.io"
	fluxGroupSuffix    = ".toolkit.fluxcd.io"

	// fluxBootstrapSource is the GitRepository `flux bootstrap` creates.
	fluxBootstrapSource = "flux-system/flux-system"
)

var (
	// fluxDurationRe is the pattern Flux CRDs put on their durations.
	fluxDurationRe = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)
	// fluxSetterRe matches a setter marker inside a comment.
	fluxSetterRe = regexp.MustCompile(`\{\s*"\$imagepolicy"\s*:\s*"([^"]*)"\s*\}`)
)

// Check checks Flux wiring. It reads rendered objects and the raw
// YAML files (for setter comments, which rendering drops).
type Check struct{}

// Name is the stage name.
func (Check) Name() string { return validate.StageFlux }

// Check runs every Flux rule over in.
func (Check) Check(ctx context.Context, in *validate.Input) []finding.Finding {
	r := newFluxRun(in)
	for _, o := range in.Objects {
		gvk := o.U.GroupVersionKind()
		switch {
		case gvk.Group == fluxKustomizeGroup && gvk.Kind == "Kustomization":
			r.kustomization(o)
		case gvk.Group == fluxHelmGroup && gvk.Kind == "HelmRelease":
			r.helmRelease(o)
		case gvk.Group == fluxImageGroup && gvk.Kind == "ImagePolicy":
			r.imagePolicy(o)
		case gvk.Group == fluxImageGroup && gvk.Kind == "ImageUpdateAutomation":
			r.resolve(o, "spec.sourceRef", fluxRefKinds{allowed: []string{"GitRepository"}, dflt: "GitRepository"})
		}
		if strings.HasSuffix(gvk.Group, fluxGroupSuffix) {
			r.durations(o)
		}
	}
	r.cycles(fluxKustomizeGroup, "Kustomization")
	r.cycles(fluxHelmGroup, "HelmRelease")
	if ctx.Err() == nil {
		r.setters()
	}
	finding.Sort(r.out)
	return r.out
}

// fluxRun is the state of one Check call.
type fluxRun struct {
	in *validate.Input
	// objs holds every object by Object.Key.
	objs map[string]validate.Object
	// docAt finds a source document by "file:line".
	docAt map[string]validate.Doc
	// allowed are external sources as "ns/name".
	allowed map[string]bool
	// files and dirs of the repository.
	files, dirs map[string]bool
	// edges of the dependsOn graph by "group/kind", node "ns/name".
	edges map[string]map[string][]string
	out   []finding.Finding
}

func newFluxRun(in *validate.Input) *fluxRun {
	r := &fluxRun{
		in:      in,
		objs:    map[string]validate.Object{},
		docAt:   map[string]validate.Doc{},
		allowed: map[string]bool{fluxBootstrapSource: true},
		files:   map[string]bool{},
		dirs:    map[string]bool{".": true},
		edges:   map[string]map[string][]string{},
	}
	for _, o := range in.Objects {
		if _, dup := r.objs[o.Key()]; !dup {
			r.objs[o.Key()] = o
		}
	}
	if in.Sources != nil {
		for _, d := range in.Sources.Docs() {
			r.docAt[d.File+":"+strconv.Itoa(d.Line)] = d
		}
	}
	for _, s := range in.Config.AllowedSources {
		r.allowed[strings.TrimSpace(s)] = true
	}
	for _, f := range in.Files {
		r.files[f] = true
		for d := path.Dir(f); d != "." && !r.dirs[d]; d = path.Dir(d) {
			r.dirs[d] = true
		}
	}
	return r
}

func (r *fluxRun) has(group, kind, ns, name string) bool {
	_, ok := r.objs[strings.Join([]string{group, kind, ns, name}, "/")]
	return ok
}

// names lists the names of group/kind objects in ns, sorted.
func (r *fluxRun) names(group, kind, ns string) []string {
	var out []string
	for _, o := range r.objs {
		gvk := o.U.GroupVersionKind()
		if gvk.Group == group && gvk.Kind == kind && o.U.GetNamespace() == ns {
			out = append(out, o.U.GetName())
		}
	}
	sort.Strings(out)
	return out
}

// existing is a hint suffix naming the group/kind objects defined in ns,
// or "" when there are none.
func (r *fluxRun) existing(group, kind, ns string) string {
	names := r.names(group, kind, ns)
	if len(names) == 0 {
		return ""
	}
	if len(names) > 8 {
		names = append(names[:8], "...")
	}
	return fmt.Sprintf(" (%s defined in %s: %s)", kind, ns, strings.Join(names, ", "))
}

// doc finds the source document of o.
func (r *fluxRun) doc(o validate.Object) (validate.Doc, bool) {
	if d, ok := r.docAt[o.File+":"+strconv.Itoa(o.Line)]; ok {
		return d, true
	}
	if r.in.Sources == nil {
		return validate.Doc{}, false
	}
	for _, d := range r.in.Sources.Docs() {
		if d.File == o.File && d.Kind == o.U.GetKind() && d.Name == o.U.GetName() {
			return d, true
		}
	}
	return r.in.Sources.Find(o.Root, o.U.GetKind(), o.U.GetNamespace(), o.U.GetName())
}

// emit adds a finding about o located at field (a FieldLine path).
func (r *fluxRun) emit(o validate.Object, field, id string, sev finding.Severity, msg, hint string) {
	file, line := o.File, o.Line
	if d, ok := r.doc(o); ok {
		file, line = d.File, d.FieldLine(field)
	}
	r.out = append(r.out, finding.Finding{
		ID: id, Severity: sev, Stage: validate.StageFlux,
		File: file, Line: line, Object: o.Ref(),
		Message: msg, Hint: hint,
	})
}

// fluxStr reads a string field; ok is false when it is absent or not a string.
func fluxStr(u *unstructured.Unstructured, fields ...string) (string, bool) {
	s, ok, err := unstructured.NestedString(u.Object, fields...)
	return s, ok && err == nil
}

func fluxMap(u *unstructured.Unstructured, fields ...string) (map[string]any, bool) {
	m, ok, err := unstructured.NestedMap(u.Object, fields...)
	return m, ok && err == nil
}

func fluxMapStr(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// fluxCleanPath turns a Flux path ("./x", "x/", "/x", "") into a clean
// repository-relative directory; ok is false when it leaves the root.
func fluxCleanPath(p string) (string, bool) {
	rel := path.Clean(strings.TrimLeft(strings.TrimSpace(p), "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

// fluxUnder reports whether file is inside dir ("." is everything).
func fluxUnder(file, dir string) bool {
	return dir == "." || file == dir || strings.HasPrefix(file, dir+"/")
}

func (r *fluxRun) kustomization(o validate.Object) {
	ref, hasRef := fluxMap(o.U, "spec", "sourceRef")
	r.resolve(o, "spec.sourceRef", fluxRefKinds{allowed: []string{"GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"}})
	r.dependsOn(o, fluxKustomizeGroup)
	// Paths are checked for Git sources only: they are this repository
	// (a GitRepository defined here or the bootstrap one); OCI and bucket
	// artifacts have contents we cannot see.
	if !hasRef || fluxMapStr(ref, "kind") != "GitRepository" {
		return
	}
	p, _ := fluxStr(o.U, "spec", "path")
	shown := p
	if shown == "" {
		shown = "./"
	}
	rel, ok := fluxCleanPath(p)
	switch {
	case !ok:
		r.emit(o, "spec.path", "KW-FLUX-001", finding.Error,
			fmt.Sprintf("spec.path %q leaves the source root", shown),
			"use a path relative to the repository root, such as ./clusters/production")
	case r.dirs[rel]:
	case r.files[rel]:
		r.emit(o, "spec.path", "KW-FLUX-001", finding.Error,
			fmt.Sprintf("spec.path %q is a file; Flux needs the directory that holds the manifests", shown),
			fmt.Sprintf("set spec.path to ./%s", path.Dir(rel)))
	default:
		r.emit(o, "spec.path", "KW-FLUX-001", finding.Error,
			fmt.Sprintf("spec.path %q is not a directory in the repository", shown),
			r.pathHint(rel))
	}
}

// pathHint names the nearest existing ancestor of a missing directory and
// its subdirectories.
func (r *fluxRun) pathHint(rel string) string {
	anc := path.Dir(rel)
	for anc != "." && !r.dirs[anc] {
		anc = path.Dir(anc)
	}
	var kids []string
	for d := range r.dirs {
		if d != "." && path.Dir(d) == anc {
			kids = append(kids, "./"+d)
		}
	}
	sort.Strings(kids)
	if len(kids) > 5 {
		kids = append(kids[:5], "...")
	}
	hint := "paths are relative to the repository root; point spec.path at the directory holding the manifests"
	if len(kids) > 0 {
		hint += " (existing: " + strings.Join(kids, ", ") + ")"
	}
	return hint
}

// fluxRefKinds says which source kinds a reference may name.
type fluxRefKinds struct {
	allowed []string
	// dflt is the kind when the reference leaves it empty ("" = required).
	dflt string
}

// resolve checks that the source reference at field (spec.sourceRef,
// spec.chartRef, spec.chart.spec.sourceRef) names a defined or allowed
// external source of a kind the referrer can use.
func (r *fluxRun) resolve(o validate.Object, field string, kinds fluxRefKinds) {
	ref, ok := fluxMap(o.U, validate.SplitPath(field)...)
	if !ok {
		r.emit(o, "spec", "KW-FLUX-002", finding.Error,
			fmt.Sprintf("%s has no %s", o.U.GetKind(), field),
			fmt.Sprintf("set %s to the source to reconcile from (kind and name)", field))
		return
	}
	kind := fluxMapStr(ref, "kind")
	if kind == "" {
		kind = kinds.dflt
	}
	if kind == "" {
		r.emit(o, field, "KW-FLUX-003", finding.Error,
			fmt.Sprintf("%s.kind is empty", field),
			"set kind to one of "+strings.Join(kinds.allowed, ", "))
		return
	}
	valid := false
	for _, k := range kinds.allowed {
		valid = valid || k == kind
	}
	if !valid {
		r.emit(o, field+".kind", "KW-FLUX-003", finding.Error,
			fmt.Sprintf("%s.kind %q is not a source a %s can use", field, kind, o.U.GetKind()),
			"use one of "+strings.Join(kinds.allowed, ", "))
		return
	}
	name := fluxMapStr(ref, "name")
	if name == "" {
		r.emit(o, field, "KW-FLUX-002", finding.Error,
			fmt.Sprintf("%s.name is empty", field),
			fmt.Sprintf("name the %s to use", kind))
		return
	}
	ns := fluxMapStr(ref, "namespace")
	if ns == "" {
		ns = o.U.GetNamespace()
	}
	if r.has(fluxSourceGroup, kind, ns, name) || r.allowed[ns+"/"+name] {
		return
	}
	hint := fmt.Sprintf("define %s %s in namespace %s, fix the name or namespace, or, if it is created outside this repository, add %q to validate.allowedSources in .github/kubewright.yaml", kind, name, ns, ns+"/"+name)
	hint += r.existing(fluxSourceGroup, kind, ns)
	r.emit(o, field+".name", "KW-FLUX-002", finding.Error,
		fmt.Sprintf("%s refers to %s %s/%s, which is not defined in the repository", field, kind, ns, name),
		hint)
}

func (r *fluxRun) helmRelease(o validate.Object) {
	_, hasChart := fluxMap(o.U, "spec", "chart")
	_, hasRef := fluxMap(o.U, "spec", "chartRef")
	switch {
	case !hasChart && !hasRef:
		r.emit(o, "spec", "KW-FLUX-011", finding.Error,
			"HelmRelease sets neither spec.chart nor spec.chartRef",
			"set spec.chart.spec (chart and sourceRef) or spec.chartRef")
	case hasChart && hasRef:
		r.emit(o, "spec.chartRef", "KW-FLUX-011", finding.Error,
			"HelmRelease sets both spec.chart and spec.chartRef",
			"keep one of them")
	}
	if hasChart {
		if c, _ := fluxStr(o.U, "spec", "chart", "spec", "chart"); strings.TrimSpace(c) == "" {
			r.emit(o, "spec.chart.spec.chart", "KW-FLUX-011", finding.Error,
				"spec.chart.spec.chart is empty",
				"set it to the chart name in the repository (or its path in a Git/Bucket source)")
		}
		r.resolve(o, "spec.chart.spec.sourceRef", fluxRefKinds{allowed: []string{"HelmRepository", "GitRepository", "Bucket"}})
	}
	if hasRef {
		r.resolve(o, "spec.chartRef", fluxRefKinds{allowed: []string{"OCIRepository", "HelmChart", "ExternalArtifact"}})
	}
	r.dependsOn(o, fluxHelmGroup)
}

func (r *fluxRun) imagePolicy(o validate.Object) {
	ref, ok := fluxMap(o.U, "spec", "imageRepositoryRef")
	name := fluxMapStr(ref, "name")
	if !ok || name == "" {
		r.emit(o, "spec.imageRepositoryRef", "KW-FLUX-008", finding.Error,
			"ImagePolicy has no spec.imageRepositoryRef.name",
			"name the ImageRepository whose tags the policy chooses from")
		return
	}
	ns := fluxMapStr(ref, "namespace")
	if ns == "" {
		ns = o.U.GetNamespace()
	}
	if r.has(fluxImageGroup, "ImageRepository", ns, name) {
		return
	}
	hint := fmt.Sprintf("define ImageRepository %s in namespace %s or fix spec.imageRepositoryRef", name, ns)
	hint += r.existing(fluxImageGroup, "ImageRepository", ns)
	r.emit(o, "spec.imageRepositoryRef.name", "KW-FLUX-008", finding.Error,
		fmt.Sprintf("spec.imageRepositoryRef refers to ImageRepository %s/%s, which is not defined in the repository", ns, name),
		hint)
}

// durations checks the duration fields Flux kinds share.
func (r *fluxRun) durations(o validate.Object) {
	for _, f := range []string{"interval", "retryInterval", "timeout"} {
		v, ok, _ := unstructured.NestedFieldNoCopy(o.U.Object, "spec", f)
		if !ok || v == nil {
			continue
		}
		s, isStr := v.(string)
		if isStr && fluxDurationRe.MatchString(s) {
			if d, err := time.ParseDuration(s); err == nil && d > 0 {
				continue
			}
		}
		r.emit(o, "spec."+f, "KW-FLUX-012", finding.Error,
			fmt.Sprintf("spec.%s %s is not a positive duration", f, fluxQuote(v)),
			"use a duration such as 5m (units h, m, s, ms; e.g. 1h30m, 30s)")
	}
}

func fluxQuote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
