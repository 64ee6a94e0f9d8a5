package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Workspace is a shallow clone of one branch in a temporary directory that
// Close always removes.
type Workspace struct {
	dir    string
	repo   *git.Repository
	auth   *http.BasicAuth
	base   string
	baseID plumbing.Hash
}

// ErrProtectedBranch is returned when a push would target the branch the
// workspace was cloned from (the default branch).
var ErrProtectedBranch = errors.New("refusing to push to the base branch")

// Clone makes a shallow, single-branch clone of url at branch, authenticating
// with an installation token (as GitHub's smart HTTP expects:
// user x-access-token). The token never appears in errors.
func Clone(ctx context.Context, url, token, branch string) (*Workspace, error) {
	dir, err := os.MkdirTemp("", "kubewright-ws-")
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	w := &Workspace{dir: dir, base: branch}
	if token != "" {
		w.auth = &http.BasicAuth{Username: "x-access-token", Password: token}
	}
	repo, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL: url, Auth: w.auth, ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch: true, Depth: 1, Tags: git.NoTags,
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("clone %s (branch %s): %w", url, branch, scrub(err, token))
	}
	head, err := repo.Head()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("clone %s: %w", url, err)
	}
	w.repo, w.baseID = repo, head.Hash()
	return w, nil
}

// Dir is the working tree.
func (w *Workspace) Dir() string { return w.dir }

// BaseCommit is the commit the workspace was cloned at.
func (w *Workspace) BaseCommit() string { return w.baseID.String() }

// Close removes the working tree.
func (w *Workspace) Close() error { return os.RemoveAll(w.dir) }

// Branch creates (or resets) branch at the base commit and checks it out,
// keeping changes in the working tree.
func (w *Workspace) Branch(name string) error {
	if name == w.base {
		return ErrProtectedBranch
	}
	wt, err := w.repo.Worktree()
	if err != nil {
		return err
	}
	return wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name), Hash: w.baseID, Create: true, Keep: true, Force: false})
}

// Signature is a commit author.
type Signature struct{ Name, Email string }

// Commit stages every change and commits it; changed is false when the
// tree equals the base (nothing to commit).
func (w *Workspace) Commit(message string, author Signature, coAuthors ...Signature) (hash string, changed bool, err error) {
	wt, err := w.repo.Worktree()
	if err != nil {
		return "", false, err
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", false, fmt.Errorf("stage changes: %w", err)
	}
	st, err := wt.Status()
	if err != nil {
		return "", false, err
	}
	if st.IsClean() {
		return "", false, nil
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(message))
	if len(coAuthors) > 0 {
		b.WriteString("\n\n")
		for _, c := range coAuthors {
			fmt.Fprintf(&b, "Co-authored-by: %s <%s>\n", c.Name, c.Email)
		}
	}
	sig := &object.Signature{Name: author.Name, Email: author.Email, When: time.Now()}
	h, err := wt.Commit(b.String(), &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return "", false, fmt.Errorf("commit: %w", err)
	}
	return h.String(), true, nil
}

// Push force-pushes the checked-out branch to origin. The branch belongs
// to kubewright (it is rebuilt from the base on every run), so a forced
// update is how a retried job updates its pull request. Pushing to the
// base branch is refused.
func (w *Workspace) Push(ctx context.Context, branch string) error {
	if branch == w.base || branch == "" {
		return ErrProtectedBranch
	}
	ref := plumbing.NewBranchReferenceName(branch)
	err := w.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "origin", Auth: w.auth,
		RefSpecs: []config.RefSpec{config.RefSpec("+" + ref.String() + ":" + ref.String())},
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("push %s: %w", branch, scrub(err, w.password()))
	}
	return nil
}

func (w *Workspace) password() string {
	if w.auth == nil {
		return ""
	}
	return w.auth.Password
}

// scrub removes a token from an error message.
func scrub(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "***"))
}
