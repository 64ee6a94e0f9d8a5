package ops

import (
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
)

// The places that define a field of a service, and the edits of them
// every operation shares.

// doc opens object o's file for editing, refusing documents with anchors.
func (e *editor) doc(o *object) (*ytext, error) {
	t, err := e.open(o.file.path)
	if err != nil {
		return nil, err
	}
	return t, t.guard(o.file.docs[o.index])
}

// patchDoc opens patch p for editing.
func (e *editor) patchDoc(p *patch) (*ytext, error) {
	t, err := e.patchText(p)
	if err != nil {
		return nil, err
	}
	for _, d := range p.docs {
		if err := t.guard(d); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// setField sets the value at path below mapping m and records the change
// (nothing when the value already is the one asked for).
func (e *editor) setField(t *ytext, object, field string, m *yaml.Node, path []string, value *yaml.Node, why string) error {
	cur := yamlnode.At(m, path...)
	from := ""
	if cur != nil && cur.Kind == yaml.ScalarNode && !isNull(cur) {
		from = cur.Value
		if value.Kind == yaml.ScalarNode && from == value.Value {
			return nil
		}
	}
	line := m.Line
	if cur != nil {
		line = cur.Line
	}
	if err := t.setPath(m, path, value); err != nil {
		return err
	}
	e.change(Change{File: t.file, Line: t.lineBase + line, Object: object, Field: field, From: from, To: value.Value, Why: why})
	return nil
}

// removeField removes the key at path below m; when that would leave its
// mapping empty, the key holding the mapping goes instead.
func (e *editor) removeField(t *ytext, object, field string, m *yaml.Node, path []string, why string) error {
	cur := yamlnode.At(m, path...)
	if cur == nil {
		return nil
	}
	for i := len(path) - 1; i >= 0; i-- {
		parent := m
		if i > 0 {
			parent = yamlnode.At(m, path[:i]...)
		}
		if t.remaining(parent) > 1 || i == 0 {
			if err := t.deletePair(parent, path[i]); err != nil {
				return err
			}
			break
		}
	}
	from := cur.Value
	if cur.Kind != yaml.ScalarNode {
		from = "(set)"
	}
	e.change(Change{File: t.file, Line: t.lineBase + cur.Line, Object: object, Field: field, From: from, Why: why})
	return nil
}

// overlay is a kustomization that renders a workload.
type overlay struct {
	k *kust
	w *workload
}

// overlays lists the kustomizations (kustomization files and Flux
// Kustomizations) that render each workload, each pair once.
func (e *editor) overlays(ws []*workload) []overlay {
	var out []overlay
	for _, k := range e.repo.kusts {
		reach := e.repo.reach(k)
		for _, w := range ws {
			if reach[w.obj.file.path] {
				out = append(out, overlay{k: k, w: w})
			}
		}
	}
	return out
}

// patchesFor lists the patches of the overlays that apply to their
// workload, each patch once.
func (e *editor) patchesFor(ovs []overlay) []boundPatch {
	var out []boundPatch
	seen := map[string]bool{}
	for _, ov := range ovs {
		for _, p := range e.repo.patchesOf(ov.k) {
			key := p.where()
			if seen[key] || !p.targets(ov.w) {
				continue
			}
			seen[key] = true
			out = append(out, boundPatch{p, ov.w})
		}
	}
	return out
}

// boundPatch is a patch and the workload it applies to.
type boundPatch struct {
	p *patch
	w *workload
}

// smpRoot is a strategic-merge patch's object mapping, or nil.
func smpRoot(p *patch) *yaml.Node {
	if p.json6902 || len(p.docs) == 0 || len(p.docs[0].Content) == 0 || p.docs[0].Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return p.docs[0].Content[0]
}

// jsonOps lists the add and replace operations of JSON patch p whose
// path satisfies match.
func jsonOps(p *patch, match func(path string) bool) []*yaml.Node {
	if !p.json6902 || len(p.docs) == 0 || len(p.docs[0].Content) == 0 || p.docs[0].Content[0].Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.Node
	for _, op := range p.docs[0].Content[0].Content {
		kind := scalarAt(op, "op")
		if (kind == "add" || kind == "replace") && match(scalarAt(op, "path")) && yamlnode.At(op, "value") != nil {
			out = append(out, op)
		}
	}
	return out
}

// containerPath is the JSON pointer of container c's field, such as
// /spec/template/spec/containers/0/image.
func containerPath(c *container, field ...string) string {
	return "/spec/template/spec/containers/" + strconv.Itoa(c.index) + strings.Join(append([]string{""}, field...), "/")
}

// smpContainer finds the container named name in a strategic-merge
// patch of a workload.
func smpContainer(root *yaml.Node, name string) *yaml.Node {
	s := yamlnode.At(root, "spec", "template", "spec", "containers")
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	for _, c := range s.Content {
		if c.Kind == yaml.MappingNode && scalarAt(c, "name") == name {
			return c
		}
	}
	return nil
}

// intNode and the quantity helpers build scalar values.
func intNode(n int) *yaml.Node { return scalar(strconv.Itoa(n), "!!int") }

// containerField names a container's field in a change.
func containerField(c *container, field string) string {
	return fmt.Sprintf("spec.template.spec.containers[%s].%s", c.name, field)
}
