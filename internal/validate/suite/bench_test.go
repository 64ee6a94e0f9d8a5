package suite

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kubewright/kubewright/internal/validate/schema"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

// BenchmarkValidatePolyglot validates the polyglot shop with the
// deterministic author's full output (all stages, warm apiserver). The
// output is the golden tree of the author's tests laid over the fixture.
func BenchmarkValidatePolyglot(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "polyglot-shop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, src := range []string{
		filepath.Join("..", "..", "..", "testdata", "repos", "polyglot-shop"),
		filepath.Join("..", "..", "author", "rules", "testdata", "containerize", "polyglot-shop"),
	} {
		if out, err := exec.Command("cp", "-R", src+"/.", dir+"/").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
	os.Remove(filepath.Join(dir, "PLAN.json"))
	crds, err := schema.LoadCRDs(validatetest.CRDDir(b))
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{CRDs: crds, DryRun: testDryRun(b)}
	rep, err := Validate(context.Background(), dir, opts) // warm: CRDs installed, namespaces created
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity == "error" {
			b.Fatalf("polyglot output has findings: %v", f)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Validate(context.Background(), dir, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rep.Objects), "objects")
}
