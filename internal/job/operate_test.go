package job_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/jobpage"
)

// show reads path at branch of acme/shop through git, as a reviewer
// would after fetching the pull request.
func (e *env) show(t *testing.T, branch, path string) string {
	t.Helper()
	return e.fake.File(t, installation, "acme", "shop", branch, path)
}

// onNewIssue posts body as octocat on a new issue and returns the issue.
func (e *env) onNewIssue(t *testing.T, user, body string) int {
	t.Helper()
	e.issue = e.fake.AddIssue("acme", "shop")
	if err := e.comment(t, user, "User", body); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return e.issue
}

func pullFor(e *env, branch string) (githubtest.Pull, bool) {
	for _, p := range e.fake.Pulls("acme", "shop") {
		if p.Head == branch {
			return p, true
		}
	}
	return githubtest.Pull{}, false
}

// Day-2 operations become validated pull requests that change exactly
// the fields the operation names; `/ai plan` answers with the same plan
// and writes nothing; mistakes get an answer that says what to do.
func TestOperations(t *testing.T) {
	e := newEnvFrom(t, reviewRepo, "")
	before := deployment(t, func(s string) string { return s })

	t.Run("scale", func(t *testing.T) {
		n := e.onNewIssue(t, "octocat", "/ai scale cart 3")
		branch := "kubewright/scale-cart-" + itoa(n)
		pr, ok := pullFor(e, branch)
		if !ok {
			t.Fatalf("no pull request on %s; status: %s", branch, e.lastComment())
		}
		if pr.Title != "kubewright: scale cart 3" || pr.Draft {
			t.Errorf("pull request %q draft=%v", pr.Title, pr.Draft)
		}
		got := e.show(t, branch, "k8s/cart/deployment.yaml")
		if want := strings.Replace(before, "replicas: 2", "replicas: 3", 1); got != want {
			t.Errorf("deployment on %s:\n%s\nwant only the replicas changed", branch, got)
		}
		if c := findCheck(t, e, e.fake.Heads("acme", "shop")[branch], "kubewright"); c.Conclusion != "success" {
			t.Errorf("check run %s: %s", c.Conclusion, c.Summary)
		}
		golden(t, "operate-scale-body.md", stableBody(pr.Body))
		if got := e.lastComment(); !strings.Contains(got, "Opened") || !strings.Contains(got, "All validation stages passed") {
			t.Errorf("status %q", got)
		}
	})

	t.Run("autoscale validates the new HorizontalPodAutoscaler on the apiserver", func(t *testing.T) {
		n := e.onNewIssue(t, "octocat", "/ai autoscale cart 2 6 --cpu 65%")
		branch := "kubewright/autoscale-cart-" + itoa(n)
		pr, ok := pullFor(e, branch)
		if !ok {
			t.Fatalf("no pull request; status: %s", e.lastComment())
		}
		if c := findCheck(t, e, e.fake.Heads("acme", "shop")[branch], "kubewright"); c.Conclusion != "success" {
			t.Errorf("check run %s: %s\n%s", c.Conclusion, c.Summary, c.Text)
		}
		for _, s := range []string{"HorizontalPodAutoscaler", "averageUtilization", "65"} {
			if !strings.Contains(pr.Body, s) {
				t.Errorf("body lacks %q:\n%s", s, pr.Body)
			}
		}
	})

	t.Run("plan writes nothing", func(t *testing.T) {
		pulls, heads := len(e.fake.Pulls("acme", "shop")), len(e.fake.Heads("acme", "shop"))
		e.onNewIssue(t, "octocat", "/ai plan image cart 1.5.0")
		got := e.lastComment()
		for _, s := range []string{"### kubewright plan: `image cart 1.5.0`", "-          image: ghcr.io/acme/cart:1.4.2", "+          image: ghcr.io/acme/cart:1.5.0", "Nothing was written", "`/ai image cart 1.5.0`"} {
			if !strings.Contains(got, s) {
				t.Errorf("plan reply lacks %q:\n%s", s, got)
			}
		}
		if len(e.fake.Pulls("acme", "shop")) != pulls || len(e.fake.Heads("acme", "shop")) != heads {
			t.Error("plan opened a pull request or pushed a branch")
		}
	})

	refusals := []struct {
		name, user, body string
		want             []string
	}{
		{"not a number", "octocat", "/ai scale cart many", []string{"❌", "REPLICAS must be a whole number", "usage: scale SERVICE REPLICAS [--force]"}},
		{"unknown service", "octocat", "/ai scale cartt 2", []string{"❌", `defines no service "cartt"; it has: cart`, "did you mean cart?"}},
		{"no Prometheus", "octocat", "/ai resources cart --from-metrics", []string{"❌", "no Prometheus is configured"}},
		{"rollback with nothing earlier", "octocat", "/ai rollback cart", []string{"❌ kubewright could not plan `rollback cart`:", "no earlier version to restore"}},
		{"rollback to an unknown revision", "octocat", "/ai rollback cart --to v9.9.9", []string{"❌", "v9.9.9 is not a commit or tag"}},
		{"read permission", "mallory", "/ai scale cart 3", []string{"needs write"}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			pulls := len(e.fake.Pulls("acme", "shop"))
			e.onNewIssue(t, tt.user, tt.body)
			got := e.lastComment()
			for _, s := range tt.want {
				if !strings.Contains(got, s) {
					t.Errorf("reply lacks %q:\n%s", s, got)
				}
			}
			if len(e.fake.Pulls("acme", "shop")) != pulls {
				t.Error("a refused operation opened a pull request")
			}
		})
	}

	t.Run("rollback restores the service as it was before its last change", func(t *testing.T) {
		first := e.fake.Heads("acme", "shop")["main"]
		e.push(t, "acme", "shop", "main", map[string]string{"k8s/cart/deployment.yaml": deployment(t, func(s string) string {
			return strings.Replace(s, "ghcr.io/acme/cart:1.4.2", "ghcr.io/acme/cart:1.5.0", 1)
		})})
		e.push(t, "acme", "shop", "main", map[string]string{"README.md": "# shop\n\nUnrelated change.\n"})
		n := e.onNewIssue(t, "octocat", "/ai rollback cart")
		branch := "kubewright/rollback-cart-" + itoa(n)
		pr, ok := pullFor(e, branch)
		if !ok {
			t.Fatalf("no pull request; status: %s", e.lastComment())
		}
		if got := e.show(t, branch, "k8s/cart/deployment.yaml"); got != before {
			t.Errorf("rolled-back deployment:\n%s", got)
		}
		if !strings.Contains(pr.Title, "rollback cart --to "+first) {
			t.Errorf("title %q, want the revision before the change (%s)", pr.Title, first)
		}
		if got := e.show(t, branch, "README.md"); !strings.Contains(got, "Unrelated change") {
			t.Error("rollback reverted a file of no service")
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// stableBody drops what changes from run to run (timings, commit IDs).
var (
	timing = regexp.MustCompile(`\(\d+(\.\d+)?(ms|s|µs)\)`)
	sha    = regexp.MustCompile(`\b[0-9a-f]{40}\b`)
)

func stableBody(s string) string {
	return sha.ReplaceAllString(timing.ReplaceAllString(s, "(TIME)"), "SHA")
}

// Every command's job is recorded for its page: the request, the plan's
// change, the validation and the pull request; the status comment links
// to it.
func TestJobPageRecord(t *testing.T) {
	e := newEnvFrom(t, reviewRepo, "")
	store := jobpage.NewMemoryStore(100)
	e.runner = e.rebuild(job.WithPages(store, "https://kubewright.acme.test/"))
	e.onNewIssue(t, "octocat", "/ai scale cart 3")
	delivery := "d-" + strconv.Itoa(e.n)
	rec, ok, err := store.Get(context.Background(), delivery)
	if err != nil || !ok {
		t.Fatalf("no record of %s: %v", delivery, err)
	}
	if rec.Status != "done" || rec.Request != "/ai scale cart 3" || rec.Repo != "acme/shop" || rec.Actor != "octocat" {
		t.Errorf("record %+v", rec)
	}
	if len(rec.Proposed) != 1 || rec.Proposed[0].Field != "spec.replicas" || rec.Proposed[0].To != "3" {
		t.Errorf("proposed %+v", rec.Proposed)
	}
	if !strings.Contains(rec.PullRequest, "/pull/") || len(rec.Stages) == 0 || !strings.Contains(rec.Diff, "+  replicas: 3") {
		t.Errorf("pull request %q, stages %v, diff %q", rec.PullRequest, rec.Stages, rec.Diff)
	}
	if got := e.lastComment(); !strings.Contains(got, "(https://kubewright.acme.test/jobs/"+delivery+")") {
		t.Errorf("status comment without the page's link: %q", got)
	}
}
