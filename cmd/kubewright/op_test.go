package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// commitAll commits the working tree of the git repository dir.
func commitAll(t *testing.T, dir, msg string) {
	t.Helper()
	for _, args := range [][]string{{"add", "."}, {"commit", "--quiet", "-m", msg}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com",
			"GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
}

// `kubewright op` plans and writes the operations the `/ai` commands
// carry out, with the same parser and the same answers to mistakes.
func TestOpCLI(t *testing.T) {
	dir := reviewRepo(t) // one commit, then a privileged container in the working tree
	commitAll(t, dir, "privileged")
	crds := crdsDir(t)
	deploy := filepath.Join(dir, "k8s", "cart", "deployment.yaml")
	read := func() string {
		b, err := os.ReadFile(deploy)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := read()

	// --dry-run prints the plan and the diff and writes nothing.
	code, out, errOut := runCLI("op", "scale", "cart", "4", "--dry-run", "--repo", dir)
	if code != exitOK || !strings.Contains(out, "Scale cart to 4 replicas (now 2).") || !strings.Contains(out, "+  replicas: 4") ||
		!strings.Contains(out, "Dry run: nothing was written.") || read() != before {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errOut)
	}

	// Written, then validated: the privileged container committed before
	// is an error of the tree, so the exit status says so.
	code, out, errOut = runCLI("op", "image", "cart", "1.6.0", "--repo", dir, "--no-dry-run", "--crds", crds, "-q")
	if code != exitFail || !strings.Contains(read(), "image: ghcr.io/acme/cart:1.6.0") || !strings.Contains(out, "KW-POL-003") {
		t.Fatalf("image: exit %d\n%s\n%s", code, out, errOut)
	}
	commitAll(t, dir, "cart 1.6.0")

	// Rollback without --to restores the service before its last change.
	code, out, errOut = runCLI("op", "rollback", "cart", "--repo", dir, "--dry-run", "--format", "json")
	if code != exitOK {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	var got struct {
		Plan struct {
			Command string `json:"command"`
		} `json:"plan"`
		Diff string `json:"diff"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.HasPrefix(got.Plan.Command, "rollback cart --to ") || !strings.Contains(got.Diff, "-          image: ghcr.io/acme/cart:1.6.0") ||
		!strings.Contains(got.Diff, "+          image: ghcr.io/acme/cart:1.4.2") {
		t.Errorf("rollback plan %+v", got)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"op", "scale", "cart", "lots", "--repo", dir}, `REPLICAS must be a whole number, not "lots"`},
		{[]string{"op", "scale", "carts", "2", "--repo", dir, "--dry-run"}, "did you mean cart?"},
		{[]string{"op", "resources", "cart", "--from-metrics", "--repo", dir, "--dry-run"}, "no Prometheus is configured"},
		{[]string{"op", "scale", "cart", "2", "--repo", filepath.Join(dir, "nope")}, "repository path"},
		{[]string{"op", "scale", "cart", "2", "--format", "xml", "--repo", dir}, "--format"},
	} {
		if code, _, errOut := runCLI(tc.args...); code == exitOK || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errOut)
		}
	}
}
