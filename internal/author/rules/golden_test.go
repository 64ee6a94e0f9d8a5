package rules

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
)

// update rewrites golden files instead of comparing against them:
//
//	go test ./internal/author/rules/ -update
var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with the golden file at path (slash-separated,
// relative to the package), or rewrites the file when -update is set.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	file := filepath.FromSlash(path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(string(want)), B: difflib.SplitLines(string(got)),
			FromFile: path, ToFile: "got", Context: 3,
		})
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", path, diff)
	}
}
