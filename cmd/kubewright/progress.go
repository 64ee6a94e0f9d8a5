package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/kubewright/kubewright/internal/progress"
	"github.com/kubewright/kubewright/internal/validate"
)

// reporter is the command's progress reporter on stderr (nil with --quiet).
func reporter(c *cobra.Command) *progress.Reporter {
	quiet, _ := c.Flags().GetBool("quiet")
	return progress.ForStderr(c.ErrOrStderr(), quiet)
}

// stageHook shows validation stages on p.
func stageHook(p *progress.Reporter) func(string) func() {
	if p == nil {
		return nil
	}
	return func(stage string) func() { return p.Start(stage).Done }
}

// startingServer shows the first start of the throwaway kube-apiserver
// (the slow part of the dry-run) as its own step.
func startingServer(p *progress.Reporter, cfg func(context.Context) (*rest.Config, error)) func(context.Context) (*rest.Config, error) {
	var once sync.Once
	return func(ctx context.Context) (*rest.Config, error) {
		first := false
		once.Do(func() { first = true })
		if !first {
			return cfg(ctx)
		}
		s := p.Start("starting kube-apiserver and etcd")
		defer s.Done()
		return cfg(ctx)
	}
}

// findAssets resolves the kube-apiserver and etcd for the ephemeral
// dry-run: "" when none are configured and the dry-run was not asked
// for (it is then skipped, and shown as skipped); an error naming the fix
// when a directory was named (--assets or KUBEBUILDER_ASSETS) and lacks
// them, or the dry-run is required.
func findAssets(flag string, required bool) (string, error) {
	dir, err := validate.FindAssets(flag)
	if err == nil {
		return dir, nil
	}
	named := flag
	if named == "" {
		named = os.Getenv(validate.AssetsEnv)
	}
	switch {
	case !errors.Is(err, validate.ErrNoAssets):
		return "", usageErr("kube-apiserver and etcd in %s: %v", named, err)
	case named != "":
		return "", usageErr("no kube-apiserver and etcd in %s: build them with `make testenv` (they land in .cache/kube-assets) and pass that directory to --assets", named)
	case required:
		return "", usageErr("the dry-run is required but no kube-apiserver was found: build one with `make testenv` and pass --assets .cache/kube-assets (or set %s), or dry-run against a cluster with --kubeconfig", validate.AssetsEnv)
	}
	return "", nil
}

// callCounter shows each model call as a step on p.
type callCounter struct {
	next http.RoundTripper
	p    *progress.Reporter
	n    atomic.Int64
}

func (t *callCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	s := t.p.Start(fmt.Sprintf("waiting for the model (call %d)", t.n.Add(1)))
	defer s.Done()
	return t.next.RoundTrip(r)
}
