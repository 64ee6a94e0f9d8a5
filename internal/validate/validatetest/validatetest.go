// Package validatetest holds what the tests of the validate stages share:
// an Input built from files without running kustomize, trees written to
// and read from disk, the shared CRD collection and hostile YAML.
package validatetest

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/validate"
)

// NewInput writes files (slash path -> content) into a temporary directory
// and returns an Input over them without running kustomize: every YAML
// document becomes an Object located at its file and line. Use it to test
// a check in isolation; build.Load is the real thing.
func NewInput(t testing.TB, files map[string]string) *validate.Input {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	in := &validate.Input{Dir: dir, Files: names, Sources: validate.IndexSources(dir, names), RootObjects: map[string][]validate.Object{}}
	for _, d := range in.Sources.Docs() {
		if d.Kind == "" {
			continue
		}
		var m map[string]any
		raw, err := d.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		u, err := validate.NewUnstructured(m)
		if err != nil {
			t.Fatal(err)
		}
		in.Objects = append(in.Objects, validate.Object{U: u, File: d.File, Line: d.Line})
	}
	return in
}

// WriteTree writes files (slash path -> content) under dir.
func WriteTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ReadTree adds the files under root to into, keyed by prefix + their
// slash path relative to root; keep (nil keeps all) filters by that key.
func ReadTree(t testing.TB, root, prefix string, into map[string]string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		key := prefix + filepath.ToSlash(rel)
		if keep != nil && !keep(key) {
			return nil
		}
		b, err := os.ReadFile(p)
		into[key] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ManifestsOnly keeps YAML manifests, not kustomization files.
func ManifestsOnly(rel string) bool {
	return (strings.HasSuffix(rel, ".yaml") || strings.HasSuffix(rel, ".yml")) && path.Base(rel) != "kustomization.yaml"
}

// CRDDir is the shared CRD collection: $KUBEWRIGHT_CRDS, else shared/crds
// beside the repository (the directory holding go.mod). The test fails
// when it is not there.
func CRDDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEWRIGHT_CRDS")
	if dir == "" {
		dir = filepath.Join(moduleRoot(t), "..", "shared", "crds")
	}
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Fatalf("CRDs not found at %s (set KUBEWRIGHT_CRDS to the shared/crds directory): %v", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// moduleRoot is the nearest directory above the working directory (a
// test's package directory) that holds go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// AliasBomb is a billion laughs as kustomization fields: nine levels of
// aliases, each nine times the one below.
const AliasBomb = `metadata:
  annotations:
    a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    a1: &a1 [*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0]
    a2: &a2 [*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1]
    a3: &a3 [*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2]
    a4: &a4 [*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3]
    a5: &a5 [*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4]
    a6: &a6 [*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5]
    a7: &a7 [*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6]
`
