package validate

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// readRepoFile reads rel under dir through yamlsafe.ReadFile: refusing
// paths that leave dir (by "..", or by a symlink), files that are not
// regular (devices, FIFOs) and files over yamlsafe.MaxFileBytes.
func readRepoFile(dir, rel string) ([]byte, error) {
	return yamlsafe.ReadFile(dir, rel, yamlsafe.MaxFileBytes)
}

// Doc is one YAML document of a repository file.
type Doc struct {
	File string
	// Line is the 1-based line where the document's content starts.
	Line int
	// Node is the document's root mapping (nil for an empty document).
	Node                              *yaml.Node
	APIVersion, Kind, Namespace, Name string
}

// SourceIndex holds every YAML document of the repository's manifest files
// so findings about rendered objects can point back at file and line.
type SourceIndex struct {
	docs []Doc
	// ParseErrors are files that are not valid YAML, with the line.
	ParseErrors []SourceError
}

// SourceError is a YAML file that does not parse.
type SourceError struct {
	File    string
	Line    int
	Message string
}

// IndexSources parses the YAML files among files (relative paths under dir).
func IndexSources(dir string, files []string) *SourceIndex {
	idx, _ := IndexManifests(dir, files, nil, nil)
	return idx
}

// IndexManifests parses the manifest files among files, skipping the
// generator data files in data and files that cannot be manifests (no
// "kind" anywhere), so a large data file is never decoded. Every file
// passes yamlsafe first: files over the size cap (KW-DISCOVER-003,
// warning: not validated) and over the alias budget (KW-DISCOVER-004,
// error) come back as findings. Files that passed are added to checked
// (when not nil), so builds need not check them again.
func IndexManifests(dir string, files []string, data, checked map[string]bool) (*SourceIndex, []finding.Finding) {
	idx := &SourceIndex{}
	var fs []finding.Finding
	for _, f := range files {
		if !strings.HasSuffix(f, ".yaml") && !strings.HasSuffix(f, ".yml") || data[f] {
			continue
		}
		b, err := readRepoFile(dir, f)
		if errors.Is(err, yamlsafe.ErrTooLarge) {
			fs = append(fs, finding.Finding{ID: "KW-DISCOVER-003", Severity: finding.Warning, Stage: StageDiscover, File: f,
				Message: PlainDetail(err) + "; it is not validated", Hint: HintOf(err)})
			continue
		}
		if err != nil || !bytes.Contains(b, []byte("kind")) {
			continue
		}
		docs, err := yamlsafe.Decode(f, b, yamlsafe.Limits{})
		switch {
		case errors.Is(err, yamlsafe.ErrSyntax):
			msg := strings.TrimPrefix(PlainDetail(err), "not valid YAML: ")
			idx.ParseErrors = append(idx.ParseErrors, SourceError{File: f, Line: LineOf(err), Message: msg})
		case err == nil && checked != nil:
			checked[f] = true
		case err != nil:
			fs = append(fs, finding.Finding{ID: "KW-DISCOVER-004", Severity: finding.Error, Stage: StageDiscover, File: f, Line: LineOf(err),
				Message: PlainDetail(err), Hint: HintOf(err)})
			continue
		}
		for _, n := range docs {
			if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
				continue
			}
			root := n.Content[0]
			d := Doc{File: f, Line: root.Line, Node: root}
			d.APIVersion = MapScalar(root, "apiVersion")
			d.Kind = MapScalar(root, "kind")
			if md := MapValue(root, "metadata"); md != nil {
				d.Name = MapScalar(md, "name")
				d.Namespace = MapScalar(md, "namespace")
			}
			idx.docs = append(idx.docs, d)
		}
	}
	return idx, fs
}

// Docs returns every indexed document.
func (s *SourceIndex) Docs() []Doc { return s.docs }

// Find returns the document defining kind/name, preferring one in the
// given namespace and one under dir (a root directory); ok is false when
// none matches.
func (s *SourceIndex) Find(dir, kind, namespace, name string) (Doc, bool) {
	best, score := Doc{}, -1
	for _, d := range s.docs {
		if d.Kind != kind || d.Name != name {
			continue
		}
		sc := 0
		if d.Namespace == namespace {
			sc += 2
		}
		if dir == "." || dir == "" || strings.HasPrefix(d.File, dir+"/") {
			sc++
		}
		if sc > score {
			best, score = d, sc
		}
	}
	return best, score >= 0
}

// FieldLine returns the line of a field path ("spec.template.spec.containers[0].image")
// inside a document, or the document's line when the path is not present.
func (d Doc) FieldLine(fieldPath string) int {
	n := d.Node
	line := d.Line
	for _, part := range SplitPath(fieldPath) {
		if n == nil {
			break
		}
		if key, val, ok := strings.Cut(part, "="); ok && n.Kind == yaml.SequenceNode {
			// A list element selected by key, as structured-merge paths
			// spell them: containers[name="web"].
			val = strings.Trim(val, `"`)
			var next *yaml.Node
			for _, el := range n.Content {
				if MapScalar(el, key) == val {
					next = el
					break
				}
			}
			if next == nil {
				break
			}
			n, line = next, next.Line
			continue
		}
		if idx, err := strconv.Atoi(part); err == nil {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				break
			}
			n = n.Content[idx]
			line = n.Line
			continue
		}
		if n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line = n.Content[i].Line
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// SplitPath splits a field path, "a.b[0].c" or "a.b.0.c", into segments.
func SplitPath(p string) []string {
	p = strings.NewReplacer("[", ".", "]", "").Replace(p)
	var out []string
	for _, s := range strings.Split(p, ".") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// MapValue is the value of key in mapping m, or nil (also when m is not a
// mapping).
func MapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// MapScalar is the scalar value of key in mapping m, or "".
func MapScalar(m *yaml.Node, key string) string {
	if c := MapValue(m, key); c != nil && c.Kind == yaml.ScalarNode {
		return c.Value
	}
	return ""
}

// YAML re-encodes the document for decoding into Go values.
func (d Doc) YAML() ([]byte, error) { return yaml.Marshal(d.Node) }
