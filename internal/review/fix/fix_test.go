package fix

import (
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kubewright/kubewright/internal/finding"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Each directory of testdata/fix is a case: finding.json (one finding, or
// a list for ApplyAll), the repository files it reads (at their
// repository paths, relative to the case), and expected.patch: the fix's
// title, note, line range, suggestion block and unified diff, or the
// reason there is none.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "fix", "*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases under testdata/fix: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := readFinding(t, dir)
			repo := os.DirFS(dir)
			got := render(t, repo, f)
			golden(t, filepath.Join(dir, "expected.patch"), got)

			fx, err := For(repo, f)
			if err != nil {
				return
			}
			// Applied, the fix is in place: proposing it again finds
			// nothing to do.
			before, _ := fs.ReadFile(repo, fx.File)
			after, err := fx.Apply(before)
			if err != nil {
				t.Fatal(err)
			}
			again := overlayFS(t, repo, fx.File, after)
			if _, err := For(again, f); err == nil {
				t.Errorf("the fix applied does not settle the finding: a second fix is proposed")
			} else if _, ok := IsUnfixable(err); !ok {
				t.Errorf("after the fix: %v", err)
			}
		})
	}
}

func readFinding(t *testing.T, dir string) finding.Finding {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "finding.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f finding.Finding
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("finding.json: %v", err)
	}
	return f
}

// render describes the outcome of For as the golden file holds it.
func render(t *testing.T, repo fs.FS, f finding.Finding) string {
	t.Helper()
	fx, err := For(repo, f)
	if err != nil {
		reason, ok := IsUnfixable(err)
		if !ok {
			t.Fatalf("For: %v", err)
		}
		return "no fix: " + reason + "\n"
	}
	var b strings.Builder
	b.WriteString("title: " + fx.Title + "\n")
	if fx.Note != "" {
		b.WriteString("note: " + fx.Note + "\n")
	}
	if fx.Creates() {
		b.WriteString("creates: " + fx.File + "\n")
	} else {
		b.WriteString("replaces: " + fx.File + " lines " + strconv.Itoa(fx.StartLine) + "-" + strconv.Itoa(fx.EndLine) + "\n")
		s, _ := fx.Suggestion()
		b.WriteString("\n" + s)
	}
	before, err := fs.ReadFile(repo, fx.File)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	patch, err := fx.Patch(before)
	if err != nil {
		t.Fatalf("Patch: %v", err)
	}
	b.WriteString("\n" + patch)
	return b.String()
}

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", file, want, got)
	}
}

// overlayFS is repo with one file replaced.
func overlayFS(t *testing.T, repo fs.FS, name string, data []byte) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(repo, p)
		if err != nil {
			return err
		}
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m[name] = &fstest.MapFile{Data: data, Mode: 0o644}
	return m
}
