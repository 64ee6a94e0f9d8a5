// Package workspace is git, and only git: a shallow clone of one branch
// in a work directory (Clone, under byte and file caps), a branch, a
// commit with the bot as author, a push that never targets the base
// branch, and Sweep for work directories a dead process left. What is
// written into the clone (drafts, the write policy) is package draft's.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Workspace is a shallow clone of one branch in a work directory that
// Close always removes.
type Workspace struct {
	dir    string
	repo   *git.Repository
	auth   *http.BasicAuth
	base   string
	baseID plumbing.Hash
	// scratch are directories TempDir made; Close removes them.
	scratch []string
}

// ErrProtectedBranch is returned when a push would target the branch the
// workspace was cloned from (the default branch).
var ErrProtectedBranch = errors.New("refusing to push to the base branch")

// ErrTooLarge is wrapped by the error of a clone that exceeds its byte or
// file cap.
var ErrTooLarge = errors.New("repository too large for kubewright")

// Default clone caps: a repository kubewright can analyze and validate in
// the job's time fits well inside them.
const (
	DefaultMaxBytes = 512 << 20
	DefaultMaxFiles = 100_000
)

// DirPrefix starts the name of every workspace directory under a work
// root, so that Sweep removes only workspaces.
const DirPrefix = "kubewright-ws-"

// CloneOptions bound a clone. The zero value clones into the system's
// temporary directory with the default caps.
type CloneOptions struct {
	// Root is the directory the workspace is created in (default
	// os.TempDir()).
	Root string
	// MaxBytes caps what the clone writes to disk, .git and the working
	// tree together (default DefaultMaxBytes). The clone stops as soon as
	// it is exceeded.
	MaxBytes int64
	// MaxFiles caps the files and symlinks the clone creates (default
	// DefaultMaxFiles).
	MaxFiles int
	// History is how many commits of the branch to fetch, with the tags
	// that point into them (0 or 1: the tip only, no tags). Rollback reads
	// older trees from them (LastChange, Export).
	History int
}

// Clone makes a shallow, single-branch clone of url at branch, authenticating
// with an installation token (as GitHub's smart HTTP expects:
// user x-access-token). The token never appears in errors. Every byte and
// file the clone writes counts against o's caps, so an oversized
// repository stops the clone early with an error wrapping ErrTooLarge
// instead of filling the disk.
func Clone(ctx context.Context, url, token, branch string, o CloneOptions) (*Workspace, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	dir, err := os.MkdirTemp(o.Root, DirPrefix)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	w := &Workspace{dir: dir, base: branch}
	if token != "" {
		w.auth = &http.BasicAuth{Username: "x-access-token", Password: token}
	}
	caps := &diskCap{maxBytes: o.MaxBytes, maxFiles: int64(o.MaxFiles)}
	wt := cappedFS{Filesystem: osfs.New(dir), cap: caps}
	dot, err := wt.Chroot(git.GitDirName)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("workspace: %w", err)
	}
	storage := filesystem.NewStorage(dot, cache.NewObjectLRUDefault())
	var repo *git.Repository
	if strings.HasPrefix(branch, "refs/") {
		repo, err = fetchRef(ctx, storage, wt, url, w.auth, plumbing.ReferenceName(branch))
	} else {
		repo, err = git.CloneContext(ctx, storage, wt, &git.CloneOptions{
			URL: url, Auth: w.auth, ReferenceName: plumbing.NewBranchReferenceName(branch),
			SingleBranch: true, Depth: max(o.History, 1), Tags: tagMode(o.History),
		})
	}
	// The caps bound the clone only: kubewright's own commits are small.
	if over := caps.stop(); over != nil {
		w.Close()
		return nil, fmt.Errorf("clone %s (branch %s): %w", url, branch, over)
	}
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

// tagMode fetches the tags that point into the history a clone keeps,
// and none for a clone of the tip alone.
func tagMode(history int) git.TagMode {
	if history > 1 {
		return git.TagFollowing
	}
	return git.NoTags
}

// fetchRef makes a shallow clone of one reference that is not a branch
// ("refs/pull/7/head": how a fork's pull request head is read from the
// base repository) and checks it out, detached.
func fetchRef(ctx context.Context, storage *filesystem.Storage, wt billy.Filesystem, url string, auth *http.BasicAuth, ref plumbing.ReferenceName) (*git.Repository, error) {
	repo, err := git.Init(storage, wt)
	if err != nil {
		return nil, err
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		return nil, err
	}
	local := plumbing.ReferenceName("refs/remotes/origin/fetched")
	if err := repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", Auth: auth, Depth: 1, Tags: git.NoTags,
		RefSpecs: []config.RefSpec{config.RefSpec("+" + ref.String() + ":" + local.String())}}); err != nil {
		return nil, err
	}
	got, err := repo.Reference(local, true)
	if err != nil {
		return nil, err
	}
	w, err := repo.Worktree()
	if err != nil {
		return nil, err
	}
	if err := w.Checkout(&git.CheckoutOptions{Hash: got.Hash()}); err != nil {
		return nil, err
	}
	return repo, nil
}

