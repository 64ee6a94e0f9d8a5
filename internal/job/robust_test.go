package job_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/riverqueue/river/rivertype"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// passing is a validator that finds nothing, for tests about the job
// around validation (no kube-apiserver needed).
func passing(context.Context, string, *config.Repo, ...validate.Check) (*validate.Report, error) {
	return &validate.Report{Stages: []validate.StageResult{{Name: "build"}, {Name: "dryrun"}}}, nil
}

// delivery builds the issue_comment delivery of body, written by user
// (with GitHub's author_association) on e.issue, without running it.
func (e *env) delivery(t testing.TB, user, association, body string, onPR bool) queue.Delivery {
	t.Helper()
	id := e.fake.AddComment("acme", "shop", e.issue, user, body)
	e.n++
	typ := "User"
	if strings.HasSuffix(user, "[bot]") {
		typ = "Bot"
	}
	payload, err := json.Marshal(github.IssueCommentEvent{
		Action: github.Ptr("created"), Issue: issueFor(e.issue, onPR),
		Comment: &github.IssueComment{ID: github.Ptr(id), Body: github.Ptr(body), AuthorAssociation: github.Ptr(association),
			User: &github.User{Login: github.Ptr(user), ID: github.Ptr(int64(1000 + e.n)), Type: github.Ptr(typ)}},
		Repo: &github.Repository{Name: github.Ptr("shop"), FullName: github.Ptr("acme/shop"), DefaultBranch: github.Ptr("main"),
			Owner: &github.User{Login: github.Ptr("acme")}},
		Installation: &github.Installation{ID: github.Ptr(int64(installation))},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := deliver(t, "issue_comment", fmt.Sprintf("d-%d", e.n), payload)
	if !ok {
		return queue.Delivery{}
	}
	return d
}

func (e *env) handle(t testing.TB, r *job.Runner, d queue.Delivery) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return r.Handle(ctx, d)
}

// client is a REST client of the fake acting as the installation.
func (e *env) client(t testing.TB) *github.Client {
	t.Helper()
	gh, err := github.NewClient(github.WithEnterpriseURLs(e.fake.URL, e.fake.URL), github.WithAuthToken(e.fake.MintToken(installation)))
	if err != nil {
		t.Fatal(err)
	}
	return gh
}

func permanent(err error) bool {
	var c *rivertype.JobCancelError
	return errors.As(err, &c)
}

// logBuffer collects a Runner's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// entries returns the log lines whose message is msg.
func (l *logBuffer) entries(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestStageDeadlines: a validation past its deadline fails the job with
// the named reason in the status comment, whether the validator honours
// its context or ignores it (it is abandoned so the worker is free), and
// the failure is logged with its stage and reason.
func TestStageDeadlines(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name string
		v    job.Validator
	}{
		{"blocks until ctx is done", func(ctx context.Context, _ string, _ *config.Repo, _ ...validate.Check) (*validate.Report, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}},
		{"ignores ctx", func(context.Context, string, *config.Repo, ...validate.Check) (*validate.Report, error) {
			<-release
			return nil, errors.New("released")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			r := e.rebuildWith(tt.v, job.WithTimeouts(job.Timeouts{Validate: 300 * time.Millisecond}), job.WithLogger(logs.logger()))
			e.issue = e.fake.AddIssue("acme", "shop")
			err := e.handle(t, r, e.delivery(t, "octocat", "OWNER", "/ai containerize", false))
			if !permanent(err) {
				t.Fatalf("err = %v, want a permanent failure", err)
			}
			if c := e.lastComment(); c != "❌ kubewright stopped: Validation did not finish in 300ms." {
				t.Errorf("status %q", c)
			}
			if len(e.fake.Pulls("acme", "shop")) != 0 {
				t.Error("a pull request was opened")
			}
			got := logs.entries("job failed")
			if len(got) != 1 || got[0]["stage"] != "validate" || got[0]["reason"] != "ValidationTimedOut" || got[0]["decision"] != "permanent" {
				t.Errorf("failure log %v", got)
			}
		})
	}
}

// TestFailuresAreLogged: every failed attempt is logged with its stage,
// named reason and the queue's decision, and a retried job's status
// comment says it will try again.
func TestFailuresAreLogged(t *testing.T) {
	e := newEnv(t)
	var logs logBuffer
	r := e.rebuildWith(passing, job.WithLogger(logs.logger()))
	e.fake.FailNext("POST", "/repos/{owner}/{repo}/pulls", 502, nil)
	d := e.delivery(t, "octocat", "OWNER", "/ai containerize", false)
	if err := e.handle(t, r, d); err == nil || permanent(err) {
		t.Fatalf("a 502 should fail the attempt for a retry, got %v", err)
	}
	if c := e.lastComment(); c != "⚠️ This attempt failed: GitHub answered HTTP 502. kubewright will try again." {
		t.Errorf("status %q", c)
	}
	e.fake.FailNext("POST", "/repos/{owner}/{repo}/check-runs", 403, map[string]string{"Retry-After": "42"})
	if err := e.handle(t, r, d); err == nil {
		t.Fatal("the rate-limited attempt succeeded")
	}
	want := []map[string]any{
		{"stage": "github", "reason": "GitHubFailed", "decision": "retry", "delivery": d.ID},
		{"stage": "github", "reason": "GitHubFailed", "decision": "snooze", "retry_in": "42s", "delivery": d.ID},
	}
	got := logs.entries("job failed")
	if len(got) != len(want) {
		t.Fatalf("%d failure lines, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v (%v)", i+1, k, got[i][k], v, got[i])
			}
		}
		if s, _ := got[i]["error"].(string); !strings.Contains(s, "POST") {
			t.Errorf("line %d lacks the error: %v", i+1, got[i])
		}
	}
}

