package review

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Each directory of testdata/diff is a case: one directory per root with
// base.yaml and head.yaml (either may be missing) and an optional
// name.txt (the root's name; the directory's otherwise), optional
// options.json (RenderOptions), and expected.md, the rendered section.
func TestFluxDiffGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "diff", "*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			roots := loadRoots(t, dir)
			var opts RenderOptions
			if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
				if err := json.Unmarshal(b, &opts); err != nil {
					t.Fatal(err)
				}
			}
			got := DiffRoots(roots).Markdown(opts)
			goldenFile(t, filepath.Join(dir, "expected.md"), got)
			if opts.MaxBytes > 0 && len(got) > opts.MaxBytes {
				t.Errorf("%d bytes, over the cap of %d", len(got), opts.MaxBytes)
			}
			// Deterministic, whatever order the objects come in.
			for i := range roots {
				reverse(roots[i].Base)
				reverse(roots[i].Head)
			}
			reverse(roots)
			if again := DiffRoots(roots).Markdown(opts); again != got {
				t.Error("the section depends on the order of roots and objects")
			}
		})
	}
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func loadRoots(t *testing.T, dir string) []Root {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var roots []Root
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rd := filepath.Join(dir, e.Name())
		r := Root{Name: e.Name(), Base: loadObjects(t, filepath.Join(rd, "base.yaml")), Head: loadObjects(t, filepath.Join(rd, "head.yaml"))}
		if b, err := os.ReadFile(filepath.Join(rd, "name.txt")); err == nil {
			r.Name = strings.TrimSpace(string(b))
		}
		roots = append(roots, r)
	}
	return roots
}

// loadObjects reads a multi-document YAML file; a missing file is none.
func loadObjects(t testing.TB, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", file, err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func goldenFile(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", file, want, got)
	}
}

// No value of a Secret's data, and nothing redact flags, reaches the
// diff, neither in the Markdown nor in the FieldChanges.
func TestFluxDiffHidesSecrets(t *testing.T) {
	dir := filepath.Join("testdata", "diff", "secrets", "k8s")
	d := DiffRoots([]Root{{Name: "k8s", Base: loadObjects(t, filepath.Join(dir, "base.yaml")), Head: loadObjects(t, filepath.Join(dir, "head.yaml"))}})
	md := d.Markdown(RenderOptions{})
	var all strings.Builder
	all.WriteString(md)
	for _, c := range d.Roots[0].Changed {
		for _, f := range c.Fields {
			all.WriteString(f.Old + "\n" + f.New + "\n")
		}
	}
	for _, secret := range []string{
		"aHVudGVyMg==", "czNjcjN0", "cmVwbGljYQ==", "b2xk", "placeholder-token", "hunter2", "correct-horse-battery",
		"oldpassword", "newpassword", "AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE", "s3cr3t-nested-value", "last-applied", "s3cr3t-added",
	} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the diff shows %q:\n%s", secret, md)
		}
	}
	for _, visible := range []string{"data.password: changed", "data.replica-password", "LOG_LEVEL: info -> debug", "env[name=LOG_FORMAT].value: text -> json"} {
		if !strings.Contains(md, visible) {
			t.Errorf("the diff lacks %q:\n%s", visible, md)
		}
	}
}

// BenchmarkFluxDiff diffs and renders the polyglot shop's three Flux
// roots (68 objects) with a change of a dozen fields.
func BenchmarkFluxDiff(b *testing.B) {
	var roots []Root
	for _, r := range []string{"apps", "infra-controllers", "infra-configs"} {
		dir := filepath.Join("testdata", "diff", "polyglot", r)
		roots = append(roots, Root{Name: r, Base: loadObjects(b, filepath.Join(dir, "base.yaml")), Head: loadObjects(b, filepath.Join(dir, "head.yaml"))})
	}
	b.ReportAllocs()
	for b.Loop() {
		if md := DiffRoots(roots).Markdown(RenderOptions{}); md == "" {
			b.Fatal("empty")
		}
	}
}