// Sweep removes the workspaces under root last modified before olderThan
// ago: the leftovers of a process that died mid-job. Other entries of root
// are left alone. It returns how many it removed.
func Sweep(root string, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", root, err)
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), DirPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("sweep %s: %w", root, errors.Join(errs...))
	}
	return n, nil
}

// Dir is the working tree.
func (w *Workspace) Dir() string { return w.dir }

// BaseCommit is the commit the workspace was cloned at.
func (w *Workspace) BaseCommit() string { return w.baseID.String() }

// Close removes the working tree.
func (w *Workspace) Close() error {
	errs := []error{os.RemoveAll(w.dir)}
	for _, d := range w.scratch {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
}

// TempDir makes an empty directory beside the workspace, outside its
// tree (nothing in it is committed), that Close removes: where older
// trees of the repository are exported to.
func (w *Workspace) TempDir() (string, error) {
	d, err := os.MkdirTemp(filepath.Dir(w.dir), DirPrefix+"scratch-")
	if err != nil {
		return "", fmt.Errorf("workspace: %w", err)
	}
	w.scratch = append(w.scratch, d)
	return d, nil
}

// Branch creates branch at the base commit and checks it out, keeping
// changes in the working tree; on that branch at the base commit already,
// it does nothing.
func (w *Workspace) Branch(name string) error {
	if name == w.base {
		return ErrProtectedBranch
	}
	ref := plumbing.NewBranchReferenceName(name)
	if head, err := w.repo.Head(); err == nil && head.Name() == ref && head.Hash() == w.baseID {
		return nil // already there, at the base commit
	}
	wt, err := w.repo.Worktree()
	if err != nil {
		return err
	}
	return wt.Checkout(&git.CheckoutOptions{Branch: ref, Hash: w.baseID, Create: true, Keep: true, Force: false})
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

// diskCap counts what a clone writes and trips once at a cap; every write
// after that fails with the same error, which aborts the clone.
type diskCap struct {
	maxBytes, maxFiles int64
	bytes, files       atomic.Int64
	stopped            atomic.Bool

	mu   sync.Mutex
	over error
}

func (c *diskCap) addBytes(n int) error {
	if c.stopped.Load() {
		return nil
	}
	if b := c.bytes.Add(int64(n)); b > c.maxBytes {
		unit, name := int64(1<<20), "MB"
		if c.maxBytes < unit {
			unit, name = 1<<10, "KB"
		}
		return c.trip(fmt.Errorf("%w (%d %s > %d %s on disk): kubewright clones only the branch's latest commit; move large files out of the repository (Git LFS objects are not fetched)",
			ErrTooLarge, (b+unit-1)/unit, name, c.maxBytes/unit, name))
	}
	return nil
}

func (c *diskCap) addFile() error {
	if c.stopped.Load() {
		return nil
	}
	if n := c.files.Add(1); n > c.maxFiles {
		return c.trip(fmt.Errorf("%w (more than %d files): kubewright validates repositories of up to %d files in the branch's latest commit", ErrTooLarge, c.maxFiles, c.maxFiles))
	}
	return nil
}

func (c *diskCap) trip(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over == nil {
		c.over = err
	}
	return c.over
}

// stop lifts the caps and returns the error they tripped with, if any.
func (c *diskCap) stop() error {
	c.stopped.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.over
}

// cappedFS counts the files created and bytes written through it against
// a diskCap.
type cappedFS struct {
	billy.Filesystem
	cap *diskCap
}

func (f cappedFS) Create(name string) (billy.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (f cappedFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	if flag&os.O_CREATE != 0 {
		if err := f.cap.addFile(); err != nil {
			return nil, err
		}
	}
	file, err := f.Filesystem.OpenFile(name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return file, err
	}
	return cappedFile{File: file, cap: f.cap}, nil
}

func (f cappedFS) TempFile(dir, prefix string) (billy.File, error) {
	if err := f.cap.addFile(); err != nil {
		return nil, err
	}
	file, err := f.Filesystem.TempFile(dir, prefix)
	if err != nil {
		return nil, err
	}
	return cappedFile{File: file, cap: f.cap}, nil
}

func (f cappedFS) Symlink(target, link string) error {
	if err := f.cap.addFile(); err != nil {
		return err
	}
	return f.Filesystem.Symlink(target, link)
}

func (f cappedFS) Chroot(p string) (billy.Filesystem, error) {
	sub, err := f.Filesystem.Chroot(p)
	if err != nil {
		return nil, err
	}
	return cappedFS{Filesystem: sub, cap: f.cap}, nil
}

// Capabilities and Chmod forward what go-git asks of the filesystem it
// wraps (an embedded interface hides them).
func (f cappedFS) Capabilities() billy.Capability { return billy.Capabilities(f.Filesystem) }

func (f cappedFS) Chmod(name string, mode os.FileMode) error {
	if c, ok := f.Filesystem.(billy.Chmod); ok {
		return c.Chmod(name, mode)
	}
	return nil
}

type cappedFile struct {
	billy.File
	cap *diskCap
}

func (f cappedFile) Write(p []byte) (int, error) {
	if err := f.cap.addBytes(len(p)); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}
