package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
	"github.com/kubewright/kubewright/internal/workspace"
)

const installation = 7

// site is a fake GitHub with one repository, acme/shop, and a client of
// its installation whose requests are recorded.
type site struct {
	fake  *githubtest.Server
	gh    *github.Client
	token string
	sent  *recorder
	repo  Repo
}

func newSite(t *testing.T) *site {
	t.Helper()
	fake := githubtest.New(t)
	fake.AddInstallation(installation, "acme")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "README.md"), []byte("shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake.AddRepo("acme", "shop", src)
	token := fake.MintToken(installation)
	rec := &recorder{base: http.DefaultTransport}
	gh, err := github.NewClient(github.WithTransport(rec), github.WithAuthToken(token), github.WithEnterpriseURLs(fake.URL, fake.URL))
	if err != nil {
		t.Fatal(err)
	}
	return &site{fake: fake, gh: gh, token: token, sent: rec, repo: Repo{Owner: "acme", Name: "shop"}}
}

func (s *site) thread() Thread { return Thread{Repo: s.repo, Number: s.fake.AddIssue("acme", "shop")} }

func (s *site) comments(issue int) []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range s.fake.Comments("acme", "shop") {
		if c.Issue == issue {
			out = append(out, c)
		}
	}
	return out
}

// recorder keeps the bodies of the requests it carries.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []sent
}

type sent struct {
	method, path string
	body         []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, sent{method: req.Method, path: req.URL.Path, body: body})
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) last(method, suffix string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reqs) - 1; i >= 0; i-- {
		if q := r.reqs[i]; q.method == method && strings.HasSuffix(q.path, suffix) {
			return q.body
		}
	}
	return nil
}

// A token assembled from pieces so that secret scanners do not flag this
// file; it is not real.
var leaked = "ghp_" + strings.Repeat("A1b2C3d4E5", 3) + "f6G7h8"

// failingStore is a StatusStore whose every call fails.
type failingStore struct{}

func (failingStore) LoadStatus(context.Context, string) (int64, int, bool, error) {
	return 0, 0, false, errors.New("database down")
}
func (failingStore) SaveStatus(context.Context, string, int64, int) error {
	return errors.New("database down")
}
func (failingStore) ForgetStatus(context.Context, string) error { return errors.New("database down") }

var _ StatusStore = failingStore{}

// TestStatusCreateOrEdit: a delivery's status is one comment, created
// once and edited after, across replicas sharing a store; finishing
// forgets it; a deleted comment or a store that fails costs a new comment,
// never the job; another failure to edit is the caller's error.
func TestStatusCreateOrEdit(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	type step struct {
		body   string
		finish bool
		fail   int // the edit before this step answers this HTTP status
		err    bool
	}
	tests := []struct {
		name     string
		store    func() StatusStore
		replicas int
		steps    []step
		want     int // comments on the thread
		last     string
	}{
		{"created then edited", NewMemoryStatus, 1, []step{{body: "⏳ Queued: 2"}, {body: "⏳ Queued: 1"}, {body: "🔄 In progress"}, {body: "✅ Opened", finish: true}}, 1, "✅ Opened"},
		{"replicas share the store", NewMemoryStatus, 2, []step{{body: "⏳ Queued: 1"}, {body: "🔄 In progress"}, {body: "✅ done", finish: true}}, 1, "✅ done"},
		{"finished status is forgotten", NewMemoryStatus, 1, []step{{body: "first", finish: true}, {body: "second", finish: true}}, 2, "second"},
		{"deleted comment starts another", NewMemoryStatus, 1, []step{{body: "⏳ Queued: 1"}, {body: "🔄 In progress", fail: http.StatusNotFound}}, 2, "🔄 In progress"},
		{"edit failure is returned", NewMemoryStatus, 1, []step{{body: "⏳ Queued: 1"}, {body: "🔄 In progress", fail: http.StatusBadGateway, err: true}}, 1, "⏳ Queued: 1"},
		{"failing store costs a comment", func() StatusStore { return failingStore{} }, 1, []step{{body: "a"}, {body: "b", finish: true}}, 2, "b"},
		{"secrets are redacted", NewMemoryStatus, 1, []step{{body: "token " + leaked, finish: true}}, 1, "token [REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, store := s.thread(), tt.store()
			var pubs []*Publisher
			for range tt.replicas {
				pubs = append(pubs, New(s.gh, WithStatusStore(store)))
			}
			for i, st := range tt.steps {
				if st.fail != 0 {
					s.fake.FailNext(http.MethodPatch, "/repos/{owner}/{repo}/issues/comments/{comment_id}", st.fail, nil)
				}
				p, ahead := pubs[i%len(pubs)], len(tt.steps)-i
				var err error
				if st.finish {
					err = p.FinishStatus(ctx, th, "delivery-"+tt.name, st.body)
				} else {
					err = p.SetStatus(ctx, th, "delivery-"+tt.name, st.body, ahead)
				}
				if (err != nil) != st.err {
					t.Fatalf("step %d: error %v, want error %v", i, err, st.err)
				}
			}
			got := s.comments(th.Number)
			if len(got) != tt.want || got[len(got)-1].Body != tt.last {
				t.Errorf("%d comments ending with %q, want %d ending with %q", len(got), got[len(got)-1].Body, tt.want, tt.last)
			}
		})
	}
}

