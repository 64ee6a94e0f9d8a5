package ops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
)

// The edit primitives of ytext. Each one records the text edit and makes
// the same change to the intended documents (t.want, through t.memo).

// scalar builds a scalar node: tag "!!int", "!!bool" or "!!str".
func scalar(value, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// str is a string scalar.
func str(value string) *yaml.Node { return scalar(value, "!!str") }

// mapping builds a block mapping from key, value pairs.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		v, ok := kv[i+1].(*yaml.Node)
		if !ok {
			v = str(fmt.Sprint(kv[i+1]))
		}
		m.Content = append(m.Content, str(kv[i].(string)), v)
	}
	return m
}

// nest wraps v in the mapping keys of path: nest(["a","b"], v) is {a: {b: v}}.
func nest(path []string, v *yaml.Node) *yaml.Node {
	for i := len(path) - 1; i >= 0; i-- {
		v = mapping(path[i], v)
	}
	return v
}

// setScalar replaces the one-line scalar n with value, keeping its quote
// style when the value allows it and whatever follows it on the line.
func (t *ytext) setScalar(n *yaml.Node, value, tag string) error {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return fmt.Errorf("%s:%d: the value is not a one-line scalar; make the change by hand", t.name, n.Line)
	}
	from, err := t.offset(n.Line, n.Column)
	if err != nil {
		return err
	}
	body := string(t.data[from:t.lineEnd(n.Line)])
	var end int
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end = quotedEnd(body, '"')
	case n.Style&yaml.SingleQuotedStyle != 0:
		end = quotedEnd(body, '\'')
	case strings.HasPrefix(body, n.Value):
		end = len(n.Value)
	default:
		end = -1
	}
	if end < 0 {
		return fmt.Errorf("%s:%d: the value spans lines; make the change by hand", t.name, n.Line)
	}
	text, style := renderScalar(value, tag, n.Style)
	t.add(from, from+end, text)
	w := t.memo[n]
	w.Value, w.Tag, w.Style = value, tag, style
	return nil
}

// quotedEnd is the end of the quoted scalar body starts with, or -1.
func quotedEnd(body string, q byte) int {
	for i := 1; i < len(body); i++ {
		switch {
		case q == '"' && body[i] == '\\':
			i++
		case body[i] == q && q == '\'' && i+1 < len(body) && body[i+1] == '\'':
			i++
		case body[i] == q:
			return i + 1
		case body[i] == '\n':
			return -1
		}
	}
	return -1
}

