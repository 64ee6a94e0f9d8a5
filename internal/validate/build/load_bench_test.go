package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// polyglotTree lays the deterministic author's golden output over the
// polyglot-shop fixture, as BenchmarkValidatePolyglot does.
func polyglotTree(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "polyglot-shop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, src := range []string{
		filepath.Join("..", "..", "..", "testdata", "repos", "polyglot-shop"),
		filepath.Join("..", "..", "author", "rules", "testdata", "containerize", "polyglot-shop"),
	} {
		if out, err := exec.Command("cp", "-R", src+"/.", dir+"/").CombinedOutput(); err != nil {
			tb.Fatalf("%v: %s", err, out)
		}
	}
	os.Remove(filepath.Join(dir, "PLAN.json"))
	return dir
}

// BenchmarkLoadPolyglot measures Load (discovery, source index, every
// kustomize build) over the polyglot shop's generated tree: the cost of
// the loading safeguards shows here.
func BenchmarkLoadPolyglot(b *testing.B) {
	dir := polyglotTree(b)
	in, fs, err := Load(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	if len(in.Objects) == 0 || len(fs) != 0 {
		b.Fatalf("polyglot tree: %d objects, findings %v", len(in.Objects), fs)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Load(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
	}
}
