package job

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kubewright/kubewright/internal/author"
)

// BenchmarkContainerizePolyglot is the whole local job: analyze, author
// and apply the polyglot shop into a fresh copy each time.
func BenchmarkContainerizePolyglot(b *testing.B) {
	src := filepath.Join("..", "..", "testdata", "repos", "polyglot-shop")
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		dst := filepath.Join(b.TempDir(), "shop")
		if out, err := exec.Command("cp", "-R", src, dst).CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		b.StartTimer()
		if _, err := Containerize(context.Background(), dst, ContainerizeOptions{Author: author.Options{Registry: "ghcr.io/acme"}}); err != nil {
			b.Fatal(err)
		}
	}
}
