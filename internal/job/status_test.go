package job_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/job"
)

// TestWaitingIsCheap: a parked job's queue position costs no permission or
// team lookup, is shown only for commands that would run from commenters
// GitHub associates with the repository, and is not edited again for the
// same position. An associated commenter without write permission sees
// the position replaced by the refusal once the job runs.
func TestWaitingIsCheap(t *testing.T) {
	e := newEnv(t)
	e.runner = e.rebuildWith(passing)
	ctx := context.Background()
	tests := []struct {
		name, user, association, body string
		onPR, wantStatus              bool
	}{
		{"collaborator containerize", "octocat", "COLLABORATOR", "/ai containerize", false, true},
		{"owner plan", "octocat", "OWNER", "/ai plan", false, true},
		{"member validate on a PR", "octocat", "MEMBER", "/ai validate", true, true},
		{"drive-by user", "mallory", "NONE", "/ai containerize", false, false},
		{"contributor", "mallory", "CONTRIBUTOR", "/ai containerize", false, false},
		{"not a command", "octocat", "OWNER", "looks good", false, false},
		{"help", "octocat", "OWNER", "/ai help", false, false},
		{"cancel", "octocat", "OWNER", "/ai cancel", false, false},
		{"free text without a model", "octocat", "OWNER", "/ai add a cache please", false, false},
		{"bot", "kubewright[bot]", "NONE", "/ai containerize", false, false},
	}
	lookups := func() int {
		r := e.fake.ValidatedRequests()
		return r["repos/get-collaborator-permission-level"] + r["teams/get-membership-for-user-in-org"] + r["repos/get-content"]
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.delivery(t, tt.user, tt.association, tt.body, tt.onPR)
			before, comments := lookups(), len(e.fake.Comments("acme", "shop"))
			edits := e.fake.ValidatedRequests()["issues/update-comment"]
			e.runner.Waiting(ctx, d, 3)
			e.runner.Waiting(ctx, d, 3) // the same position again: nothing to edit
			if n := lookups() - before; n != 0 {
				t.Errorf("Waiting made %d permission, team or config requests", n)
			}
			got := len(e.fake.Comments("acme", "shop")) - comments
			if tt.wantStatus != (got == 1) || got > 1 {
				t.Fatalf("%d status comments, want status=%v", got, tt.wantStatus)
			}
			if n := e.fake.ValidatedRequests()["issues/update-comment"] - edits; n != 0 {
				t.Errorf("the same position was written %d more times", n)
			}
			if tt.wantStatus && !strings.Contains(e.lastComment(), "Queued: 3 kubewright job(s)") {
				t.Errorf("status %q", e.lastComment())
			}
		})
	}

	// A member of the organization who may not write: the position, then
	// the refusal in the same comment.
	d := e.delivery(t, "mallory", "MEMBER", "/ai containerize", false)
	e.runner.Waiting(ctx, d, 1)
	n := len(e.fake.Comments("acme", "shop"))
	if err := e.handle(t, e.runner, d); err != nil {
		t.Fatal(err)
	}
	if c := e.lastComment(); len(e.fake.Comments("acme", "shop")) != n || !strings.Contains(c, "Sorry @mallory") {
		t.Errorf("refusal %q (%d comments, was %d)", c, len(e.fake.Comments("acme", "shop")), n)
	}
}

// TestStatusSharedByReplicas: two Runners sharing one StatusStore (two
// replicas on one queue database) edit one status comment: one parks the
// job, the other sees it move up and runs it. Runners that do not share
// the store each start their own comment.
func TestStatusSharedByReplicas(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			e.issue = e.fake.AddIssue("acme", "shop")
			storeA, storeB := job.NewMemoryStatus(), job.NewMemoryStatus()
			if shared {
				storeB = storeA
			}
			a, b := e.rebuildWith(passing, job.WithStatusStore(storeA)), e.rebuildWith(passing, job.WithStatusStore(storeB))
			d := e.delivery(t, "octocat", "COLLABORATOR", "/ai containerize", false)
			a.Waiting(ctx, d, 2)
			n := len(e.fake.Comments("acme", "shop"))
			b.Waiting(ctx, d, 1)
			if err := e.handle(t, b, d); err != nil {
				t.Fatal(err)
			}
			added := len(e.fake.Comments("acme", "shop")) - n
			if c := e.lastComment(); !strings.HasPrefix(c, "✅ Opened ") {
				t.Errorf("final status %q", c)
			}
			if shared && added != 0 {
				t.Errorf("replicas sharing the store added %d comments, want the status edited in place", added)
			}
			if !shared && added != 1 {
				t.Errorf("replicas with their own stores added %d comments; the test would not notice sharing", added)
			}
			if _, _, ok, _ := storeA.LoadStatus(ctx, d.ID); ok && shared {
				t.Error("the finished job's status was not forgotten")
			}
		})
	}
}