// TestStatusRecordsPosition: the store holds the position last shown, and
// Running once the job runs.
func TestStatusRecordsPosition(t *testing.T) {
	s := newSite(t)
	ctx, th, store := context.Background(), s.thread(), NewMemoryStatus()
	p := New(s.gh, WithStatusStore(store))
	for _, ahead := range []int{3, Running} {
		if err := p.SetStatus(ctx, th, "d", fmt.Sprint(ahead), ahead); err != nil {
			t.Fatal(err)
		}
		if _, shown, ok, _ := store.LoadStatus(ctx, "d"); !ok || shown != ahead {
			t.Errorf("store shows %d (kept %v), want %d", shown, ok, ahead)
		}
	}
}

// TestCommentAndReact: a comment is posted redacted; a reaction lands on
// the comment it names.
func TestCommentAndReact(t *testing.T) {
	s := newSite(t)
	ctx, th := context.Background(), s.thread()
	p := New(s.gh)
	if err := p.Comment(ctx, th, "the key is "+leaked); err != nil {
		t.Fatal(err)
	}
	if got := s.comments(th.Number); len(got) != 1 || got[0].Body != "the key is [REDACTED]" {
		t.Errorf("comments %+v", got)
	}
	id := s.fake.AddComment("acme", "shop", th.Number, "octocat", "/ai containerize")
	if err := p.React(ctx, s.repo, id, "eyes"); err != nil {
		t.Fatal(err)
	}
	if got := s.fake.Reactions("acme", "shop"); len(got) != 1 || got[0].CommentID != id || got[0].Content != "eyes" {
		t.Errorf("reactions %+v", got)
	}
	if err := p.Comment(ctx, Thread{Repo: s.repo, Number: 999}, "x"); err == nil || !strings.Contains(err.Error(), "acme/shop#999") {
		t.Errorf("comment on a missing issue: %v", err)
	}
}