// renderScalar writes value in style when it can be, else double-quoted.
func renderScalar(value, tag string, style yaml.Style) (string, yaml.Style) {
	if tag != "!!str" {
		return value, 0
	}
	switch {
	case style&yaml.SingleQuotedStyle != 0 && !strings.ContainsAny(value, "\n\r"):
		return "'" + strings.ReplaceAll(value, "'", "''") + "'", yaml.SingleQuotedStyle
	case style&yaml.DoubleQuotedStyle == 0 && plainSafe(value):
		return value, 0
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(value) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n"), yaml.DoubleQuotedStyle
}

// plainSafe reports whether value reads back as the same string when
// written plain, in block or flow context.
func plainSafe(value string) bool {
	if value == "" || strings.ContainsAny(value, ",[]{}#\n\r\t\"'") || strings.Contains(value, ": ") || strings.TrimSpace(value) != value {
		return false
	}
	var n yaml.Node
	if yaml.Unmarshal([]byte("k: "+value), &n) != nil || len(n.Content) != 1 || len(n.Content[0].Content) != 2 {
		return false
	}
	v := n.Content[0].Content[1]
	return v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == value && v.Style == 0
}

// renderBlock renders node (a mapping or sequence) in the file's style,
// each line indented by indent spaces.
func (t *ytext) renderBlock(node *yaml.Node, indent int) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(t.step)
	if t.compact {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(fresh(node)); err != nil {
		return "", fmt.Errorf("%s: render: %w", t.name, err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("%s: render: %w", t.name, err)
	}
	pad := strings.Repeat(" ", indent)
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if l != "" {
			out.WriteString(pad)
		}
		out.WriteString(l)
		out.WriteString(t.eol)
	}
	return out.String(), nil
}

// setPath sets the value at a path of mapping keys below block mapping m,
// creating the keys that are missing.
func (t *ytext) setPath(m *yaml.Node, path []string, value *yaml.Node) error {
	cur := m
	for i, key := range path {
		k, v := yamlnode.Get(cur, key)
		rest := path[i+1:]
		switch {
		case k == nil:
			return t.insertPair(cur, key, nest(rest, value))
		case len(rest) == 0 && v.Kind == yaml.ScalarNode && !isNull(v) && value.Kind == yaml.ScalarNode && v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0:
			return t.setScalar(v, value.Value, value.Tag)
		case len(rest) == 0 || isNull(v):
			return t.replacePair(cur, k, v, nest(rest, value))
		case v.Kind != yaml.MappingNode:
			return fmt.Errorf("%s:%d: %s is not a mapping, so %s cannot be set below it", t.name, v.Line, key, strings.Join(rest, "."))
		case v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0:
			// A flow mapping ({} or {a: b}) is rewritten in block style.
			c := fresh(v)
			setIn(c, rest, value)
			return t.replacePair(cur, k, v, c)
		}
		cur = v
	}
	return nil
}

// setIn sets a path of mapping keys in a detached node tree.
func setIn(m *yaml.Node, path []string, value *yaml.Node) {
	for i, key := range path {
		_, v := yamlnode.Get(m, key)
		if i == len(path)-1 {
			if v != nil {
				*v = *value
				return
			}
			m.Content = append(m.Content, str(key), value)
			return
		}
		if v == nil || v.Kind != yaml.MappingNode {
			nv := mapping()
			if v != nil {
				*v = *nv
				nv = v
			} else {
				m.Content = append(m.Content, str(key), nv)
			}
			v = nv
		}
		m = v
	}
}

// insertPair adds key: value at the end of block mapping m.
func (t *ytext) insertPair(m *yaml.Node, key string, value *yaml.Node) error {
	if m.Kind != yaml.MappingNode || m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return fmt.Errorf("%s:%d: cannot add %s to a flow or empty mapping; make the change by hand", t.name, m.Line, key)
	}
	text, err := t.renderBlock(mapping(key, value), m.Content[0].Column-1)
	if err != nil {
		return err
	}
	at := t.lineEnd(t.mappingEnd(m))
	if at == len(t.data) && len(t.data) > 0 && t.data[len(t.data)-1] != '\n' {
		text = t.eol + text
	}
	t.add(at, at, text)
	w := t.memo[m]
	w.Content = append(w.Content, str(key), fresh(value))
	return nil
}

// insertPairFirst adds key: value before the first key of block mapping
// m (where replicas conventionally stand), or at its end when the first
// key shares its line with a "- ".
func (t *ytext) insertPairFirst(m *yaml.Node, key string, value *yaml.Node) error {
	if m.Kind != yaml.MappingNode || m.Style&yaml.FlowStyle != 0 || len(m.Content) == 0 {
		return fmt.Errorf("%s:%d: cannot add %s to a flow or empty mapping; make the change by hand", t.name, m.Line, key)
	}
	k := m.Content[0]
	from, err := t.offset(k.Line, k.Column)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(t.data[t.starts[k.Line-1]:from])) != "" {
		return t.insertPair(m, key, value)
	}
	text, err := t.renderBlock(mapping(key, value), k.Column-1)
	if err != nil {
		return err
	}
	first := k.Line - commentLines(k.HeadComment)
	for first < k.Line && !strings.HasPrefix(strings.TrimSpace(t.line(first)), "#") {
		first++
	}
	t.add(t.starts[first-1], t.starts[first-1], text)
	w := t.memo[m]
	w.Content = append([]*yaml.Node{str(key), fresh(value)}, w.Content...)
	return nil
}

