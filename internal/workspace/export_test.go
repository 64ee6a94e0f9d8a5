package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Export writes a revision's regular files, not the checkout's, and
// keeps to its caps.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	commit := func(files map[string]string) string {
		for p, body := range files {
			os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
			if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := wt.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		h, err := wt.Commit("c", &git.CommitOptions{Author: &object.Signature{Name: "a", Email: "a@example.com", When: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	first := commit(map[string]string{"k8s/app.yaml": "v1\n", "README.md": "hi\n"})
	commit(map[string]string{"k8s/app.yaml": "v2\n"})
	os.WriteFile(filepath.Join(dir, "k8s", "app.yaml"), []byte("uncommitted\n"), 0o644)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ rev, want string }{{first, "v1\n"}, {"HEAD", "v2\n"}, {"HEAD~1", "v1\n"}} {
		dest := filepath.Join(t.TempDir(), "tree")
		got, err := Export(context.Background(), filepath.Join(dir, "k8s"), tc.rev, dest, CloneOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dest, "k8s", "app.yaml"))
		if string(b) != tc.want || got == "" {
			t.Errorf("%s: k8s/app.yaml = %q at %s", tc.rev, b, got)
		}
		if _, err := os.Lstat(filepath.Join(dest, "link")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: an uncommitted symlink was exported", tc.rev)
		}
	}
	if _, err := Export(context.Background(), dir, "no-such-branch", t.TempDir(), CloneOptions{}); err == nil {
		t.Error("an unknown revision exported")
	}
	if _, err := Export(context.Background(), dir, "HEAD", t.TempDir(), CloneOptions{MaxFiles: 1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file cap: %v", err)
	}
}
