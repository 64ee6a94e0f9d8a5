package githubtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-github/v88/github"
)

// gitCmd runs the git CLI isolated from the user's configuration.
func gitCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com")
	return cmd
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitCmd(t, dir, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func authURL(t *testing.T, s *Server, token string) string {
	t.Helper()
	u, err := url.Parse(s.CloneURL(testOwner, testRepo))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("x-access-token", token)
	return u.String()
}

// pushBranchCLI clones with the git CLI, commits a file on a new branch,
// pushes it and returns the commit.
func pushBranchCLI(t *testing.T, s *Server, token, branch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	runGit(t, "", "clone", "--quiet", authURL(t, s, token), dir)
	runGit(t, dir, "checkout", "--quiet", "-b", branch)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runGit(t, dir, "add", "Dockerfile")
	runGit(t, dir, "commit", "--quiet", "-m", "Add Dockerfile")
	runGit(t, dir, "push", "--quiet", "origin", branch)
	return runGit(t, dir, "rev-parse", "HEAD")
}

func TestGitCLI(t *testing.T) {
	f := newFixture(t)
	tok := f.MintToken(testInst)
	before := f.Heads(testOwner, testRepo)
	if len(before) != 1 || before["main"] == "" {
		t.Fatalf("heads after AddRepo = %v", before)
	}
	sha := pushBranchCLI(t, f.Server, tok, "feature")
	if got := f.Heads(testOwner, testRepo)["feature"]; got != sha {
		t.Fatalf("feature = %q, want pushed %q", got, sha)
	}

	// The clone has the seeded files, and pushing main moves main.
	dir := filepath.Join(t.TempDir(), "clone")
	runGit(t, "", "clone", "--quiet", authURL(t, f.Server, tok), dir)
	for name, body := range seedFiles {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || string(got) != body {
			t.Errorf("%s = %q, %v", name, got, err)
		}
	}
	runGit(t, dir, "commit", "--quiet", "--allow-empty", "-m", "empty")
	runGit(t, dir, "push", "--quiet", "origin", "main")
	main := runGit(t, dir, "rev-parse", "HEAD")
	if got := f.Heads(testOwner, testRepo)["main"]; got != main || got == before["main"] {
		t.Fatalf("main = %q, want %q (was %q)", got, main, before["main"])
	}

	// A bad token is refused and nothing moves.
	runGit(t, dir, "commit", "--quiet", "--allow-empty", "-m", "refused")
	for _, remote := range []string{authURL(t, f.Server, "ghs_bad"), strings.Replace(authURL(t, f.Server, tok), "x-access-token", "someone", 1)} {
		out, err := gitCmd(t, dir, "push", remote, "main").CombinedOutput()
		if err == nil {
			t.Fatalf("push with bad credentials succeeded: %s", out)
		}
	}
	if got := f.Heads(testOwner, testRepo)["main"]; got != main {
		t.Fatalf("main moved to %q on a refused push", got)
	}
	// A token of another account cannot see the repository.
	f.AddInstallation(88, "globex")
	if out, err := gitCmd(t, "", "ls-remote", authURL(t, f.Server, f.MintToken(88))).CombinedOutput(); err == nil {
		t.Fatalf("ls-remote with another account's token succeeded: %s", out)
	}
}

func TestGoGit(t *testing.T) {
	f := newFixture(t)
	tok := f.MintToken(testInst)
	ctx := context.Background()
	auth := &githttp.BasicAuth{Username: "x-access-token", Password: tok}
	dir := t.TempDir()
	repo, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL: f.CloneURL(testOwner, testRepo), Auth: auth, Depth: 1, SingleBranch: true,
		ReferenceName: plumbing.NewBranchReferenceName("main"),
	})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	branch := plumbing.NewBranchReferenceName("kubewright/containerize-3")
	if err := wt.Checkout(&git.CheckoutOptions{Branch: branch, Create: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("Dockerfile"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "kubewright[bot]", Email: "bot@example.com", When: time.Now()}
	commit, err := wt.Commit("Add Dockerfile", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	refspec := gitconfig.RefSpec(fmt.Sprintf("%s:%s", branch, branch))

	bad := &githttp.BasicAuth{Username: "x-access-token", Password: "ghs_bad"}
	if err := repo.PushContext(ctx, &git.PushOptions{Auth: bad, RefSpecs: []gitconfig.RefSpec{refspec}}); err == nil {
		t.Fatal("push with a bad token succeeded")
	}
	if _, ok := f.Heads(testOwner, testRepo)[branch.Short()]; ok {
		t.Fatal("a refused push created the branch")
	}
	if err := repo.PushContext(ctx, &git.PushOptions{Auth: auth, RefSpecs: []gitconfig.RefSpec{refspec}}); err != nil {
		t.Fatal(err)
	}
	if got := f.Heads(testOwner, testRepo)[branch.Short()]; got != commit.String() {
		t.Fatalf("%s = %q, want %q", branch.Short(), got, commit)
	}
	// The pushed file is served by the contents API at that branch.
	file, _, _, err := ghClient(t, f.Server, tok).Repositories.GetContents(ctx, testOwner, testRepo, "Dockerfile",
		&github.RepositoryContentGetOptions{Ref: branch.Short()})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := file.GetContent(); got != "FROM scratch\n" {
		t.Errorf("Dockerfile = %q", got)
	}
}
