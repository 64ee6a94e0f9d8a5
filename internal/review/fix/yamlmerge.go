package fix

import (
	"bytes"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"

	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// The YAML editor. A fix is a list of merges: a fragment (a small mapping
// built by the fixer) merged into a mapping of the document. Merging adds
// missing keys, descends into mappings present on both sides, appends
// missing items to sequences and replaces scalars. The merge is carried out
// on the text, line by line: new keys are rendered with the file's
// indentation and inserted after the last line of their mapping, changed
// scalars are replaced in place (keeping their quotes and the comment after
// them), flow collections on one line are rewritten whole. Then the same
// merge is carried out on a copy of the node tree, and the edited text must
// decode to exactly that, with every other document unchanged.

// edit is one merge: frag (a mapping) into target (a mapping of the
// document).
type edit struct {
	target *yaml.Node
	frag   *yaml.Node
}

// at builds the edit that merges frag at a path of mapping keys below
// root, creating the missing part of the path: it merges into the deepest
// mapping that exists (or whose value is null), with frag wrapped in the
// keys that do not.
func at(root *yaml.Node, frag *yaml.Node, path ...string) (edit, error) {
	cur := root
	for i, p := range path {
		_, v := yamlnode.Get(cur, p)
		if v == nil || isNull(v) || v.Kind == yaml.MappingNode && len(v.Content) == 0 {
			for j := len(path) - 1; j >= i; j-- {
				frag = mapping(path[j], frag)
			}
			return edit{target: cur, frag: frag}, nil
		}
		if v.Kind != yaml.MappingNode {
			return edit{}, unfixable("%s is not a mapping at line %d, so the fix cannot add to it", strings.Join(path[:i+1], "."), v.Line)
		}
		cur = v
	}
	return edit{target: cur, frag: frag}, nil
}

// apply carries out the edits on the text of y, checks the result and
// returns the new file.
func (y *yfile) apply(o *object, eds ...edit) ([]byte, error) {
	t := &textEdits{y: y}
	for _, e := range eds {
		if err := t.merge(e.target, e.frag); err != nil {
			return nil, err
		}
	}
	out, err := t.render()
	if err != nil {
		return nil, err
	}
	// What the document must decode to: the merges on a copy.
	memo := map[*yaml.Node]*yaml.Node{}
	want := copyNode(o.doc, memo)
	for _, e := range eds {
		if err := mergeNodes(memo[e.target], e.frag); err != nil {
			return nil, err
		}
	}
	if err := y.verify(out, o.doc, want); err != nil {
		return nil, err
	}
	return out, nil
}

// verify checks that out parses, that every document but target decodes
// as before, and that target decodes to want.
func (y *yfile) verify(out []byte, target, want *yaml.Node) error {
	docs, err := yamlsafe.Decode(y.name, out, yamlsafe.Limits{MaxBytes: 2 * MaxFileBytes})
	if err != nil || len(docs) != len(y.docs) {
		return unfixable("an edit of %s would not keep it valid YAML: edit it by hand", y.name)
	}
	for i, d := range docs {
		expect := y.docs[i]
		if y.docs[i] == target {
			expect = want
		}
		var a, b any
		if expect.Decode(&a) != nil || d.Decode(&b) != nil || !reflect.DeepEqual(a, b) {
			return unfixable("an edit of %s would change more than the fix intends (the document's layout is unusual): edit it by hand", y.name)
		}
	}
	return nil
}

// textEdits collects edits of y's lines.
type textEdits struct {
	y     *yfile
	spans []span
	ins   []insertion
}

// span replaces bytes [from, to) of a line (0-based) with text.
type span struct {
	line, from, to int
	text           string
}

// insertion inserts whole lines after a line (0-based).
type insertion struct {
	after int
	text  string
}

func (t *textEdits) merge(m, frag *yaml.Node) error {
	if m.Kind != yaml.MappingNode {
		return unfixable("line %d of %s is not a mapping, so the fix cannot add to it", m.Line, t.y.name)
	}
	if m.Style&yaml.FlowStyle != 0 {
		return t.rewriteFlow(m, frag)
	}
	var added []*yaml.Node
	for i := 0; i+1 < len(frag.Content); i += 2 {
		fk, fv := frag.Content[i], frag.Content[i+1]
		k, v := yamlnode.Get(m, fk.Value)
		var err error
		switch {
		case k == nil:
			added = append(added, fk, fv)
		case isEmpty(v) && fv.Kind != yaml.ScalarNode:
			err = t.replaceEmpty(k, v, fk, fv)
		case v.Kind == yaml.MappingNode && fv.Kind == yaml.MappingNode:
			err = t.merge(v, fv)
		case v.Kind == yaml.SequenceNode && fv.Kind == yaml.SequenceNode:
			err = t.appendSeq(v, fv)
		case v.Kind == yaml.ScalarNode && fv.Kind == yaml.ScalarNode:
			if v.Value != fv.Value || v.ShortTag() != fv.ShortTag() {
				err = t.replaceScalar(v, fv)
			}
		default:
			err = unfixable("%s at line %d of %s is not what the fix expects: edit it by hand", fk.Value, k.Line, t.y.name)
		}
		if err != nil {
			return err
		}
	}
	if len(added) == 0 {
		return nil
	}
	first := m.Content[0]
	end := t.y.blockEnd(first.Line-1, func(ind int, _ string) bool { return ind >= first.Column-1 })
	text, err := t.y.render(&yaml.Node{Kind: yaml.MappingNode, Content: added}, first.Column-1)
	if err != nil {
		return err
	}
	t.ins = append(t.ins, insertion{after: end, text: text})
	return nil
}

// isEmpty reports a null value or an empty flow collection ({} or []).
func isEmpty(n *yaml.Node) bool {
	return isNull(n) || (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) == 0
}

// replaceEmpty turns "key:", "key: ~" or "key: {}" into "key:" followed
// by the rendered block value.
func (t *textEdits) replaceEmpty(k, v, fk, fv *yaml.Node) error {
	li := k.Line - 1
	body := trimEOL(t.y.lines[li])
	col, ok := byteCol(body, k.Column)
	if !ok || !strings.HasPrefix(body[col:], k.Value) {
		return unfixable("the key %s at line %d of %s is quoted or unusual: edit it by hand", k.Value, k.Line, t.y.name)
	}
	colon := col + len(k.Value)
	for colon < len(body) && body[colon] == ' ' {
		colon++
	}
	if colon >= len(body) || body[colon] != ':' {
		return unfixable("the key %s at line %d of %s is unusual: edit it by hand", k.Value, k.Line, t.y.name)
	}
	end := commentStart(body, colon+1)
	val := strings.TrimSpace(body[colon+1 : end])
	switch val {
	case "", "~", "null", "Null", "NULL", "{}", "[]":
	default:
		return unfixable("the value of %s at line %d of %s is not on its line: edit it by hand", k.Value, k.Line, t.y.name)
	}
	if val != "" && v.Line != k.Line {
		return unfixable("the value of %s at line %d of %s is not on its line: edit it by hand", k.Value, k.Line, t.y.name)
	}
	text, err := t.y.render(mapping(fk.Value, fv), col)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(text, t.y.eol)
	if trimEOL(lines[0]) != strings.Repeat(" ", col)+k.Value+":" {
		return unfixable("the key %s at line %d of %s is unusual: edit it by hand", k.Value, k.Line, t.y.name)
	}
	if val != "" {
		from := colon + 1 + strings.Index(body[colon+1:], val)
		t.spans = append(t.spans, span{line: li, from: colon + 1, to: from + len(val)})
	}
	t.ins = append(t.ins, insertion{after: li, text: strings.Join(lines[1:], "")})
	return nil
}

// replaceScalar replaces a one-line scalar's text, keeping its quotes.
func (t *textEdits) replaceScalar(v, fv *yaml.Node) error {
	if isNull(v) && v.Value == "" {
		return unfixable("the value at line %d of %s is empty: edit it by hand", v.Line, t.y.name)
	}
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 {
		return unfixable("the value at line %d of %s is a block or tagged scalar: edit it by hand", v.Line, t.y.name)
	}
	li := v.Line - 1
	body := trimEOL(t.y.lines[li])
	start, ok := byteCol(body, v.Column)
	if !ok {
		return unfixable("line %d of %s is shorter than its value: edit it by hand", v.Line, t.y.name)
	}
	end := scalarEnd(body, start, v.Style)
	if end < 0 {
		return unfixable("the value at line %d of %s spans lines: edit it by hand", v.Line, t.y.name)
	}
	n := *fv
	if fv.ShortTag() == "!!str" {
		n.Style = v.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
	}
	text, err := renderInline(&n)
	if err != nil {
		return err
	}
	t.spans = append(t.spans, span{line: li, from: start, to: end, text: text})
	return nil
}

// appendSeq appends the scalar items of fv that v lacks.
func (t *textEdits) appendSeq(v, fv *yaml.Node) error {
	var add []*yaml.Node
	for _, it := range fv.Content {
		if !hasItem(v, it) {
			add = append(add, it)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if v.Style&yaml.FlowStyle != 0 {
		return t.rewriteFlow(v, &yaml.Node{Kind: yaml.SequenceNode, Content: add})
	}
	first := v.Content[0]
	body := trimEOL(t.y.lines[first.Line-1])
	col, ok := byteCol(body, first.Column)
	if !ok {
		return unfixable("line %d of %s is unusual: edit it by hand", first.Line, t.y.name)
	}
	dash := strings.LastIndexByte(body[:col], '-')
	if dash < 0 || strings.TrimSpace(body[dash+1:col]) != "" {
		return unfixable("the list at line %d of %s is unusual: edit it by hand", first.Line, t.y.name)
	}
	end := t.y.blockEnd(first.Line-1, func(ind int, rest string) bool {
		return ind > dash || ind == dash && (rest == "-" || strings.HasPrefix(rest, "- "))
	})
	text, err := t.y.render(&yaml.Node{Kind: yaml.SequenceNode, Content: add}, dash)
	if err != nil {
		return err
	}
	t.ins = append(t.ins, insertion{after: end, text: text})
	return nil
}

// hasItem reports whether sequence s holds a scalar equal to it.
func hasItem(s, it *yaml.Node) bool {
	for _, c := range s.Content {
		if c.Kind == yaml.ScalarNode && c.Value == it.Value {
			return true
		}
	}
	return false
}

// rewriteFlow rewrites a flow collection that sits on one line with frag
// merged into it (frag is a mapping for a mapping, the items to append
// for a sequence).
func (t *textEdits) rewriteFlow(n, frag *yaml.Node) error {
	li := n.Line - 1
	body := trimEOL(t.y.lines[li])
	start, ok := byteCol(body, n.Column)
	if !ok {
		return unfixable("line %d of %s is unusual: edit it by hand", n.Line, t.y.name)
	}
	end := flowEnd(body, start)
	if end < 0 {
		return unfixable("the flow collection at line %d of %s spans lines: edit it by hand", n.Line, t.y.name)
	}
	merged := copyNode(n, map[*yaml.Node]*yaml.Node{})
	if err := mergeNodes(merged, frag); err != nil {
		return err
	}
	setFlow(merged)
	text, err := renderInline(merged)
	if err != nil {
		return err
	}
	t.spans = append(t.spans, span{line: li, from: start, to: end, text: text})
	return nil
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style |= yaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}

// render returns the text with the edits made.
func (t *textEdits) render() ([]byte, error) {
	lines := append([]string(nil), t.y.lines...)
	sort.SliceStable(t.spans, func(i, j int) bool { return t.spans[i].line < t.spans[j].line })
	for i, s := range t.spans {
		if i > 0 && t.spans[i-1].line == s.line {
			return nil, unfixable("the fix would change line %d of %s twice: edit it by hand", s.line+1, t.y.name)
		}
		l := lines[s.line]
		lines[s.line] = l[:s.from] + s.text + l[s.to:]
	}
	after := map[int][]string{}
	for _, in := range t.ins {
		after[in.after] = append(after[in.after], in.text)
	}
	var b bytes.Buffer
	for i, l := range lines {
		b.WriteString(l)
		if ins, ok := after[i]; ok {
			if !strings.HasSuffix(l, "\n") {
				b.WriteString(t.y.eol)
			}
			for _, s := range ins {
				b.WriteString(s)
			}
		}
	}
	return b.Bytes(), nil
}

// blockEnd is the last line (0-based) of a block that starts at line
// first and goes on while inside(indent, text) holds for its lines. Blank
// lines never end it; comment lines neither end it nor, unless inside,
// belong to it; a document marker ends it.
func (y *yfile) blockEnd(first int, inside func(ind int, rest string) bool) int {
	last := first
	for j := first + 1; j < len(y.lines); j++ {
		body := trimEOL(y.lines[j])
		rest := strings.TrimLeft(body, " ")
		ind := len(body) - len(rest)
		if rest == "" {
			continue
		}
		if ind == 0 && (strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, "...")) {
			break
		}
		if strings.HasPrefix(rest, "#") {
			if inside(ind, rest) {
				last = j
			}
			continue
		}
		if !inside(ind, rest) {
			break
		}
		last = j
	}
	return last
}

// render encodes n as block YAML with the file's indentation, each line
// indented by indent spaces and ended as the file ends its lines.
func (y *yfile) render(n *yaml.Node, indent int) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(y.step)
	if y.compactSeq {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(n); err != nil {
		return "", unfixable("the fix cannot be written as YAML: %v", err)
	}
	if err := enc.Close(); err != nil {
		return "", unfixable("the fix cannot be written as YAML: %v", err)
	}
	pad := strings.Repeat(" ", indent)
	var b strings.Builder
	for _, l := range strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		b.WriteString(pad + strings.TrimSuffix(l, "\n") + y.eol)
	}
	return b.String(), nil
}

// renderInline encodes a scalar or a flow collection on one line.
func renderInline(n *yaml.Node) (string, error) {
	out, err := yaml.Marshal(n)
	if err != nil {
		return "", unfixable("the fix cannot be written as YAML: %v", err)
	}
	s := strings.TrimSuffix(string(out), "\n")
	if strings.Contains(s, "\n") {
		return "", unfixable("the new value does not fit on one line: edit it by hand")
	}
	return s, nil
}

// mergeNodes merges frag into n, the node-tree twin of textEdits.merge.
func mergeNodes(n, frag *yaml.Node) error {
	switch {
	case n.Kind == yaml.MappingNode && frag.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(frag.Content); i += 2 {
			fk, fv := frag.Content[i], frag.Content[i+1]
			k, v := yamlnode.Get(n, fk.Value)
			switch {
			case k == nil:
				n.Content = append(n.Content, copyNode(fk, nil), copyNode(fv, nil))
			case isEmpty(v) && fv.Kind != yaml.ScalarNode:
				*v = *copyNode(fv, nil)
			default:
				if err := mergeNodes(v, fv); err != nil {
					return err
				}
			}
		}
	case n.Kind == yaml.SequenceNode && frag.Kind == yaml.SequenceNode:
		for _, it := range frag.Content {
			if !hasItem(n, it) {
				n.Content = append(n.Content, copyNode(it, nil))
			}
		}
	case n.Kind == yaml.ScalarNode && frag.Kind == yaml.ScalarNode:
		n.Value, n.Tag = frag.Value, frag.Tag
	default:
		return unfixable("the document does not have the shape the fix expects: edit it by hand")
	}
	return nil
}

// copyNode deep-copies a node tree, recording old-to-new in memo when it
// is not nil.
func copyNode(n *yaml.Node, memo map[*yaml.Node]*yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = copyNode(ch, memo)
	}
	if memo != nil {
		memo[n] = &c
	}
	return &c
}

// Fragment builders.

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func integer(i int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(i, 10)}
}

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

// mapping builds a mapping from alternating string keys and node values.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}
