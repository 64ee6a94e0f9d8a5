package job_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

// reviewRepo is a small platform repository: a Go service, its
// Dockerfile, a kustomization that a Flux Kustomization applies. It
// validates clean.
var reviewRepo = filepath.Join("testdata", "review-repo")

// push commits files (a path to new content; "" deletes) on branch of
// owner/name with the git CLI, from the default branch when the branch is
// new, and returns the commit.
func (e *env) push(t testing.TB, owner, name, branch string, files map[string]string) string {
	t.Helper()
	return e.pushAs(t, installation, owner, name, branch, files)
}

// pushAs is push with a token of inst.
func (e *env) pushAs(t testing.TB, inst int64, owner, name, branch string, files map[string]string) string {
	t.Helper()
	return e.fake.Push(t, inst, owner, name, branch, files)
}

// pullEvent delivers a pull_request event of acme/shop#n to the Runner,
// as intake would queue it.
func (e *env) pullEvent(t testing.TB, action string, n int, draft bool) error {
	t.Helper()
	e.n++
	payload, _ := json.Marshal(github.PullRequestEvent{
		Action: github.Ptr(action), Number: github.Ptr(n),
		PullRequest: &github.PullRequest{Number: github.Ptr(n), State: github.Ptr("open"), Draft: github.Ptr(draft)},
		Repo: &github.Repository{Name: github.Ptr("shop"), FullName: github.Ptr("acme/shop"), DefaultBranch: github.Ptr("main"),
			Owner: &github.User{Login: github.Ptr("acme")}},
		Sender:       &github.User{Login: github.Ptr("alice"), ID: github.Ptr(int64(7)), Type: github.Ptr("User")},
		Installation: &github.Installation{ID: github.Ptr(int64(installation))},
	})
	d, ok := deliver(t, "pull_request", fmt.Sprintf("pr-%d", e.n), payload)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return e.runner.Handle(ctx, d)
}

// prComment posts body on pull request n as user and runs it.
func (e *env) prComment(t *testing.T, n int, user, body string) error {
	t.Helper()
	saved := e.issue
	e.issue = n
	defer func() { e.issue = saved }()
	return e.post(t, user, "User", body, true)
}

