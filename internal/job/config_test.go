package job_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/validate/suite"
	"github.com/kubewright/kubewright/internal/workspace"
)

const privileged = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: miner
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: miner}
  template:
    metadata:
      labels: {app: miner}
    spec:
      containers:
        - name: miner
          image: ghcr.io/acme/miner:1.0.0
          securityContext:
            privileged: true
            runAsUser: 0
`

// TestValidateUsesDefaultBranchConfig: a pull request whose head adds a
// privileged container and a .github/kubewright.yaml that switches off the
// rules it breaks is still failed by the check run: validation runs under
// the default branch's settings, never the pull request's.
func TestValidateUsesDefaultBranchConfig(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ws, err := workspace.Clone(ctx, e.fake.CloneURL("acme", "shop"), e.fake.MintToken(installation), "main", workspace.CloneOptions{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	const branch = "feature/miner"
	if err := ws.Branch(branch); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"k8s/miner/deployment.yaml": privileged,
		".github/kubewright.yaml":   "validate:\n  rules:\n    KW-POL-001: \"off\"\n    KW-POL-003: \"off\"\n    KW-POL-004: \"off\"\n",
	}
	for p, content := range files {
		os.MkdirAll(filepath.Join(ws.Dir(), filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(ws.Dir(), p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sha, _, err := ws.Commit("Add a miner", workspace.Signature{Name: "mallory", Email: "mallory@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Push(ctx, branch); err != nil {
		t.Fatal(err)
	}
	// Control: under the head's own settings the container would pass.
	hidden := []string{"KW-POL-001", "KW-POL-003"}
	own, err := suite.Validate(ctx, ws.Dir(), suite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range own.Findings {
		for _, id := range hidden {
			if f.ID == id {
				t.Fatalf("the head's settings do not hide %s; the test proves nothing", id)
			}
		}
	}
	pr, _, err := e.client(t).PullRequests.Create(ctx, "acme", "shop", &github.NewPullRequest{Title: github.Ptr("Add a miner"), Head: github.Ptr(branch), Base: github.Ptr("main")})
	if err != nil {
		t.Fatal(err)
	}
	e.issue = pr.GetNumber()
	if err := e.commentOnPR(t, "octocat", "/ai validate"); err != nil {
		t.Fatal(err)
	}
	runs := e.fake.CheckRuns("acme", "shop")
	if len(runs) != 1 || runs[0].HeadSHA != sha || runs[0].Conclusion != "failure" {
		t.Fatalf("check runs %+v, want one failure on %s", runs, sha)
	}
	c := e.lastComment()
	if !strings.Contains(c, "validation errors") || !strings.Contains(c, "with the settings of `main`") || !strings.Contains(c, "| policy | ❌ fail |") {
		t.Errorf("comment %q", c)
	}
}

// TestConfigReadOncePerJob: a containerize reads .github/kubewright.yaml
// once, from GitHub's default branch, for authorization (a team member),
// the author, validation and the pull request body together; a malformed
// file fails the job with a comment naming the file, the key and the fix.
func TestConfigReadOncePerJob(t *testing.T) {
	e := newEnvWithConfig(t, "commands:\n  teams: [acme/platform]\npullRequest:\n  closeIssue: true\n")
	e.runner = e.rebuildWith(passing)
	e.fake.SetPermission("acme", "shop", "tina", "read")
	e.fake.SetTeamMember("acme", "platform", "tina", "member")
	before := e.fake.ValidatedRequests()["repos/get-content"]
	if err := e.comment(t, "tina", "User", "/ai containerize"); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.ValidatedRequests()["repos/get-content"] - before; n != 1 {
		t.Errorf("the job read the configuration %d times, want once", n)
	}
	if pr := onlyPR(t, e); !strings.Contains(pr.Body, fmt.Sprintf("Closes #%d.", e.issue)) {
		t.Errorf("the PR body does not follow the configuration: %s", pr.Body)
	}

	bad := newEnvWithConfig(t, "commands:\n  teams: [acme/platform]\ncontainerize:\n  registy: ghcr.io/acme\n")
	bad.runner = bad.rebuildWith(passing)
	bad.fake.SetPermission("acme", "shop", "tina", "read")
	bad.fake.SetTeamMember("acme", "platform", "tina", "member")
	tests := []struct {
		name, user string
		want       []string
		permanent  bool
	}{
		// The file, the key and the fix (the key it should be).
		{"writer", "octocat", []string{"❌ kubewright stopped: .github/kubewright.yaml", "registy", "registry"}, true},
		{"team member", "tina", []string{"Sorry @tina", "could not be read: .github/kubewright.yaml", "registy", "registry"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := bad.comment(t, tt.user, "User", "/ai containerize")
			if permanent(err) != tt.permanent || (err != nil && !tt.permanent) {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			c := bad.lastComment()
			for _, w := range tt.want {
				if !strings.Contains(c, w) {
					t.Errorf("comment lacks %q: %q", w, c)
				}
			}
			if len(bad.fake.Pulls("acme", "shop")) != 0 || len(bad.fake.Heads("acme", "shop")) != 1 {
				t.Error("a job ran despite the broken configuration")
			}
		})
	}
}
