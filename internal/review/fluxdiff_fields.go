package review

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/kubewright/kubewright/internal/redact"
)

// maxValue caps a value as shown, in characters.
const maxValue = 80

// walker diffs one object's fields.
type walker struct {
	// secret is true for a core Secret: data and stringData are hidden.
	secret bool
	img    *[]ImageChange
	obj    Object
}

func (w *walker) diff(path string, a, b any, out *[]FieldChange) {
	a, b = norm(a), norm(b)
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			w.diffMaps(path, av, bv, out)
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			w.diffLists(path, av, bv, out)
			return
		}
	}
	if reflect.DeepEqual(a, b) {
		return
	}
	w.emit(path, FieldModified, a, b, out)
}

func (w *walker) diffMaps(path string, a, b map[string]any, out *[]FieldChange) {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := join(path, k)
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case inA && inB:
			w.diff(p, av, bv, out)
		case inB:
			w.one(p, FieldAdded, bv, out)
		default:
			w.one(p, FieldRemoved, av, out)
		}
	}
	w.helmImage(path, a, b)
}

// one reports a field present on one side only. Under a hidden path a
// mapping is listed key by key, so a Secret's new data shows its keys.
func (w *walker) one(path string, op Op, v any, out *[]FieldChange) {
	if m, ok := norm(v).(map[string]any); ok && w.hidden(path) && len(m) > 0 {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			*out = append(*out, FieldChange{Path: join(path, k), Op: op, Hidden: true})
		}
		return
	}
	if op == FieldAdded {
		w.emit(path, op, nil, v, out)
	} else {
		w.emit(path, op, v, nil, out)
	}
}

func (w *walker) diffLists(path string, a, b []any, out *[]FieldChange) {
	if an, ok := names(a); ok {
		if bn, ok := names(b); ok {
			for i, n := range bn {
				p := path + "[name=" + n + "]"
				if j := slicesIndex(an, n); j >= 0 {
					w.diff(p, a[j], b[i], out)
				} else {
					w.emit(p, FieldAdded, nil, b[i], out)
				}
			}
			for j, n := range an {
				if slicesIndex(bn, n) < 0 {
					w.emit(path+"[name="+n+"]", FieldRemoved, a[j], nil, out)
				}
			}
			return
		}
	}
	if scalars(a) && scalars(b) {
		if !reflect.DeepEqual(normAll(a), normAll(b)) {
			w.emit(path, FieldModified, a, b, out)
		}
		return
	}
	for i := 0; i < max(len(a), len(b)); i++ {
		p := path + "[" + strconv.Itoa(i) + "]"
		switch {
		case i >= len(a):
			w.emit(p, FieldAdded, nil, b[i], out)
		case i >= len(b):
			w.emit(p, FieldRemoved, a[i], nil, out)
		default:
			w.diff(p, a[i], b[i], out)
		}
	}
}

// emit records one field change, hiding secret values and noting images.
func (w *walker) emit(path string, op Op, a, b any, out *[]FieldChange) {
	fc := FieldChange{Path: path, Op: op}
	if w.hidden(path) || w.sensitive(path, a) || w.sensitive(path, b) {
		fc.Hidden = true
		*out = append(*out, fc)
		return
	}
	if op == FieldAdded {
		b = withoutName(path, b)
	} else if op == FieldRemoved {
		a = withoutName(path, a)
	}
	if op != FieldAdded {
		fc.Old = show(a)
	}
	if op != FieldRemoved {
		fc.New = show(b)
	}
	if op == FieldModified {
		if as, bs, ok := twoTexts(a, b); ok {
			fc.New = fmt.Sprintf("%s (%s)", fc.New, lineDelta(as, bs))
		}
	}
	*out = append(*out, fc)
	if op == FieldModified && lastKey(path) == "image" {
		as, aok := a.(string)
		bs, bok := b.(string)
		if aok && bok {
			name := itemName(path)
			if name == "" {
				name = path
			}
			*w.img = append(*w.img, ImageChange{Object: w.obj, Container: name, Old: as, New: bs})
		}
	}
}

// helmImage notes an image given as repository and tag (Helm values).
func (w *walker) helmImage(path string, a, b map[string]any) {
	ar, _ := a["repository"].(string)
	br, _ := b["repository"].(string)
	at, _ := a["tag"].(string)
	bt, _ := b["tag"].(string)
	if ar == "" || br == "" || at == "" || bt == "" || ar == br && at == bt {
		return
	}
	if w.hidden(path) || w.sensitive(path, at) || w.sensitive(path, bt) {
		return
	}
	*w.img = append(*w.img, ImageChange{Object: w.obj, Container: path, Old: ar + ":" + at, New: br + ":" + bt})
}

