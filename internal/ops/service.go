package ops

import (
	"encoding/json"
	"fmt"
	pathpkg "path"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"

	"github.com/kubewright/kubewright/internal/textdist"
)

// nameLabel is the label services are known by.
const nameLabel = "app.kubernetes.io/name"

// workload is one definition of a service: a Deployment or StatefulSet
// document with a pod template (not a patch).
type workload struct {
	obj       *object
	service   string
	pod       *yaml.Node // the pod spec mapping
	objLabels map[string]string
	podLabels map[string]string
}

// container is a container of a workload's pod spec.
type container struct {
	w     *workload
	index int
	node  *yaml.Node
	name  string
	image *yaml.Node // the image scalar, nil when absent
}

// workloads lists every Deployment and StatefulSet definition.
func (r *Repo) workloads() []*workload {
	var out []*workload
	for _, o := range r.objects {
		if o.kind != "Deployment" && o.kind != "StatefulSet" || r.patchFiles[o.file.path] || o.name == "" {
			continue
		}
		pod := yamlnode.At(o.root, "spec", "template", "spec")
		if pod == nil || pod.Kind != yaml.MappingNode {
			continue
		}
		w := &workload{obj: o, pod: pod, objLabels: labelsAt(o.root, "metadata", "labels"), podLabels: labelsAt(o.root, "spec", "template", "metadata", "labels")}
		switch {
		case w.objLabels[nameLabel] != "":
			w.service = w.objLabels[nameLabel]
		case w.podLabels[nameLabel] != "":
			w.service = w.podLabels[nameLabel]
		default:
			w.service = o.name
		}
		out = append(out, w)
	}
	return out
}

// labelsAt reads a string map at a path.
func labelsAt(n *yaml.Node, path ...string) map[string]string {
	m := yamlnode.At(n, path...)
	out := map[string]string{}
	if m == nil || m.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i+1].Kind == yaml.ScalarNode {
			out[m.Content[i].Value] = m.Content[i+1].Value
		}
	}
	return out
}

// Services lists the services the repository defines, by the name
// operations take: a workload's app.kubernetes.io/name label, or its name.
func (r *Repo) Services() []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range r.workloads() {
		if !seen[w.service] {
			seen[w.service] = true
			out = append(out, w.service)
		}
	}
	sort.Strings(out)
	return out
}

// UnknownServiceError is the answer to an operation on a service the
// repository does not define.
type UnknownServiceError struct {
	Service string
	// Services are the services the repository has.
	Services []string
	// Suggestion is the closest of them, when one is close.
	Suggestion string
}

func (e *UnknownServiceError) Error() string {
	if len(e.Services) == 0 {
		return fmt.Sprintf("the repository defines no service %q: it has no Deployment or StatefulSet yet (containerize it first)", e.Service)
	}
	s := fmt.Sprintf("the repository defines no service %q; it has: %s", e.Service, strings.Join(e.Services, ", "))
	if e.Suggestion != "" {
		s += fmt.Sprintf(" (did you mean %s?)", e.Suggestion)
	}
	return s
}

