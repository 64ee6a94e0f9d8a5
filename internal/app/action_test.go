package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// actionSite is a fake GitHub holding the review fixture as acme/shop, a
// checkout of it as the runner's workspace, and a runner environment.
type actionSite struct {
	fake      *githubtest.Server
	workspace string
	dir       string // the runner's temp dir: event file, outputs, summary
	token     string
	runs      int
}

func newActionSite(t *testing.T) *actionSite {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fake := githubtest.New(t, githubtest.WithApp(githubtest.App{ID: 5, PublicKey: &key.PublicKey}))
	fake.AddInstallation(31, "acme")
	src := filepath.Join("..", "job", "testdata", "review-repo")
	fake.AddRepo("acme", "shop", src)
	fake.SetPermission("acme", "shop", "octocat", "write")
	ws := filepath.Join(t.TempDir(), "workspace")
	if out, err := exec.Command("cp", "-R", src, ws).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return &actionSite{fake: fake, workspace: ws, dir: t.TempDir(), token: fake.MintToken(31)}
}

// example is the first real payload of event (and action) from
// @octokit/webhooks-examples, moved to acme/shop with edit applied.
func example(t *testing.T, event, action string, edit func(map[string]any)) []byte {
	t.Helper()
	path := filepath.Join("..", "..", "hack", "npm", "node_modules", "@octokit", "webhooks-examples", "api.github.com", "index.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run `make test-assets`", err)
	}
	var list []struct {
		Name     string           `json:"name"`
		Examples []map[string]any `json:"examples"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.Name != event {
			continue
		}
		for _, ex := range e.Examples {
			if action != "" && ex["action"] != action {
				continue
			}
			if repo, ok := ex["repository"].(map[string]any); ok {
				repo["name"], repo["full_name"], repo["default_branch"] = "shop", "acme/shop", "main"
				if owner, ok := repo["owner"].(map[string]any); ok {
					owner["login"] = "acme"
				}
			}
			edit(ex)
			b, err := json.Marshal(ex)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no %s %s example", event, action)
	return nil
}

// run runs `kubewright action` for event with payload and extra inputs,
// and returns the result, stdout, the summary and the outputs.
func (s *actionSite) run(t *testing.T, event string, payload []byte, inputs map[string]string) (*ActionResult, string, string, string) {
	t.Helper()
	eventPath := filepath.Join(s.dir, event+".json")
	if err := os.WriteFile(eventPath, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	s.runs++
	output, summary := filepath.Join(s.dir, fmt.Sprintf("output-%d", s.runs)), filepath.Join(s.dir, fmt.Sprintf("summary-%d", s.runs))
	env := map[string]string{
		"GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": eventPath, "GITHUB_TOKEN": s.token, "GITHUB_REPOSITORY": "acme/shop",
		"GITHUB_SHA": "0000000000000000000000000000000000000000", "GITHUB_SERVER_URL": s.fake.URL, "GITHUB_API_URL": s.fake.URL + "/api/v3",
		"GITHUB_OUTPUT": output, "GITHUB_STEP_SUMMARY": summary, "GITHUB_WORKSPACE": s.workspace, "GITHUB_RUN_ID": "4242",
		"KUBEBUILDER_ASSETS": os.Getenv("KUBEBUILDER_ASSETS"), "INPUT_CRDS": crdsForTest(t),
	}
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var stdout bytes.Buffer
	res, err := Action(context.Background(), ActionSettings{Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := os.ReadFile(summary)
	out, _ := os.ReadFile(output)
	return res, stdout.String(), string(sum), string(out)
}

func crdsForTest(t *testing.T) string {
	if d := os.Getenv("KUBEWRIGHT_CRDS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "crds")
}

// privileged is the fixture's Deployment with a privileged container.
func privilegedDeployment(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("..", "job", "testdata", "review-repo", "k8s", "cart", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(string(b), "            allowPrivilegeEscalation: false", "            privileged: true\n            allowPrivilegeEscalation: false", 1)
}

// pushBranch commits files to a branch of acme/shop with the git CLI.
func (s *actionSite) pushBranch(t *testing.T, branch string, files map[string]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		if len(args) > 0 && args[0] != "clone" {
			cmd.Dir = dir
		}
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com",
			"GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	git("clone", "--quiet", strings.Replace(s.fake.CloneURL("acme", "shop"), "http://", "http://x-access-token:"+s.token+"@", 1), dir)
	git("checkout", "--quiet", "-b", branch)
	for p, body := range files {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("add", ".")
	git("commit", "--quiet", "-m", "change")
	git("push", "--quiet", "origin", branch)
}

var shaLike = regexp.MustCompile(`\b[0-9a-f]{7,40}\b`)

// golden compares got, its commit IDs masked, with testdata/action/name.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = shaLike.ReplaceAllString(got, "SHA")
	path := filepath.Join("testdata", "action", name)
	if *updateGolden {
		os.MkdirAll(filepath.Dir(path), 0o755)
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

// The Action runs the App's jobs with the workflow's token: a pull
// request is reviewed through the API; with a read-only token the review
// becomes annotations and the summary; an issue comment runs its
// command; push and workflow_dispatch validate the checkout into SARIF.
func TestAction(t *testing.T) {
	s := newActionSite(t)
	s.pushBranch(t, "harden", map[string]string{"k8s/cart/deployment.yaml": privilegedDeployment(t)})
	n := s.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "octocat", Head: "harden"})
	pull := func(ex map[string]any) {
		ex["number"] = n
		pr := ex["pull_request"].(map[string]any)
		pr["number"], pr["state"], pr["draft"] = n, "open", false
		pr["head"].(map[string]any)["repo"].(map[string]any)["full_name"] = "acme/shop"
		delete(ex, "installation")
	}

	t.Run("pull_request", func(t *testing.T) {
		res, stdout, _, out := s.run(t, "pull_request", example(t, "pull_request", "opened", pull), nil)
		if len(s.fake.Reviews("acme", "shop", n)) != 1 || res.Errors == 0 || !res.Failed() {
			t.Fatalf("review through the API: %+v, reviews %d, stdout %q", res, len(s.fake.Reviews("acme", "shop", n)), stdout)
		}
		if strings.Contains(stdout, "::error") {
			t.Error("annotations written although the token can write")
		}
		golden(t, "pull_request.output", out)
	})

	t.Run("pull_request read-only", func(t *testing.T) {
		before := len(s.fake.Reviews("acme", "shop", n))
		res, stdout, summary, out := s.run(t, "pull_request", example(t, "pull_request", "opened", pull), map[string]string{"read-only": "true"})
		if got := len(s.fake.Reviews("acme", "shop", n)); got != before {
			t.Errorf("a read-only run posted a review (%d → %d)", before, got)
		}
		if !strings.Contains(stdout, "::error file=k8s/cart/deployment.yaml,line=") || !strings.Contains(stdout, "title=KW-POL-003") || res.Errors == 0 {
			t.Errorf("annotations:\n%s", stdout)
		}
		golden(t, "pull_request-read-only.summary.md", summary)
		golden(t, "pull_request-read-only.output", out)
	})

	t.Run("issue_comment", func(t *testing.T) {
		issue := s.fake.AddIssue("acme", "shop")
		id := s.fake.AddComment("acme", "shop", issue, "octocat", "/ai help")
		payload := example(t, "issue_comment", "created", func(ex map[string]any) {
			is := ex["issue"].(map[string]any)
			is["number"] = issue
			delete(is, "pull_request")
			c := ex["comment"].(map[string]any)
			c["id"], c["body"] = id, "/ai help"
			c["user"].(map[string]any)["login"], c["user"].(map[string]any)["type"] = "octocat", "User"
			delete(ex, "installation")
		})
		s.run(t, "issue_comment", payload, nil)
		cs := s.fake.Comments("acme", "shop")
		if last := cs[len(cs)-1]; !strings.Contains(last.Body, "kubewright commands") {
			t.Errorf("reply %q", last.Body)
		}
	})

	for _, event := range []string{"push", "workflow_dispatch"} {
		t.Run(event, func(t *testing.T) {
			res, _, summary, out := s.run(t, event, example(t, event, "", func(map[string]any) {}), map[string]string{"sarif-file": "results.sarif"})
			sarif, err := os.ReadFile(filepath.Join(s.workspace, "results.sarif"))
			if err != nil || !strings.Contains(string(sarif), `"version": "2.1.0"`) {
				t.Fatalf("SARIF: %v %.200s", err, sarif)
			}
			if res.Errors != 0 || res.Failed() {
				t.Errorf("the clean checkout: %+v", res)
			}
			golden(t, event+".summary.md", summary)
			golden(t, event+".output", out)
		})
	}
}
