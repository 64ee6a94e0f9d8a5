package validate

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// newInput writes files (slash path -> content) into a temporary directory
// and returns an Input over them without running kustomize: every YAML
// document becomes an Object located at its file and line. Use it to test
// a check in isolation; Load is the real thing.
func newInput(t testing.TB, files map[string]string) *Input {
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
	in := &Input{Dir: dir, Files: names, Sources: IndexSources(dir, names), RootObjects: map[string][]Object{}}
	for _, d := range in.Sources.Docs() {
		if d.Kind == "" {
			continue
		}
		var m map[string]any
		raw, err := yamlNodeBytes(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		u, err := newUnstructured(m)
		if err != nil {
			t.Fatal(err)
		}
		in.Objects = append(in.Objects, Object{U: u, File: d.File, Line: d.Line})
	}
	return in
}

// readTree adds the files under root to into, keyed by prefix + their
// slash path relative to root; keep (nil keeps all) filters by that key.
func readTree(t testing.TB, root, prefix string, into map[string]string, keep func(rel string) bool) {
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

// manifestsOnly keeps YAML manifests, not kustomization files.
func manifestsOnly(rel string) bool {
	return (strings.HasSuffix(rel, ".yaml") || strings.HasSuffix(rel, ".yml")) && path.Base(rel) != "kustomization.yaml"
}