// deployment is the review repository's Deployment with edit applied.
func deployment(t *testing.T, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(reviewRepo, "k8s", "cart", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return edit(string(b))
}

// makePrivileged makes the cart container privileged.
func makePrivileged(s string) string {
	return strings.Replace(s, "          securityContext:\n            allowPrivilegeEscalation: false", "          securityContext:\n            privileged: true\n            allowPrivilegeEscalation: false", 1)
}

// makeLatest moves the image to the mutable :latest tag.
func makeLatest(s string) string {
	return strings.Replace(s, "ghcr.io/acme/cart:1.4.2", "ghcr.io/acme/cart:latest", 1)
}

// A pull request that makes a container privileged and its image
// :latest gets one review: inline comments on the lines that introduced
// them, a suggestion for the mechanical fix, a failing kubewright/review
// check run, and the Flux diff of the Kustomization that applies the
// path. A push that fixes one of them resolves its comment and posts no
// duplicate of the other.
func TestReviewPullRequest(t *testing.T) {
	e := newEnvFrom(t, reviewRepo, "")
	head := e.push(t, "acme", "shop", "harden-cart", map[string]string{
		"k8s/cart/deployment.yaml": deployment(t, func(s string) string { return makeLatest(makePrivileged(s)) }),
	})
	n := e.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "alice", Head: "harden-cart"})
	if err := e.pullEvent(t, "opened", n, false); err != nil {
		t.Fatal(err)
	}
	reviews := e.fake.Reviews("acme", "shop", n)
	if len(reviews) != 1 || reviews[0].CommitID != head || reviews[0].State != "COMMENTED" {
		t.Fatalf("reviews %+v", reviews)
	}
	comments := e.fake.ReviewComments("acme", "shop", n)
	byRule := map[string]githubtest.ReviewComment{}
	for _, c := range comments {
		for _, id := range []string{"KW-POL-003", "KW-POL-014"} {
			if strings.Contains(c.Body, id) {
				byRule[id] = c
			}
		}
	}
	priv, ok := byRule["KW-POL-003"]
	if !ok || priv.Path != "k8s/cart/deployment.yaml" || !strings.Contains(priv.Body, "```suggestion") {
		t.Fatalf("privileged comment %+v (all: %+v)", priv, comments)
	}
	if _, ok := byRule["KW-POL-014"]; !ok && !strings.Contains(reviews[0].Body, "KW-POL-014") {
		t.Errorf(":latest is neither commented on nor in the body:\n%s", reviews[0].Body)
	}
	if !strings.Contains(reviews[0].Body, "What Flux will change") || !strings.Contains(reviews[0].Body, "Kustomization flux-system/cart") {
		t.Errorf("no Flux diff in the review body:\n%s", reviews[0].Body)
	}
	golden(t, "review-body-opened.md", strings.ReplaceAll(strings.ReplaceAll(reviews[0].Body, head, "HEADSHA"), head[:7], "HEADSHA"))
	golden(t, "review-comment-privileged.md", priv.Body)
	check := findCheck(t, e, head, "kubewright/review")
	if check.Conclusion != "failure" || len(check.Annotations) == 0 {
		t.Errorf("check run %+v", check)
	}
	// The same delivery again (a redelivery) posts nothing new.
	if err := e.pullEvent(t, "synchronize", n, false); err != nil {
		t.Fatal(err)
	}
	if got := len(e.fake.Reviews("acme", "shop", n)); got != 1 {
		t.Fatalf("%d reviews after a redelivery of the same head", got)
	}

	// Push a fix of the privileged container: its comment is resolved,
	// the :latest one is not posted again.
	head2 := e.push(t, "acme", "shop", "harden-cart", map[string]string{
		"k8s/cart/deployment.yaml": deployment(t, makeLatest),
	})
	if err := e.pullEvent(t, "synchronize", n, false); err != nil {
		t.Fatal(err)
	}
	reviews = e.fake.Reviews("acme", "shop", n)
	if len(reviews) != 2 || reviews[1].CommitID != head2 {
		t.Fatalf("reviews after the push: %+v", reviews)
	}
	if !strings.Contains(reviews[1].Body, "Since the review of") {
		t.Errorf("second review does not say what changed:\n%s", reviews[1].Body)
	}
	resolved, latestComments := false, 0
	for _, c := range e.fake.ReviewComments("acme", "shop", n) {
		if c.ID == priv.ID {
			resolved = c.Resolved || c.Minimized != ""
		}
		if strings.Contains(c.Body, "KW-POL-014") {
			latestComments++
		}
	}
	if !resolved {
		t.Error("the privileged comment was not resolved after the fix")
	}
	if latestComments > 1 {
		t.Errorf(":latest posted %d times", latestComments)
	}
	// :latest is an error too: the check still fails, on it alone.
	if c := findCheck(t, e, head2, "kubewright/review"); len(c.Annotations) != 1 || c.Annotations[0].Title != "KW-POL-014" {
		t.Errorf("check after the fix: %+v", c)
	}
}

// A pull request that changes nothing a review looks at, and a draft,
// get no review; `/ai review` forces one.
func TestReviewSkips(t *testing.T) {
	e := newEnvFrom(t, reviewRepo, "")
	e.push(t, "acme", "shop", "docs", map[string]string{"README.md": "# platform\n\nNew words.\n"})
	docs := e.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "alice", Head: "docs"})
	if err := e.pullEvent(t, "opened", docs, false); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Reviews("acme", "shop", docs); len(got) != 0 {
		t.Errorf("a README change was reviewed: %+v", got)
	}
	e.push(t, "acme", "shop", "wip", map[string]string{"k8s/cart/deployment.yaml": deployment(t, makePrivileged)})
	wip := e.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "alice", Head: "wip", Draft: true})
	if err := e.pullEvent(t, "opened", wip, true); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Reviews("acme", "shop", wip); len(got) != 0 {
		t.Errorf("a draft was reviewed: %+v", got)
	}
	if err := e.prComment(t, wip, "octocat", "/ai review"); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Reviews("acme", "shop", wip); len(got) != 1 {
		t.Errorf("/ai review on a draft: %d reviews", len(got))
	}
}