// pushBranch commits one file on a new branch of acme/shop.
func (s *site) pushBranch(t *testing.T, branch string) {
	t.Helper()
	ctx := context.Background()
	ws, err := workspace.Clone(ctx, s.fake.CloneURL("acme", "shop"), s.token, "main", workspace.CloneOptions{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.Branch(branch); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws.Dir(), "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Commit("add a Dockerfile", workspace.Signature{Name: "kubewright[bot]", Email: "bot@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := ws.Push(ctx, branch); err != nil {
		t.Fatal(err)
	}
}

// TestUpsertPR: the first call opens the pull request (a draft when
// asked), the next ones edit it: one pull request per branch, its title
// and body redacted.
func TestUpsertPR(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	s.pushBranch(t, "kubewright/containerize-1")
	p := New(s.gh)
	tests := []struct {
		name, body string
		draft      bool
		wantBody   string
		wantDraft  bool
	}{
		{"opens a draft", "first " + leaked, true, "first [REDACTED]", true},
		{"edits the open one", "second", false, "second", true},
		{"edits it again", "third", false, "third", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, err := p.UpsertPR(ctx, s.repo, PullRequest{Head: "kubewright/containerize-1", Base: "main", Title: "Containerize " + leaked, Body: tt.body, Draft: tt.draft})
			if err != nil {
				t.Fatal(err)
			}
			pulls := s.fake.Pulls("acme", "shop")
			if len(pulls) != 1 {
				t.Fatalf("%d pull requests, want 1", len(pulls))
			}
			got := pulls[0]
			if got.Number != pr.GetNumber() || got.Body != tt.wantBody || got.Title != "Containerize [REDACTED]" || got.Draft != tt.wantDraft || got.Base != "main" {
				t.Errorf("pull request %+v (returned #%d)", got, pr.GetNumber())
			}
		})
	}
	if _, err := p.UpsertPR(ctx, s.repo, PullRequest{Head: "no-such-branch", Base: "main", Title: "x"}); err == nil || !strings.Contains(err.Error(), "no-such-branch") {
		t.Errorf("a branch that does not exist: %v", err)
	}
}

// TestCheckRun: the check run carries the conclusion, the summary table
// and at most maxAnnotations annotations (findings with a file and a
// line), redacted on the wire.
func TestCheckRun(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	sha := s.fake.Heads("acme", "shop")["main"]
	var many []finding.Finding
	for i := range maxAnnotations + 10 {
		many = append(many, finding.Finding{ID: fmt.Sprintf("KW-T-%d", i), Severity: finding.Error, File: "k8s/a.yaml", Line: i + 1,
			Message: "literal " + leaked, Hint: "password: " + leaked})
	}
	tests := []struct {
		name                 string
		rep                  *Report
		conclusion, title    string
		annotations          int
		summaryHas, levelHas string
	}{
		{"passing", &Report{Stages: []Stage{{Name: "schema"}, {Name: "policy", Warnings: 1}},
			Findings: []finding.Finding{{ID: "KW-POL-030", Severity: finding.Warning, File: "k8s/x.yaml", Line: 3, Message: "no NetworkPolicy"}, {ID: "KW-POL-031", Severity: finding.Info, Message: "no file"}}},
			"success", "All validation stages passed", 1, "| policy | ⚠️ warnings | 0 | 1 |", "warning"},
		{"capped and redacted", &Report{Stages: []Stage{{Name: "policy", Errors: len(many)}}, Findings: many},
			"failure", fmt.Sprintf("%d validation errors", len(many)), maxAnnotations, "| policy | ❌ fail | 60 | 0 |", "failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := New(s.gh).CheckRun(ctx, s.repo, sha, tt.rep); err != nil {
				t.Fatal(err)
			}
			runs := s.fake.CheckRuns("acme", "shop")
			cr := runs[len(runs)-1]
			if cr.Name != "kubewright" || cr.HeadSHA != sha || cr.Status != "completed" || cr.Conclusion != tt.conclusion ||
				cr.Title != tt.title || cr.AnnotationsCount != tt.annotations || !strings.Contains(cr.Summary, tt.summaryHas) {
				t.Errorf("check run %+v", cr)
			}
			var body github.CreateCheckRunOptions
			if err := json.Unmarshal(s.sent.last(http.MethodPost, "/check-runs"), &body); err != nil {
				t.Fatal(err)
			}
			for _, a := range body.Output.Annotations {
				if strings.Contains(a.GetMessage(), leaked) || a.GetAnnotationLevel() != tt.levelHas || a.GetStartLine() == 0 {
					t.Errorf("annotation %+v", a)
				}
			}
			if a := body.Output.Annotations[0]; tt.rep == tests[1].rep && a.GetMessage() != "literal [REDACTED]\npassword: [REDACTED]" {
				t.Errorf("annotation message %q", a.GetMessage())
			}
		})
	}
	if err := New(s.gh).CheckRun(ctx, s.repo, strings.Repeat("0", 40), &Report{}); err == nil {
		t.Error("a check run on a commit that does not exist succeeded")
	}
}

