package validate

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

// FluxCheck checks Flux wiring. It reads rendered objects and the raw
// YAML files (for setter comments, which rendering drops).
type FluxCheck struct{}

// Name is the stage name.
func (FluxCheck) Name() string { return StageFlux }

// Check runs every Flux rule over in.
func (FluxCheck) Check(ctx context.Context, in *Input) []finding.Finding {
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
	in *Input
	// objs holds every object by Object.Key.
	objs map[string]Object
	// docAt finds a source document by "file:line".
	docAt map[string]Doc
	// allowed are external sources as "ns/name".
	allowed map[string]bool
	// files and dirs of the repository.
	files, dirs map[string]bool
	// edges of the dependsOn graph by "group/kind", node "ns/name".
	edges map[string]map[string][]string
	out   []finding.Finding
}

func newFluxRun(in *Input) *fluxRun {
	r := &fluxRun{
		in:      in,
		objs:    map[string]Object{},
		docAt:   map[string]Doc{},
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
func (r *fluxRun) doc(o Object) (Doc, bool) {
	if d, ok := r.docAt[o.File+":"+strconv.Itoa(o.Line)]; ok {
		return d, true
	}
	if r.in.Sources == nil {
		return Doc{}, false
	}
	for _, d := range r.in.Sources.Docs() {
		if d.File == o.File && d.Kind == o.U.GetKind() && d.Name == o.U.GetName() {
			return d, true
		}
	}
	return r.in.Sources.Find(o.Root, o.U.GetKind(), o.U.GetNamespace(), o.U.GetName())
}

// emit adds a finding about o located at field (a FieldLine path).
func (r *fluxRun) emit(o Object, field, id string, sev finding.Severity, msg, hint string) {
	file, line := o.File, o.Line
	if d, ok := r.doc(o); ok {
		file, line = d.File, d.FieldLine(field)
	}
	r.out = append(r.out, finding.Finding{
		ID: id, Severity: sev, Stage: StageFlux,
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

func (r *fluxRun) kustomization(o Object) {
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
func (r *fluxRun) resolve(o Object, field string, kinds fluxRefKinds) {
	ref, ok := fluxMap(o.U, splitPath(field)...)
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

func (r *fluxRun) helmRelease(o Object) {
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

func (r *fluxRun) imagePolicy(o Object) {
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

// dependsOn checks o's dependencies exist and records the graph edges.
func (r *fluxRun) dependsOn(o Object, group string) {
	kind := o.U.GetKind()
	gk := group + "/" + kind
	if r.edges[gk] == nil {
		r.edges[gk] = map[string][]string{}
	}
	self := o.U.GetNamespace() + "/" + o.U.GetName()
	if _, ok := r.edges[gk][self]; !ok {
		r.edges[gk][self] = nil
	}
	deps, _, _ := unstructured.NestedSlice(o.U.Object, "spec", "dependsOn")
	for i, d := range deps {
		field := fmt.Sprintf("spec.dependsOn[%d]", i)
		m, _ := d.(map[string]any)
		name := fluxMapStr(m, "name")
		if name == "" {
			r.emit(o, field, "KW-FLUX-004", finding.Error,
				field+" has no name", "name the "+kind+" to wait for")
			continue
		}
		ns := fluxMapStr(m, "namespace")
		if ns == "" {
			ns = o.U.GetNamespace()
		}
		if !r.has(group, kind, ns, name) {
			hint := fmt.Sprintf("fix the name (and namespace) or define %s %s; Flux does not reconcile %s until it is ready", kind, name, o.U.GetName())
			hint += r.existing(group, kind, ns)
			r.emit(o, field, "KW-FLUX-004", finding.Error,
				fmt.Sprintf("dependsOn %s %s/%s, which is not defined in the repository", kind, ns, name),
				hint)
			continue
		}
		r.edges[gk][self] = append(r.edges[gk][self], ns+"/"+name)
	}
}

// cycles reports each strongly connected component of the dependsOn graph
// that holds a cycle, once, on its first member in sorted order, with the
// shortest cycle through that member.
func (r *fluxRun) cycles(group, kind string) {
	g := r.edges[group+"/"+kind]
	for _, comp := range fluxSCCs(g) {
		sort.Strings(comp)
		start := comp[0]
		if len(comp) == 1 && !fluxContains(g[start], start) {
			continue
		}
		in := map[string]bool{}
		for _, n := range comp {
			in[n] = true
		}
		cyc := fluxCyclePath(g, in, start)
		sameNS := true
		for _, n := range cyc {
			sameNS = sameNS && strings.SplitN(n, "/", 2)[0] == strings.SplitN(start, "/", 2)[0]
		}
		shown := make([]string, len(cyc))
		for i, n := range cyc {
			shown[i] = n
			if sameNS {
				shown[i] = strings.SplitN(n, "/", 2)[1]
			}
		}
		ns, name, _ := strings.Cut(start, "/")
		o := r.objs[strings.Join([]string{group, kind, ns, name}, "/")]
		r.emit(o, "spec.dependsOn", "KW-FLUX-005", finding.Error,
			fmt.Sprintf("dependsOn cycle: %s; Flux never reconciles any of them", strings.Join(shown, " -> ")),
			"remove one dependsOn entry so the dependencies form a chain")
	}
}

func fluxContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fluxSCCs returns the strongly connected components of g (Tarjan), in a
// deterministic order.
func fluxSCCs(g map[string][]string) [][]string {
	nodes := make([]string, 0, len(g))
	for n := range g {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(n string)
	visit = func(n string) {
		index[n], low[n] = next, next
		next++
		stack = append(stack, n)
		onStack[n] = true
		succ := append([]string(nil), g[n]...)
		sort.Strings(succ)
		for _, m := range succ {
			if _, seen := index[m]; !seen {
				visit(m)
				low[n] = min(low[n], low[m])
			} else if onStack[m] {
				low[n] = min(low[n], index[m])
			}
		}
		if low[n] == index[n] {
			var comp []string
			for {
				m := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[m] = false
				comp = append(comp, m)
				if m == n {
					break
				}
			}
			out = append(out, comp)
		}
	}
	for _, n := range nodes {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	return out
}

// fluxCyclePath is the shortest path start -> ... -> start inside the
// component, preferring sorted successors.
func fluxCyclePath(g map[string][]string, comp map[string]bool, start string) []string {
	prev := map[string]string{}
	queue := []string{start}
	seen := map[string]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		succ := append([]string(nil), g[n]...)
		sort.Strings(succ)
		for _, m := range succ {
			if !comp[m] {
				continue
			}
			if m == start {
				path := []string{start}
				for x := n; x != start; x = prev[x] {
					path = append(path, x)
				}
				path = append(path, start)
				// path is start, n, ..., start reversed in the middle.
				for i, j := 1, len(path)-2; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path
			}
			if !seen[m] {
				seen[m] = true
				prev[m] = n
				queue = append(queue, m)
			}
		}
	}
	return []string{start, start}
}

// durations checks the duration fields Flux kinds share.
func (r *fluxRun) durations(o Object) {
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

// fluxSetter is one $imagepolicy marker found in a file.
type fluxSetter struct {
	file     string
	line     int
	ns, name string
}

// fluxCommentStart is the index of the '#' that starts a YAML comment on
// line, or -1.
func fluxCommentStart(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// fluxParseSetter parses the marker value "ns:name" or "ns:name:tag|name|digest".
func fluxParseSetter(v string) (ns, name string, ok bool) {
	parts := strings.Split(v, ":")
	if len(parts) != 2 && len(parts) != 3 {
		return "", "", false
	}
	for _, p := range parts {
		if p == "" || strings.TrimSpace(p) != p {
			return "", "", false
		}
	}
	if len(parts) == 3 {
		switch parts[2] {
		case "tag", "name", "digest":
		default:
			return "", "", false
		}
	}
	return parts[0], parts[1], true
}

// setters scans the repository's YAML files for $imagepolicy markers on
// the line comment of a field (the only place Flux reads them) and checks
// each against the ImagePolicies and ImageUpdateAutomations.
func (r *fluxRun) setters() {
	var found []fluxSetter
	for _, f := range r.in.Files {
		if !strings.HasSuffix(f, ".yaml") && !strings.HasSuffix(f, ".yml") {
			continue
		}
		b, err := r.in.ReadFile(f)
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			at := strings.Index(line, "$imagepolicy")
			if at < 0 {
				continue
			}
			c := fluxCommentStart(line)
			// Not in a comment, or a whole-line comment (commented-out
			// YAML or prose): Flux does not read either.
			if c < 0 || c > at || strings.TrimSpace(line[:c]) == "" {
				continue
			}
			n := i + 1
			m := fluxSetterRe.FindStringSubmatch(line[c:])
			if m == nil {
				r.setterFinding(f, n, "KW-FLUX-007", finding.Error,
					fmt.Sprintf("malformed image setter comment %q", strings.TrimSpace(line[c:])),
					`write it as # {"$imagepolicy": "namespace:policy"} (or "namespace:policy:tag" / ":name" / ":digest"), valid JSON with double quotes`)
				continue
			}
			ns, name, ok := fluxParseSetter(m[1])
			if !ok {
				r.setterFinding(f, n, "KW-FLUX-007", finding.Error,
					fmt.Sprintf("malformed image setter value %q", m[1]),
					`use "namespace:policy", optionally followed by ":tag", ":name" or ":digest"`)
				continue
			}
			found = append(found, fluxSetter{file: f, line: n, ns: ns, name: name})
		}
	}
	if len(found) == 0 {
		return
	}

	type automation struct {
		ref, dir string
	}
	var autos []automation
	for _, o := range r.in.Objects {
		gvk := o.U.GroupVersionKind()
		if gvk.Group != fluxImageGroup || gvk.Kind != "ImageUpdateAutomation" {
			continue
		}
		p, _ := fluxStr(o.U, "spec", "update", "path")
		if dir, ok := fluxCleanPath(p); ok {
			autos = append(autos, automation{ref: o.Ref(), dir: dir})
		}
	}

	for _, s := range found {
		if !r.has(fluxImageGroup, "ImagePolicy", s.ns, s.name) {
			hint := fmt.Sprintf("define ImagePolicy %s in namespace %s or fix the setter", s.name, s.ns)
			hint += r.existing(fluxImageGroup, "ImagePolicy", s.ns)
			r.setterFinding(s.file, s.line, "KW-FLUX-006", finding.Error,
				fmt.Sprintf("image setter refers to ImagePolicy %s/%s, which is not defined in the repository", s.ns, s.name),
				hint)
		}
		if len(autos) == 0 {
			continue
		}
		covered := false
		var dirs []string
		for _, a := range autos {
			covered = covered || fluxUnder(s.file, a.dir)
			dirs = append(dirs, "./"+strings.TrimPrefix(a.dir, "."))
		}
		if !covered {
			sort.Strings(dirs)
			r.setterFinding(s.file, s.line, "KW-FLUX-009", finding.Warning,
				fmt.Sprintf("image setter is outside the spec.update.path of every ImageUpdateAutomation (%s); Flux never updates this image", strings.Join(dirs, ", ")),
				"move the file under an automation's spec.update.path or widen that path")
		}
	}
	if len(autos) == 0 {
		s := found[0]
		r.setterFinding(s.file, s.line, "KW-FLUX-010", finding.Warning,
			fmt.Sprintf("%d image setter comment(s) but no ImageUpdateAutomation; Flux never updates these images", len(found)),
			"add an ImageUpdateAutomation whose spec.update.path covers the files with setters, or remove the setters")
	}
}

// setterFinding reports on a raw file line, naming the object whose
// document holds the line.
func (r *fluxRun) setterFinding(file string, line int, id string, sev finding.Severity, msg, hint string) {
	f := finding.Finding{ID: id, Severity: sev, Stage: StageFlux, File: file, Line: line, Message: msg, Hint: hint}
	if r.in.Sources != nil {
		var best *Doc
		for _, d := range r.in.Sources.Docs() {
			if d.File == file && d.Line <= line && (best == nil || d.Line > best.Line) {
				best = &d
			}
		}
		if best != nil && best.Kind != "" {
			f.Object = finding.ObjectRef(best.Kind, best.Namespace, best.Name)
			for _, o := range r.in.Objects {
				if o.File == best.File && o.Line == best.Line {
					f.Object = o.Ref()
					break
				}
			}
		}
	}
	r.out = append(r.out, f)
}
