package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Export writes the tree of revision rev ("main", "origin/main", a commit)
// of the git repository at or above repoDir into dest, which must be
// empty or missing: how `kubewright review` reads a base and a head
// without touching the user's checkout. Only regular files are written
// (symlinks and submodules are left out), within o's byte and file caps.
// It returns the commit it exported.
func Export(ctx context.Context, repoDir, rev, dest string, o CloneOptions) (string, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	repo, err := git.PlainOpenWithOptions(repoDir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", fmt.Errorf("open the git repository at %s: %w", repoDir, err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return "", fmt.Errorf("%s is not a commit, branch or tag of %s: %w", rev, repoDir, err)
	}
	commit, err := repo.CommitObject(*h)
	if err != nil {
		return "", fmt.Errorf("%s: %w", rev, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", fmt.Errorf("%s: %w", rev, err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return "", err
	}
	defer root.Close()
	caps := &diskCap{maxBytes: o.MaxBytes, maxFiles: int64(o.MaxFiles)}
	err = tree.Files().ForEach(func(f *object.File) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable {
			return nil
		}
		if err := caps.addFile(); err != nil {
			return err
		}
		if err := caps.addBytes(int(f.Size)); err != nil {
			return err
		}
		name := filepath.FromSlash(f.Name)
		if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		w, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, r)
		return errors.Join(err, w.Close())
	})
	if err != nil {
		return "", fmt.Errorf("export %s: %w", rev, err)
	}
	return h.String(), nil
}

// TopLevel is the root of the git working tree at or above dir.
func TopLevel(dir string) (string, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", fmt.Errorf("open the git repository at %s: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	return wt.Filesystem.Root(), nil
}
