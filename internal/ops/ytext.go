package ops

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// The YAML editor. An operation changes a few values of files people
// wrote, so it edits their text, not a re-serialization: a changed scalar
// is replaced where it stands (keeping its quotes and the comment after
// it, where Flux keeps its image setters), new keys and list items are
// rendered in the file's indentation and inserted as whole lines, removed
// ones are removed as whole lines. Every edit is also applied to a copy of
// the node tree, and the edited text must decode to exactly that copy, with
// every other document unchanged, or the edit is refused.

// ytext is one YAML text being edited: a repository file, or the inline
// patch held in a block scalar of a kustomization.
type ytext struct {
	name string
	// file and lineBase place the text's lines in the repository: an
	// inline patch's line 1 is its file's line lineBase+1.
	file     string
	lineBase int
	data     []byte
	starts   []int // byte offset of each line's start; starts[0] is line 1
	docs     []*yaml.Node
	want     []*yaml.Node
	memo     map[*yaml.Node]*yaml.Node
	spans    []span
	// step is the file's mapping indentation; compact is true when it
	// writes a sequence's "- " at its key's column.
	step    int
	compact bool
	eol     string
}

// span replaces bytes [from, to) of the text.
type span struct {
	from, to int
	text     string
	seq      int
}

// newText prepares data (already decoded into docs) for editing.
func newText(name string, data []byte, docs []*yaml.Node) *ytext {
	t := &ytext{name: name, file: name, data: data, docs: docs, memo: map[*yaml.Node]*yaml.Node{}, eol: "\n"}
	t.starts = append(t.starts, 0)
	for i, c := range data {
		if c == '\n' && i+1 < len(data) {
			t.starts = append(t.starts, i+1)
		}
	}
	for _, d := range docs {
		t.want = append(t.want, copyNode(d, t.memo))
	}
	if bytes.Contains(data, []byte("\r\n")) {
		t.eol = "\r\n"
	}
	t.step = indentStep(docs)
	t.compact = kyaml.DeriveSeqIndentStyle(string(data)) == string(kyaml.CompactSequenceStyle)
	return t
}

// decodeYAML reads YAML through yamlsafe's byte and alias budgets.
func decodeYAML(name string, data []byte) ([]*yaml.Node, error) {
	return yamlsafe.Decode(name, data, yamlsafe.Limits{MaxBytes: yamlsafe.MaxFileBytes})
}

// copyNode copies a node tree, recording original -> copy in memo.
func copyNode(n *yaml.Node, memo map[*yaml.Node]*yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if c, ok := memo[n]; ok {
		return c
	}
	c := *n
	memo[n] = &c
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = copyNode(k, memo)
	}
	if n.Alias != nil {
		c.Alias = copyNode(n.Alias, memo)
	}
	return &c
}

// fresh copies a fragment with no positions and block style, for insertion.
func fresh(n *yaml.Node) *yaml.Node {
	c := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Value: n.Value, Style: n.Style &^ yaml.FlowStyle}
	for _, k := range n.Content {
		c.Content = append(c.Content, fresh(k))
	}
	return c
}

// lines is the number of lines of the text.
func (t *ytext) lines() int { return len(t.starts) }

// line is line l (1-based) without its line end.
func (t *ytext) line(l int) string {
	if l < 1 || l > len(t.starts) {
		return ""
	}
	end := len(t.data)
	if l < len(t.starts) {
		end = t.starts[l]
	}
	return strings.TrimRight(string(t.data[t.starts[l-1]:end]), "\r\n")
}

// lineEnd is the offset just past line l's line end (the next line's start).
func (t *ytext) lineEnd(l int) int {
	if l >= len(t.starts) {
		return len(t.data)
	}
	return t.starts[l]
}

// offset converts a 1-based line and column (in characters) to a byte offset.
func (t *ytext) offset(line, col int) (int, error) {
	body := t.line(line)
	i := 0
	for n := 1; n < col; n++ {
		if i >= len(body) {
			return 0, fmt.Errorf("%s:%d: column %d is past the end of the line", t.name, line, col)
		}
		_, w := utf8.DecodeRuneInString(body[i:])
		i += w
	}
	return t.starts[line-1] + i, nil
}

// indentOf is the 1-based column of line l's first character, or 0 for a
// blank or comment-only line.
func (t *ytext) indentOf(l int) int {
	s := t.line(l)
	trimmed := strings.TrimLeft(s, " ")
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return 0
	}
	return len(s) - len(trimmed) + 1
}

// isDocMarker reports a "---" or "..." line.
func (t *ytext) isDocMarker(l int) bool {
	s := t.line(l)
	for _, m := range []string{"---", "..."} {
		if s == m || strings.HasPrefix(s, m+" ") || strings.HasPrefix(s, m+"\t") {
			return true
		}
	}
	return false
}

