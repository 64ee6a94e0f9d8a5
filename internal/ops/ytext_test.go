package ops

import (
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
)

func parseText(t testing.TB, src string) *ytext {
	t.Helper()
	docs, err := decodeYAML("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return newText("x.yaml", []byte(src), docs)
}

// TestEditPrimitives: each edit keeps everything else byte for byte:
// comments, quotes, order, indentation and sequence style.
func TestEditPrimitives(t *testing.T) {
	cases := []struct {
		name, src string
		edit      func(t *ytext, root *yaml.Node) error
		want      string
	}{
		{"scalar keeps comment", "a: 1 # one\nb: x\n",
			func(t *ytext, r *yaml.Node) error { return t.setScalar(yamlnode.At(r, "a"), "2", "!!int") },
			"a: 2 # one\nb: x\n"},
		{"scalar keeps quotes", "tag: '0.1.0' # {\"$imagepolicy\": \"ns:p:tag\"}\n",
			func(t *ytext, r *yaml.Node) error { return t.setScalar(yamlnode.At(r, "tag"), "it's", "!!str") },
			"tag: 'it''s' # {\"$imagepolicy\": \"ns:p:tag\"}\n"},
		{"plain string that would read as a number is quoted", "cpu: 500m\n",
			func(t *ytext, r *yaml.Node) error { return t.setScalar(yamlnode.At(r, "cpu"), "1", "!!str") },
			"cpu: \"1\"\n"},
		{"flow mapping scalar", "x: {a: 1, b: two}\n",
			func(t *ytext, r *yaml.Node) error { return t.setScalar(yamlnode.At(r, "x", "b"), "three", "!!str") },
			"x: {a: 1, b: three}\n"},
		{"insert nested key at the mapping's end", "spec:\n    a: 1\n    b:\n        c: 2\nz: 0\n",
			func(t *ytext, r *yaml.Node) error {
				return t.setPath(yamlnode.At(r, "spec"), []string{"d", "e"}, str("f"))
			},
			"spec:\n    a: 1\n    b:\n        c: 2\n    d:\n        e: f\nz: 0\n"},
		{"insert first", "spec:\n  # the selector\n  selector: {}\n",
			func(t *ytext, r *yaml.Node) error {
				return t.insertPairFirst(yamlnode.At(r, "spec"), "replicas", intNode(3))
			},
			"spec:\n  replicas: 3\n  # the selector\n  selector: {}\n"},
		{"empty flow mapping becomes block", "resources: {}\nname: x\n",
			func(t *ytext, r *yaml.Node) error {
				return t.setPath(r, []string{"resources", "requests", "cpu"}, str("100m"))
			},
			"resources:\n  requests:\n    cpu: 100m\nname: x\n"},
		{"delete key with its comment", "a: 1\n# about b\nb:\n  c: 2\nd: 3\n",
			func(t *ytext, r *yaml.Node) error { return t.deletePair(r, "b") },
			"a: 1\nd: 3\n"},
		{"delete compact item", "l:\n- name: a\n  v: 1\n- name: b\n  v: 2\nz: 1\n",
			func(t *ytext, r *yaml.Node) error { return t.deleteItem(yamlnode.At(r, "l"), 0) },
			"l:\n- name: b\n  v: 2\nz: 1\n"},
		{"insert wide item", "resources:\n  - a.yaml\n  - b.yaml\n",
			func(t *ytext, r *yaml.Node) error {
				return t.insertItem(yamlnode.At(r, "resources"), 0, str("hpa.yaml"))
			},
			"resources:\n  - a.yaml\n  - hpa.yaml\n  - b.yaml\n"},
		{"block scalar", "patches:\n- patch: |-\n    - op: replace\n      value: 1\n  target:\n    kind: X\n",
			func(t *ytext, r *yaml.Node) error {
				return t.setBlock(yamlnode.At(r, "patches").Content[0].Content[1], "- op: replace\n  value: 2\n")
			},
			"patches:\n- patch: |-\n    - op: replace\n      value: 2\n  target:\n    kind: X\n"},
		{"second document only", "a: 1\n---\n# doc two\nb: 1\n",
			func(t *ytext, r *yaml.Node) error { return nil },
			"a: 1\n---\n# doc two\nb: 1\n"},
		{"crlf kept", "a:\r\n  b: 1\r\n",
			func(t *ytext, r *yaml.Node) error { return t.setPath(yamlnode.At(r, "a"), []string{"c"}, intNode(2)) },
			"a:\r\n  b: 1\r\n  c: 2\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(tt *testing.T) {
			tx := parseText(tt, c.src)
			if err := c.edit(tx, tx.docs[0].Content[0]); err != nil {
				tt.Fatal(err)
			}
			out, err := tx.render()
			if err != nil {
				tt.Fatal(err)
			}
			if string(out) != c.want {
				tt.Errorf("got\n%s\nwant\n%s", out, c.want)
			}
		})
	}
}

// TestEditRefusals: edits that would change more than intended are
// refused, not written.
func TestEditRefusals(t *testing.T) {
	tx := parseText(t, "a: &x 1\nb: *x\n")
	if err := tx.guard(tx.docs[0]); err == nil {
		t.Error("anchors were not refused")
	}
	tx = parseText(t, "a: >\n  folded\n  text\n")
	if err := tx.setScalar(yamlnode.At(tx.docs[0].Content[0], "a"), "x", "!!str"); err == nil {
		t.Error("a folded scalar was edited as a one-line scalar")
	}
	tx = parseText(t, "a: plain\n  continued\n")
	if err := tx.setScalar(yamlnode.At(tx.docs[0].Content[0], "a"), "x", "!!str"); err == nil || !strings.Contains(err.Error(), "spans lines") {
		t.Errorf("a multi-line plain scalar: %v", err)
	}
	tx = parseText(t, "l:\n- only\n")
	if err := tx.deleteItem(yamlnode.At(tx.docs[0].Content[0], "l"), 0); err == nil {
		t.Error("the last item of a list was deleted")
	}
}

// FuzzEdit: on any YAML, setting every scalar value and adding a key to
// every block mapping either yields text that decodes to exactly the
// intended documents or is refused; it never panics.
func FuzzEdit(f *testing.F) {
	for _, s := range []string{
		"a: 1 # c\nb:\n  - x\n  - y: 'q'\n",
		"k: |\n  text\n---\nm: {a: \"b\"}\n",
		"- a\n- b: c\n  d: e\n",
		"a:\n  b: \"x\\ty\" # {\"$imagepolicy\": \"a:b\"}\n  c: null\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		docs, err := decodeYAML("f.yaml", []byte(src))
		if err != nil || len(src) > 4096 {
			return
		}
		tx := newText("f.yaml", []byte(src), docs)
		var walk func(n *yaml.Node, depth int)
		walk = func(n *yaml.Node, depth int) {
			if depth > 20 || hasAnchors(n) {
				return
			}
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && !isNull(v) {
						_ = tx.setScalar(v, "edited", "!!str")
					}
				}
				if n.Style&yaml.FlowStyle == 0 && len(n.Content) > 0 {
					_ = tx.insertPair(n, "zz-added", str("v"))
				}
			}
			for _, c := range n.Content {
				walk(c, depth+1)
			}
		}
		for _, d := range docs {
			walk(d, 0)
		}
		if out, err := tx.render(); err == nil {
			if _, err := decodeYAML("f.yaml", out); err != nil {
				t.Fatalf("rendered invalid YAML:\n%s", out)
			}
		}
	})
}
