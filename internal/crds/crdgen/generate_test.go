package crdgen

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// crdYAML is a small v1 CRD of group and kind whose schema has
// descriptions at every level a schema can nest one.
func crdYAML(group, kind string) string {
	plural := strings.ToLower(kind) + "s"
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[3]s.%[1]s
  labels: {app: x}
  annotations: {controller-gen.kubebuilder.io/version: v0.19.0}
spec:
  group: %[1]s
  names: {kind: %[2]s, plural: %[3]s, listKind: %[2]sList, singular: %[4]s}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Ready, type: string, jsonPath: .status.ready, description: whether it is ready}
    schema:
      openAPIV3Schema:
        description: the %[2]s
        type: object
        properties:
          spec:
            description: the spec
            type: object
            properties:
              description: {type: string, description: a field called description}
              items:
                type: array
                description: a list
                items: {type: object, description: one item, properties: {x: {type: integer, description: x, minimum: 1}}}
              labels:
                type: object
                additionalProperties: {type: string, description: a label}
              choice:
                description: one of two
                x-kubernetes-validations: [{rule: "self.a != self.b", message: "a and b differ"}]
                type: object
                properties: {a: {type: string}, b: {type: string}}
                anyOf: [{required: [a], description: a set}, {required: [b]}]
`, group, kind, plural, strings.ToLower(kind))
}

// writeSource writes one file per group (a CRD of kind Thing each), plus
// the extra files.
func writeSource(t *testing.T, groups []string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, g := range groups {
		if err := os.WriteFile(filepath.Join(dir, g+".yaml"), []byte(crdYAML(g, "Thing")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range extra {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestGenerate(t *testing.T) {
	dir := writeSource(t, groups, map[string]string{
		"other/example.com.yaml":    crdYAML("example.com", "Widget"),
		"SOURCES.md":                "not YAML, not read",
		".git/ignored.yaml":         "kind: Secret",
		"multi/two.yaml":            "# comments only\n---\n" + crdYAML("keda.sh", "ScaledJob"),
		"multi/empty-docs.yml":      "---\n---\n",
		"notes/not-a-manifest.json": `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"gadgets.example.org"},"spec":{"group":"example.org","names":{"kind":"Gadget","plural":"gadgets"},"scope":"Cluster","versions":[{"name":"v1","served":true,"storage":true}]}}`,
	})
	g, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(groups) + 1; g.Count != want {
		t.Errorf("Count = %d, want %d", g.Count, want)
	}
	if got := strings.Join(g.Skipped, ","); got != "gadgets.example.org,widgets.example.com" {
		t.Errorf("Skipped = %s", got)
	}
	var set []*apiextensionsv1.CustomResourceDefinition
	if err := json.Unmarshal(g.JSON, &set); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(set); i++ {
		if set[i-1].Name >= set[i].Name {
			t.Errorf("not sorted by name: %s before %s", set[i-1].Name, set[i].Name)
		}
	}
	if n := strings.Count(string(g.JSON), "\n"); n != g.Count+2 {
		t.Errorf("%d lines, want one per CRD and the brackets (%d)", n, g.Count+2)
	}
	again, err := Generate(dir)
	if err != nil || again.Digest() != g.Digest() {
		t.Errorf("a second run differs: %v", err)
	}
}

func TestGenerateRefuses(t *testing.T) {
	tests := []struct {
		name  string
		extra map[string]string
		drop  string // a group left without CRDs
		want  string
	}{
		{"not a CRD", map[string]string{"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}, "", "x.yaml: document 1 is v1 ConfigMap, not an apiextensions.k8s.io/v1 CustomResourceDefinition"},
		{"v1beta1", map[string]string{"x.yaml": "apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata: {name: x}\n"}, "", "document 1 is apiextensions.k8s.io/v1beta1 CustomResourceDefinition"},
		{"unknown field", map[string]string{"x.yaml": strings.Replace(crdYAML("keda.sh", "ScaledJob"), "  scope: Namespaced\n", "  scope: Namespaced\n  scopes: All\n", 1)}, "", `x.yaml: document 1: error unmarshaling JSON: while decoding JSON: json: unknown field "scopes"`},
		{"bad YAML", map[string]string{"x.yaml": "apiVersion: [\n"}, "", "x.yaml: document 1:"},
		{"twice", map[string]string{"copy.yaml": crdYAML("keda.sh", "Thing")}, "", "CustomResourceDefinition things.keda.sh appears twice"},
		{"group missing", nil, "cert-manager.io", "no CustomResourceDefinition of group cert-manager.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gs []string
			for _, g := range groups {
				if g != tt.drop {
					gs = append(gs, g)
				}
			}
			_, err := Generate(writeSource(t, gs, tt.extra))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Generate(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "CRD source") {
		t.Errorf("missing source: %v", err)
	}
}

// TestReduce: every description goes, wherever the schema nests it; a
// property named "description", validations, CEL rules and printer
// columns stay; metadata keeps the name alone.
func TestReduce(t *testing.T) {
	crds, err := decodeFile("x.yaml", []byte(crdYAML("keda.sh", "Thing")))
	if err != nil || len(crds) != 1 {
		t.Fatalf("%v %d", err, len(crds))
	}
	in := crds[0]
	out := Reduce(in)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, gone := range []string{`"description":"`, `"app":"x"`, "controller-gen", "whether it is ready"} {
		if strings.Contains(s, gone) {
			t.Errorf("reduced CRD still has %s:\n%s", gone, s)
		}
	}
	for _, kept := range []string{`"description":{"type":"string"}`, `"minimum":1`, `"rule":"self.a != self.b"`, `"message":"a and b differ"`,
		`"jsonPath":".status.ready"`, `"anyOf":[{"required":["a"]},{"required":["b"]}]`, `"additionalProperties":{"type":"string"}`, `"name":"things.keda.sh"`} {
		if !strings.Contains(s, kept) {
			t.Errorf("reduced CRD lost %s:\n%s", kept, s)
		}
	}
	if !strings.Contains(in.Spec.Versions[0].Schema.OpenAPIV3Schema.Description, "the Thing") || in.Labels == nil {
		t.Error("Reduce changed its input")
	}
}

func TestCompress(t *testing.T) {
	set := []byte(strings.Repeat(`{"kind":"CustomResourceDefinition"}`+"\n", 100))
	a, err := Compress(set)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Compress(set)
	if !bytes.Equal(a, b) {
		t.Error("Compress is not deterministic")
	}
	zr, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("header carries name %q, time %v", zr.Name, zr.ModTime)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, set) {
		t.Errorf("round trip: %v", err)
	}
}