// A fork's pull request is reviewed like any other, and /ai fix answers
// with the patch instead of pushing to the fork.
func TestReviewFork(t *testing.T) {
	e := newEnvFrom(t, reviewRepo, "")
	e.fake.AddFork("acme", "shop", "mallory")
	e.fake.AddInstallation(99, "mallory") // so the test can push to the fork as mallory would
	e.pushAs(t, 99, "mallory", "shop", "evil", map[string]string{"k8s/cart/deployment.yaml": deployment(t, makePrivileged)})
	n := e.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "mallory", Head: "evil", HeadOwner: "mallory"})
	if err := e.pullEvent(t, "opened", n, false); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Reviews("acme", "shop", n); len(got) != 1 || !strings.Contains(got[0].Body, "KW-POL-003") &&
		!strings.Contains(strings.Join(commentBodies(e, n), "\n"), "KW-POL-003") {
		t.Fatalf("fork review: %+v", got)
	}
	forkHeads := e.fake.Heads("mallory", "shop")
	if err := e.prComment(t, n, "octocat", "/ai fix"); err != nil {
		t.Fatal(err)
	}
	if after := e.fake.Heads("mallory", "shop"); after["evil"] != forkHeads["evil"] {
		t.Fatal("kubewright pushed to a fork")
	}
	reply := e.lastComment()
	if !strings.Contains(reply, "never pushes to forks") || !strings.Contains(reply, "```diff") || !strings.Contains(reply, "-            privileged: true") {
		t.Errorf("fix reply on a fork:\n%s", reply)
	}
}

// /ai fix on a branch of the repository pushes one commit whose files
// validate clean, on top of the branch.
func TestFixSameRepository(t *testing.T) {
	e := newEnvFrom(t, reviewRepo, "")
	head := e.push(t, "acme", "shop", "harden-cart", map[string]string{"k8s/cart/deployment.yaml": deployment(t, makePrivileged)})
	n := e.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "alice", Head: "harden-cart"})
	if err := e.prComment(t, n, "octocat", "/ai fix"); err != nil {
		t.Fatal(err)
	}
	after := e.fake.Heads("acme", "shop")["harden-cart"]
	if after == head {
		t.Fatalf("nothing pushed; reply: %s", e.lastComment())
	}
	if got := e.lastComment(); !strings.Contains(got, "Pushed") || !strings.Contains(got, "validates") {
		t.Errorf("reply %q", got)
	}
	// The pushed commit, reviewed, adds no finding.
	if err := e.prComment(t, n, "octocat", "/ai review"); err != nil {
		t.Fatal(err)
	}
	rs := e.fake.Reviews("acme", "shop", n)
	if len(rs) == 0 || rs[len(rs)-1].CommitID != after || !strings.Contains(rs[len(rs)-1].Body, "adds no findings") {
		t.Errorf("review of the fix: %+v", rs)
	}
	// mallory may not.
	if err := e.prComment(t, n, "mallory", "/ai fix"); err != nil {
		t.Fatal(err)
	}
	if got := e.lastComment(); !strings.Contains(got, "needs write") {
		t.Errorf("unauthorized fix: %q", got)
	}
}

