package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Export writes a revision's regular files, not the checkout's, and
// keeps to its caps.
func TestExport(t *testing.T) {
	dir, _, commit := testRepo(t)
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