// replacePair rewrites the lines of key k (value v) of mapping m as
// key: value, keeping the comment lines above it.
func (t *ytext) replacePair(m, k, v, value *yaml.Node) error {
	if m.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("%s:%d: %s is in a flow mapping; make the change by hand", t.name, k.Line, k.Value)
	}
	from, err := t.offset(k.Line, k.Column)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(t.data[t.starts[k.Line-1]:from])) != "" {
		// The key shares its line with a "- ": keep that prefix.
		text, err := t.renderBlock(mapping(k.Value, value), k.Column-1)
		if err != nil {
			return err
		}
		t.add(from, t.lineEnd(t.pairEnd(k, v)), strings.TrimLeft(text, " "))
	} else {
		text, err := t.renderBlock(mapping(k.Value, value), k.Column-1)
		if err != nil {
			return err
		}
		t.add(t.starts[k.Line-1], t.lineEnd(t.pairEnd(k, v)), text)
	}
	*t.memo[v] = *fresh(value)
	return nil
}

// deletePair removes key (and its value and the comment lines above it)
// from block mapping m. Removing the last key of a mapping is refused:
// the caller removes the key holding the mapping instead.
func (t *ytext) deletePair(m *yaml.Node, key string) error {
	idx := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			idx = i
		}
	}
	if idx < 0 {
		return nil
	}
	k, v := m.Content[idx], m.Content[idx+1]
	if m.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("%s:%d: %s is in a flow mapping; make the change by hand", t.name, k.Line, key)
	}
	from, err := t.offset(k.Line, k.Column)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(t.data[t.starts[k.Line-1]:from])) != "" {
		return fmt.Errorf("%s:%d: %s starts a list item; make the change by hand", t.name, k.Line, key)
	}
	w := t.memo[m]
	if len(w.Content) <= 2 {
		return fmt.Errorf("%s:%d: removing %s would leave an empty mapping", t.name, k.Line, key)
	}
	first := k.Line - commentLines(k.HeadComment)
	for first < k.Line && !strings.HasPrefix(strings.TrimSpace(t.line(first)), "#") {
		first++
	}
	t.add(t.starts[first-1], t.lineEnd(t.pairEnd(k, v)), "")
	wk := t.memo[k]
	for i := 0; i+1 < len(w.Content); i += 2 {
		if w.Content[i] == wk {
			w.Content = append(w.Content[:i:i], w.Content[i+2:]...)
			break
		}
	}
	return nil
}

// commentLines is the number of lines of a head comment.
func commentLines(c string) int {
	if c == "" {
		return 0
	}
	return strings.Count(c, "\n") + 1
}

// deleteItem removes item i of block sequence s. Removing its last item
// is refused: the caller removes the key holding the list instead.
func (t *ytext) deleteItem(s *yaml.Node, i int) error {
	if s.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("%s:%d: the list is in flow style; make the change by hand", t.name, s.Line)
	}
	w := t.memo[s]
	if len(w.Content) <= 1 {
		return fmt.Errorf("%s:%d: removing the item would leave an empty list", t.name, s.Line)
	}
	t.add(t.starts[t.dashLine(s, i)-1], t.lineEnd(t.itemEnd(s, i)), "")
	wi := t.memo[s.Content[i]]
	for j, c := range w.Content {
		if c == wi {
			w.Content = append(w.Content[:j:j], w.Content[j+1:]...)
			break
		}
	}
	return nil
}

// remaining is how many items or keys the intended node has left.
func (t *ytext) remaining(n *yaml.Node) int {
	w := t.memo[n]
	if w.Kind == yaml.MappingNode {
		return len(w.Content) / 2
	}
	return len(w.Content)
}

// insertItem adds item to block sequence s after item index after.
func (t *ytext) insertItem(s *yaml.Node, after int, item *yaml.Node) error {
	if s.Style&yaml.FlowStyle != 0 || len(s.Content) == 0 {
		return fmt.Errorf("%s:%d: the list is in flow style or empty; make the change by hand", t.name, s.Line)
	}
	text, err := t.renderBlock(&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}}, s.Column-1)
	if err != nil {
		return err
	}
	at := t.lineEnd(t.itemEnd(s, after))
	if at == len(t.data) && len(t.data) > 0 && t.data[len(t.data)-1] != '\n' {
		text = t.eol + text
	}
	t.add(at, at, text)
	w := t.memo[s]
	wa := t.memo[s.Content[after]]
	for j, c := range w.Content {
		if c == wa {
			w.Content = append(w.Content[:j+1:j+1], append([]*yaml.Node{fresh(item)}, w.Content[j+1:]...)...)
			break
		}
	}
	return nil
}