// hidden reports paths whose values are never shown: a Secret's data
// and stringData.
func (w *walker) hidden(path string) bool {
	if !w.secret {
		return false
	}
	for _, p := range []string{"data", "stringData"} {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// withoutName drops the "name" of an item addressed by it (the path
// shows it already).
func withoutName(path string, v any) any {
	m, ok := v.(map[string]any)
	if !ok || !strings.HasSuffix(path, "]") || itemName(path) == "" || m["name"] != itemName(path) {
		return v
	}
	c := make(map[string]any, len(m))
	for k, x := range m {
		if k != "name" {
			c[k] = x
		}
	}
	return c
}

// sensitive reports a value internal/redact takes for a secret: a string
// read with its key (or, for an env var's value, the variable's name), or
// any such string inside a mapping or list.
func (w *walker) sensitive(path string, v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if w.sensitive(join(path, k), c) {
				return true
			}
		}
		return false
	case []any:
		n, named := names(x)
		for i, c := range x {
			p := path + "[" + strconv.Itoa(i) + "]"
			if named {
				p = path + "[name=" + n[i] + "]"
			}
			if w.sensitive(p, c) {
				return true
			}
		}
		return false
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return false
	}
	key := lastKey(path)
	if key == "value" {
		if n := itemName(path); n != "" {
			key = n
		}
	}
	line := key + ": " + strings.ReplaceAll(s, "\n", " ")
	_, n := redact.Text(line)
	return n > 0
}

// join appends a map key to a path; keys with dots, slashes or brackets
// are quoted: metadata.labels["app.kubernetes.io/name"].
func join(path, key string) string {
	if key == "" || strings.ContainsAny(key, `.[]/"= `) {
		return path + `["` + strings.ReplaceAll(key, `"`, `\"`) + `"]`
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// lastKey is the last plain key of a path ("image" of ...containers[name=api].image).
func lastKey(path string) string {
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		return path[i+1:]
	}
	return path
}

// itemName is the name of the last [name=...] item of a path, or "".
func itemName(path string) string {
	i := strings.LastIndex(path, "[name=")
	if i < 0 {
		return ""
	}
	rest := path[i+len("[name="):]
	if j := strings.IndexByte(rest, ']'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// names returns the "name" of each item when every item is a mapping
// with a distinct, non-empty name.
func names(l []any) ([]string, bool) {
	if len(l) == 0 {
		return nil, false
	}
	out := make([]string, len(l))
	seen := make(map[string]bool, len(l))
	for i, it := range l {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, false
		}
		n, ok := m["name"].(string)
		if !ok || n == "" || seen[n] || strings.ContainsAny(n, "[]") {
			return nil, false
		}
		seen[n] = true
		out[i] = n
	}
	return out, true
}

func slicesIndex(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

func scalars(l []any) bool {
	for _, it := range l {
		switch it.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

// norm makes numbers comparable: every integer is an int64, and so is a
// float with no fraction.
func norm(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n)
		}
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i
		}
	}
	return v
}

func normAll(l []any) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = norm(v)
	}
	return out
}

// show renders a value compactly: a plain string as it is (quoted when it
// would be ambiguous), text of several lines by its line count, anything
// else as JSON; cut to maxValue characters and redacted.
func show(v any) string {
	var s string
	switch x := norm(v).(type) {
	case nil:
		s = "null"
	case string:
		switch {
		case strings.Contains(x, "\n"):
			return fmt.Sprintf("text of %d lines", strings.Count(strings.TrimSuffix(x, "\n"), "\n")+1)
		case x == "" || x != strings.TrimSpace(x) || strings.Contains(x, " -> ") || strings.ContainsAny(x, "\"`"):
			s = strconv.Quote(x)
		default:
			s = x
		}
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "(a value)"
		}
		s = string(b)
	}
	s, _ = redact.Text(s)
	return cut(s, maxValue)
}

// cut shortens s to n characters, ending in "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func twoTexts(a, b any) (string, string, bool) {
	as, aok := a.(string)
	bs, bok := b.(string)
	return as, bs, aok && bok && (strings.Contains(as, "\n") || strings.Contains(bs, "\n"))
}

// lineDelta counts the lines added and removed between two texts.
func lineDelta(a, b string) string {
	m := difflib.NewMatcher(difflib.SplitLines(a), difflib.SplitLines(b))
	add, del := 0, 0
	for _, op := range m.GetOpCodes() {
		switch op.Tag {
		case 'r':
			del += op.I2 - op.I1
			add += op.J2 - op.J1
		case 'd':
			del += op.I2 - op.I1
		case 'i':
			add += op.J2 - op.J1
		}
	}
	return fmt.Sprintf("+%d -%d lines", add, del)
}
