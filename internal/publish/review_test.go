package publish

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
)

// deployYAML is a 20-line manifest; replace swaps numbered lines.
func deployYAML(replace map[int]string) string {
	var b strings.Builder
	for i := 1; i <= 20; i++ {
		line := fmt.Sprintf("# line %d", i)
		if r, ok := replace[i]; ok {
			line = r
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// push commits files on branch of acme/shop (from main when the branch
// is new) with the git CLI and returns the commit.
func (s *site) push(t *testing.T, branch string, files map[string]string) string {
	t.Helper()
	return s.fake.Push(t, installation, "acme", "shop", branch, files)
}

// reviewSite is a site with a pull request by alice that adds
// k8s/deploy.yaml and edits the first line of README.md.
func reviewSite(t *testing.T) (*site, Thread, string) {
	t.Helper()
	s := newSite(t)
	head := s.push(t, "feature", map[string]string{"k8s/deploy.yaml": deployYAML(nil), "README.md": "shop, reviewed\n"})
	n := s.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "alice", Head: "feature"})
	return s, Thread{Repo: s.repo, Number: n}, head
}

const suggestion = "Run as non-root.\n\n```suggestion\n    image: nginx@sha256:0123 # @owner keeps this\n```\n"

// TestPostReview: one review per head, inline comments on the lines they
// name (a suggestion block verbatim), a comment outside the diff moved to
// the body, mentions defused and secrets redacted; posting the same head
// again posts nothing.
func TestPostReview(t *testing.T) {
	s, th, head := reviewSite(t)
	ctx := context.Background()
	p := New(s.gh)
	rv := Review{Head: head, Body: "2 new findings; @alice, see below. Token: " + leaked, Comments: []ReviewComment{
		{Path: "k8s/deploy.yaml", Line: 5, Body: suggestion, Key: "KW-POL-001|Deployment/shop/api|securityContext"},
		{Path: "k8s/deploy.yaml", StartLine: 8, Line: 10, Body: "limits for @octo-org/platform", Key: "KW-POL-010|Deployment/shop/api|resources"},
		{Path: "README.md", Line: 30, Body: "not in the diff", Key: "KW-X|README"},
	}}
	got, err := p.PostReview(ctx, th, rv)
	if err != nil {
		t.Fatal(err)
	}
	if got.Existing || got.Inline != 2 || len(got.Moved) != 1 || got.Moved[0].Path != "README.md" {
		t.Errorf("posted = %+v", got)
	}
	reviews := s.fake.Reviews("acme", "shop", th.Number)
	if len(reviews) != 1 {
		t.Fatalf("%d reviews", len(reviews))
	}
	body := reviews[0].Body
	for _, want := range []string{"@\u200balice", "Token: [REDACTED]", "**`README.md:30`**", "not in the diff", "<!-- kubewright:review " + head + " -->"} {
		if !strings.Contains(body, want) {
			t.Errorf("review body lacks %q:\n%s", want, body)
		}
	}
	if reviews[0].State != "COMMENTED" || reviews[0].CommitID != head || strings.Contains(body, leaked) {
		t.Errorf("review = %+v", reviews[0])
	}
	coms := s.fake.ReviewComments("acme", "shop", th.Number)
	if len(coms) != 2 {
		t.Fatalf("%d review comments", len(coms))
	}
	if c := coms[0]; c.Line != 5 || c.StartLine != 0 || !strings.HasPrefix(c.Body, suggestion) || markerOf(c.Body, "finding") != rv.Comments[0].Key {
		t.Errorf("suggestion comment = line %d start %d body %q", c.Line, c.StartLine, c.Body)
	}
	if c := coms[1]; c.Line != 10 || c.StartLine != 8 || !strings.Contains(c.Body, "@\u200bocto-org/platform") {
		t.Errorf("range comment = line %d start %d body %q", c.Line, c.StartLine, c.Body)
	}

	again, err := p.PostReview(ctx, th, rv)
	if err != nil || !again.Existing || again.ID != got.ID {
		t.Errorf("second post of the same head = %+v, %v", again, err)
	}
	if n := len(s.fake.Reviews("acme", "shop", th.Number)); n != 1 {
		t.Errorf("%d reviews after posting the same head twice", n)
	}
	if _, err := p.PostReview(ctx, Thread{Repo: s.repo, Number: 999}, Review{Head: head}); err == nil || !strings.Contains(err.Error(), "acme/shop#999") {
		t.Errorf("review of a missing pull request: %v", err)
	}
}

// TestReviewHistory: after a push that changes a commented line, the
// history shows kubewright's review and threads with their keys, that
// thread outdated; resolving it and minimizing its comment and the old
// review land on GitHub; another bot's login sees none of it.
func TestReviewHistory(t *testing.T) {
	s, th, head := reviewSite(t)
	ctx := context.Background()
	p := New(s.gh, WithBotLogin("kubewright[bot]"))
	if _, err := p.PostReview(ctx, th, Review{Head: head, Body: "first", Comments: []ReviewComment{
		{Path: "k8s/deploy.yaml", Line: 3, Body: "privileged", Key: "k1"},
		{Path: "k8s/deploy.yaml", Line: 15, Body: "no limits", Key: "k2"},
	}}); err != nil {
		t.Fatal(err)
	}
	next := s.push(t, "feature", map[string]string{"k8s/deploy.yaml": deployYAML(map[int]string{3: "privileged: false"})})

	h, err := p.History(ctx, th)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Reviews) != 1 || h.Reviews[0].Head != head || len(h.Threads) != 2 {
		t.Fatalf("history = %+v", h)
	}
	if _, ok := h.ForHead(next); ok {
		t.Error("a review of the new head before one was posted")
	}
	byKey := map[string]PriorThread{}
	for _, th := range h.Threads {
		byKey[th.Key] = th
	}
	fixed, kept := byKey["k1"], byKey["k2"]
	if !fixed.Outdated || fixed.Line != 0 || kept.Outdated || kept.Line != 15 || kept.Path != "k8s/deploy.yaml" || fixed.CommentID == 0 {
		t.Errorf("threads = %+v", h.Threads)
	}
	if err := p.ResolveThreads(ctx, s.repo, fixed.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.MinimizeOutdated(ctx, s.repo, fixed.NodeID, h.Reviews[0].NodeID); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.fake.ReviewComments("acme", "shop", th.Number) {
		if wantFixed := c.ID == fixed.CommentID; c.Resolved != wantFixed || (c.Minimized == "outdated") != wantFixed {
			t.Errorf("comment %d: resolved %v minimized %q", c.ID, c.Resolved, c.Minimized)
		}
	}
	if got := s.fake.Reviews("acme", "shop", th.Number)[0].Minimized; got != "outdated" {
		t.Errorf("old review minimized as %q", got)
	}
	if err := p.ResolveThreads(ctx, s.repo, "PRRT_424242"); err == nil || !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Errorf("resolving a missing thread: %v", err)
	}
	if err := p.ResolveThreads(ctx, s.repo); err != nil {
		t.Errorf("resolving nothing: %v", err)
	}
	other, err := New(s.gh, WithBotLogin("other[bot]")).History(ctx, th)
	if err != nil || len(other.Reviews)+len(other.Threads) != 0 {
		t.Errorf("another bot's history = %+v, %v", other, err)
	}
}

