package fix

import (
	"errors"
	"io/fs"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// yfile is a YAML file read for editing: its text, split into lines, and
// its documents' node trees (with the line and column of every node).
type yfile struct {
	name  string
	data  []byte
	lines []string // with their line ends
	docs  []*yaml.Node
	// step is the indentation of a nested mapping, as the file does it.
	step int
	// compactSeq is true when the file writes "- " at its parent key's
	// column (kyaml's "compact" style) rather than indented ("wide").
	compactSeq bool
	// eol is the line end the file uses.
	eol string
}

// parseYAML reads a YAML file through yamlsafe's byte and alias budgets.
func parseYAML(name string, data []byte) (*yfile, error) {
	docs, err := yamlsafe.Decode(name, data, yamlsafe.Limits{MaxBytes: MaxFileBytes})
	if err != nil {
		return nil, unfixable("%s does not parse as YAML, so it cannot be edited safely: fix the syntax first", name)
	}
	y := &yfile{name: name, data: data, lines: splitLines(data), docs: docs, eol: "\n"}
	if strings.Contains(string(data), "\r\n") {
		y.eol = "\r\n"
	}
	y.step = indentStep(docs)
	y.compactSeq = kyaml.DeriveSeqIndentStyle(string(data)) == string(kyaml.CompactSequenceStyle)
	return y, nil
}

// indentStep is the most common difference between a nested block
// mapping's key column and its parent key's column, 2 when there is none.
func indentStep(docs []*yaml.Node) int {
	counts := map[int]int{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line {
					if d := v.Content[0].Column - k.Column; d > 0 {
						counts[d]++
					}
				}
				walk(v)
			}
		}
	}
	for _, d := range docs {
		walk(d)
	}
	best, n := 2, 0
	for d, c := range counts {
		if c > n || c == n && d < best {
			best, n = d, c
		}
	}
	return min(max(best, 2), 8)
}

// object is one document of a file that holds a Kubernetes object.
type object struct {
	doc  *yaml.Node // the DocumentNode
	root *yaml.Node // its mapping
	kind string
	ns   string
	name string
}

// parseRef splits a finding's Object, "Kind/namespace/name" or "Kind/name".
func parseRef(ref string) (kind, ns, name string, ok bool) {
	parts := strings.Split(ref, "/")
	switch len(parts) {
	case 2:
		return parts[0], "", parts[1], parts[0] != "" && parts[1] != ""
	case 3:
		return parts[0], parts[1], parts[2], parts[0] != "" && parts[2] != ""
	}
	return "", "", "", false
}

// object finds the document of the finding's object: by kind and name
// (the namespace and the line break ties), else the document of that
// kind at the line (an overlay may rename the object it renders).
func (y *yfile) object(ref string, line int) (*object, error) {
	kind, ns, name, ok := parseRef(ref)
	if !ok {
		return nil, unfixable("the finding names no object, so the document to edit is unknown")
	}
	var all, byName []*object
	for _, d := range y.docs {
		if len(d.Content) == 0 || d.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := d.Content[0]
		o := &object{doc: d, root: root, kind: scalarAt(root, "kind"), name: scalarAt(root, "metadata", "name"), ns: scalarAt(root, "metadata", "namespace")}
		if o.kind != kind {
			continue
		}
		all = append(all, o)
		if o.name == name {
			byName = append(byName, o)
		}
	}
	pick := func(cands []*object) *object {
		if len(cands) == 1 {
			return cands[0]
		}
		var inNS []*object
		for _, o := range cands {
			if o.ns == ns {
				inNS = append(inNS, o)
			}
		}
		if len(inNS) == 1 {
			return inNS[0]
		}
		return y.atLine(cands, line)
	}
	if o := pick(byName); o != nil {
		return o, nil
	}
	if o := y.atLine(all, line); o != nil {
		return o, nil
	}
	return nil, unfixable("%s has no %s named %s: the object comes from elsewhere (a base or a generator), so edit it where it is defined", y.name, kind, name)
}

// atLine returns the object whose document holds line, or nil.
func (y *yfile) atLine(objs []*object, line int) *object {
	if line <= 0 {
		return nil
	}
	for _, o := range objs {
		first, last := docLines(y, o.doc)
		if line >= first && line <= last {
			return o
		}
	}
	return nil
}

