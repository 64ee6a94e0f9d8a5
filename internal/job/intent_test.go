package job_test

import (
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

// A free-text request that means operations is carried out by the
// operations' code: the model only names them (structured output against
// the operation table), and the pull request shows each plan. A request
// that means none goes on to the agents; an answer outside the table is
// refused before anything is written.
func TestFreeTextIntentMapsToOperations(t *testing.T) {
	e := newEnvFrom(t, reviewRepo, "")

	t.Run("two operations", func(t *testing.T) {
		srv := withModel(t, e, llmtest.Reply{Content: `{"operations":[` +
			`{"op":"scale","service":"cart","args":{"replicas":4}},` +
			`{"op":"image","service":"cart","args":{"ref":"1.5.0"}}]}`})
		n := e.onNewIssue(t, "octocat", "/ai cart is overloaded: run 4 of them, and ship 1.5.0 while you are at it")
		pr, ok := pullFor(e, "kubewright/ai-"+itoa(n))
		if !ok {
			t.Fatalf("no pull request; status: %s", e.lastComment())
		}
		if pr.Title != "kubewright: scale cart 4; image cart 1.5.0" {
			t.Errorf("title %q", pr.Title)
		}
		got := e.show(t, "kubewright/ai-"+itoa(n), "k8s/cart/deployment.yaml")
		if !strings.Contains(got, "replicas: 4") || !strings.Contains(got, "image: ghcr.io/acme/cart:1.5.0") {
			t.Errorf("deployment:\n%s", got)
		}
		for _, s := range []string{"> cart is overloaded", "## Then: `image cart 1.5.0`", "| `spec.replicas` | `2` | `4` |", "## Validation"} {
			if !strings.Contains(pr.Body, s) {
				t.Errorf("body lacks %q:\n%s", s, pr.Body)
			}
		}
		reqs := srv.Requests()
		if len(reqs) != 1 || reqs[0].ResponseFormat != "json_schema" {
			t.Fatalf("model calls %d (format %q), want one structured call", len(reqs), reqs[0].ResponseFormat)
		}
		user := reqs[0].Messages[len(reqs[0].Messages)-1].Content
		if !strings.Contains(user, `<<<DATA label="request"`) || !strings.Contains(user, `<<<DATA label="services"`) {
			t.Errorf("the request and the services reach the model unfenced:\n%s", user)
		}
	})

	t.Run("an operation outside the table", func(t *testing.T) {
		withModel(t, e, llmtest.Reply{Content: `{"operations":[{"op":"delete","service":"cart","args":{}}]}`},
			llmtest.Reply{Content: `{"operations":[{"op":"scale","service":"cart","args":{"replicas":-3}}]}`})
		pulls := len(e.fake.Pulls("acme", "shop"))
		n := e.onNewIssue(t, "octocat", "/ai remove cart entirely")
		if _, ok := pullFor(e, "kubewright/ai-"+itoa(n)); ok || len(e.fake.Pulls("acme", "shop")) != pulls {
			t.Fatalf("a pull request was opened from an answer outside the table; status: %s", e.lastComment())
		}
		if got := e.lastComment(); !strings.Contains(got, "could not tell which of its operations") || !strings.Contains(got, "/ai help") {
			t.Errorf("status %q", got)
		}
	})
}