// TestReviewCheckRun: the kubewright/review check run fails on a new
// error, carries every annotation (50 per request), redacted, and passes
// without findings.
func TestReviewCheckRun(t *testing.T) {
	s, _, head := reviewSite(t)
	ctx := context.Background()
	var fs []finding.Finding
	for i := range 120 {
		fs = append(fs, finding.Finding{ID: "KW-POL-001", Severity: finding.Error, File: "k8s/deploy.yaml", Line: i%20 + 1, Message: "literal " + leaked})
	}
	fs = append(fs, finding.Finding{ID: "KW-POL-030", Severity: finding.Warning, Message: "no file: not annotated"})
	p := New(s.gh)
	if err := p.ReviewCheckRun(ctx, s.repo, head, ReviewCheck{Findings: fs, Summary: "see @alice's review"}); err != nil {
		t.Fatal(err)
	}
	if err := p.ReviewCheckRun(ctx, s.repo, head, ReviewCheck{}); err != nil {
		t.Fatal(err)
	}
	runs := s.fake.CheckRuns("acme", "shop")
	if len(runs) != 2 {
		t.Fatalf("%d check runs", len(runs))
	}
	failed, passed := runs[0], runs[1]
	if failed.Name != ReviewCheckName || failed.Conclusion != "failure" || failed.Title != "120 new errors, 1 new warnings" ||
		len(failed.Annotations) != 120 || !strings.Contains(failed.Summary, "@\u200balice") {
		t.Errorf("failing run = %s %s %q, %d annotations, summary %q", failed.Name, failed.Conclusion, failed.Title, len(failed.Annotations), failed.Summary)
	}
	for _, a := range failed.Annotations {
		if a.Level != "failure" || strings.Contains(a.Message, leaked) || a.Title != "KW-POL-001" {
			t.Fatalf("annotation = %+v", a)
		}
	}
	if passed.Conclusion != "success" || passed.Title != "No new findings" || len(passed.Annotations) != 0 {
		t.Errorf("passing run = %+v", passed)
	}
}

