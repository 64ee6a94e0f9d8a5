package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrHistoryTooShort is wrapped when the fetched history (CloneOptions.History)
// ends before the answer.
var ErrHistoryTooShort = errors.New("the fetched history is too short")

// LastChange finds the newest commit of the checked-out branch that
// changed a file under one of paths (files or directories, slash
// separated, relative to the top) and returns it with its parent: the
// tree just before that change. It reads only the history the clone
// fetched (CloneOptions.History); when the change or its parent lies
// beyond it, the error wraps ErrHistoryTooShort.
func (w *Workspace) LastChange(ctx context.Context, paths []string) (commit, parent string, err error) {
	return lastChange(ctx, w.repo, w.baseID, paths)
}

// LastChangeAt is LastChange for the git repository at or above dir,
// from its HEAD; paths are relative to the repository's top level.
func LastChangeAt(ctx context.Context, dir string, paths []string) (commit, parent string, err error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", "", fmt.Errorf("open the git repository at %s: %w", dir, err)
	}
	head, err := repo.Head()
	if err != nil {
		return "", "", fmt.Errorf("the git repository at %s has no commit: %w", dir, err)
	}
	return lastChange(ctx, repo, head.Hash(), paths)
}

func lastChange(ctx context.Context, repo *git.Repository, from plumbing.Hash, paths []string) (commit, parent string, err error) {
	if len(paths) == 0 {
		return "", "", fmt.Errorf("last change: no paths given")
	}
	touches := func(p string) bool {
		for _, q := range paths {
			q = strings.TrimSuffix(q, "/")
			if p == q || strings.HasPrefix(p, q+"/") {
				return true
			}
		}
		return false
	}
	iter, err := repo.Log(&git.LogOptions{From: from, Order: git.LogOrderCommitterTime})
	if err != nil {
		return "", "", fmt.Errorf("last change: %w", err)
	}
	defer iter.Close()
	var found *object.Commit
	err = iter.ForEach(func(c *object.Commit) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		changed, err := changedFiles(c)
		if err != nil {
			return err
		}
		for _, p := range changed {
			if touches(p) {
				found = c
				return storer.ErrStop
			}
		}
		return nil
	})
	switch {
	case err != nil && errors.Is(err, plumbing.ErrObjectNotFound):
		return "", "", fmt.Errorf("last change of %s: %w", strings.Join(paths, ", "), ErrHistoryTooShort)
	case err != nil:
		return "", "", fmt.Errorf("last change of %s: %w", strings.Join(paths, ", "), err)
	case found == nil:
		return "", "", fmt.Errorf("last change of %s: no fetched commit changed them: %w", strings.Join(paths, ", "), ErrHistoryTooShort)
	}
	if found.NumParents() == 0 {
		return found.Hash.String(), "", fmt.Errorf("last change of %s: %s created them; there is no earlier version to restore", strings.Join(paths, ", "), found.Hash.String()[:12])
	}
	p, err := found.Parent(0)
	if err != nil {
		return found.Hash.String(), "", fmt.Errorf("last change of %s is %s, whose parent was not fetched: %w", strings.Join(paths, ", "), found.Hash.String()[:12], ErrHistoryTooShort)
	}
	return found.Hash.String(), p.Hash.String(), nil
}

// changedFiles lists the files c changed against its first parent (all
// of its files for a root commit). A shallow boundary commit, whose
// parent was not fetched, fails with plumbing.ErrObjectNotFound.
func changedFiles(c *object.Commit) ([]string, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var before *object.Tree
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return nil, plumbing.ErrObjectNotFound
		}
		if before, err = p.Tree(); err != nil {
			return nil, err
		}
	}
	changes, err := object.DiffTree(before, tree)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ch := range changes {
		if ch.From.Name != "" {
			out = append(out, ch.From.Name)
		}
		if ch.To.Name != "" && ch.To.Name != ch.From.Name {
			out = append(out, ch.To.Name)
		}
	}
	return out, nil
}
