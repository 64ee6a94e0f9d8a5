package rules

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kubewright/kubewright/internal/analyze"
)

// BenchmarkAuthorPolyglot measures rendering every file for the polyglot
// shop from an already analyzed model.
func BenchmarkAuthorPolyglot(b *testing.B) {
	m, err := analyze.New().Analyze(context.Background(), filepath.Join(fixturesDir, "polyglot-shop"))
	if err != nil {
		b.Fatal(err)
	}
	a := New()
	b.ReportAllocs()
	files := 0
	for b.Loop() {
		d, err := a.Author(context.Background(), m, fixtureOptions)
		if err != nil {
			b.Fatal(err)
		}
		files = len(d.Files)
	}
	b.ReportMetric(float64(files), "files/op")
}