// TestCheckRunRedacts: annotations' titles and messages, the title and the
// summary are redacted before they leave.
func TestCheckRunRedacts(t *testing.T) {
	opts := New(nil).checkRunOptions("abc", &Report{
		Stages: []Stage{{Name: "policy", Errors: 1}},
		Findings: []finding.Finding{{ID: "KW-POL-020", Severity: finding.Error, File: "k8s/a.yaml", Line: 3,
			Message: "literal " + leaked, Hint: "password: " + leaked}},
	})
	if len(opts.Output.Annotations) != 1 {
		t.Fatalf("annotations %+v", opts.Output.Annotations)
	}
	a := opts.Output.Annotations[0]
	for _, s := range []string{a.GetTitle(), a.GetMessage(), opts.Output.GetTitle(), opts.Output.GetSummary()} {
		if strings.Contains(s, leaked) {
			t.Errorf("published %q", s)
		}
	}
	if !strings.Contains(a.GetMessage(), "literal ") || a.GetTitle() != "KW-POL-020" {
		t.Errorf("annotation lost its text: %q %q", a.GetTitle(), a.GetMessage())
	}
}

// TestMemoryStatusBounded: the in-memory store never grows past its cap.
func TestMemoryStatusBounded(t *testing.T) {
	s := NewMemoryStatus().(*memoryStatus)
	ctx := context.Background()
	for i := range maxMemoryStatus + 50 {
		s.SaveStatus(ctx, fmt.Sprintf("d-%d", i), int64(i), 0)
	}
	if n := len(s.ids); n != maxMemoryStatus {
		t.Errorf("%d entries, want %d", n, maxMemoryStatus)
	}
	last := fmt.Sprintf("d-%d", maxMemoryStatus+49)
	if id, _, ok, _ := s.LoadStatus(ctx, last); !ok || id != int64(maxMemoryStatus+49) {
		t.Errorf("the newest entry is missing")
	}
	s.ForgetStatus(ctx, last)
	if _, _, ok, _ := s.LoadStatus(ctx, last); ok {
		t.Error("ForgetStatus kept the entry")
	}
}

// The validation check run concludes from the errors the change adds when
// it was compared with its base; the base's own errors do not fail it.
func TestCheckRunConclusion(t *testing.T) {
	own := finding.Finding{ID: "KW-POL-001", Severity: finding.Error, Stage: "policy", File: "k8s/web/deployment.yaml", Line: 19, Message: "may run as root"}
	p := New(nil)
	for _, tc := range []struct {
		name              string
		rep               *Report
		conclusion, title string
	}{
		{"clean", &Report{}, "success", "All validation stages passed"},
		{"errors, not compared", &Report{Findings: []finding.Finding{own}}, "failure", "1 validation errors"},
		{"the base's errors only", &Report{Findings: []finding.Finding{own}, Compared: true}, "neutral", "No new validation errors (the base branch has 1)"},
		{"errors the change adds", &Report{Findings: []finding.Finding{own, own}, Compared: true, Added: 1}, "failure", "1 validation errors this change adds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := p.checkRunOptions("0123456789abcdef", tc.rep)
			if o.GetConclusion() != tc.conclusion || o.Output.GetTitle() != tc.title {
				t.Errorf("conclusion %q title %q", o.GetConclusion(), o.Output.GetTitle())
			}
			if tc.rep.Findings != nil && len(o.Output.Annotations) != len(tc.rep.Findings) {
				t.Errorf("annotations: %d", len(o.Output.Annotations))
			}
		})
	}
}
