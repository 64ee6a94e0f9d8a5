package review

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FuzzFluxDiff diffs arbitrary JSON objects (what a pull request's build
// may render). The diff never panics, renders the same whatever the
// object order, and stays under its byte cap.
func FuzzFluxDiff(f *testing.F) {
	f.Add(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"},"data":{"k":"dg=="}}`, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"},"data":{"k":"dw==","n":{"x":1}}}`)
	f.Add(`{"kind":"Deployment","metadata":{"name":"d","namespace":"n"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"a:1","env":[{"name":"PASSWORD","value":"x"}]}]}}}}`,
		`{"kind":"Deployment","metadata":{"name":"d","namespace":"n"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"a:2","env":[{"name":"PASSWORD","value":"y"}]},{"name":"[x]"}]}}}}`)
	f.Add(`{"kind":"X","metadata":{"name":"a"},"l":[1,2.5,"s",null,{"a":[]}]}`, `{"kind":"X","metadata":{"name":"a"},"l":[1,{"name":""},"s\n`+"```"+`"]}`)
	f.Fuzz(func(t *testing.T, base, head string) {
		a, b := fuzzObjects(base), fuzzObjects(head)
		roots := []Root{{Name: "r`oot\n", Base: a, Head: b}, {Name: "same", Base: a, Head: a}}
		opts := RenderOptions{MaxBytes: 4000}
		md := DiffRoots(roots).Markdown(opts)
		if len(md) > opts.MaxBytes {
			t.Fatalf("%d bytes over the cap", len(md))
		}
		reverse(a)
		reverse(b)
		if again := DiffRoots([]Root{{Name: "same", Base: a, Head: a}, {Name: "r`oot\n", Base: a, Head: b}}).Markdown(opts); again != md {
			t.Fatalf("depends on order:\n%s\n---\n%s", md, again)
		}
		if strings.Contains(md, "r`oot") {
			t.Fatal("a backtick of a root name reached the Markdown")
		}
	})
}

// fuzzObjects reads a JSON object or a list of objects; anything else is
// none.
func fuzzObjects(s string) []*unstructured.Unstructured {
	var list []map[string]any
	if json.Unmarshal([]byte(s), &list) != nil {
		var one map[string]any
		if json.Unmarshal([]byte(s), &one) != nil || one == nil {
			return nil
		}
		list = []map[string]any{one}
	}
	var out []*unstructured.Unstructured
	for _, m := range list {
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}
