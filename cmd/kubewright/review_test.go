package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// reviewRepo is a git repository holding the job's review fixture, one
// commit on main, and a working tree that makes the cart container
// privileged.
func reviewRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "platform")
	if out, err := exec.Command("cp", "-R", filepath.Join("..", "..", "internal", "job", "testdata", "review-repo"), dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, args := range [][]string{{"init", "--quiet", "-b", "main"}, {"add", "."}, {"commit", "--quiet", "-m", "platform"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com",
			"GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	p := filepath.Join(dir, "k8s", "cart", "deployment.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "            allowPrivilegeEscalation: false", "            privileged: true\n            allowPrivilegeEscalation: false", 1)
	if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReviewCLI(t *testing.T) {
	dir := reviewRepo(t)
	crds := crdsDir(t)

	code, out, errOut := runCLI("review", "--base", "main", "--no-dry-run", "--crds", crds, "--format", "json", dir)
	if code != exitFail {
		t.Fatalf("exit %d, want %d (an introduced error)\n%s\n%s", code, exitFail, out, errOut)
	}
	var got reviewJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Introduced) != 1 || got.Introduced[0].ID != "KW-POL-003" || len(got.Fixes) != 1 || got.Base == "" {
		t.Fatalf("review %+v", got)
	}
	if len(got.Diff.Roots) != 1 || len(got.Diff.Roots[0].Changed) != 1 {
		t.Errorf("flux diff %+v", got.Diff)
	}

	// The base against itself introduces nothing; markdown and sarif print.
	if code, out, errOut := runCLI("review", "--base", "main", "--head", "main", "--no-dry-run", "--crds", crds, "--format", "markdown", dir); code != exitOK ||
		!strings.Contains(out, "adds no findings") {
		t.Errorf("main against main: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runCLI("review", "--base", "main", "--no-dry-run", "--crds", crds, "--format", "sarif", dir); code != exitFail || !strings.Contains(out, `"KW-POL-003"`) {
		t.Errorf("sarif: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI("review", "--base", "main", "--no-dry-run", "--crds", crds, dir); code != exitFail ||
		!strings.Contains(out, "KW-POL-003") || !strings.Contains(out, "fix k8s/cart/deployment.yaml") {
		t.Errorf("text: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"review", dir}, "--base is required"},
		{[]string{"review", "--base", "nope", dir}, "--base: nope is not a commit"},
		{[]string{"review", "--base", "main", "--format", "xml", dir}, "--format"},
	} {
		if code, _, errOut := runCLI(tc.args...); code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errOut)
		}
	}
}
