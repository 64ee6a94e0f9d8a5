package dryrun

import (
	"context"
	"os"
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

func testDryRun(t testing.TB) Check {
	e := testEphemeral(t)
	return Check{Config: func(ctx context.Context) (*rest.Config, error) { return e.Config(ctx) }, Install: true, Memo: e.Memo()}
}