// docLines is the first and last line of a document: from its first
// node to the line before the next document's first node.
func docLines(y *yfile, doc *yaml.Node) (int, int) {
	first := doc.Content[0].Line
	last := len(y.lines)
	for _, d := range y.docs {
		if len(d.Content) > 0 && d.Content[0].Line > first && d.Content[0].Line-1 < last {
			last = d.Content[0].Line - 1
		}
	}
	return first, last
}

// scalarAt is the scalar at a path of mapping keys, or "".
func scalarAt(n *yaml.Node, path ...string) string {
	v := yamlnode.At(n, path...)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

// isNull reports a null value: "", "~", "null" (untagged or !!null).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// hasAnchors reports whether the tree under n uses anchors, aliases or
// merge keys, which an edit by lines could change the meaning of.
func hasAnchors(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return true
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			if n.Content[i].Value == "<<" && n.Content[i].Tag == "!!merge" {
				return true
			}
		}
	}
	for _, c := range n.Content {
		if hasAnchors(c) {
			return true
		}
	}
	return false
}

// podSpecPaths are the pod spec paths of the workload kinds policy reads.
var podSpecPaths = map[string][]string{
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
	"Pod":         {"spec"},
}

// containerWhat reads the container a policy message starts with:
// `container "api" ...` or `init container "setup" ...`.
var containerWhat = regexp.MustCompile(`^(init container|container) "([^"]*)"`)

// workload is a container of a workload document, located for editing.
type workload struct {
	y         *yfile
	o         *object
	pod       *yaml.Node // the pod spec mapping
	container *yaml.Node // the container's mapping
	cname     string
}

// workload finds the document, pod spec and container a policy finding
// is about. Without needContainer, a finding that names no container
// gets the pod spec alone.
func (c *call) workload(needContainer bool) (*workload, error) {
	m := containerWhat.FindStringSubmatch(c.f.Message)
	if m == nil && needContainer {
		return nil, unfixable("the finding does not name a container")
	}
	w, err := c.podSpec()
	if err != nil || m == nil {
		return w, err
	}
	if err := w.pick(m[1], m[2]); err != nil {
		return nil, err
	}
	return w, nil
}

// podSpec finds the document and pod spec of the finding's workload.
func (c *call) podSpec() (*workload, error) {
	y, o, err := c.yamlObject()
	if err != nil {
		return nil, err
	}
	path, ok := podSpecPaths[o.kind]
	if !ok {
		return nil, unfixable("%s is not a workload kind kubewright edits", o.kind)
	}
	pod := yamlnode.At(o.root, path...)
	if pod == nil || pod.Kind != yaml.MappingNode {
		return nil, unfixable("%s defines no pod spec at %s (a patch or a base supplies it): edit the file that does", c.f.File, strings.Join(path, "."))
	}
	return &workload{y: y, o: o, pod: pod}, nil
}

// pick finds the container of the pod spec by name; what is "container"
// or "init container".
func (w *workload) pick(what, name string) error {
	list := "containers"
	if what == "init container" {
		list = "initContainers"
	}
	seq := yamlnode.At(w.pod, list)
	if seq != nil && seq.Kind == yaml.SequenceNode {
		for _, it := range seq.Content {
			if it.Kind == yaml.MappingNode && scalarAt(it, "name") == name {
				w.container, w.cname = it, name
				return nil
			}
		}
	}
	return unfixable("%s does not define %s %q itself (a patch or a base does): edit the file that does", w.y.name, what, name)
}

// yamlObject parses the finding's file and finds its object's document.
func (c *call) yamlObject() (*yfile, *object, error) {
	data, err := c.mustRead(c.f.File)
	if err != nil {
		return nil, nil, err
	}
	y, err := parseYAML(c.f.File, data)
	if err != nil {
		return nil, nil, err
	}
	o, err := y.object(c.f.Object, c.f.Line)
	if err != nil {
		return nil, nil, err
	}
	if hasAnchors(o.doc) {
		return nil, nil, unfixable("the document of %s uses YAML anchors, aliases or merge keys: edit it by hand", c.f.Object)
	}
	return y, o, nil
}

// mustRead reads a file a fixer edits; a missing one is an *Unfixable.
func (c *call) mustRead(name string) ([]byte, error) {
	b, err := c.read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, unfixable("%s is not in the repository", name)
	}
	return b, err
}