// pairEnd is the last line of a key's value: the lines after the key that
// are indented past it (or, for a block sequence written at the key's
// column, its "- " items).
func (t *ytext) pairEnd(k, v *yaml.Node) int {
	end := max(k.Line, v.Line)
	seq := v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0
	for l := end + 1; l <= t.lines(); l++ {
		if t.isDocMarker(l) {
			break
		}
		col := t.indentOf(l)
		if col == 0 {
			continue
		}
		rest := strings.TrimLeft(t.line(l), " ")
		if col > k.Column || seq && col == k.Column && (rest == "-" || strings.HasPrefix(rest, "- ")) {
			end = l
			continue
		}
		break
	}
	return end
}

// dashLine is the line of the "- " that starts item i of sequence s.
func (t *ytext) dashLine(s *yaml.Node, i int) int {
	l := s.Content[i].Line
	for ; l > s.Line; l-- {
		body := t.line(l)
		if len(body) >= s.Column && body[s.Column-1] == '-' {
			break
		}
	}
	return l
}

// itemEnd is the last line of item i of block sequence s.
func (t *ytext) itemEnd(s *yaml.Node, i int) int {
	end := max(t.dashLine(s, i), s.Content[i].Line)
	for l := end + 1; l <= t.lines(); l++ {
		if t.isDocMarker(l) {
			break
		}
		col := t.indentOf(l)
		if col == 0 {
			continue
		}
		if col > s.Column {
			end = l
			continue
		}
		break
	}
	return end
}

// mappingEnd is the last line of block mapping m.
func (t *ytext) mappingEnd(m *yaml.Node) int {
	n := len(m.Content)
	return t.pairEnd(m.Content[n-2], m.Content[n-1])
}

// add records a text edit.
func (t *ytext) add(from, to int, text string) {
	t.spans = append(t.spans, span{from: from, to: to, text: text, seq: len(t.spans)})
}

// changed reports whether any edit was recorded.
func (t *ytext) changed() bool { return len(t.spans) > 0 }

// render applies the edits and checks that the result decodes to the
// intended documents.
func (t *ytext) render() ([]byte, error) {
	if !t.changed() {
		return t.data, nil
	}
	sp := append([]span(nil), t.spans...)
	sort.SliceStable(sp, func(i, j int) bool {
		if sp[i].from != sp[j].from {
			return sp[i].from < sp[j].from
		}
		return sp[i].seq < sp[j].seq
	})
	var b bytes.Buffer
	at := 0
	for _, s := range sp {
		if s.from < at {
			return nil, fmt.Errorf("%s: two edits overlap at byte %d; edit the file by hand", t.name, s.from)
		}
		b.Write(t.data[at:s.from])
		b.WriteString(s.text)
		at = s.to
	}
	b.Write(t.data[at:])
	out := b.Bytes()
	if err := t.verify(out); err != nil {
		return nil, err
	}
	return out, nil
}

// verify checks that out decodes to the intended documents.
func (t *ytext) verify(out []byte) error {
	docs, err := decodeYAML(t.name, out)
	if err != nil || len(docs) != len(t.want) {
		return fmt.Errorf("%s: the edit would not keep the file valid YAML (its layout is unusual); make the change by hand", t.name)
	}
	for i, d := range docs {
		var a, b any
		if t.want[i].Decode(&a) != nil || d.Decode(&b) != nil || !reflect.DeepEqual(a, b) {
			return fmt.Errorf("%s: the edit would change more than intended (the document's layout is unusual); make the change by hand", t.name)
		}
	}
	return nil
}

// guard refuses to edit a document that uses anchors, aliases or merge
// keys: an edit by text could change what else refers to it.
func (t *ytext) guard(doc *yaml.Node) error {
	if hasAnchors(doc) {
		return fmt.Errorf("%s:%d: the document uses YAML anchors, aliases or merge keys, which an edit could change the meaning of; make the change by hand", t.name, doc.Line)
	}
	return nil
}

func hasAnchors(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return true
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && c.Value == "<<" && c.Tag == "!!merge" {
			return true
		}
		if hasAnchors(c) {
			return true
		}
	}
	return false
}

// indentStep is the most common indentation of a nested block mapping,
// 2 when there is none.
func indentStep(docs []*yaml.Node) int {
	counts := map[int]int{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line {
					if d := v.Content[0].Column - k.Column; d > 0 {
						counts[d]++
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range docs {
		walk(d)
	}
	best, most := 2, 0
	for d, c := range counts {
		if c > most || c == most && d < best {
			best, most = d, c
		}
	}
	return min(max(best, 2), 8)
}
