package job_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/llm"
)

// upperHost is a repository configuration whose ingress host the API
// server rejects (hosts are lower case): the deterministic draft then
// carries three Ingresses that fail the dry-run, errors the repository
// did not have before the draft.
const upperHost = "containerize:\n  ingressHost: Shop.Example.COM\n"

var ingresses = []string{"k8s/order-service/ingress.yaml", "k8s/product-service/ingress.yaml", "k8s/user-service/ingress.yaml"}

// draftIngresses containerizes a copy of the shop with cfg as its
// .github/kubewright.yaml and returns the draft's Ingresses with their
// hosts in lower case: the repair the API server asks for.
func draftIngresses(t *testing.T, cfg string) []llm.Edit {
	t.Helper()
	root := filepath.Join(t.TempDir(), "shop")
	if out, err := exec.Command("cp", "-R", filepath.Join("..", "..", "testdata", "repos", "polyglot-shop"), root).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(root, ".github"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".github", "kubewright.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := job.Containerize(context.Background(), root, job.ContainerizeOptions{}); err != nil {
		t.Fatal(err)
	}
	var edits []llm.Edit
	for _, p := range ingresses {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), ".Shop.Example.COM") {
			t.Fatalf("%s does not carry the configured host:\n%s", p, data)
		}
		edits = append(edits, llm.Edit{Path: p, Action: llm.ActionReplace, Content: strings.ReplaceAll(string(data), "Shop.Example.COM", "shop.example.com")})
	}
	return edits
}

// TestContainerizeRepairFixesDraft: `/ai containerize` on a repository
// whose settings make the draft fail the dry-run, with a model
// configured: the repair agent is shown the findings the draft added and
// the files, its edit fixes them, and the pull request is ready for review
// with the attempt log in its body.
func TestContainerizeRepairFixesDraft(t *testing.T) {
	fixed := draftIngresses(t, upperHost)
	e := newEnvWithConfig(t, upperHost)
	srv := withModel(t, e,
		proposal("KW-DRYRUN-001 k8s/*/ingress.yaml: lower-case hosts.", fixed...),
		reviewReply("The configured ingressHost is not lower case; fix .github/kubewright.yaml."))
	if err := e.comment(t, "octocat", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	pr := onlyPR(t, e)
	branch := fmt.Sprintf("kubewright/containerize-%d", e.issue)
	if pr.Draft || pr.Head != branch {
		t.Errorf("PR draft %v head %s: the repaired draft validates, so the PR is ready for review", pr.Draft, pr.Head)
	}
	for _, want := range []string{
		"## Services detected", "kubewright's repair agent edited it",
		"## Attempts", "| 1 | " + agent.AgentRepair + " | 3 | 0 | 0 | 0 |", "| 2 | " + agent.AgentReview + " |",
		"lower-case hosts.", "## Risks to review", "fix .github/kubewright.yaml",
		"| dryrun | ✅ pass | 0 | 0 |", "model calls",
	} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("PR body lacks %q:\n%s", want, pr.Body)
		}
	}
	for _, p := range ingresses {
		got, ok := branchFile(t, e.fake, branch, p)
		if !ok || strings.Contains(got, "Example.COM") || !strings.Contains(got, ".shop.example.com") {
			t.Errorf("%s on the branch (found %v):\n%s", p, ok, got)
		}
	}
	if _, ok := branchFile(t, e.fake, branch, "order-service/Dockerfile"); !ok {
		t.Error("the rest of the draft was not pushed")
	}
	runs := e.fake.CheckRuns("acme", "shop")
	if len(runs) != 1 || runs[0].Conclusion != "success" || runs[0].HeadSHA != pr.HeadSHA {
		t.Errorf("check runs %+v", runs)
	}
	if c := e.lastComment(); !strings.HasPrefix(c, "✅ Opened ") || !strings.Contains(c, "after kubewright's repair agent fixed the draft") {
		t.Errorf("status comment %q", c)
	}

	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want the repair and the review", len(reqs))
	}
	prompt := userPrompt(reqs[0])
	if !strings.Contains(reqs[0].Messages[0].Content, "repair agent") {
		t.Error("the first call is not the repair agent's")
	}
	for _, want := range []string{"k8s/order-service/ingress.yaml:14 KW-DRYRUN-001", "order-service.Shop.Example.COM", "repair attempt 1 of 3"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the repair prompt lacks %q", want)
		}
	}
}

