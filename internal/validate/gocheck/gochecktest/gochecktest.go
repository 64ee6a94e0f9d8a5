// Package gochecktest gives tests of other packages a gocheck.Check on
// the machine's sandbox, with caches kept across test runs under the
// temporary directory: a module cache (filled outside the sandbox by the
// go command, read-only inside) and a build cache seed warmed with the
// standard library and kubewright's inventory-service fixture, so each
// machine compiles those once. Neither is the developer's own GOCACHE or
// GOMODCACHE.
package gochecktest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/sandbox"
	"github.com/kubewright/kubewright/internal/validate/gocheck"
)

var (
	once  sync.Once
	check gocheck.Check
	err   error
)

// GoCheck is the shared check; the test fails when the machine has no
// sandbox (make test installs bubblewrap).
func GoCheck(t testing.TB) gocheck.Check {
	t.Helper()
	once.Do(func() { check, err = setup(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	return check
}

func setup(ctx context.Context) (gocheck.Check, error) {
	sb, err := sandbox.Detect(ctx)
	if err != nil {
		return gocheck.Check{}, fmt.Errorf("no sandbox on this machine: %w (make test installs bubblewrap)", err)
	}
	mods, seed, err := Dirs()
	if err != nil {
		return gocheck.Check{}, err
	}
	c := gocheck.Check{Sandbox: sb, ModCache: mods}
	_, self, _, _ := runtime.Caller(0)
	fixture := filepath.Join(filepath.Dir(self), "..", "..", "..", "job", "testdata", "inventory-service")
	if err := Warm(ctx, c, seed, fixture); err != nil {
		return gocheck.Check{}, err
	}
	c.BuildCache = seed
	return c, nil
}

// Dirs are the shared module cache and build cache seed, created readable
// by the sandbox's users.
func Dirs() (modCache, seed string, err error) {
	base := filepath.Join(os.TempDir(), fmt.Sprintf("kubewright-test-go-%d", os.Geteuid()))
	modCache, seed = filepath.Join(base, "gomodcache"), filepath.Join(base, "gocache-seed-"+strings.TrimPrefix(runtime.Version(), "go"))
	for _, d := range []string{base, modCache, seed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return "", "", err
		}
	}
	return modCache, seed, nil
}

// Warm warms seed with c, once per machine (see WarmBuildCache).
func Warm(ctx context.Context, c gocheck.Check, seed string, trusted ...string) error {
	// The first time compiles the standard library and the fixture's
	// dependencies; on a busy machine that takes minutes.
	c.Timeout = 20 * time.Minute
	return c.WarmBuildCache(ctx, seed, trusted...)
}
