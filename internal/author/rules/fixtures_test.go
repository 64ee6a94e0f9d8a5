package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/draft"
)

const fixturesDir = "../../../testdata/repos"

// fixtureOptions are the options every golden run uses.
var fixtureOptions = author.Options{Registry: "ghcr.io/acme", IngressHost: "example.com", RepoURL: "https://github.com/acme/shop"}

func fixtureNames(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func draftFor(t testing.TB, fixture string, opts author.Options) (*analyze.SystemModel, *draft.Draft) {
	t.Helper()
	m, err := analyze.New().Analyze(context.Background(), filepath.Join(fixturesDir, fixture))
	if err != nil {
		t.Fatal(err)
	}
	d, err := New().Author(context.Background(), m, opts)
	if err != nil {
		t.Fatalf("author %s: %v", fixture, err)
	}
	return m, d
}

// TestFixtureGoldens compares every generated file with its golden copy
// under testdata/containerize/<fixture>/, file by file; -update rewrites them.
func TestFixtureGoldens(t *testing.T) {
	for _, fx := range fixtureNames(t) {
		t.Run(fx, func(t *testing.T) {
			_, d := draftFor(t, fx, fixtureOptions)
			dir := filepath.Join("testdata", "containerize", fx)
			got := map[string][]byte{}
			for _, f := range d.Files {
				got[f.Path] = f.Content
			}
			plan, _ := json.MarshalIndent(struct {
				Files       []draft.File `json:"files"`
				Assumptions []string     `json:"assumptions"`
			}{d.Files, d.Assumptions}, "", "  ")
			got["PLAN.json"] = append(plan, '\n')
			if *update {
				os.RemoveAll(dir)
				for p, b := range got {
					fp := filepath.Join(dir, filepath.FromSlash(p))
					if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(fp, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			want := map[string][]byte{}
			err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
				if err != nil || de.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				b, err := os.ReadFile(p)
				want[filepath.ToSlash(rel)] = b
				return err
			})
			if err != nil {
				t.Fatalf("read goldens (run `go test ./internal/author/rules -update` to create them): %v", err)
			}
			for p, b := range got {
				w, ok := want[p]
				if !ok {
					t.Errorf("%s: generated but has no golden file", p)
					continue
				}
				if !bytes.Equal(w, b) {
					t.Errorf("%s differs from its golden file (run with -update and read the diff)\n--- got ---\n%s", p, b)
				}
			}
			for p := range want {
				if _, ok := got[p]; !ok {
					t.Errorf("%s: golden file exists but was not generated", p)
				}
			}
		})
	}
}

// TestKustomizationsBuild runs every kustomization root the author writes
// through krusty, over an in-memory copy of the draft.
func TestKustomizationsBuild(t *testing.T) {
	for _, fx := range fixtureNames(t) {
		t.Run(fx, func(t *testing.T) {
			_, d := draftFor(t, fx, fixtureOptions)
			fs := filesys.MakeFsInMemory()
			var roots []string
			for _, f := range d.Files {
				if err := fs.MkdirAll(path.Dir("/" + f.Path)); err != nil {
					t.Fatal(err)
				}
				if err := fs.WriteFile("/"+f.Path, f.Content); err != nil {
					t.Fatal(err)
				}
				if path.Base(f.Path) == "kustomization.yaml" {
					roots = append(roots, path.Dir("/"+f.Path))
				}
			}
			sort.Strings(roots)
			k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
			for _, root := range roots {
				resMap, err := k.Run(fs, root)
				if err != nil {
					t.Errorf("kustomize build %s: %v", root, err)
					continue
				}
				if resMap.Size() == 0 {
					t.Errorf("kustomize build %s: no objects", root)
				}
			}
			if fx != "broken" && fx != "existing-dockerfile" && len(roots) == 0 {
				t.Errorf("no kustomization roots written")
			}
		})
	}
}

// TestDeterministic renders every fixture twice and expects the same bytes.
func TestDeterministic(t *testing.T) {
	for _, fx := range fixtureNames(t) {
		_, a := draftFor(t, fx, fixtureOptions)
		_, b := draftFor(t, fx, fixtureOptions)
		if len(a.Files) != len(b.Files) {
			t.Fatalf("%s: %d files, then %d", fx, len(a.Files), len(b.Files))
		}
		for i := range a.Files {
			if a.Files[i].Path != b.Files[i].Path || !bytes.Equal(a.Files[i].Content, b.Files[i].Content) {
				t.Errorf("%s: %s differs between runs", fx, a.Files[i].Path)
			}
		}
		if strings.Join(a.Assumptions, "\n") != strings.Join(b.Assumptions, "\n") {
			t.Errorf("%s: assumptions differ between runs", fx)
		}
	}
}