// TestContainerizeRepairExhausted: a repair that fixes one Ingress of
// three, with agents.maxAttempts: 1, leaves a draft pull request that says
// so, with its edit, the attempt log and the errors left.
func TestContainerizeRepairExhausted(t *testing.T) {
	fixed := draftIngresses(t, upperHost)
	e := newEnvWithConfig(t, upperHost+"agents:\n  maxAttempts: 1\n")
	srv := withModel(t, e, proposal("Lower-cased one host.", fixed[0]), reviewReply("Two Ingresses still fail."))
	if err := e.comment(t, "octocat", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	pr := onlyPR(t, e)
	if !pr.Draft {
		t.Error("the PR should be a draft: errors remain")
	}
	for _, want := range []string{
		"> [!WARNING]\n> Validation still fails after 1 attempts", "## Attempts", "| 1 | " + agent.AgentRepair + " | 1 | 0 | 2 | 0 |",
		"`KW-DRYRUN-001` `k8s/product-service/ingress.yaml:14`", "| dryrun | ❌ fail | 2 | 0 |", "Two Ingresses still fail.",
	} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("PR body lacks %q:\n%s", want, pr.Body)
		}
	}
	if got, _ := branchFile(t, e.fake, pr.Head, ingresses[0]); got != fixed[0].Content {
		t.Errorf("the repair's edit is not on the branch:\n%s", got)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d model requests, want one repair (maxAttempts: 1) and the review", n)
	}
	if c := e.lastComment(); !strings.HasPrefix(c, "✅ Opened ") || !strings.Contains(c, "Validation still found 2 errors after the repair attempts") {
		t.Errorf("status comment %q", c)
	}
}

// TestContainerizeWithoutModelOpensDraft: the same draft without a model
// configured is published as it is: a draft pull request listing the
// errors, no attempts, no model call.
func TestContainerizeWithoutModelOpensDraft(t *testing.T) {
	e := newEnvWithConfig(t, upperHost)
	if err := e.comment(t, "octocat", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	pr := onlyPR(t, e)
	if !pr.Draft {
		t.Error("the PR should be a draft")
	}
	for _, want := range []string{"> [!WARNING]\n> Validation found errors", "`KW-DRYRUN-001` `k8s/order-service/ingress.yaml:14`", "| dryrun | ❌ fail | 3 | 0 |"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("PR body lacks %q:\n%s", want, pr.Body)
		}
	}
	for _, unwanted := range []string{"## Attempts", "repair agent", "model calls"} {
		if strings.Contains(pr.Body, unwanted) {
			t.Errorf("PR body mentions %q without a model:\n%s", unwanted, pr.Body)
		}
	}
	runs := e.fake.CheckRuns("acme", "shop")
	if len(runs) != 1 || runs[0].Conclusion != "failure" || runs[0].AnnotationsCount != 3 {
		t.Errorf("check runs %+v", runs)
	}
	if c := e.lastComment(); !strings.Contains(c, "Validation found errors, so it is a draft") {
		t.Errorf("status comment %q", c)
	}
}

// containerize.ci: github-actions adds the image workflow, and the job's
// write policy lets exactly that file under .github/ through.
func TestContainerizeImageCI(t *testing.T) {
	for _, tc := range []struct {
		cfg  string
		want bool
	}{{"containerize:\n  ci: github-actions\n", true}, {"", false}} {
		root := filepath.Join(t.TempDir(), "shop")
		if out, err := exec.Command("cp", "-R", filepath.Join("..", "..", "testdata", "repos", "polyglot-shop"), root).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		os.MkdirAll(filepath.Join(root, ".github"), 0o755)
		if err := os.WriteFile(filepath.Join(root, ".github", "kubewright.yaml"), []byte(tc.cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := job.Containerize(context.Background(), root, job.ContainerizeOptions{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "kubewright-images.yml"))
		if got := err == nil; got != tc.want {
			t.Fatalf("config %q: workflow written = %v, want %v (%v)", tc.cfg, got, tc.want, err)
		}
		if tc.want && !strings.Contains(string(b), "docker/build-push-action@") {
			t.Errorf("workflow:\n%s", b)
		}
	}
}
