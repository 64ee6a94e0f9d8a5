package analyze

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRepoReadFileAfterWalk: a file changed between the walk and the read
// (grown past the cap, or replaced by a FIFO) is refused at once, never
// read whole or waited on.
func TestRepoReadFileAfterWalk(t *testing.T) {
	tests := []struct {
		name    string
		replace func(t *testing.T, p string)
		want    string
	}{
		{name: "grown past the cap", replace: func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte(strings.Repeat("x", maxFileSize+10)), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: errTooLarge.Error()},
		{name: "replaced by a FIFO", replace: func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			p := filepath.Join(root, "package.json")
			if err := os.WriteFile(p, []byte(`{"name":"web"}`), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := OpenRepo(root)
			if err != nil {
				t.Fatal(err)
			}
			tt.replace(t, p)
			done := make(chan error, 1)
			go func() { _, err := r.ReadFile("package.json"); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("ReadFile: %v, want an error containing %q", err, tt.want)
				}
				if tt.want == errTooLarge.Error() && !errors.Is(err, errTooLarge) {
					t.Errorf("ReadFile: %v does not wrap errTooLarge", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile blocked")
			}
		})
	}
}
