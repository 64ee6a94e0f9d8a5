package main

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/progress"
)

// reporter is the command's progress reporter on stderr (nil with --quiet).
func reporter(c *cobra.Command) *progress.Reporter {
	quiet, _ := c.Flags().GetBool("quiet")
	return progress.ForStderr(c.ErrOrStderr(), quiet)
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
