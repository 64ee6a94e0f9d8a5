package job_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/riverqueue/river/rivertype"
	"k8s.io/client-go/rest"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/request"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/dryrun"
	"github.com/kubewright/kubewright/internal/validate/schema"
	"github.com/kubewright/kubewright/internal/validate/suite"
)

const (
	appID        = 4242
	installation = 77
)

type env struct {
	fake   *githubtest.Server
	runner *job.Runner
	// rebuild makes another Runner on the same fake with extra options;
	// rebuildWith also replaces the validator.
	rebuild     func(opts ...job.Option) *job.Runner
	rebuildWith func(v job.Validator, opts ...job.Option) *job.Runner
	issue       int
	n           int
}

// newEnv starts the fake GitHub with the polyglot shop as acme/shop, an
// ephemeral kube-apiserver for validation, and a Runner authenticated as
// the App.
func newEnv(t testing.TB) *env { return newEnvWithConfig(t, "") }

// newEnvWithConfig is newEnv with .github/kubewright.yaml committed on the
// default branch when repoConfig is not empty.
func newEnvWithConfig(t testing.TB, repoConfig string) *env {
	t.Helper()
	return newEnvFrom(t, filepath.Join("..", "..", "testdata", "repos", "polyglot-shop"), repoConfig)
}

