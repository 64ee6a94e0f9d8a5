package schema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// ---- strict decoding of built-in kinds -----------------------------------------

func (r *schemaRun) strict(o validate.Object) {
	data, err := json.Marshal(o.U.Object)
	if err != nil {
		return
	}
	_, _, derr := r.decoder.Decode(data, nil, nil)
	if derr == nil {
		return
	}
	obj, err := r.scheme.New(o.U.GroupVersionKind())
	if err != nil {
		return
	}
	errs := r.walker.check(o.U.Object, reflect.TypeOf(obj).Elem())
	if len(errs) == 0 {
		// The walker and the decoder disagree; trust the decoder.
		r.add(o, "KW-SCHEMA-002", finding.Error, nil, fmt.Sprintf("%s does not decode: %v", o.U.GetKind(), derr),
			"fix the object so it matches the "+o.U.GetAPIVersion()+" "+o.U.GetKind()+" schema")
		return
	}
	r.fieldErrs(o, errs)
}

// metadata type-checks a custom resource's metadata, which CRD schemas
// leave to the API server's ObjectMeta rules.
func (r *schemaRun) metadata(o validate.Object) {
	md, ok := o.U.Object["metadata"]
	if !ok {
		return
	}
	r.walker.errs = nil
	r.walker.walk(md, reflect.TypeOf(metav1.ObjectMeta{}), []string{"metadata"}, "metadata")
	r.fieldErrs(o, r.walker.errs)
}

func (r *schemaRun) fieldErrs(o validate.Object, errs []schemaFieldErr) {
	for _, e := range errs {
		if e.unknown {
			hint := "remove it, or fix the spelling"
			if s := schemaSuggest(e.segs[len(e.segs)-1], e.known); s != "" {
				hint = fmt.Sprintf("did you mean %s? (rename the field)", s)
			}
			r.add(o, "KW-SCHEMA-001", finding.Error, e.segs,
				fmt.Sprintf("unknown field %s in %s %s", e.path, o.U.GetAPIVersion(), o.U.GetKind()), hint)
			continue
		}
		r.add(o, "KW-SCHEMA-002", finding.Error, e.segs, fmt.Sprintf("%s: %s", e.path, e.msg), e.hint)
	}
}

// schemaFieldErr is one problem the walker found.
type schemaFieldErr struct {
	segs    []string
	path    string
	unknown bool
	known   []string // field names at the parent, for suggestions
	msg     string
	hint    string
}

// schemaWalker checks an unstructured value against a Go API type the way
// the strict JSON decoder would, but reports every problem with its path.
type schemaWalker struct {
	fields map[reflect.Type]map[string]reflect.Type
	errs   []schemaFieldErr
}

var schemaUnmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

func (w *schemaWalker) check(obj map[string]any, t reflect.Type) []schemaFieldErr {
	w.errs = nil
	w.walk(obj, t, nil, "")
	return w.errs
}

func (w *schemaWalker) typeErr(segs []string, p, want string, v any) {
	got, shown := schemaJSONType(v)
	w.errs = append(w.errs, schemaFieldErr{segs: append([]string(nil), segs...), path: p,
		msg:  fmt.Sprintf("expected %s, got %s%s", want, got, shown),
		hint: "change the value to " + want + schemaQuoteHint(want, got)})
}

func (w *schemaWalker) walk(v any, t reflect.Type, segs []string, p string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // null leaves the field unset
	}
	if reflect.PointerTo(t).Implements(schemaUnmarshalerType) {
		data, err := json.Marshal(v)
		if err != nil {
			return
		}
		if err := json.Unmarshal(data, reflect.New(t).Interface()); err != nil {
			w.errs = append(w.errs, schemaFieldErr{segs: append([]string(nil), segs...), path: p,
				msg: fmt.Sprintf("invalid %s value %s: %v", t.Name(), schemaShort(data), err), hint: schemaFormatHint(t)})
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			w.typeErr(segs, p, "an object", v)
			return
		}
		fields := w.structFields(t)
		for _, k := range schemaSortedKeys(m) {
			ft, ok := fields[k]
			cs := append(append([]string(nil), segs...), k)
			cp := schemaJoin(p, k)
			if !ok {
				known := make([]string, 0, len(fields))
				for f := range fields {
					known = append(known, f)
				}
				sort.Strings(known)
				w.errs = append(w.errs, schemaFieldErr{segs: cs, path: cp, unknown: true, known: known})
				continue
			}
			w.walk(m[k], ft, cs, cp)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			w.typeErr(segs, p, "a map", v)
			return
		}
		for _, k := range schemaSortedKeys(m) {
			w.walk(m[k], t.Elem(), append(append([]string(nil), segs...), k), schemaJoin(p, k))
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			s, ok := v.(string)
			if !ok {
				w.typeErr(segs, p, "a base64 string", v)
				return
			}
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				w.errs = append(w.errs, schemaFieldErr{segs: append([]string(nil), segs...), path: p,
					msg: "not valid base64: " + err.Error(), hint: "base64-encode the value, or move it to stringData"})
			}
			return
		}
		l, ok := v.([]any)
		if !ok {
			w.typeErr(segs, p, "a list", v)
			return
		}
		for i, e := range l {
			w.walk(e, t.Elem(), append(append([]string(nil), segs...), strconv.Itoa(i)), fmt.Sprintf("%s[%d]", p, i))
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			w.typeErr(segs, p, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			w.typeErr(segs, p, "a boolean (true or false)", v)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := schemaNumber(v)
		if !ok || f != math.Trunc(f) {
			w.typeErr(segs, p, "an integer", v)
			return
		}
		z := reflect.New(t).Elem()
		over := false
		if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
			over = f < 0 || z.OverflowUint(uint64(f))
		} else {
			over = z.OverflowInt(int64(f))
		}
		if over {
			w.errs = append(w.errs, schemaFieldErr{segs: append([]string(nil), segs...), path: p,
				msg: fmt.Sprintf("%v does not fit in %s", v, t.Kind()), hint: "use a smaller number"})
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := schemaNumber(v); !ok {
			w.typeErr(segs, p, "a number", v)
		}
	}
}

// structFields maps JSON names to field types, flattening inline structs.
func (w *schemaWalker) structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := w.fields[t]; ok {
		return f
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range w.structFields(ft) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	w.fields[t] = out
	return out
}
