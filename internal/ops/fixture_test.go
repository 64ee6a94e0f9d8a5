package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate/suite"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ops")

// fixture builds the polyglot shop with both k8s/ and gitops/ in a
// temporary directory: the repository (testdata/repos/polyglot-shop),
// the manifests containerize generates for it
// (internal/author/rules/testdata/containerize/polyglot-shop) and a
// staging overlay with comments, setters, images:, replicas: and patches
// (testdata/overlay), plus extra files (path -> content).
func fixture(t testing.TB, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "testdata", "repos", "polyglot-shop"), dir)
	copyTree(t, filepath.Join("..", "author", "rules", "testdata", "containerize", "polyglot-shop"), dir)
	if err := os.Remove(filepath.Join(dir, "PLAN.json")); err != nil {
		t.Fatal(err)
	}
	copyTree(t, filepath.Join("testdata", "overlay"), dir)
	for p, c := range extra {
		write(t, dir, p, c)
	}
	return dir
}

func write(t testing.TB, dir, p, content string) {
	t.Helper()
	abs := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(abs, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the regular files under src into dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// planOn loads dir and plans op on it.
func planOn(t testing.TB, dir string, op Operation, opts Options) (*Plan, error) {
	t.Helper()
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r.Plan(context.Background(), op, opts)
}

// golden compares the plan (plan.json) and every file it writes
// (files/<path>) with testdata/ops/<name>, or rewrites them with -update.
func golden(t *testing.T, name string, p *Plan) {
	t.Helper()
	dir := filepath.Join("testdata", "ops", name)
	planJSON, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{"plan.json": append(planJSON, '\n')}
	for _, f := range p.Files {
		if !f.Delete {
			got["files/"+f.Path] = f.Content
		}
	}
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for p, b := range got {
			write(t, dir, p, string(b))
		}
		return
	}
	want := map[string][]byte{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			b, _ := os.ReadFile(p)
			want[filepath.ToSlash(rel)] = b
		}
		return nil
	})
	if len(want) == 0 {
		t.Fatalf("no golden files in %s: run go test ./internal/ops/ -run %s -update", dir, t.Name())
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	for n := range want {
		if _, ok := got[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		switch g, w := got[n], want[n]; {
		case w == nil:
			t.Errorf("%s: written but not in the goldens (run with -update and read the diff)", n)
		case g == nil:
			t.Errorf("%s: in the goldens but not written", n)
		case !bytes.Equal(g, w):
			t.Errorf("%s differs from its golden:\n--- got\n%s\n--- want\n%s", n, g, w)
		}
	}
}

// validateTree validates dir with the offline stages and returns its
// error findings, keyed so that before and after compare.
func validateTree(t testing.TB, dir string) map[string]finding.Finding {
	t.Helper()
	crds := os.Getenv("KUBEWRIGHT_CRDS")
	if crds == "" {
		crds = filepath.Join("..", "..", "..", "shared", "crds")
	}
	opts := suite.Options{BuildTimeout: time.Minute}
	if _, err := os.Stat(crds); err == nil {
		opts.CRDDirs = []string{crds}
	}
	rep, err := suite.Validate(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]finding.Finding{}
	for _, f := range rep.Findings {
		if f.Severity.Rank() >= finding.Error.Rank() {
			out[f.ID+"|"+f.File+"|"+f.Object+"|"+f.Message] = f
		}
	}
	return out
}

// applyAndValidate applies the plan to dir and requires no error finding
// the tree did not have before.
func applyAndValidate(t *testing.T, dir string, p *Plan, before map[string]finding.Finding) {
	t.Helper()
	if err := p.Apply(dir); err != nil {
		t.Fatal(err)
	}
	for k, f := range validateTree(t, dir) {
		if _, ok := before[k]; !ok {
			t.Errorf("new error after %s: %s", p.Command, f)
		}
	}
}

// mustContain fails unless s contains every part.
func mustContain(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}