// TestWorkRootAndCloneCaps: workspaces go under the work root, leftovers
// older than the job timeout are swept when the Runner starts, and a
// repository over the clone caps fails the job for good with the sizes.
func TestWorkRootAndCloneCaps(t *testing.T) {
	e := newEnv(t)
	root := filepath.Join(t.TempDir(), "work")
	os.MkdirAll(root, 0o700)
	stale, fresh := filepath.Join(root, workspace.DirPrefix+"stale"), filepath.Join(root, workspace.DirPrefix+"fresh")
	for _, p := range []string{stale, fresh} {
		os.MkdirAll(filepath.Join(p, ".git"), 0o700)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	r := e.rebuildWith(passing, job.WithWorkRoot(root), job.WithTimeouts(job.Timeouts{Job: 30 * time.Minute}), job.WithCloneLimits(64<<10, 0))
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale workspace was not swept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a recent workspace was swept: %v", err)
	}
	os.RemoveAll(fresh)

	err := e.handle(t, r, e.delivery(t, "octocat", "OWNER", "/ai containerize", false))
	if !permanent(err) {
		t.Fatalf("err = %v, want a permanent failure", err)
	}
	if c := e.lastComment(); !strings.HasPrefix(c, "❌ kubewright stopped: repository too large for kubewright (") || !strings.Contains(c, " KB > 64 KB on disk)") {
		t.Errorf("status %q", c)
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("the failed clone left %d entries in the work root", len(left))
	}

	// Within the caps the job works in the root and cleans up after itself.
	r = e.rebuildWith(passing, job.WithWorkRoot(root))
	e.issue = e.fake.AddIssue("acme", "shop")
	if err := e.handle(t, r, e.delivery(t, "octocat", "OWNER", "/ai containerize", false)); err != nil {
		t.Fatal(err)
	}
	onlyPR(t, e)
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("the job left %d entries in the work root", len(left))
	}
}

