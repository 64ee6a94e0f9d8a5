package analyze

import (
	"os"
	"path/filepath"
	"testing"
)

// writeTree creates files (slash paths -> contents) under a fresh temporary
// directory and returns the walked Repo.
func writeTree(t testing.TB, files map[string]string) *Repo {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := OpenRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
