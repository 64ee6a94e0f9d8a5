package githubtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
)

const (
	testAppID = 4242
	testInst  = 77
	testOwner = "acme"
	testRepo  = "shop"
)

var seedFiles = map[string]string{
	"README.md":               "# shop\n",
	".github/kubewright.yaml": "prefix: /ai\n",
	"app/main.go":             "package main\n\nfunc main() {}\n",
}

// fixture is a fake with the App installed on acme and acme/shop seeded.
type fixture struct {
	*Server
	key *rsa.PrivateKey
}

func newFixture(t *testing.T, opts ...Option) fixture {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := New(t, append([]Option{WithApp(App{ID: testAppID, Slug: "kubewright", PublicKey: &key.PublicKey})}, opts...)...)
	s.AddInstallation(testInst, testOwner)
	dir := t.TempDir()
	for name, body := range seedFiles {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.AddRepo(testOwner, testRepo, dir)
	return fixture{Server: s, key: key}
}

func ghClient(t *testing.T, s *Server, token string) *github.Client {
	t.Helper()
	opts := []github.ClientOptionsFunc{github.WithEnterpriseURLs(s.URL, s.URL)}
	if token != "" {
		opts = append(opts, github.WithAuthToken(token))
	}
	c, err := github.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// TestREST walks every endpoint with go-github and checks that every request
// and response went through the OpenAPI validator.
func TestREST(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.MintToken(testInst)
	gh := ghClient(t, f.Server, tok)
	f.SetPermission(testOwner, testRepo, "alice", "maintain")
	f.SetTeamMember(testOwner, "deployers", "bob", "member")
	issue := f.AddIssue(testOwner, testRepo)
	userComment := f.AddComment(testOwner, testRepo, issue, "alice", "/ai containerize")

	t.Run("repository", func(t *testing.T) {
		r, _, err := gh.Repositories.Get(ctx, testOwner, testRepo)
		if err != nil {
			t.Fatal(err)
		}
		if r.GetDefaultBranch() != "main" || r.GetFullName() != "acme/shop" || r.GetCloneURL() != f.CloneURL(testOwner, testRepo) {
			t.Errorf("repository = %s default %s clone %s", r.GetFullName(), r.GetDefaultBranch(), r.GetCloneURL())
		}
	})

	t.Run("permission", func(t *testing.T) {
		for user, want := range map[string][2]string{"alice": {"write", "maintain"}, "mallory": {"none", "none"}} {
			p, _, err := gh.Repositories.GetPermissionLevel(ctx, testOwner, testRepo, user)
			if err != nil {
				t.Fatal(err)
			}
			if p.GetPermission() != want[0] || p.GetRoleName() != want[1] || p.GetUser().GetLogin() != user {
				t.Errorf("%s: permission %q role %q user %q, want %v", user, p.GetPermission(), p.GetRoleName(), p.GetUser().GetLogin(), want)
			}
		}
	})

	t.Run("team membership", func(t *testing.T) {
		m, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, testOwner, "deployers", "bob")
		if err != nil {
			t.Fatal(err)
		}
		if m.GetRole() != "member" || m.GetState() != "active" {
			t.Errorf("membership = %s/%s", m.GetRole(), m.GetState())
		}
		if _, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, testOwner, "deployers", "mallory"); statusOf(err) != http.StatusNotFound {
			t.Errorf("non-member: err = %v, want 404", err)
		}
	})

	t.Run("contents", func(t *testing.T) {
		file, _, _, err := gh.Repositories.GetContents(ctx, testOwner, testRepo, ".github/kubewright.yaml", &github.RepositoryContentGetOptions{Ref: "main"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := file.GetContent()
		if err != nil || got != seedFiles[".github/kubewright.yaml"] {
			t.Errorf("content = %q, %v", got, err)
		}
		_, dir, _, err := gh.Repositories.GetContents(ctx, testOwner, testRepo, "app", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(dir) != 1 || dir[0].GetPath() != "app/main.go" || dir[0].GetType() != "file" {
			t.Errorf("directory listing = %+v", dir)
		}
		if _, _, _, err := gh.Repositories.GetContents(ctx, testOwner, testRepo, "missing.txt", nil); statusOf(err) != http.StatusNotFound {
			t.Errorf("missing file: err = %v, want 404", err)
		}
		if _, _, _, err := gh.Repositories.GetContents(ctx, testOwner, testRepo, "README.md", &github.RepositoryContentGetOptions{Ref: "no-such-branch"}); statusOf(err) != http.StatusNotFound {
			t.Errorf("missing ref: err = %v, want 404", err)
		}
	})

	t.Run("comments and reactions", func(t *testing.T) {
		c, _, err := gh.Issues.CreateComment(ctx, testOwner, testRepo, issue, &github.IssueComment{Body: github.Ptr("Queued (position 1)")})
		if err != nil {
			t.Fatal(err)
		}
		if c.GetUser().GetLogin() != "kubewright[bot]" || c.GetUser().GetType() != "Bot" {
			t.Errorf("comment author = %q (%s)", c.GetUser().GetLogin(), c.GetUser().GetType())
		}
		c, _, err = gh.Issues.EditComment(ctx, testOwner, testRepo, c.GetID(), &github.IssueComment{Body: github.Ptr("Done")})
		if err != nil || c.GetBody() != "Done" {
			t.Fatalf("edit: %v, body %q", err, c.GetBody())
		}
		if _, _, err := gh.Issues.CreateComment(ctx, testOwner, testRepo, 999, &github.IssueComment{Body: github.Ptr("x")}); statusOf(err) != http.StatusNotFound {
			t.Errorf("comment on missing issue: err = %v, want 404", err)
		}
		r1, resp, err := gh.Reactions.CreateIssueCommentReaction(ctx, testOwner, testRepo, userComment, "eyes")
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("react: %v (%v)", err, resp)
		}
		r2, resp, err := gh.Reactions.CreateIssueCommentReaction(ctx, testOwner, testRepo, userComment, "eyes")
		if err != nil || resp.StatusCode != http.StatusOK || r2.GetID() != r1.GetID() {
			t.Fatalf("react again: %v, status %d, id %d vs %d", err, resp.StatusCode, r2.GetID(), r1.GetID())
		}
		comments := f.Comments(testOwner, testRepo)
		if len(comments) != 2 || comments[1].Body != "Done" || comments[1].User != "kubewright[bot]" {
			t.Errorf("comments = %+v", comments)
		}
		if rs := f.Reactions(testOwner, testRepo); len(rs) != 1 || rs[0].CommentID != userComment || rs[0].Content != "eyes" {
			t.Errorf("reactions = %+v", rs)
		}
	})

	branch := "kubewright/containerize-1"
	sha := pushBranchCLI(t, f.Server, tok, branch)

	t.Run("pulls", func(t *testing.T) {
		pr, _, err := gh.PullRequests.Create(ctx, testOwner, testRepo, &github.NewPullRequest{
			Title: github.Ptr("Containerize"), Head: github.Ptr(branch), Base: github.Ptr("main"),
			Body: github.Ptr("body"), Draft: github.Ptr(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		if pr.GetNumber() != issue+1 || pr.GetHead().GetSHA() != sha || !pr.GetDraft() || pr.GetState() != "open" {
			t.Errorf("created %#v", pr)
		}
		if _, _, err := gh.PullRequests.Create(ctx, testOwner, testRepo, &github.NewPullRequest{
			Title: github.Ptr("again"), Head: github.Ptr(testOwner + ":" + branch), Base: github.Ptr("main"),
		}); statusOf(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("duplicate pull: err = %v, want 422 already exists", err)
		}
		if _, _, err := gh.PullRequests.Create(ctx, testOwner, testRepo, &github.NewPullRequest{
			Title: github.Ptr("nothing"), Head: github.Ptr("main"), Base: github.Ptr("main"),
		}); statusOf(err) != http.StatusUnprocessableEntity {
			t.Errorf("pull without commits: err = %v, want 422", err)
		}
		list := func(opts *github.PullRequestListOptions) []*github.PullRequest {
			t.Helper()
			prs, _, err := gh.PullRequests.List(ctx, testOwner, testRepo, opts)
			if err != nil {
				t.Fatal(err)
			}
			return prs
		}
		if prs := list(&github.PullRequestListOptions{Head: testOwner + ":" + branch, State: "open"}); len(prs) != 1 || prs[0].GetNumber() != pr.GetNumber() {
			t.Errorf("list by head = %d pulls", len(prs))
		}
		if prs := list(&github.PullRequestListOptions{Head: testOwner + ":other"}); len(prs) != 0 {
			t.Errorf("list by other head = %d pulls", len(prs))
		}
		edited, _, err := gh.PullRequests.Edit(ctx, testOwner, testRepo, pr.GetNumber(), &github.PullRequest{
			Title: github.Ptr("Containerize shop"), Body: github.Ptr("new body"),
		})
		if err != nil || edited.GetTitle() != "Containerize shop" || edited.GetBody() != "new body" {
			t.Fatalf("edit: %v %q %q", err, edited.GetTitle(), edited.GetBody())
		}
		got, _, err := gh.PullRequests.Get(ctx, testOwner, testRepo, pr.GetNumber())
		if err != nil || got.GetTitle() != "Containerize shop" {
			t.Fatalf("get: %v %q", err, got.GetTitle())
		}
		if _, _, err := gh.PullRequests.Edit(ctx, testOwner, testRepo, pr.GetNumber(), &github.PullRequest{State: github.Ptr("closed")}); err != nil {
			t.Fatal(err)
		}
		if prs := list(&github.PullRequestListOptions{Head: testOwner + ":" + branch}); len(prs) != 0 {
			t.Errorf("open pulls after closing = %d", len(prs))
		}
		if prs := list(&github.PullRequestListOptions{State: "closed"}); len(prs) != 1 {
			t.Errorf("closed pulls = %d", len(prs))
		}
		pulls := f.Pulls(testOwner, testRepo)
		if len(pulls) != 1 || pulls[0].Head != branch || pulls[0].Base != "main" || pulls[0].State != "closed" || !pulls[0].Draft || pulls[0].Title != "Containerize shop" {
			t.Errorf("pulls = %+v", pulls)
		}
	})

	t.Run("issues", func(t *testing.T) {
		got, _, err := gh.Issues.Get(ctx, testOwner, testRepo, issue)
		if err != nil {
			t.Fatal(err)
		}
		if got.GetNumber() != issue || got.GetTitle() != fmt.Sprintf("Issue %d", issue) || got.Body != nil || got.IsPullRequest() || got.GetComments() != 2 {
			t.Errorf("default issue = %#v", got)
		}
		f.SetIssue(testOwner, testRepo, issue, "Scale the shop", "Please run 3 replicas.\n<!-- hidden -->")
		got, _, err = gh.Issues.Get(ctx, testOwner, testRepo, issue)
		if err != nil || got.GetTitle() != "Scale the shop" || got.GetBody() != "Please run 3 replicas.\n<!-- hidden -->" || got.GetUser().GetLogin() != testOwner {
			t.Errorf("issue after SetIssue: %v %#v", err, got)
		}
		pr, _, err := gh.Issues.Get(ctx, testOwner, testRepo, issue+1) // the pull request opened above
		if err != nil || !pr.IsPullRequest() || pr.GetTitle() != "Containerize shop" || pr.GetBody() != "new body" || pr.GetState() != "closed" {
			t.Errorf("pull request as an issue: %v %#v", err, pr)
		}
		if _, _, err := gh.Issues.Get(ctx, testOwner, testRepo, 999); statusOf(err) != http.StatusNotFound {
			t.Errorf("missing issue: err = %v, want 404", err)
		}
	})

	t.Run("check runs", func(t *testing.T) {
		cr, _, err := gh.Checks.CreateCheckRun(ctx, testOwner, testRepo, github.CreateCheckRunOptions{
			Name: "kubewright/validate", HeadSHA: sha, Status: github.Ptr("in_progress"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if cr.GetStatus() != "in_progress" || cr.GetHeadSHA() != sha {
			t.Errorf("created %s on %s", cr.GetStatus(), cr.GetHeadSHA())
		}
		cr, _, err = gh.Checks.UpdateCheckRun(ctx, testOwner, testRepo, cr.GetID(), github.UpdateCheckRunOptions{
			Name: "kubewright/validate", Conclusion: github.Ptr("success"),
			Output: &github.CheckRunOutput{Title: github.Ptr("Validation passed"), Summary: github.Ptr("5/5 stages"),
				Annotations: []*github.CheckRunAnnotation{{Path: github.Ptr("k8s/a.yaml"), StartLine: github.Ptr(1), EndLine: github.Ptr(1), AnnotationLevel: github.Ptr("notice"), Message: github.Ptr("ok")}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if cr.GetStatus() != "completed" || cr.GetConclusion() != "success" || cr.GetCompletedAt().IsZero() {
			t.Errorf("updated: %s/%s at %v", cr.GetStatus(), cr.GetConclusion(), cr.GetCompletedAt())
		}
		if _, _, err := gh.Checks.CreateCheckRun(ctx, testOwner, testRepo, github.CreateCheckRunOptions{
			Name: "x", HeadSHA: strings.Repeat("0", 40),
		}); statusOf(err) != http.StatusUnprocessableEntity {
			t.Errorf("check run on unknown commit: err = %v, want 422", err)
		}
		runs := f.CheckRuns(testOwner, testRepo)
		if len(runs) != 1 || runs[0].Conclusion != "success" || runs[0].Title != "Validation passed" || runs[0].AnnotationsCount != 1 {
			t.Errorf("check runs = %+v", runs)
		}
	})

	t.Run("reviews", func(t *testing.T) { exerciseReviews(t, f, gh, tok) })

	// Every operation the fake serves was exercised, and every request and
	// response of it went through the validator.
	resp, req := f.ValidatedResponses(), f.ValidatedRequests()
	for _, rt := range f.routes() {
		spec, err := f.conf.operation(rt.method, rt.specPath)
		if err != nil {
			t.Fatal(err)
		}
		op := spec.Operation.OperationID
		if op == "apps/create-installation-access-token" {
			continue // TestInstallationToken and TestGhinstallation
		}
		if resp[op] == 0 || resp[op] != req[op] {
			t.Errorf("%s: %d requests and %d responses validated", op, req[op], resp[op])
		}
	}
	t.Logf("GitHub's OpenAPI description loaded in %v; validated responses: %v", SpecLoadTime(), resp)
}

// TestConformanceFailures proves the validator bites: a corrupted response
// body and a request GitHub would reject are both reported.
func TestConformanceFailures(t *testing.T) {
	var mu sync.Mutex
	reported := map[string][]error{}
	f := newFixture(t,
		WithReporter(func(op string, err error) {
			mu.Lock()
			defer mu.Unlock()
			reported[op] = append(reported[op], err)
		}),
		WithResponseHook(func(op string, status int, body []byte) []byte {
			if op != "issues/create-comment" || status != http.StatusCreated {
				return body
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				return body
			}
			delete(m, "id")              // required
			m["created_at"] = 1700000000 // GitHub sends a date-time string
			out, _ := json.Marshal(m)
			return out
		}))
	ctx := context.Background()
	tok := f.MintToken(testInst)
	issue := f.AddIssue(testOwner, testRepo)
	gh := ghClient(t, f.Server, tok)
	if _, _, err := gh.Issues.CreateComment(ctx, testOwner, testRepo, issue, &github.IssueComment{Body: github.Ptr("hi")}); err != nil {
		t.Fatal(err)
	}
	id := f.AddComment(testOwner, testRepo, issue, "alice", "hello")
	_, _, err := gh.Reactions.CreateIssueCommentReaction(ctx, testOwner, testRepo, id, "thumbs-up")
	if statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("invalid reaction: err = %v, want 422", err)
	}
	if _, _, err := gh.Repositories.Get(ctx, testOwner, testRepo); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if errs := reported["issues/create-comment"]; len(errs) != 1 ||
		!strings.Contains(errs[0].Error(), `"id"`) || !strings.Contains(errs[0].Error(), "created_at") {
		t.Errorf("corrupted comment response: reported %v", errs)
	}
	if errs := reported["reactions/create-for-issue-comment"]; len(errs) != 1 || !strings.Contains(errs[0].Error(), "request") {
		t.Errorf("invalid reaction request: reported %v", errs)
	}
	if errs := reported["repos/get"]; len(errs) != 0 {
		t.Errorf("a conformant response was reported: %v", errs)
	}
	if len(f.Reactions(testOwner, testRepo)) != 0 {
		t.Error("an invalid request changed state")
	}
}

// TestConcurrentRequests: the bot talks to the fake from several workers.
func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	tok := f.MintToken(testInst)
	issue := f.AddIssue(testOwner, testRepo)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gh, err := github.NewClient(github.WithAuthToken(tok), github.WithEnterpriseURLs(f.URL, f.URL))
			if err != nil {
				errs <- err
				return
			}
			if _, _, err := gh.Issues.CreateComment(context.Background(), testOwner, testRepo, issue, &github.IssueComment{Body: github.Ptr(fmt.Sprint(i))}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ids := map[int64]bool{}
	for _, c := range f.Comments(testOwner, testRepo) {
		ids[c.ID] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct comments, want %d", len(ids), n)
	}
	if got := f.ValidatedResponses()["issues/create-comment"]; got != n {
		t.Errorf("validated %d responses, want %d", got, n)
	}
}

func TestFailNext(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.MintToken(testInst)

	f.FailNext("GET", "/repos/{owner}/{repo}", http.StatusBadGateway, nil)
	gh := ghClient(t, f.Server, tok)
	if _, _, err := gh.Repositories.Get(ctx, testOwner, testRepo); statusOf(err) != http.StatusBadGateway {
		t.Fatalf("first call: err = %v, want 502", err)
	}
	if _, _, err := gh.Repositories.Get(ctx, testOwner, testRepo); err != nil {
		t.Fatalf("second call: %v", err)
	}

	f.FailNext("POST", "/repos/*/*/issues/*/comments", http.StatusForbidden, map[string]string{"Retry-After": "7"})
	issue := f.AddIssue(testOwner, testRepo)
	_, _, err := gh.Issues.CreateComment(ctx, testOwner, testRepo, issue, &github.IssueComment{Body: github.Ptr("x")})
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.RetryAfter == nil || *abuse.RetryAfter != 7*time.Second {
		t.Fatalf("secondary rate limit: err = %#v", err)
	}
	if len(f.Comments(testOwner, testRepo)) != 0 {
		t.Error("a failed request changed state")
	}
	// go-github now waits out Retry-After itself; a fresh client goes through.
	if _, _, err := ghClient(t, f.Server, tok).Issues.CreateComment(ctx, testOwner, testRepo, issue, &github.IssueComment{Body: github.Ptr("x")}); err != nil {
		t.Fatalf("after the fault: %v", err)
	}

	f.FailNext("GET", "/acme/shop.git/info/refs", http.StatusServiceUnavailable, nil)
	remote := authURL(t, f.Server, tok)
	if out, err := gitCmd(t, "", "ls-remote", remote).CombinedOutput(); err == nil {
		t.Fatalf("ls-remote during the fault succeeded: %s", out)
	}
	if out, err := gitCmd(t, "", "ls-remote", remote).CombinedOutput(); err != nil {
		t.Fatalf("ls-remote after the fault: %v: %s", err, out)
	}
}

func TestSpecMissingMessage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, err := findSpec()
	if err == nil || !strings.Contains(err.Error(), "run `make test-assets`") {
		t.Fatalf("err = %v, want a hint to run `make test-assets`", err)
	}
}

var _ http.Handler = (*Server)(nil)