// TestDefuse: mentions and HTML comments outside code are made inert;
// code spans and fenced blocks (suggestions) are kept byte for byte; an
// unclosed fence is reported.
func TestDefuse(t *testing.T) {
	tests := []struct {
		name, in, want, open string
	}{
		{"mention", "ping @alice and @org/team", "ping @\u200balice and @\u200borg/team", ""},
		{"not a mention", "mail a@b.example, price @ 3, `@code`", "mail a@b.example, price @ 3, `@code`", ""},
		{"double-backtick span", "see ``a ` @x`` and @y", "see ``a ` @x`` and @\u200by", ""},
		{"unclosed span", "a ` @x", "a ` @\u200bx", ""},
		{"html comment", "<!-- kubewright:finding 00 -->", "&lt;!-- kubewright:finding 00 -->", ""},
		{"suggestion kept", "@a\n```suggestion\nimage: x@sha256:1 # @b <!-- c -->\n```\n@d", "@\u200ba\n```suggestion\nimage: x@sha256:1 # @b <!-- c -->\n```\n@\u200bd", ""},
		{"longer fence", "````\n```\n@a\n````\n@b", "````\n```\n@a\n````\n@\u200bb", ""},
		{"tilde fence", "~~~yaml\n@a\n~~~\n@b", "~~~yaml\n@a\n~~~\n@\u200bb", ""},
		{"unclosed fence", "```suggestion\n@a", "```suggestion\n@a", "```"},
		{"indented code is text", "    ```\n@a", "    ```\n@\u200ba", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, open := defuse(tt.in)
			if got != tt.want || open != tt.open {
				t.Errorf("defuse(%q) = %q, %q; want %q, %q", tt.in, got, open, tt.want, tt.open)
			}
		})
	}
}

// FuzzDefuse: defusing only inserts zero-width spaces after @ and
// escapes "<!--"; closing the fence it reports leaves none open.
func FuzzDefuse(f *testing.F) {
	for _, s := range []string{"@a", "```\n@a\n```", "`x` @y", "<!-- kubewright:review abc -->", "~~~~\n```\n~~~~", "a\u200b@\u200bb"} {
		f.Add(s)
	}
	undo := strings.NewReplacer("@\u200b", "@", "&lt;!--", "<!--")
	f.Fuzz(func(t *testing.T, in string) {
		out, open := defuse(in)
		if undo.Replace(out) != undo.Replace(in) {
			t.Fatalf("defuse(%q) = %q changed more than mentions and comments", in, out)
		}
		if open != "" {
			if _, again := defuse(out + "\n" + open); again != "" {
				t.Fatalf("closing %q left %q open", open, again)
			}
		}
	})
}