// newEnvFrom is newEnvWithConfig with the repository's files from src.
func newEnvFrom(t testing.TB, src, repoConfig string) *env {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	fake := githubtest.New(t, githubtest.WithApp(githubtest.App{ID: appID, PublicKey: &key.PublicKey}))
	fake.AddInstallation(installation, "acme")
	if repoConfig != "" {
		dir := filepath.Join(t.TempDir(), "shop")
		if out, err := exec.Command("cp", "-R", src, dir).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		os.MkdirAll(filepath.Join(dir, ".github"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, ".github", "kubewright.yaml"), []byte(repoConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		src = dir
	}
	fake.AddRepo("acme", "shop", src)
	fake.SetPermission("acme", "shop", "octocat", "write")
	fake.SetPermission("acme", "shop", "mallory", "read")
	clients, err := githubapp.NewClients(appID, pemKey, githubapp.EndpointsFor(fake.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	assets, err := dryrun.FindAssets("")
	if err != nil {
		t.Fatalf("%v: run `make test`", err)
	}
	crdDir := os.Getenv("KUBEWRIGHT_CRDS")
	if crdDir == "" {
		crdDir = filepath.Join("..", "..", "..", "shared", "crds")
	}
	crds, err := schema.LoadCRDs(crdDir)
	if err != nil {
		t.Fatalf("CRDs: %v (set KUBEWRIGHT_CRDS)", err)
	}
	eph := dryrun.NewEphemeral(assets)
	t.Cleanup(func() { eph.Stop() })
	v := func(ctx context.Context, dir string, cfg *config.Repo, extra ...validate.Check) (*validate.Report, error) {
		return suite.Validate(ctx, dir, suite.Options{CRDs: crds, Config: cfg, DryRun: dryrun.Check{
			Config: func(ctx context.Context) (*rest.Config, error) { return eph.Config(ctx) }, Install: true, Memo: eph.Memo()}}.With(extra...))
	}
	rebuild := func(opts ...job.Option) *job.Runner { return job.New(clients, v, opts...) }
	rebuildWith := func(v job.Validator, opts ...job.Option) *job.Runner { return job.New(clients, v, opts...) }
	return &env{fake: fake, runner: rebuild(), rebuild: rebuild, rebuildWith: rebuildWith, issue: fake.AddIssue("acme", "shop")}
}

// commentOnPR posts body on the pull request e.issue.
func (e *env) commentOnPR(t testing.TB, user, body string) error {
	t.Helper()
	return e.post(t, user, "User", body, true)
}

// comment posts body as user on the issue and runs the resulting delivery.
func (e *env) comment(t testing.TB, user, userType, body string) error {
	t.Helper()
	return e.post(t, user, userType, body, false)
}

func (e *env) post(t testing.TB, user, userType, body string, onPR bool) error {
	t.Helper()
	id := e.fake.AddComment("acme", "shop", e.issue, user, body)
	e.n++
	ev := github.IssueCommentEvent{
		Action: github.Ptr("created"),
		Issue:  issueFor(e.issue, onPR),
		Comment: &github.IssueComment{ID: github.Ptr(id), Body: github.Ptr(body),
			User: &github.User{Login: github.Ptr(user), ID: github.Ptr(int64(1000 + e.n)), Type: github.Ptr(userType)}},
		Repo: &github.Repository{Name: github.Ptr("shop"), FullName: github.Ptr("acme/shop"), DefaultBranch: github.Ptr("main"),
			Owner: &github.User{Login: github.Ptr("acme")}},
		Installation: &github.Installation{ID: github.Ptr(int64(installation))},
	}
	payload, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, ok := deliver(t, "issue_comment", fmt.Sprintf("d-%d", e.n), payload)
	if !ok {
		return nil // intake drops it: nothing runs
	}
	return e.runner.Handle(ctx, d)
}

// deliver turns a payload into the delivery webhook intake would queue;
// false when intake drops it (a bot, no command, an unhandled action).
func deliver(t testing.TB, event, id string, payload []byte) (queue.Delivery, bool) {
	t.Helper()
	req, why, err := githubapp.ParseRequest(event, id, payload, githubapp.RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if why != "" {
		t.Logf("intake drops %s: %s", id, why)
		return queue.Delivery{}, false
	}
	return queue.NewDelivery(req), true
}

func (e *env) lastComment() string {
	cs := e.fake.Comments("acme", "shop")
	return cs[len(cs)-1].Body
}

// TestContainerizeCommentOpensOnePR is the main path end to end: a
// `/ai containerize` comment becomes a validated pull request on the fake
// GitHub, and the same command again updates it instead of opening another.
func TestContainerizeCommentOpensOnePR(t *testing.T) {
	e := newEnv(t)
	mainBefore := e.fake.Heads("acme", "shop")["main"]
	if err := e.comment(t, "octocat", "User", "Please containerize this.\n\n/ai containerize"); err != nil {
		t.Fatal(err)
	}
	pulls := e.fake.Pulls("acme", "shop")
	if len(pulls) != 1 {
		t.Fatalf("pulls = %+v", pulls)
	}
	pr := pulls[0]
	branch := fmt.Sprintf("kubewright/containerize-%d", e.issue)
	if pr.Head != branch || pr.Base != "main" || pr.Draft || pr.State != "open" {
		t.Errorf("PR %+v", pr)
	}
	for _, want := range []string{"## Services detected", "`user-service`", "```mermaid", "| dryrun | ✅ pass |", "gitops/", "## Assumptions"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("PR body lacks %q", want)
		}
	}
	heads := e.fake.Heads("acme", "shop")
	if heads["main"] != mainBefore {
		t.Error("the default branch moved")
	}
	if heads[branch] == "" || heads[branch] != pr.HeadSHA {
		t.Errorf("branch head %q, PR head %q", heads[branch], pr.HeadSHA)
	}
	runs := e.fake.CheckRuns("acme", "shop")
	if len(runs) != 1 || runs[0].Status != "completed" || runs[0].Conclusion != "success" || runs[0].HeadSHA != heads[branch] {
		t.Errorf("check runs %+v", runs)
	}
	reactions := e.fake.Reactions("acme", "shop")
	if len(reactions) != 1 || reactions[0].Content != "eyes" {
		t.Errorf("reactions %+v", reactions)
	}
	if c := e.lastComment(); !strings.Contains(c, "Opened ") || !strings.Contains(c, fmt.Sprintf("/pull/%d", pr.Number)) {
		t.Errorf("final comment %q", c)
	}

	// The same command again (a retry or a second request) updates the PR.
	if err := e.comment(t, "octocat", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	if pulls := e.fake.Pulls("acme", "shop"); len(pulls) != 1 {
		t.Errorf("second run opened another PR: %+v", pulls)
	}
}

func TestCommentsThatRunNothing(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, user, typ, body string
		reply                 string
	}{
		{"not a command", "octocat", "User", "looks good to me", ""},
		{"inside a code block", "octocat", "User", "```\n/ai containerize\n```", ""},
		{"the bot itself", "kubewright[bot]", "Bot", "/ai containerize", ""},
		{"unauthorized", "mallory", "User", "/ai containerize", "needs write, maintain or admin permission"},
		{"unknown command", "octocat", "User", "/ai contanerize", "containerize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.fake.Comments("acme", "shop"))
			if err := e.comment(t, tt.user, tt.typ, tt.body); err != nil {
				t.Fatal(err)
			}
			after := e.fake.Comments("acme", "shop")
			replies := after[before+1:] // skip the comment itself
			switch {
			case tt.reply == "" && len(replies) != 0:
				t.Errorf("unexpected reply %q", replies[0].Body)
			case tt.reply != "" && (len(replies) != 1 || !strings.Contains(replies[0].Body, tt.reply)):
				t.Errorf("replies %+v, want one containing %q", replies, tt.reply)
			}
			if len(e.fake.Pulls("acme", "shop")) != 0 {
				t.Error("a pull request was opened")
			}
		})
	}
}

// TestValidateCommandOnPullRequest: `/ai validate` on a pull request
// validates its head and records a check run on that commit.
func TestValidateCommandOnPullRequest(t *testing.T) {
	e := newEnv(t)
	if err := e.comment(t, "octocat", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	pr := e.fake.Pulls("acme", "shop")[0]
	e.issue = pr.Number // comment on the pull request now
	before := len(e.fake.CheckRuns("acme", "shop"))
	if err := e.commentOnPR(t, "octocat", "/ai validate"); err != nil {
		t.Fatal(err)
	}
	runs := e.fake.CheckRuns("acme", "shop")
	if len(runs) != before+1 || runs[len(runs)-1].HeadSHA != pr.HeadSHA || runs[len(runs)-1].Conclusion != "success" {
		t.Errorf("check runs %+v (head %s)", runs, pr.HeadSHA)
	}
	if c := e.lastComment(); !strings.Contains(c, "passes every validation stage") {
		t.Errorf("comment %q", c)
	}
}

func issueFor(n int, pr bool) *github.Issue {
	is := &github.Issue{Number: github.Ptr(n)}
	if pr {
		is.PullRequestLinks = &github.PullRequestLinks{URL: github.Ptr(fmt.Sprintf("https://example.com/pulls/%d", n))}
	}
	return is
}

// TestTriggerLabel: adding the trigger label to an issue containerizes,
// when the person who added it may run commands.
func TestTriggerLabel(t *testing.T) {
	e := newEnv(t)
	label := func(sender string) error {
		e.n++
		payload, _ := json.Marshal(github.IssuesEvent{
			Action: github.Ptr("labeled"), Label: &github.Label{Name: github.Ptr("kubewright")},
			Issue: &github.Issue{Number: github.Ptr(e.issue)},
			Repo: &github.Repository{Name: github.Ptr("shop"), FullName: github.Ptr("acme/shop"), DefaultBranch: github.Ptr("main"),
				Owner: &github.User{Login: github.Ptr("acme")}},
			Sender:       &github.User{Login: github.Ptr(sender), ID: github.Ptr(int64(5)), Type: github.Ptr("User")},
			Installation: &github.Installation{ID: github.Ptr(int64(installation))},
		})
		d, ok := deliver(t, "issues", fmt.Sprintf("l-%d", e.n), payload)
		if !ok {
			return nil
		}
		return e.runner.Handle(context.Background(), d)
	}
	if err := label("mallory"); err != nil {
		t.Fatal(err)
	}
	if len(e.fake.Pulls("acme", "shop")) != 0 {
		t.Fatal("a read-only user's label opened a pull request")
	}
	if err := label("octocat"); err != nil {
		t.Fatal(err)
	}
	if pulls := e.fake.Pulls("acme", "shop"); len(pulls) != 1 {
		t.Fatalf("pulls %+v", pulls)
	}
}

// TestTransientAndRateLimitedFailures: a GitHub 5xx fails the attempt
// (River retries it) and the retry still ends with one pull request; a
// secondary rate limit snoozes the job for the Retry-After GitHub sent.
func TestTransientAndRateLimitedFailures(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext("POST", "/repos/{owner}/{repo}/pulls", 502, nil)
	err := e.comment(t, "octocat", "User", "/ai containerize")
	var snooze *rivertype.JobSnoozeError
	var cancel *rivertype.JobCancelError
	if err == nil || errors.As(err, &snooze) || errors.As(err, &cancel) {
		t.Fatalf("a 502 should fail the attempt for a retry, got %v", err)
	}
	if len(e.fake.Pulls("acme", "shop")) != 0 {
		t.Fatal("a pull request was opened despite the 502")
	}
	// The retry (same delivery, same issue) succeeds and opens one PR.
	if err := e.comment(t, "octocat", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.Pulls("acme", "shop")); n != 1 {
		t.Fatalf("%d pull requests after the retry", n)
	}

	e.fake.FailNext("POST", "/repos/{owner}/{repo}/check-runs", 403, map[string]string{"Retry-After": "42"})
	err = e.comment(t, "octocat", "User", "/ai containerize")
	if !errors.As(err, &snooze) || snooze.Duration != 42*time.Second {
		t.Fatalf("secondary rate limit: got %v, want a 42s snooze", err)
	}
	if n := len(e.fake.Pulls("acme", "shop")); n != 1 {
		t.Errorf("%d pull requests, want the one updated", n)
	}
}

// TestTeamMembersMayRunCommands: an active member of a team listed in the
// default branch's .github/kubewright.yaml may run commands without
// repository write permission; a read-only non-member may not.
func TestTeamMembersMayRunCommands(t *testing.T) {
	e := newEnvWithConfig(t, "commands:\n  teams: [acme/platform]\npullRequest:\n  closeIssue: true\n")
	e.fake.SetPermission("acme", "shop", "tina", "read")
	e.fake.SetTeamMember("acme", "platform", "tina", "member")
	if err := e.comment(t, "mallory", "User", "/ai plan"); err != nil {
		t.Fatal(err)
	}
	if c := e.lastComment(); !strings.Contains(c, "needs write, maintain or admin permission") {
		t.Errorf("mallory: %q", c)
	}
	if err := e.comment(t, "tina", "User", "/ai plan"); err != nil {
		t.Fatal(err)
	}
	if c := e.lastComment(); !strings.Contains(c, "### kubewright plan") {
		t.Errorf("tina (team member): %q", c)
	}
	// The same config asks for "Closes #N" in the pull request.
	if err := e.comment(t, "tina", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	if pulls := e.fake.Pulls("acme", "shop"); len(pulls) != 1 || !strings.Contains(pulls[0].Body, fmt.Sprintf("Closes #%d.", e.issue)) {
		t.Errorf("pull request body lacks Closes #%d: %+v", e.issue, pulls)
	}
}

type fakeCanceller struct {
	subject, except string
	n               int
}

var _ job.Canceller = (*fakeCanceller)(nil)

func (f *fakeCanceller) CancelSubject(_ context.Context, subject, except string) (int, error) {
	f.subject, f.except = subject, except
	return f.n, nil
}

// TestCancelCommand: `/ai cancel` asks the queue to cancel this issue's
// other jobs (not itself), never waits for the repository, and says what
// it did.
func TestCancelCommand(t *testing.T) {
	e := newEnv(t)
	c := &fakeCanceller{n: 2}
	e.runner = e.rebuild(job.WithCanceller(c))
	if !e.runner.Exclusive(queue.Delivery{Event: "issues"}) {
		t.Error("ordinary deliveries must hold the repository")
	}
	if err := e.comment(t, "octocat", "User", "/ai cancel"); err != nil {
		t.Fatal(err)
	}
	if c.subject != fmt.Sprintf("acme/shop#%d", e.issue) || c.except != fmt.Sprintf("d-%d", e.n) {
		t.Errorf("cancelled subject %q except %q", c.subject, c.except)
	}
	if got := e.lastComment(); !strings.Contains(got, "Cancelled 2 kubewright job(s)") {
		t.Errorf("reply %q", got)
	}
	if e.runner.Exclusive(queue.NewDelivery(request.Request{Command: &command.Command{Name: command.Cancel}})) {
		t.Error("a cancel must not wait for the repository")
	}
	c.n = 0
	if err := e.comment(t, "mallory", "User", "/ai cancel"); err != nil {
		t.Fatal(err)
	}
	if got := e.lastComment(); !strings.Contains(got, "needs write, maintain or admin permission") {
		t.Errorf("unauthorized cancel: %q", got)
	}
}

// TestStatusComment: a waiting containerize shows its queue position in a
// status comment that then shows progress and ends with the result, all
// in one comment.
func TestStatusComment(t *testing.T) {
	e := newEnv(t)
	id := e.fake.AddComment("acme", "shop", e.issue, "octocat", "/ai containerize")
	payload, _ := json.Marshal(github.IssueCommentEvent{
		Action: github.Ptr("created"), Issue: &github.Issue{Number: github.Ptr(e.issue)},
		Comment: &github.IssueComment{ID: github.Ptr(id), Body: github.Ptr("/ai containerize"), AuthorAssociation: github.Ptr("COLLABORATOR"),
			User: &github.User{Login: github.Ptr("octocat"), ID: github.Ptr(int64(1)), Type: github.Ptr("User")}},
		Repo: &github.Repository{Name: github.Ptr("shop"), FullName: github.Ptr("acme/shop"), DefaultBranch: github.Ptr("main"),
			Owner: &github.User{Login: github.Ptr("acme")}},
		Installation: &github.Installation{ID: github.Ptr(int64(installation))},
	})
	d, _ := deliver(t, "issue_comment", "status-1", payload)
	ctx := context.Background()
	e.runner.Waiting(ctx, d, 2)
	if c := e.lastComment(); !strings.Contains(c, "Queued: 2 kubewright job(s)") {
		t.Fatalf("status %q", c)
	}
	n := len(e.fake.Comments("acme", "shop"))
	e.runner.Waiting(ctx, d, 1)
	if c := e.lastComment(); !strings.Contains(c, "Queued: 1 ") || len(e.fake.Comments("acme", "shop")) != n {
		t.Fatalf("status not edited in place: %q (%d comments, was %d)", c, len(e.fake.Comments("acme", "shop")), n)
	}
	if err := e.runner.Handle(ctx, d); err != nil {
		t.Fatal(err)
	}
	if c := e.lastComment(); !strings.HasPrefix(c, "✅ Opened ") || len(e.fake.Comments("acme", "shop")) != n {
		t.Errorf("final status %q (%d comments, was %d)", c, len(e.fake.Comments("acme", "shop")), n)
	}
}

// TestValidationFailureOpensDraft: when validation finds errors the pull
// request is a draft listing them, and the check run fails with an
// annotation at the finding's file and line.
func TestValidationFailureOpensDraft(t *testing.T) {
	e := newEnv(t)
	e.runner = e.rebuildWith(func(ctx context.Context, dir string, _ *config.Repo, extra ...validate.Check) (*validate.Report, error) {
		return &validate.Report{
			Stages: []validate.StageResult{{Name: "build"}, {Name: "dryrun", Errors: 1}},
			Findings: []finding.Finding{{ID: "KW-DRYRUN-001", Severity: finding.Error, Stage: "dryrun",
				File: "k8s/order-service/deployment.yaml", Line: 12, Message: "rejected by the API server", Hint: "fix it"}},
		}, nil
	})
	if err := e.comment(t, "octocat", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	pulls := e.fake.Pulls("acme", "shop")
	if len(pulls) != 1 || !pulls[0].Draft || !strings.Contains(pulls[0].Body, "KW-DRYRUN-001") || !strings.Contains(pulls[0].Body, "| dryrun | ❌ fail | 1 | 0 |") {
		t.Fatalf("pulls %+v", pulls)
	}
	runs := e.fake.CheckRuns("acme", "shop")
	if len(runs) != 1 || runs[0].Conclusion != "failure" || runs[0].AnnotationsCount != 1 {
		t.Errorf("check runs %+v", runs)
	}
	if c := e.lastComment(); !strings.Contains(c, "draft") {
		t.Errorf("status %q", c)
	}
}
