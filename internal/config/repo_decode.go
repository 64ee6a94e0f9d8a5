package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/textdist"
)

// decodeRepo decodes the settings file into c by walking YAML nodes
// against Repo's json tags, so that every error has a line and speaks of
// settings and YAML values, never of Go types. YAML is read as 1.2 (off,
// no and yes are strings); data has passed yamlsafe.Check.
func decodeRepo(name string, data []byte, c *Repo) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file
		}
		return fmt.Errorf("%s: not valid YAML (%v)", name, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line := next.Line
		if err != nil {
			line = 0
		}
		return fmt.Errorf("%s: a second YAML document starts here (.github/kubewright.yaml holds one document: remove the ---)", lineOf(name, line))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		return nil // only comments
	}
	d := &decoder{name: name, lines: c.lines}
	return d.value(root, reflect.ValueOf(c).Elem(), "")
}

type decoder struct {
	name  string
	lines map[string]int
}

func lineOf(name string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", name, line)
	}
	return name
}

// fail is "file:line: key: message".
func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) error {
	where := lineOf(d.name, n.Line)
	if key == "" {
		return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %s: %s", where, key, fmt.Sprintf(format, args...))
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" || n.Kind == 0
}

// describe names what a node is, for "expected X, got Y" errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool":
			return n.Value + " (a boolean)"
		case "!!int", "!!float":
			return n.Value + " (a number)"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return strconv.Quote(v)
	}
	return "something else"
}

// depth guards against alias chains the shapes below could recurse into;
// Repo nests three levels.
const maxDecodeDepth = 8

func (d *decoder) value(n *yaml.Node, v reflect.Value, key string) error {
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > maxDecodeDepth {
			return d.fail(n, key, "alias *%s cannot be resolved (write the value out)", n.Value)
		}
		n = n.Alias
	}
	if key != "" && d.lines[key] == 0 {
		d.lines[key] = n.Line
	}
	if isNull(n) {
		return nil // "key:" with nothing after it keeps the default
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.object(n, v, key)
	case reflect.String:
		s, err := d.str(n, key, "a string")
		if err != nil {
			return err
		}
		v.SetString(s)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return d.fail(n, key, "expected true or false, got %s", describe(n))
		}
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return d.fail(n, key, "expected true or false, got %s", describe(n))
		}
		v.SetBool(b)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return d.fail(n, key, "expected a whole number, got %s", describe(n))
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 32)
		if err != nil {
			return d.fail(n, key, "%s is out of range (use a whole number below 2147483648)", n.Value)
		}
		v.SetInt(i)
	case reflect.Slice:
		return d.list(n, v, key)
	case reflect.Map:
		return d.rules(n, v, key)
	default:
		return d.fail(n, key, "cannot be set in this file")
	}
	return nil
}

// str accepts a scalar that is text or a number (a registry port, a
// branch named 2024); a boolean must be quoted to be a string.
func (d *decoder) str(n *yaml.Node, key, want string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", d.fail(n, key, "expected %s, got %s", want, describe(n))
	}
	switch n.Tag {
	case "!!str", "!!int", "!!float":
		return n.Value, nil
	case "!!bool":
		return "", d.fail(n, key, "expected %s, got %s (quote it, \"%s\", if you mean the word)", want, describe(n), n.Value)
	}
	return "", d.fail(n, key, "expected %s, got %s", want, describe(n))
}

func (d *decoder) list(n *yaml.Node, v reflect.Value, key string) error {
	if n.Kind != yaml.SequenceNode {
		return d.fail(n, key, "expected a list of strings (e.g. [a, b], or one \"- item\" per line), got %s", describe(n))
	}
	if len(n.Content) > maxListItems {
		return d.fail(n, key, "has %d items (at most %d)", len(n.Content), maxListItems)
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		ik := fmt.Sprintf("%s[%d]", key, i)
		for j := 0; item.Kind == yaml.AliasNode && item.Alias != nil && j <= maxDecodeDepth; j++ {
			item = item.Alias
		}
		d.lines[ik] = item.Line
		s, err := d.str(item, ik, "a string")
		if err != nil {
			return d.fail(item, key, "expected a list of strings (e.g. [a, b]), but item %d is %s", i+1, describe(item))
		}
		out = reflect.Append(out, reflect.ValueOf(s))
	}
	v.Set(out)
	return nil
}

// object decodes a mapping into a struct by json tag; an unknown or
// repeated key is an error with its line and the nearest known key.
func (d *decoder) object(n *yaml.Node, v reflect.Value, key string) error {
	fields := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		if key == "" {
			return d.fail(n, "", "expected settings as key: value lines (%s), got %s", strings.Join(sortedKeys(fields), ", "), describe(n))
		}
		return d.fail(n, key, "expected a mapping of %s, got %s", strings.Join(sortedKeys(fields), ", "), describe(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			return d.fail(kn, key, "keys must be plain names, got %s", describe(kn))
		}
		k := kn.Value
		full := k
		if key != "" {
			full = key + "." + k
		}
		if k == "<<" {
			return d.fail(kn, key, "merge keys (<<) are not supported here: write the settings out")
		}
		if first, dup := seen[k]; dup {
			return d.fail(kn, full, "is set twice (first on line %d): keep one", first)
		}
		seen[k] = kn.Line
		idx, ok := fields[k]
		if !ok {
			return d.fail(kn, "", "unknown setting %s (%s)", full, suggestKey(k, key, fields))
		}
		d.lines[full] = kn.Line
		if err := d.value(vn, v.Field(idx), full); err != nil {
			return err
		}
	}
	return nil
}

// rules decodes validate.rules: rule ID -> severity.
func (d *decoder) rules(n *yaml.Node, v reflect.Value, key string) error {
	if n.Kind != yaml.MappingNode {
		return d.fail(n, key, "expected rule IDs with severities (e.g. KW-POL-030: off), got %s", describe(n))
	}
	if len(n.Content)/2 > maxListItems {
		return d.fail(n, key, "has %d rules (at most %d)", len(n.Content)/2, maxListItems)
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		for j := 0; vn.Kind == yaml.AliasNode && vn.Alias != nil && j <= maxDecodeDepth; j++ {
			vn = vn.Alias
		}
		if kn.Kind != yaml.ScalarNode {
			return d.fail(kn, key, "keys must be rule IDs such as KW-POL-030, got %s", describe(kn))
		}
		id := kn.Value
		full := key + "." + id
		if first, dup := seen[id]; dup {
			return d.fail(kn, full, "is set twice (first on line %d): keep one", first)
		}
		seen[id] = kn.Line
		d.lines[full] = kn.Line
		if _, ok := finding.LookupRule(id); !ok {
			return d.fail(kn, key, "unknown rule ID %s (%s)", strconv.Quote(id), suggestRule(id))
		}
		sev, err := severity(vn)
		if err != nil {
			return d.fail(vn, full, "%v", err)
		}
		m.SetMapIndex(reflect.ValueOf(id), reflect.ValueOf(sev))
	}
	v.Set(m)
	return nil
}

// severity reads a rule's severity. off turns the rule off; YAML 1.1
// readers take off, no and false for false, so those (and the boolean
// false) all mean off. Words that mean true are refused: true names no
// severity.
func severity(n *yaml.Node) (string, error) {
	const fix = "use error, warning, info or off"
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("expected a severity, got %s (%s)", describe(n), fix)
	}
	v := strings.ToLower(n.Value)
	switch {
	case v == "error" || v == "warning" || v == "info" || v == "off":
		return v, nil
	case v == "false" || v == "no" || v == "n":
		return "off", nil
	case v == "true" || v == "yes" || v == "y" || v == "on":
		return "", fmt.Errorf("%s is not a severity: write error, warning or info to set one, or off to turn the rule off", n.Value)
	}
	return "", fmt.Errorf("%s is not a severity (%s)", describe(n), fix)
}

// checkRule re-checks a decoded rule (Rules set in code, not from YAML).
func checkRule(id, sev string) error {
	if _, ok := finding.LookupRule(id); !ok {
		return fmt.Errorf("unknown rule ID %q (%s)", id, suggestRule(id))
	}
	switch sev {
	case "error", "warning", "info", "off":
		return nil
	}
	return fmt.Errorf("%q is not a severity (use error, warning, info or off)", sev)
}

// suggestRule names the nearest known rule ID.
func suggestRule(id string) string {
	up := strings.ToUpper(strings.TrimSpace(id))
	// The nearest by edit distance; on a tie, an ID the text begins
	// (KW-POL-03 -> KW-POL-030 rather than KW-POL-003).
	best, bestD, bestScore := finding.Rule{}, 0, 1<<30
	for _, r := range finding.Rules {
		d := textdist.Distance(up, r.ID)
		score := 2 * d
		if up != "" && strings.HasPrefix(r.ID, up) {
			score--
		}
		if score < bestScore {
			best, bestD, bestScore = r, d, score
		}
	}
	if bestD <= 3 {
		return fmt.Sprintf("did you mean %s, %s?", best.ID, best.Title)
	}
	return "IDs look like KW-POL-030; `kubewright validate` prints the ID of every finding"
}

// suggestKey names the nearest setting at the same level, and all of them.
func suggestKey(k, parent string, fields map[string]int) string {
	keys := sortedKeys(fields)
	where := "this file"
	if parent != "" {
		where = parent
	}
	list := fmt.Sprintf("%s takes %s", where, strings.Join(keys, ", "))
	best, bestD := "", 1<<30
	for _, c := range keys {
		if d := textdist.Distance(strings.ToLower(k), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= 2 || bestD <= len(k)/3 {
		return fmt.Sprintf("did you mean %s? %s", best, list)
	}
	return "remove it or correct it; " + list
}

// fieldsOf maps a struct's json names to field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = i
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
