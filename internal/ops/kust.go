package ops

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
)

// kust is a kustomization: a kustomization.yaml (root is the file's
// mapping) or a Flux Kustomization (root is its spec, which takes the same
// images, patches and replicas fields).
type kust struct {
	file     *yfile
	dir      string
	root     *yaml.Node
	flux     *object // the Flux Kustomization, or nil
	fluxPath string
	// patches are parsed once, so edits refer to the same nodes.
	patches []*patch
	parsed  bool
}

// where names the kustomization in messages.
func (k *kust) where() string {
	if k.flux != nil {
		return k.file.path + " (" + k.flux.ref() + ")"
	}
	return k.file.path
}

// fieldPrefix is the path of the kustomization's fields in its document.
func (k *kust) fieldPrefix() string {
	if k.flux != nil {
		return "spec."
	}
	return ""
}

// patch is one patch a kustomization applies.
type patch struct {
	k     *kust
	list  string     // patches, patchesStrategicMerge or patchesJson6902
	seq   *yaml.Node // the list
	index int
	// target selects what the patch applies to (nil: the patch's own
	// kind and name, for a strategic-merge patch).
	target *yaml.Node
	// inline is the scalar holding the patch text, for an inline patch.
	inline *yaml.Node
	// file is the repository path of a patch file.
	file string
	// json6902 is true for a JSON patch (a list of operations).
	json6902 bool
	// text and docs are the patch's YAML (the file's or the inline text).
	text []byte
	docs []*yaml.Node
}

// where names the patch in messages.
func (p *patch) where() string {
	if p.file != "" {
		return p.file
	}
	return p.k.file.path + " " + p.k.fieldPrefix() + p.list + "[" + strconv.Itoa(p.index) + "]"
}

// patchesOf lists the patches of kustomization k that are readable.
func (r *Repo) patchesOf(k *kust) []*patch {
	if !k.parsed {
		k.patches, k.parsed = r.parsePatches(k), true
	}
	return k.patches
}

func (r *Repo) parsePatches(k *kust) []*patch {
	var out []*patch
	for _, list := range []string{"patches", "patchesStrategicMerge", "patchesJson6902"} {
		s := yamlnode.At(k.root, list)
		if s == nil || s.Kind != yaml.SequenceNode {
			continue
		}
		for i, it := range s.Content {
			p := &patch{k: k, list: list, seq: s, index: i, json6902: list == "patchesJson6902"}
			var src *yaml.Node
			switch it.Kind {
			case yaml.ScalarNode: // patchesStrategicMerge: a path or an inline patch
				src = it
				if !strings.Contains(it.Value, "\n") {
					if f, ok := joinRel(k.dir, it.Value); ok {
						p.file = f
					}
				}
			case yaml.MappingNode:
				p.target = yamlnode.At(it, "target")
				if v := yamlnode.At(it, "path"); v != nil {
					if f, ok := joinRel(k.dir, v.Value); ok {
						p.file = f
					}
				} else {
					src = yamlnode.At(it, "patch")
				}
			}
			switch {
			case p.file != "":
				f := r.files[p.file]
				if f == nil {
					continue
				}
				p.text, p.docs = f.data, f.docs
			case src != nil && src.Kind == yaml.ScalarNode:
				docs, err := decodeYAML(k.file.path, []byte(src.Value))
				if err != nil {
					continue
				}
				p.inline, p.text, p.docs = src, []byte(src.Value), docs
			default:
				continue
			}
			if !p.json6902 && len(p.docs) > 0 && len(p.docs[0].Content) > 0 && p.docs[0].Content[0].Kind == yaml.SequenceNode {
				p.json6902 = true
			}
			out = append(out, p)
		}
	}
	return out
}

// targets reports whether patch p applies to workload w.
func (p *patch) targets(w *workload) bool {
	if p.target != nil {
		if !matchField(scalarAt(p.target, "kind"), w.obj.kind) || !matchField(scalarAt(p.target, "name"), w.obj.name) ||
			!matchField(scalarAt(p.target, "namespace"), w.obj.namespace) {
			return false
		}
		if sel := scalarAt(p.target, "labelSelector"); sel != "" && !selectorMatches(sel, w.objLabels) {
			return false
		}
		return scalarAt(p.target, "kind") != "" || scalarAt(p.target, "name") != "" || scalarAt(p.target, "labelSelector") != ""
	}
	if p.json6902 || len(p.docs) == 0 {
		return false
	}
	root := p.docs[0].Content[0]
	ns := scalarAt(root, "metadata", "namespace")
	return scalarAt(root, "kind") == w.obj.kind && scalarAt(root, "metadata", "name") == w.obj.name && (ns == "" || ns == w.obj.namespace)
}

// matchField matches a patch target's field: empty matches anything, a
// value is an anchored regular expression, as kustomize reads it.
func matchField(pattern, value string) bool {
	if pattern == "" {
		return true
	}
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return pattern == value
	}
	return re.MatchString(value)
}

// selectorMatches evaluates an equality-based label selector
// ("a=b,c==d,e!=f"); set-based selectors never match.
func selectorMatches(sel string, labels map[string]string) bool {
	for _, term := range strings.Split(sel, ",") {
		term = strings.TrimSpace(term)
		switch {
		case strings.Contains(term, "!="):
			k, v, _ := strings.Cut(term, "!=")
			if labels[strings.TrimSpace(k)] == strings.TrimSpace(v) {
				return false
			}
		case strings.Contains(term, "="):
			k, v, _ := strings.Cut(strings.Replace(term, "==", "=", 1), "=")
			if labels[strings.TrimSpace(k)] != strings.TrimSpace(v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// imageEntry is an item of a kustomization's images: list.
type imageEntry struct {
	k     *kust
	seq   *yaml.Node
	index int
	node  *yaml.Node
}

// imagesOf lists the images: entries of k naming image (a repository,
// without tag or digest).
func imagesOf(k *kust, image string) []*imageEntry {
	s := yamlnode.At(k.root, "images")
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*imageEntry
	for i, it := range s.Content {
		if it.Kind == yaml.MappingNode && scalarAt(it, "name") == image {
			out = append(out, &imageEntry{k: k, seq: s, index: i, node: it})
		}
	}
	return out
}

// replicasOf lists the replicas: entries of k naming workload name.
func replicasOf(k *kust, name string) []*imageEntry {
	s := yamlnode.At(k.root, "replicas")
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*imageEntry
	for i, it := range s.Content {
		if it.Kind == yaml.MappingNode && scalarAt(it, "name") == name {
			out = append(out, &imageEntry{k: k, seq: s, index: i, node: it})
		}
	}
	return out
}

// resourceList returns the resources: list of kustomization k and the
// index of the entry naming file (-1 when none does).
func resourceList(k *kust, file string) (*yaml.Node, int) {
	s := yamlnode.At(k.root, "resources")
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil, -1
	}
	for i, it := range s.Content {
		if p, ok := joinRel(k.dir, it.Value); ok && p == file {
			return s, i
		}
	}
	return s, -1
}

// dirOf is the directory of a repository path.
func dirOf(p string) string { return path.Dir(p) }