// find returns every definition of service (by label or name), or an
// *UnknownServiceError.
func (r *Repo) find(service string) ([]*workload, error) {
	var out []*workload
	for _, w := range r.workloads() {
		if w.service == service || w.obj.name == service {
			out = append(out, w)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	e := &UnknownServiceError{Service: service, Services: r.Services()}
	best := 3
	for _, s := range e.Services {
		if d := textdist.Distance(service, s); d < best || d == best && e.Suggestion == "" && d < 3 {
			best, e.Suggestion = d, s
		}
	}
	return nil, e
}

// containers lists the containers of w's pod spec.
func (w *workload) containers() []*container {
	s := yamlnode.At(w.pod, "containers")
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*container
	for i, c := range s.Content {
		if c.Kind != yaml.MappingNode {
			continue
		}
		ct := &container{w: w, index: i, node: c, name: scalarAt(c, "name")}
		if v := yamlnode.At(c, "image"); v != nil && v.Kind == yaml.ScalarNode {
			ct.image = v
		}
		out = append(out, ct)
	}
	return out
}

// container picks the container an operation is about: the one named
// name, else the only one, else the one named like the service or the
// workload, else the one whose image is named like the service.
func (w *workload) container(name string) (*container, error) {
	cs := w.containers()
	var names []string
	for _, c := range cs {
		names = append(names, c.name)
		if name != "" && c.name == name {
			return c, nil
		}
	}
	if name != "" {
		return nil, fmt.Errorf("%s:%d: %s has no container %q; it has: %s", w.obj.file.path, w.obj.root.Line, w.obj.ref(), name, strings.Join(names, ", "))
	}
	if len(cs) == 1 {
		return cs[0], nil
	}
	for _, c := range cs {
		if c.name == w.service || c.name == w.obj.name {
			return c, nil
		}
	}
	for _, c := range cs {
		if c.image != nil && lastSegment(parseImage(c.image.Value).name) == w.service {
			return c, nil
		}
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%s:%d: %s defines no containers", w.obj.file.path, w.obj.root.Line, w.obj.ref())
	}
	return nil, fmt.Errorf("%s:%d: %s has several containers (%s): name one with --container", w.obj.file.path, w.obj.root.Line, w.obj.ref(), strings.Join(names, ", "))
}

func lastSegment(p string) string { return p[strings.LastIndex(p, "/")+1:] }

// sameNamespace compares namespaces, an empty one matching any (a
// kustomization or Flux may set it).
func sameNamespace(a, b string) bool { return a == "" || b == "" || a == b }

// hpasFor lists the HorizontalPodAutoscalers that scale w.
func (r *Repo) hpasFor(w *workload) []*object {
	var out []*object
	for _, o := range r.objects {
		if o.kind != "HorizontalPodAutoscaler" || r.patchFiles[o.file.path] {
			continue
		}
		ref := yamlnode.At(o.root, "spec", "scaleTargetRef")
		if scalarAt(ref, "kind") == w.obj.kind && scalarAt(ref, "name") == w.obj.name && sameNamespace(o.namespace, w.obj.namespace) {
			out = append(out, o)
		}
	}
	return out
}

// pdbsFor lists the PodDisruptionBudgets that select w's pods.
func (r *Repo) pdbsFor(w *workload) []*object {
	var out []*object
	for _, o := range r.objects {
		if o.kind != "PodDisruptionBudget" || r.patchFiles[o.file.path] || !sameNamespace(o.namespace, w.obj.namespace) {
			continue
		}
		sel := yamlnode.At(o.root, "spec", "selector")
		ml := labelsAt(sel, "matchLabels")
		if len(ml) == 0 || yamlnode.At(sel, "matchExpressions") != nil {
			continue
		}
		ok := true
		for k, v := range ml {
			if w.podLabels[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, o)
		}
	}
	return out
}

// nearest assigns each object to the workload whose file is closest to
// its own (the longest common directory), so a k8s/ PDB pairs with the
// k8s/ Deployment and a gitops/ one with the gitops/ Deployment.
func nearest(objs []*object, ws []*workload) map[*workload][]*object {
	out := map[*workload][]*object{}
	for _, o := range objs {
		var best *workload
		bestLen := -1
		for _, w := range ws {
			if n := commonDirLen(o.file.path, w.obj.file.path); n > bestLen {
				best, bestLen = w, n
			}
		}
		if best != nil {
			out[best] = append(out[best], o)
		}
	}
	return out
}

// commonDirLen is the number of leading directory segments a and b share.
func commonDirLen(a, b string) int {
	as, bs := strings.Split(dirOf(a), "/"), strings.Split(dirOf(b), "/")
	n := 0
	for n < len(as) && n < len(bs) && as[n] == bs[n] {
		n++
	}
	return n
}

// imageRef is a container image reference split in parts.
type imageRef struct {
	name, tag, digest string
}

// parseImage splits "repo/name:tag@sha256:..." into its parts.
func parseImage(s string) imageRef {
	var r imageRef
	s, r.digest, _ = strings.Cut(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s, r.tag = s[:i], s[i+1:]
	}
	r.name = s
	return r
}

func (r imageRef) String() string {
	s := r.name
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// setter is a Flux image automation marker on a field:
// # {"$imagepolicy": "namespace:name"} or its ":tag", ":name", ":digest"
// forms, which set only that part.
type setter struct {
	namespace, policy, part string
}

// parseSetter reads the setter in a line comment, if any.
func parseSetter(comment string) (setter, bool) {
	c := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(comment), "#"))
	if !strings.HasPrefix(c, "{") {
		return setter{}, false
	}
	var m map[string]string
	if json.Unmarshal([]byte(c), &m) != nil || m["$imagepolicy"] == "" {
		return setter{}, false
	}
	parts := strings.Split(m["$imagepolicy"], ":")
	switch len(parts) {
	case 2:
		return setter{namespace: parts[0], policy: parts[1]}, true
	case 3:
		return setter{namespace: parts[0], policy: parts[1], part: parts[2]}, true
	}
	return setter{}, false
}

// String is the marker's value, "namespace:name[:part]".
func (s setter) String() string {
	v := s.namespace + ":" + s.policy
	if s.part != "" {
		v += ":" + s.part
	}
	return v
}

// imagePolicy finds the ImagePolicy a setter names.
func (r *Repo) imagePolicy(s setter) *object {
	for _, o := range r.objects {
		if o.kind == "ImagePolicy" && strings.HasPrefix(scalarAt(o.root, "apiVersion"), "image.toolkit.fluxcd.io/") && o.name == s.policy && sameNamespace(o.namespace, s.namespace) {
			return o
		}
	}
	return nil
}

// automationFor returns the ImageUpdateAutomation whose update path
// covers file, or nil: without one, setters change nothing.
func (r *Repo) automationFor(file string) *object {
	for _, o := range r.objects {
		if o.kind != "ImageUpdateAutomation" {
			continue
		}
		p := cleanFluxPath(scalarAt(o.root, "spec", "update", "path"))
		if p == "." || file == p || strings.HasPrefix(file, p+"/") {
			return o
		}
	}
	return nil
}

// Definition is one place that defines a service's workload.
type Definition struct {
	File      string `json:"file"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Definitions lists the workloads that define service, in file order, or
// an *UnknownServiceError. The job reads the service's history from their
// files (rollback's default revision) and its namespace in the cluster
// from them.
func (r *Repo) Definitions(service string) ([]Definition, error) {
	ws, err := r.find(service)
	if err != nil {
		return nil, err
	}
	out := make([]Definition, 0, len(ws))
	for _, w := range ws {
		out = append(out, Definition{File: w.obj.file.path, Kind: w.obj.kind, Namespace: w.obj.namespace, Name: w.obj.name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// HistoryPaths are the paths whose history is the service's: the
// directory of each definition named after the service (all of it is the
// service's), else the definition's file. Rollback's default revision is
// the one before the newest commit that changed one of them.
func (r *Repo) HistoryPaths(service string) ([]string, error) {
	defs, err := r.Definitions(service)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range defs {
		p := d.File
		if dir := pathpkg.Dir(p); pathpkg.Base(dir) == service {
			p = dir
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
