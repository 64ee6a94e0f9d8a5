package githubtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"
)

// appYAML is a 12-line file the review tests comment on.
func appYAML(replace map[int]string) string {
	var b strings.Builder
	for i := 1; i <= 12; i++ {
		line := fmt.Sprintf("line %d", i)
		if r, ok := replace[i]; ok {
			line = r
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// pushFiles commits files (path -> content, "" deletes) on branch of
// owner/name (created from main when new) with the git CLI and pushes it;
// it returns the commit.
func pushFiles(t *testing.T, s *Server, token, owner, name, branch string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	u := strings.Replace(s.CloneURL(owner, name), "http://", "http://x-access-token:"+token+"@", 1)
	runGit(t, "", "clone", "--quiet", u, dir)
	if runGit(t, dir, "ls-remote", "--heads", "origin", branch) != "" {
		runGit(t, dir, "checkout", "--quiet", branch)
	} else {
		runGit(t, dir, "checkout", "--quiet", "-b", branch)
	}
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if body == "" {
			runGit(t, dir, "rm", "--quiet", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		runGit(t, dir, "add", p)
	}
	runGit(t, dir, "commit", "--quiet", "-m", "change "+branch)
	runGit(t, dir, "push", "--quiet", "origin", branch)
	return runGit(t, dir, "rev-parse", "HEAD")
}

// reviewPull pushes a branch that adds k8s/app.yaml and edits
// app/main.go, and opens a pull request from it as alice.
func reviewPull(t *testing.T, f fixture, token string) int {
	t.Helper()
	pushFiles(t, f.Server, token, testOwner, testRepo, "feature", map[string]string{
		"k8s/app.yaml": appYAML(nil),
		"app/main.go":  "package main\n\nfunc main() { println(1) }\n",
	})
	return f.AddPull(testOwner, testRepo, PullSpec{User: "alice", Head: "feature", Title: "Add the app"})
}

func comment(path string, line int, body string) *github.DraftReviewComment {
	return &github.DraftReviewComment{Path: github.Ptr(path), Line: github.Ptr(line), Side: github.Ptr("RIGHT"), Body: github.Ptr(body)}
}

// exerciseReviews goes through every review, file and annotation route
// once, through go-github; TestREST calls it so that its coverage check
// sees them.
func exerciseReviews(t *testing.T, f fixture, gh *github.Client, token string) {
	ctx := context.Background()
	n := reviewPull(t, f, token)

	files, _, err := gh.PullRequests.ListFiles(ctx, testOwner, testRepo, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, fl := range files {
		got[fl.GetFilename()] = fmt.Sprintf("%s +%d -%d", fl.GetStatus(), fl.GetAdditions(), fl.GetDeletions())
	}
	want := map[string]string{"k8s/app.yaml": "added +12 -0", "app/main.go": "modified +1 -1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	for _, fl := range files {
		if fl.GetFilename() == "k8s/app.yaml" && !strings.HasPrefix(fl.GetPatch(), "@@ -0,0 +1,12 @@\n+line 1\n") {
			t.Errorf("patch of k8s/app.yaml = %q", fl.GetPatch())
		}
	}

	multi := comment("k8s/app.yaml", 7, "lines 5 to 7")
	multi.StartLine, multi.StartSide = github.Ptr(5), github.Ptr("RIGHT")
	rv, _, err := gh.PullRequests.CreateReview(ctx, testOwner, testRepo, n, &github.PullRequestReviewRequest{
		Body: github.Ptr("Two findings"), Event: github.Ptr("COMMENT"),
		Comments: []*github.DraftReviewComment{comment("k8s/app.yaml", 3, "line 3"), multi},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rv.GetState() != "COMMENTED" || rv.GetCommitID() != f.Heads(testOwner, testRepo)["feature"] || rv.GetUser().GetLogin() != "kubewright[bot]" {
		t.Errorf("review = %s on %s by %s", rv.GetState(), rv.GetCommitID(), rv.GetUser().GetLogin())
	}
	reviews, _, err := gh.PullRequests.ListReviews(ctx, testOwner, testRepo, n, nil)
	if err != nil || len(reviews) != 1 || reviews[0].GetBody() != "Two findings" {
		t.Fatalf("reviews = %v, %v", reviews, err)
	}
	coms, _, err := gh.PullRequests.ListComments(ctx, testOwner, testRepo, n, nil)
	if err != nil || len(coms) != 2 {
		t.Fatalf("review comments = %v, %v", coms, err)
	}
	if c := coms[1]; c.GetLine() != 7 || c.GetStartLine() != 5 || c.GetSide() != "RIGHT" || c.GetPullRequestReviewID() != rv.GetID() ||
		!strings.HasSuffix(c.GetDiffHunk(), "+line 7") || c.GetPosition() != 7 {
		t.Errorf("multi-line comment = line %d start %d side %s review %d position %d hunk %q",
			c.GetLine(), c.GetStartLine(), c.GetSide(), c.GetPullRequestReviewID(), c.GetPosition(), c.GetDiffHunk())
	}
	edited, _, err := gh.PullRequests.EditComment(ctx, testOwner, testRepo, coms[0].GetID(), &github.PullRequestComment{Body: github.Ptr("line 3, edited")})
	if err != nil || edited.GetBody() != "line 3, edited" {
		t.Fatalf("edit = %v, %v", edited.GetBody(), err)
	}

	cr, _, err := gh.Checks.CreateCheckRun(ctx, testOwner, testRepo, github.CreateCheckRunOptions{
		Name: "kubewright/review", HeadSHA: rv.GetCommitID(), Conclusion: github.Ptr("failure"),
		Output: &github.CheckRunOutput{Title: github.Ptr("1 finding"), Summary: github.Ptr("…"), Annotations: []*github.CheckRunAnnotation{{
			Path: github.Ptr("k8s/app.yaml"), StartLine: github.Ptr(3), EndLine: github.Ptr(3),
			AnnotationLevel: github.Ptr("failure"), Title: github.Ptr("KW-POL-001"), Message: github.Ptr("privileged"),
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	anns, _, err := gh.Checks.ListCheckRunAnnotations(ctx, testOwner, testRepo, cr.GetID(), nil)
	if err != nil || len(anns) != 1 || anns[0].GetTitle() != "KW-POL-001" || anns[0].GetStartLine() != 3 || anns[0].GetAnnotationLevel() != "failure" {
		t.Fatalf("annotations = %v, %v", anns, err)
	}
}

// TestReviewRules: comments the diff does not show, reviews GitHub
// refuses, and invalid annotations are answered with GitHub's 422 and
// change nothing.
func TestReviewRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.MintToken(testInst)
	gh := ghClient(t, f.Server, tok)
	n := reviewPull(t, f, tok)
	tests := []struct {
		name    string
		event   string
		comment *github.DraftReviewComment
		want    string
	}{
		{"file outside the diff", "COMMENT", comment("README.md", 1, "x"), "Path could not be resolved"},
		{"line past the file", "COMMENT", comment("k8s/app.yaml", 40, "x"), "line must be part of the diff"},
		{"start after end", "COMMENT", &github.DraftReviewComment{Path: github.Ptr("k8s/app.yaml"), Line: github.Ptr(2), StartLine: github.Ptr(4), Body: github.Ptr("x")}, "must precede the end line"},
		{"blank comment", "COMMENT", comment("k8s/app.yaml", 2, " "), "body can't be blank"},
		{"changes without a body", "REQUEST_CHANGES", nil, "Body is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &github.PullRequestReviewRequest{Event: github.Ptr(tt.event)}
			if tt.comment != nil {
				req.Comments = []*github.DraftReviewComment{tt.comment}
			}
			_, _, err := gh.PullRequests.CreateReview(ctx, testOwner, testRepo, n, req)
			if statusOf(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want 422 saying %q", err, tt.want)
			}
		})
	}
	if got := f.Reviews(testOwner, testRepo, n); len(got) != 0 {
		t.Errorf("refused reviews were stored: %+v", got)
	}

	// The bot may not approve its own pull request.
	pushFiles(t, f.Server, tok, testOwner, testRepo, "kubewright/x", map[string]string{"Dockerfile": "FROM scratch\n"})
	own, _, err := gh.PullRequests.Create(ctx, testOwner, testRepo, &github.NewPullRequest{Title: github.Ptr("x"), Head: github.Ptr("kubewright/x"), Base: github.Ptr("main")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.PullRequests.CreateReview(ctx, testOwner, testRepo, own.GetNumber(), &github.PullRequestReviewRequest{Event: github.Ptr("APPROVE")}); statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("approving its own pull request: err = %v, want 422", err)
	}

	// Annotations: columns only on one line (more than 50 in a request is
	// a conformance failure: GitHub's description caps the array).
	sha := f.Heads(testOwner, testRepo)["feature"]
	bad := &github.CheckRunAnnotation{Path: github.Ptr("k8s/app.yaml"), StartLine: github.Ptr(1), EndLine: github.Ptr(2), StartColumn: github.Ptr(1), EndColumn: github.Ptr(3),
		AnnotationLevel: github.Ptr("warning"), Message: github.Ptr("m")}
	_, _, err = gh.Checks.CreateCheckRun(ctx, testOwner, testRepo, github.CreateCheckRunOptions{Name: "k", HeadSHA: sha, Conclusion: github.Ptr("neutral"),
		Output: &github.CheckRunOutput{Title: github.Ptr("t"), Summary: github.Ptr("s"), Annotations: []*github.CheckRunAnnotation{bad}}})
	if statusOf(err) != http.StatusUnprocessableEntity || len(f.CheckRuns(testOwner, testRepo)) != 0 {
		t.Errorf("columns over two lines: err = %v, want 422 and no check run", err)
	}
}

// TestReviewCommentsFollowPushes: a push that changes a commented line
// outdates its comment; a comment below an insertion moves down with its
// lines; a comment the push did not touch stays.
func TestReviewCommentsFollowPushes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.MintToken(testInst)
	gh := ghClient(t, f.Server, tok)
	n := reviewPull(t, f, tok)
	multi := comment("k8s/app.yaml", 7, "lines 5 to 7")
	multi.StartLine = github.Ptr(5)
	if _, _, err := gh.PullRequests.CreateReview(ctx, testOwner, testRepo, n, &github.PullRequestReviewRequest{
		Event:    github.Ptr("COMMENT"),
		Comments: []*github.DraftReviewComment{comment("k8s/app.yaml", 3, "line 3"), multi, comment("app/main.go", 3, "main")},
	}); err != nil {
		t.Fatal(err)
	}
	// Line 3 changes and a line is inserted above it.
	head := pushFiles(t, f.Server, tok, testOwner, testRepo, "feature", map[string]string{
		"k8s/app.yaml": "# header\n" + appYAML(map[int]string{3: "line three"}),
	})
	coms, _, err := gh.PullRequests.ListComments(ctx, testOwner, testRepo, n, nil)
	if err != nil || len(coms) != 3 {
		t.Fatalf("comments = %v, %v", coms, err)
	}
	type where struct {
		line, start int
		commit      string
	}
	got := map[string]where{}
	for _, c := range coms {
		got[c.GetBody()] = where{c.GetLine(), c.GetStartLine(), c.GetCommitID()}
	}
	if w := got["line 3"]; w.line != 0 || w.commit == head {
		t.Errorf("the changed line's comment = %+v, want outdated (no line) on the old commit", w)
	}
	if w := got["lines 5 to 7"]; w.line != 8 || w.start != 6 || w.commit != head {
		t.Errorf("the moved comment = %+v, want lines 6-8 on %s", w, head)
	}
	if w := got["main"]; w.line != 3 || w.commit != head {
		t.Errorf("the untouched comment = %+v, want line 3 on %s", w, head)
	}
	for _, c := range f.ReviewComments(testOwner, testRepo, n) {
		if c.Outdated != (c.Body == "line 3") || c.OriginalLine == 0 {
			t.Errorf("stored comment %q: outdated %v original line %d", c.Body, c.Outdated, c.OriginalLine)
		}
	}
}

// TestForkPull: a pull request from a fork has its head in the fork, its
// commits in the base repository, and follows pushes to the fork.
func TestForkPull(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.AddFork(testOwner, testRepo, "mallory")
	f.AddInstallation(99, "mallory")
	mallory := f.MintToken(99)
	pushFiles(t, f.Server, mallory, "mallory", testRepo, "patch", map[string]string{"k8s/app.yaml": appYAML(nil)})
	n := f.AddPull(testOwner, testRepo, PullSpec{User: "mallory", HeadOwner: "mallory", Head: "patch"})

	gh := ghClient(t, f.Server, f.MintToken(testInst))
	pr, _, err := gh.PullRequests.Get(ctx, testOwner, testRepo, n)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetHead().GetRepo().GetFullName() != "mallory/shop" || !pr.GetHead().GetRepo().GetFork() || pr.GetHead().GetLabel() != "mallory:patch" ||
		pr.GetBase().GetRepo().GetFullName() != "acme/shop" {
		t.Errorf("head %s (fork %v) label %s, base %s", pr.GetHead().GetRepo().GetFullName(), pr.GetHead().GetRepo().GetFork(), pr.GetHead().GetLabel(), pr.GetBase().GetRepo().GetFullName())
	}
	if _, _, err := gh.PullRequests.CreateReview(ctx, testOwner, testRepo, n, &github.PullRequestReviewRequest{
		Event: github.Ptr("COMMENT"), Comments: []*github.DraftReviewComment{comment("k8s/app.yaml", 1, "from a fork")},
	}); err != nil {
		t.Fatal(err)
	}
	next := pushFiles(t, f.Server, mallory, "mallory", testRepo, "patch", map[string]string{"k8s/more.yaml": "a: 1\n"})
	files, _, err := gh.PullRequests.ListFiles(ctx, testOwner, testRepo, n, nil)
	if err != nil || len(files) != 2 {
		t.Fatalf("files after the fork's push = %v, %v", files, err)
	}
	if got := f.Pulls(testOwner, testRepo)[0].HeadSHA; got != next {
		t.Errorf("head = %s, want the fork's new commit %s", got, next)
	}
	// The bot's installation cannot reach the fork itself.
	if _, _, err := gh.Repositories.Get(ctx, "mallory", testRepo); statusOf(err) != http.StatusNotFound {
		t.Errorf("the fork through acme's token: err = %v, want 404", err)
	}
}

// TestListFilesPages: a pull request's files come 30 a page by default,
// with a Link to the next page.
func TestListFilesPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.MintToken(testInst)
	files := map[string]string{}
	for i := range 35 {
		files[fmt.Sprintf("k8s/f%02d.yaml", i)] = "a: 1\n"
	}
	pushFiles(t, f.Server, tok, testOwner, testRepo, "many", files)
	n := f.AddPull(testOwner, testRepo, PullSpec{Head: "many"})
	gh := ghClient(t, f.Server, tok)
	first, resp, err := gh.PullRequests.ListFiles(ctx, testOwner, testRepo, n, nil)
	if err != nil || len(first) != 30 || resp.NextPage != 2 {
		t.Fatalf("first page: %d files, next %d, %v", len(first), resp.NextPage, err)
	}
	second, resp, err := gh.PullRequests.ListFiles(ctx, testOwner, testRepo, n, &github.ListOptions{Page: 2})
	if err != nil || len(second) != 5 || resp.NextPage != 0 || second[4].GetFilename() != "k8s/f34.yaml" {
		t.Fatalf("second page: %d files, next %d, %v", len(second), resp.NextPage, err)
	}
}
