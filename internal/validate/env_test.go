package validate

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

// The ephemeral kube-apiserver is started once per test binary, on first
// use, and stopped in TestMain. Tests that need it fail (never skip) when
// the binaries are missing: `make test` builds them.
var (
	ephOnce sync.Once
	eph     *Ephemeral
	ephErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if eph != nil {
		eph.Stop()
	}
	os.Exit(code)
}

func testEphemeral(t testing.TB) *Ephemeral {
	t.Helper()
	ephOnce.Do(func() {
		assets, err := FindAssets("")
		if err != nil {
			ephErr = err
			return
		}
		eph = NewEphemeral(assets)
		_, ephErr = eph.Config(context.Background())
	})
	if ephErr != nil {
		t.Fatalf("this test needs a kube-apiserver: %v. Run `make test`, which builds them into .cache/kube-assets (or `make testenv` and export KUBEBUILDER_ASSETS=$PWD/.cache/kube-assets)", ephErr)
	}
	return eph
}

func testDryRun(t testing.TB) DryRunCheck {
	e := testEphemeral(t)
	return DryRunCheck{Config: func(ctx context.Context) (*rest.Config, error) { return e.Config(ctx) }, Install: true, Memo: e.Memo()}
}

// testCRDDir is the shared CRD collection (KUBEWRIGHT_CRDS, default
// ../shared/crds beside the repository).
func testCRDDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEWRIGHT_CRDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "crds")
	}
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Fatalf("CRDs not found at %s (set KUBEWRIGHT_CRDS to the shared/crds directory): %v", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}
