package githubtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Push commits files (a path to its new content; "" deletes the file) on
// branch of owner/name and pushes them with the git CLI over the fake's
// smart HTTP, as a person would, with a token of installation inst. A
// new branch starts from the default branch. It returns the commit.
func (s *Server) Push(t testing.TB, inst int64, owner, name, branch string, files map[string]string) string {
	t.Helper()
	dir := s.clone(t, inst, owner, name, "")
	if gitCLI(t, dir, "ls-remote", "--heads", "origin", branch) != "" {
		gitCLI(t, dir, "checkout", "--quiet", branch)
	} else {
		gitCLI(t, dir, "checkout", "--quiet", "-b", branch)
	}
	for p, body := range files {
		if body == "" {
			gitCLI(t, dir, "rm", "--quiet", p)
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		gitCLI(t, dir, "add", p)
	}
	gitCLI(t, dir, "commit", "--quiet", "-m", "change")
	gitCLI(t, dir, "push", "--quiet", "origin", branch)
	return gitCLI(t, dir, "rev-parse", "HEAD")
}

// File reads path at branch of owner/name through git, as a reviewer
// would after fetching a pull request's branch.
func (s *Server) File(t testing.TB, inst int64, owner, name, branch, path string) string {
	t.Helper()
	dir := s.clone(t, inst, owner, name, branch)
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clone clones owner/name (branch, or the default one) into a temporary
// directory with a token of installation inst.
func (s *Server) clone(t testing.TB, inst int64, owner, name, branch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	url := strings.Replace(s.CloneURL(owner, name), "http://", "http://x-access-token:"+s.MintToken(inst)+"@", 1)
	args := []string{"clone", "--quiet"}
	if branch != "" {
		args = append(args, "--branch", branch)
	}
	gitCLI(t, "", append(args, url, dir)...)
	return dir
}

// gitCLI runs git in dir as alice, with no user or system configuration,
// and returns its trimmed output.
func gitCLI(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=alice", "GIT_AUTHOR_EMAIL=alice@example.com", "GIT_COMMITTER_NAME=alice", "GIT_COMMITTER_EMAIL=alice@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