// TestPublishedTextIsRedacted: a finding that quotes a token reaches the
// pull request body, the check run and the status without it.
func TestPublishedTextIsRedacted(t *testing.T) {
	e := newEnv(t)
	token := "ghp_" + strings.Repeat("Z9y8X7w6V5", 3) + "u4T3s2"
	e.runner = e.rebuildWith(func(context.Context, string, *config.Repo, ...validate.Check) (*validate.Report, error) {
		return &validate.Report{
			Stages: []validate.StageResult{{Name: "policy", Errors: 1}},
			Findings: []finding.Finding{{ID: "KW-POL-020", Severity: finding.Error, Stage: "policy", File: "k8s/order-service/deployment.yaml", Line: 30,
				Message: "env GITHUB_TOKEN has the literal value " + token, Hint: "move " + token + " to a Secret"}},
		}, nil
	})
	if err := e.comment(t, "octocat", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	pr := onlyPR(t, e)
	if !strings.Contains(pr.Body, "KW-POL-020") {
		t.Fatalf("the finding is not in the PR body:\n%s", pr.Body)
	}
	if strings.Contains(pr.Body, token) || strings.Contains(pr.Title, token) {
		t.Error("the pull request carries the token")
	}
	for _, c := range e.fake.CheckRuns("acme", "shop") {
		if strings.Contains(c.Summary+c.Title+c.Text, token) {
			t.Error("the check run carries the token")
		}
	}
	for _, c := range e.fake.Comments("acme", "shop") {
		if strings.Contains(c.Body, token) {
			t.Errorf("comment %d carries the token", c.ID)
		}
	}
}

// TestRetryKeepsSpentTokens: a free-text job that spends tokens and then
// fails with a transient GitHub error is retried, and the retry's budget
// is what the first attempt left: here one token, so the retry makes no
// model call and says why. The finished job's record is then dropped.
func TestRetryKeepsSpentTokens(t *testing.T) {
	good, _ := replicas(t)
	e := newEnv(t)
	srv := llmtest.NewServer(t,
		llmtest.Reply{PromptTokens: 900_000, CompletionTokens: 1_000, Proposal: &llm.Proposal{Summary: "Three replicas for order-service.",
			Edits: []llm.Edit{{Path: orderDeployment, Action: llm.ActionReplace, Content: good}}, Assumptions: []string{}, Risks: []string{}}},
		llmtest.Reply{PromptTokens: 98_000, CompletionTokens: 999, Proposal: &llm.Proposal{Summary: "Reviewed.", Edits: []llm.Edit{}, Assumptions: []string{}, Risks: []string{}}},
	)
	cfg := srv.Config()
	cfg.MaxRetries = -1
	client, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ledger := llm.NewMemoryLedger()
	r := e.rebuild(job.WithAgents(job.Agents{Model: client, Budget: llm.Budget{PerJob: 1_000_000}, Ledger: ledger}))
	d := e.delivery(t, "octocat", "OWNER", "/ai run order-service with 3 replicas", false)
	ctx := context.Background()

	e.fake.FailNext("POST", "/repos/{owner}/{repo}/pulls", 502, nil)
	if err := e.handle(t, r, d); err == nil || permanent(err) {
		t.Fatalf("a 502 should fail the attempt for a retry, got %v", err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Fatalf("first attempt: %d model requests, want 2", n)
	}
	if spent, _ := ledger.Spent(ctx, "job/"+d.ID, llm.JobDay); spent != 999_999 {
		t.Fatalf("the ledger holds %d tokens for the job, want 999999", spent)
	}

	// The retry: a new Runner (another replica, or after a restart) on the
	// same ledger.
	r = e.rebuild(job.WithAgents(job.Agents{Model: client, Budget: llm.Budget{PerJob: 1_000_000}, Ledger: ledger}))
	if err := e.handle(t, r, d); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("the retry made %d more model requests, want none", n-2)
	}
	c := e.lastComment()
	for _, want := range []string{"❌ kubewright did not open a pull request", "token budget", "job budget of 1000000 tokens: 999999 spent (999999 by earlier attempts)"} {
		if !strings.Contains(c, want) {
			t.Errorf("status lacks %q: %q", want, c)
		}
	}
	if len(e.fake.Pulls("acme", "shop")) != 0 {
		t.Error("a pull request was opened")
	}
	if spent, _ := ledger.Spent(ctx, "job/"+d.ID, llm.JobDay); spent != 0 {
		t.Errorf("the finished job's spend is still recorded: %d", spent)
	}
}
