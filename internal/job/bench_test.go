package job_test

import (
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
