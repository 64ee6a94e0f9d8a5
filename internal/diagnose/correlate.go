package diagnose

import (
	"fmt"
	pathpkg "path"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubewright/kubewright/internal/validate"
)

// seg is one step of a field path: a mapping key, a list index, or the
// list element whose selKey (dotted for nested keys) has the value selVal.
type seg struct {
	key            string
	index          int
	selKey, selVal string
}

func key(k string) seg         { return seg{key: k, index: -1} }
func idx(i int) seg            { return seg{index: i} }
func sel(k, v string) seg      { return seg{index: -1, selKey: k, selVal: v} }
func (s seg) isIndex() bool    { return s.key == "" && s.selKey == "" }
func (s seg) isSelector() bool { return s.selKey != "" }

// path is a field path inside a manifest.
type path []seg

// with returns p extended by more, leaving p alone.
func (p path) with(more ...seg) path {
	out := make(path, 0, len(p)+len(more))
	return append(append(out, p...), more...)
}

// String spells the path as the findings show it:
// spec.template.spec.containers[name=web].ports[0].containerPort.
func (p path) String() string {
	var b strings.Builder
	for _, s := range p {
		switch {
		case s.isSelector():
			fmt.Fprintf(&b, "[%s=%s]", s.selKey, s.selVal)
		case s.isIndex():
			fmt.Fprintf(&b, "[%d]", s.index)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		}
	}
	return b.String()
}

// locator traces cluster objects to the repository: the document that
// defines an object (through the rendered objects validation loads, each
// with its file and line) and the line of a field in it, or in a patch of
// it when the field is set there.
type locator struct {
	in *validate.Input
}

func newLocator(in *validate.Input) *locator { return &locator{in: in} }

// locate returns the file and line defining field of obj; the object's
// own line when the field is not written in the repository; "" and 0
// when the object did not come from the repository.
func (l *locator) locate(obj objRef, field path) (string, int) {
	if l.in == nil {
		return "", 0
	}
	o, ok := l.object(obj)
	if !ok {
		return "", 0
	}
	doc, ok := l.doc(o, obj)
	if !ok {
		return o.File, o.Line
	}
	line, full := resolve(doc, field)
	if full || len(field) == 0 || l.in.Sources == nil {
		return doc.File, line
	}
	for _, p := range l.in.Sources.Docs() {
		if p.Kind != doc.Kind || p.Name != doc.Name || p.File == doc.File && p.Line == doc.Line {
			continue
		}
		if pl, ok := resolve(p, field); ok {
			return p.File, pl
		}
	}
	return doc.File, line
}

// object finds the rendered object matching obj: same group, kind and
// name, preferring the same namespace, then none (set at deploy time by a
// Flux targetNamespace or the namespace of the apply).
func (l *locator) object(obj objRef) (validate.Object, bool) {
	best, score := validate.Object{}, -1
	for _, o := range l.in.Objects {
		if o.U.GetKind() != obj.Kind || o.U.GetName() != obj.Name || groupOf(o.U.GetAPIVersion()) != obj.Group {
			continue
		}
		sc := 0
		switch o.U.GetNamespace() {
		case obj.Namespace:
			sc = 2
		case "":
			sc = 1
		}
		if sc > score {
			best, score = o, sc
		}
	}
	return best, score >= 0
}

// doc is the source document of a rendered object: the one at its file
// and line, else the one of its kind and name in its file, else the best
// match by kind and name.
func (l *locator) doc(o validate.Object, obj objRef) (validate.Doc, bool) {
	if l.in.Sources == nil {
		return validate.Doc{}, false
	}
	for _, d := range l.in.Sources.Docs() {
		if d.File == o.File && d.Line == o.Line && d.Kind == obj.Kind {
			return d, true
		}
	}
	for _, d := range l.in.Sources.Docs() {
		if d.File == o.File && d.Kind == obj.Kind && d.Name == obj.Name {
			return d, true
		}
	}
	return l.in.Sources.Find(o.Root, obj.Kind, obj.Namespace, obj.Name)
}

// rootRenders tells whether the repository directory dir (a Flux
// Kustomization's spec.path) renders one of refs.
func (l *locator) rootRenders(dir string, refs []objRef) bool {
	for _, o := range l.rootObjects(dir) {
		for _, r := range refs {
			if o.U.GetKind() == r.Kind && o.U.GetName() == r.Name {
				return true
			}
		}
	}
	return false
}

// rootRendersNamespace tells whether dir renders an object in ns.
func (l *locator) rootRendersNamespace(dir, ns string) bool {
	for _, o := range l.rootObjects(dir) {
		if o.U.GetNamespace() == ns || o.U.GetKind() == "Namespace" && o.U.GetName() == ns {
			return true
		}
	}
	return false
}

func (l *locator) rootObjects(dir string) []validate.Object {
	if l.in == nil || dir == "" {
		return nil
	}
	return l.in.RootObjects[pathpkg.Clean(strings.TrimPrefix(dir, "./"))]
}

func groupOf(apiVersion string) string { return schema.FromAPIVersionAndKind(apiVersion, "").Group }

// resolve returns the line of field in a document, and whether the whole
// path is written there; when it is not, the line of the deepest part
// that is.
func resolve(d validate.Doc, field path) (int, bool) {
	n, line := d.Node, d.Line
	for _, s := range field {
		next, nl := step(n, s)
		if next == nil {
			return line, false
		}
		n, line = next, nl
	}
	return line, true
}

// step follows one segment from n: the value node and the line to report
// (a key's line for a mapping entry, the element's line for a list item).
func step(n *yaml.Node, s seg) (*yaml.Node, int) {
	if n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil, 0
	}
	switch {
	case s.isSelector():
		if n.Kind != yaml.SequenceNode {
			return nil, 0
		}
		for _, el := range n.Content {
			if v := nested(el, strings.Split(s.selKey, ".")); v != nil && v.Kind == yaml.ScalarNode && v.Value == s.selVal {
				return el, el.Line
			}
		}
	case s.isIndex():
		if n.Kind == yaml.SequenceNode && s.index < len(n.Content) {
			return n.Content[s.index], n.Content[s.index].Line
		}
	default:
		if n.Kind != yaml.MappingNode {
			return nil, 0
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == s.key {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	}
	return nil, 0
}

func nested(n *yaml.Node, keys []string) *yaml.Node {
	for _, k := range keys {
		n = validate.MapValue(n, k)
	}
	return n
}