// With a model configured, /ai fix hands what the fixers cannot fix to
// the repair agent, on a copy of the head with the fixes applied, and
// pushes both in one commit once they validate; when the model fails, the
// deterministic fixes are pushed alone.
func TestFixRepairsTheRest(t *testing.T) {
	misspelt := func(s string) string {
		return strings.Replace(s, "  replicas: 2\n", "  replicas: 2\n  replica: 2\n", 1)
	}
	repaired := proposal("Removed the misspelt field replica; replicas already sets the count.",
		llm.Edit{Path: "k8s/cart/deployment.yaml", Action: llm.ActionReplace, Content: deployment(t, func(s string) string { return s })})
	for _, tc := range []struct {
		name     string
		script   []llmtest.Reply
		calls    int
		want     []string
		leftover string // what the pushed deployment still has, "" for nothing
	}{
		{name: "repaired", script: []llmtest.Reply{repaired, reviewReply("cart keeps 2 replicas.")}, calls: 2,
			want: []string{"Pushed", "it fixes 3 of the 3 findings", "repair agent (model) fixed", "🤖 Removed the misspelt field", "🤖 risk: cart keeps 2 replicas."}},
		{name: "model fails", script: []llmtest.Reply{{Status: 500}}, calls: 1, leftover: "replica: 2",
			want: []string{"Pushed", "it fixes 1 of the 3 findings", "Left for a person", "proposed nothing that validates. The model provider failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvFrom(t, reviewRepo, "")
			head := e.push(t, "acme", "shop", "scale-cart", map[string]string{"k8s/cart/deployment.yaml": misspelt(deployment(t, makePrivileged))})
			n := e.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "alice", Head: "scale-cart", Title: "Scale cart"})
			srv := withModel(t, e, tc.script...)
			if err := e.prComment(t, n, "octocat", "/ai fix"); err != nil {
				t.Fatal(err)
			}
			reply := e.lastComment()
			if after := e.fake.Heads("acme", "shop")["scale-cart"]; after == head {
				t.Fatalf("nothing pushed; reply: %s", reply)
			}
			for _, want := range tc.want {
				if !strings.Contains(reply, want) {
					t.Errorf("reply lacks %q:\n%s", want, reply)
				}
			}
			rec := srv.Requests()
			if len(rec) != tc.calls {
				t.Fatalf("model calls: %d, want %d", len(rec), tc.calls)
			}
			if prompt := userPrompt(rec[0]); !strings.Contains(prompt, "replica") || strings.Contains(prompt, "KW-POL-003") {
				t.Errorf("the repair prompt should name the schema finding and not the one the fixer fixed:\n%s", prompt)
			}
			got := e.fake.File(t, installation, "acme", "shop", "scale-cart", "k8s/cart/deployment.yaml")
			if strings.Contains(got, "privileged: true") || tc.leftover == "" && strings.Contains(got, "replica: 2") ||
				tc.leftover != "" && !strings.Contains(got, tc.leftover) {
				t.Errorf("pushed deployment:\n%s", got)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update and read the diff):\n%s", path, got)
	}
}

func commentBodies(e *env, n int) []string {
	var out []string
	for _, c := range e.fake.ReviewComments("acme", "shop", n) {
		out = append(out, c.Body)
	}
	return out
}

func findCheck(t *testing.T, e *env, sha, name string) githubtest.CheckRun {
	t.Helper()
	for _, c := range e.fake.CheckRuns("acme", "shop") {
		if c.HeadSHA == sha && c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check run on %.7s (have %+v)", name, sha, e.fake.CheckRuns("acme", "shop"))
	return githubtest.CheckRun{}
}

// With a model, the review carries the review agent's risk notes,
// marked as the model's, fenced and redacted on the way in, made inert on
// the way out, and without effect on the check.
func TestReviewModelRisks(t *testing.T) {
	e := newEnvFrom(t, reviewRepo, "")
	srv := withModel(t, e, llmtest.Reply{Content: `{"risks":[{"risk":"One replica of cart during the rollout: @octocat, checkout fails while it restarts"}]}`})
	head := e.push(t, "acme", "shop", "one-replica", map[string]string{
		"k8s/cart/deployment.yaml": deployment(t, func(s string) string { return strings.Replace(s, "replicas: 2", "replicas: 1", 1) }),
	})
	n := e.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "alice", Head: "one-replica"})
	if err := e.pullEvent(t, "opened", n, false); err != nil {
		t.Fatal(err)
	}
	rs := e.fake.Reviews("acme", "shop", n)
	if len(rs) != 1 {
		t.Fatalf("reviews %+v", rs)
	}
	body := rs[0].Body
	if !strings.Contains(body, "From the review agent (a model; advice, never blocking)") || !strings.Contains(body, "One replica of cart during the rollout") {
		t.Errorf("no risk notes in the review:\n%s", body)
	}
	if strings.Contains(body, "@octocat") {
		t.Error("the model's @mention reached the review")
	}
	if c := findCheck(t, e, head, "kubewright/review"); c.Conclusion != "success" {
		t.Errorf("the notes changed the check: %s", c.Conclusion)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d model calls, want 1", len(reqs))
	}
	user := reqs[0].Messages[len(reqs[0].Messages)-1].Content
	if !strings.Contains(user, `<<<DATA label="flux-diff"`) || !strings.Contains(user, "replicas") {
		t.Errorf("the model did not get the fenced Flux diff:\n%s", user)
	}
}