// setBlock replaces the content of literal block scalar n (an inline
// patch) with value, at the block's indentation.
func (t *ytext) setBlock(n *yaml.Node, value string) error {
	if n.Kind != yaml.ScalarNode || n.Style&yaml.LiteralStyle == 0 {
		return fmt.Errorf("%s:%d: the patch is not a literal block (|); make the change by hand", t.name, n.Line)
	}
	header := t.line(n.Line)
	ind := strings.LastIndex(header, "|")
	if ind < 0 || strings.ContainsAny(header[ind:], "123456789") {
		return fmt.Errorf("%s:%d: the block has an explicit indentation; make the change by hand", t.name, n.Line)
	}
	first, last, pad := n.Line+1, n.Line, 0
	for l := first; l <= t.lines(); l++ {
		body := t.line(l)
		if strings.TrimSpace(body) == "" {
			continue
		}
		lead := len(body) - len(strings.TrimLeft(body, " "))
		if pad == 0 {
			pad = lead
		}
		if lead < pad || pad == 0 {
			break
		}
		last = l
	}
	if last < first {
		return fmt.Errorf("%s:%d: the block is empty; make the change by hand", t.name, n.Line)
	}
	strip := strings.HasPrefix(header[ind:], "|-")
	body := strings.TrimRight(value, "\n")
	var out strings.Builder
	for _, l := range strings.Split(body, "\n") {
		if l != "" {
			out.WriteString(strings.Repeat(" ", pad))
		}
		out.WriteString(l)
		out.WriteString(t.eol)
	}
	t.add(t.starts[first-1], t.lineEnd(last), out.String())
	w := t.memo[n]
	w.Value = body
	if !strip {
		w.Value += "\n"
	}
	return nil
}

// replaceDoc replaces the text of document i with that of doc (taken from
// another version of the file): the lines from its first node to the line
// before the next document's separator.
func (t *ytext) replaceDoc(i int, text []byte, doc *yaml.Node) error {
	first, last := t.docLines(i)
	if first == 0 {
		return fmt.Errorf("%s: document %d is empty", t.name, i+1)
	}
	txt := string(text)
	if !strings.HasSuffix(txt, "\n") {
		txt += "\n"
	}
	t.add(t.starts[first-1], t.lineEnd(last), txt)
	t.want[i] = copyNode(doc, map[*yaml.Node]*yaml.Node{})
	return nil
}

// docLines is the first and last line of document i (its comments
// included, the separators around it and blank lines at its ends not),
// 0, 0 for an empty document.
func (t *ytext) docLines(i int) (int, int) {
	d := t.docs[i]
	if len(d.Content) == 0 {
		return 0, 0
	}
	at := d.Content[0].Line
	first := at
	for first > 1 && !t.isDocMarker(first-1) {
		first--
	}
	for first < at && strings.TrimSpace(t.line(first)) == "" {
		first++
	}
	last := at
	for l := at + 1; l <= t.lines() && !t.isDocMarker(l); l++ {
		if strings.TrimSpace(t.line(l)) != "" {
			last = l
		}
	}
	return first, last
}

// docText is the text of document i, as docLines bounds it.
func (t *ytext) docText(i int) []byte {
	first, last := t.docLines(i)
	if first == 0 {
		return nil
	}
	return t.data[t.starts[first-1]:t.lineEnd(last)]
}

// scalarAt is the scalar at a path of mapping keys, or "".
func scalarAt(n *yaml.Node, path ...string) string {
	v := yamlnode.At(n, path...)
	if v == nil || v.Kind != yaml.ScalarNode || isNull(v) {
		return ""
	}
	return v.Value
}

// isNull reports a null scalar.
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }
