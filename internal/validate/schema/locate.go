package schema

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/textdist"
	"github.com/kubewright/kubewright/internal/validate"
)

// ---- locating fields in the source ----------------------------------------------

// primaryDoc is the object's own source document.
func (r *schemaRun) primaryDoc(o validate.Object) (validate.Doc, bool) {
	if r.in.Sources == nil {
		return validate.Doc{}, false
	}
	kind, name := o.U.GetKind(), o.U.GetName()
	for _, d := range r.in.Sources.Docs() {
		if d.File == o.File && d.Line == o.Line && d.Kind == kind {
			return d, true
		}
	}
	d, ok := r.in.Sources.Find(path.Dir(o.File), kind, o.U.GetNamespace(), name)
	if !ok || name == "" {
		return validate.Doc{}, false
	}
	return d, true
}

// locate returns the file and line of a field path (segments) of the
// object: its own document when the field is there, else a patch that sets
// it, else the nearest enclosing field of its own document.
func (r *schemaRun) locate(o validate.Object, segs []string) (string, int) {
	d, ok := r.primaryDoc(o)
	if !ok {
		return o.File, o.Line
	}
	line, full := schemaResolve(d, segs)
	if full {
		return d.File, line
	}
	for _, p := range r.in.Sources.Docs() {
		if p.Kind != d.Kind || p.Name != d.Name || r.objectDocs[fmt.Sprintf("%s:%d", p.File, p.Line)] {
			continue
		}
		if p.Namespace != "" && o.U.GetNamespace() != "" && p.Namespace != o.U.GetNamespace() {
			continue
		}
		if l, ok := schemaResolve(p, segs); ok {
			return p.File, l
		}
	}
	return d.File, line
}

// schemaResolve walks segments through a document and returns the line of
// the deepest field found, and whether every segment was found.
func schemaResolve(d validate.Doc, segs []string) (int, bool) {
	n, line := d.Node, d.Line
	for _, s := range segs {
		if n == nil {
			return line, false
		}
		switch n.Kind {
		case yaml.SequenceNode:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line, false
			}
			n = n.Content[i]
			line = n.Line
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
			if next == nil {
				return line, false
			}
			n = next
		default:
			return line, false
		}
	}
	return line, true
}

// schemaParsePath splits "spec.a[0].b", `spec.m["k.x"]` and "spec.a.0.b".
func schemaParsePath(p string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '.':
			flush()
		case '[':
			flush()
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				cur.WriteString(p[i:])
				i = len(p)
				continue
			}
			out = append(out, strings.Trim(p[i+1:i+end], `"'`))
			i += end
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// ---- small helpers -------------------------------------------------------------

func schemaGet(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func schemaString(v any, keys ...string) (string, bool) {
	x, ok := schemaGet(v, keys...)
	s, _ := x.(string)
	return s, ok
}

func schemaNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func schemaJSONType(v any) (string, string) {
	switch x := v.(type) {
	case string:
		return "a string", fmt.Sprintf(" (%q)", x)
	case bool:
		return "a boolean", fmt.Sprintf(" (%v)", x)
	case map[string]any:
		return "an object", ""
	case []any:
		return "a list", ""
	}
	if f, ok := schemaNumber(v); ok {
		return "a number", fmt.Sprintf(" (%v)", f)
	}
	return fmt.Sprintf("%T", v), ""
}

func schemaQuoteHint(want, got string) string {
	if want == "a string" && (got == "a number" || got == "a boolean") {
		return " (quote it: YAML reads unquoted 1.0, true, yes and on as numbers and booleans)"
	}
	if got == "a string" && (strings.Contains(want, "integer") || strings.Contains(want, "number")) {
		return " (write digits without quotes)"
	}
	return ""
}

// schemaFormatHint says what a value of a custom-decoded type looks like.
func schemaFormatHint(t reflect.Type) string {
	switch t.Name() {
	case "Quantity":
		return "use a quantity such as 250m, 1, 128Mi or 2Gi"
	case "IntOrString":
		return "use a number or a name"
	case "Time", "MicroTime":
		return "use an RFC 3339 time such as 2024-01-31T12:00:00Z"
	case "Duration":
		return "use a duration such as 30s, 5m or 1h"
	}
	return "fix the value's format"
}

func schemaShort(b []byte) string {
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

func schemaSortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// schemaJoin appends a key to a display path, bracketing keys with dots.
func schemaJoin(p, k string) string {
	if strings.ContainsAny(k, "./[] ") || k == "" {
		return fmt.Sprintf("%s[%q]", p, k)
	}
	if p == "" {
		return k
	}
	return p + "." + k
}

// schemaDisplay renders segments as a display path.
func schemaDisplay(segs []string) string {
	p := ""
	for _, s := range segs {
		if _, err := strconv.Atoi(s); err == nil {
			p += "[" + s + "]"
			continue
		}
		p = schemaJoin(p, s)
	}
	return p
}

// schemaSuggest returns the candidate closest to name when it is close
// enough to be a typo.
func schemaSuggest(name string, cands []string) string {
	best, bestD := "", 3
	for _, c := range cands {
		if strings.EqualFold(c, name) {
			return c
		}
		if d := textdist.Distance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
