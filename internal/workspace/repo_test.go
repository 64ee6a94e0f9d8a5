package workspace

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// testRepo makes a git repository in a temporary directory and returns
// it with a commit function: each call writes files (path to content),
// commits them an hour after the previous commit and returns the commit.
func testRepo(t *testing.T) (string, *git.Repository, func(files map[string]string) string) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	commit := func(files map[string]string) string {
		t.Helper()
		for p, body := range files {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := wt.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		when = when.Add(time.Hour)
		h, err := wt.Commit("c", &git.CommitOptions{Author: &object.Signature{Name: "a", Email: "a@example.com", When: when}})
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	return dir, repo, commit
}
