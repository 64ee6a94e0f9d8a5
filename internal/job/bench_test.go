package job_test

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCommentToPR measures a `/ai containerize` comment on the
// polyglot shop to a validated pull request on the fake GitHub, with a
// warm ephemeral kube-apiserver (no LLM): clone, analyze, author,
// validate with dry-run, commit, push, PR, check run, comment.
func BenchmarkCommentToPR(b *testing.B) {
	e := newEnv(b)
	if err := e.comment(b, "octocat", "User", "/ai containerize"); err != nil { // warm: server started, CRDs installed
		b.Fatal(err)
	}
	b.ResetTimer()
	var last time.Duration
	for b.Loop() {
		b.StopTimer()
		e.issue = e.fake.AddIssue("acme", "shop")
		b.StartTimer()
		t := time.Now()
		if err := e.comment(b, "octocat", "User", "/ai containerize"); err != nil {
			b.Fatal(err)
		}
		last = time.Since(t)
	}
	b.ReportMetric(last.Seconds(), "s/comment")
}

// BenchmarkWaiting measures the queue's Waiting call on a parked
// containerize: "same position" is the store lookup that makes a repeated
// call free, "moved" edits the status comment on the fake GitHub. Neither
// asks GitHub for permissions.
func BenchmarkWaiting(b *testing.B) {
	e := newEnv(b)
	e.runner = e.rebuildWith(passing)
	d := e.delivery(b, "octocat", "COLLABORATOR", "/ai containerize", false)
	ctx := context.Background()
	e.runner.Waiting(ctx, d, 1)
	b.Run("same position", func(b *testing.B) {
		for b.Loop() {
			e.runner.Waiting(ctx, d, 1)
		}
	})
	b.Run("moved", func(b *testing.B) {
		n := 2
		for b.Loop() {
			e.runner.Waiting(ctx, d, n)
			n++
		}
	})
	if got := e.fake.ValidatedRequests()["repos/get-collaborator-permission-level"]; got != 0 {
		b.Errorf("%d permission requests", got)
	}
}