// TestGraphQLURL: GitHub.com's GraphQL endpoint and GitHub Enterprise
// Server's, from the REST base URL.
func TestGraphQLURL(t *testing.T) {
	dotcom, err := github.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	ghes, err := github.NewClient(github.WithEnterpriseURLs("https://ghe.example.com", "https://ghe.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range map[*github.Client]string{dotcom: "https://api.github.com/graphql", ghes: "https://ghe.example.com/api/graphql"} {
		if got, err := New(c).graphqlURL(); err != nil || got != want {
			t.Errorf("graphqlURL = %q, %v; want %q", got, err, want)
		}
	}
}

// TestMarkers: a marker at the end of a body is read back; one anywhere
// else, or of the other kind, is not.
func TestMarkers(t *testing.T) {
	key := "KW-POL-001|Deployment/shop/api|spec.template.spec.containers[name=api] -->"
	body := "text\n\n" + findingMarker(key)
	if got := markerOf(body, "finding"); got != key {
		t.Errorf("finding marker = %q", got)
	}
	if got := markerOf(body+"\nmore", "finding"); got != "" {
		t.Errorf("a marker before more text = %q", got)
	}
	if got := markerOf(reviewMarker("abc123"), "finding"); got != "" {
		t.Errorf("a review marker read as a finding: %q", got)
	}
}

// TestReviewCalls: a whole review of a 20-file change, after an earlier
// review, costs seven API calls: the history, the review (its
// idempotency check, the diff, the post), one resolve, one minimize and
// the check run.
func TestReviewCalls(t *testing.T) {
	s, th, head := reviewSite(t)
	ctx := context.Background()
	p := New(s.gh, WithBotLogin("kubewright[bot]"))
	if _, err := p.PostReview(ctx, th, Review{Head: head, Body: "first", Comments: []ReviewComment{{Path: "k8s/deploy.yaml", Line: 3, Body: "x", Key: "k1"}}}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"k8s/deploy.yaml": deployYAML(map[int]string{3: "fixed"})}
	for i := range 19 {
		files[fmt.Sprintf("k8s/svc%02d.yaml", i)] = deployYAML(nil)
	}
	next := s.push(t, "feature", files)
	var fs []finding.Finding
	var coms []ReviewComment
	for i := range 19 {
		path := fmt.Sprintf("k8s/svc%02d.yaml", i)
		fs = append(fs, finding.Finding{ID: "KW-POL-001", Severity: finding.Error, File: path, Line: 4, Message: "privileged"})
		coms = append(coms, ReviewComment{Path: path, Line: 4, Body: "privileged", Key: "KW-POL-001|" + path})
	}

	s.sent.mu.Lock()
	before := len(s.sent.reqs)
	s.sent.mu.Unlock()
	start := time.Now()
	h, err := p.History(ctx, th)
	if err != nil {
		t.Fatal(err)
	}
	var gone, old []string
	for _, pt := range h.Threads {
		if pt.Outdated && !pt.Resolved {
			gone, old = append(gone, pt.ID), append(old, pt.NodeID)
		}
	}
	for _, r := range h.Reviews {
		old = append(old, r.NodeID)
	}
	if _, err := p.PostReview(ctx, th, Review{Head: next, Body: "19 new findings; 1 fixed", Comments: coms}); err != nil {
		t.Fatal(err)
	}
	if err := p.ResolveThreads(ctx, s.repo, gone...); err != nil {
		t.Fatal(err)
	}
	if err := p.MinimizeOutdated(ctx, s.repo, old...); err != nil {
		t.Fatal(err)
	}
	if err := p.ReviewCheckRun(ctx, s.repo, next, ReviewCheck{Findings: fs}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	s.sent.mu.Lock()
	calls := len(s.sent.reqs) - before
	s.sent.mu.Unlock()
	if calls != 7 || len(gone) != 1 {
		t.Errorf("%d API calls, %d threads resolved; want 7 and 1", calls, len(gone))
	}
	t.Logf("review of a 20-file change: %d API calls in %v against the fake", calls, took)
}
