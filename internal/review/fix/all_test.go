package fix

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kubewright/kubewright/internal/finding"
)

// TestApplyAll applies every finding the validator reported on
// testdata/applyall/shop (shop.findings.json, the validator's own output)
// and compares the files with shop.expected/ and what was applied and
// skipped with shop.expected.txt. Re-validating shop.expected/ reports
// none of the applied findings again.
func TestApplyAll(t *testing.T) {
	dir := filepath.Join("testdata", "applyall")
	b, err := os.ReadFile(filepath.Join(dir, "shop.findings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fs []finding.Finding
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatal(err)
	}
	repo := os.DirFS(filepath.Join(dir, "shop"))
	res := ApplyAll(repo, fs)

	var log strings.Builder
	for _, a := range res.Applied {
		fmt.Fprintf(&log, "applied %s %s:%d -> %s %d-%d: %s\n", a.Finding.ID, a.Finding.File, a.Finding.Line, a.Fix.File, a.Fix.StartLine, a.Fix.EndLine, a.Fix.Title)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(&log, "skipped %s %s:%d: %s\n", s.Finding.ID, s.Finding.File, s.Finding.Line, s.Reason)
	}
	golden(t, filepath.Join(dir, "shop.expected.txt"), log.String())

	names := make([]string, 0, len(res.Files))
	for name := range res.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, "shop.expected", filepath.FromSlash(name))
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		golden(t, p, string(res.Files[name]))
	}

	// Every applied finding is settled in the result.
	after := fstest.MapFS{}
	for name, data := range res.Files {
		after[name] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	merged := overlayAll(t, repo, after)
	for _, a := range res.Applied {
		if fx, err := For(merged, a.Finding); err == nil {
			t.Errorf("%s %s: still fixable after ApplyAll: %s", a.Finding.ID, a.Finding.Message, fx.Title)
		}
	}
	if len(res.Applied) < 14 {
		t.Errorf("applied %d fixes, want at least 14", len(res.Applied))
	}
}

// overlayAll is repo with the files of over in place of its own.
func overlayAll(t *testing.T, repo fs.FS, over fstest.MapFS) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(repo, p)
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

func TestShiftLine(t *testing.T) {
	shifts := []shift{{start: 10, end: 10, lines: 3}, {start: 20, end: 22, lines: 1}}
	for _, tc := range []struct{ in, want int }{
		{5, 5},   // before every edit
		{10, 10}, // the replaced line
		{11, 13}, // after the first edit: +2
		{17, 19}, // +2, before the second edit (whose lines count after the first)
		{19, 20}, // +2 lands in the second edit's range: its first line
		{30, 30}, // +2 then -2
	} {
		if got := shiftLine(shifts, tc.in); got != tc.want {
			t.Errorf("shiftLine(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestGrouped merges the fixes of each container into one suggestion.
func TestGrouped(t *testing.T) {
	dir := filepath.Join("testdata", "applyall")
	b, err := os.ReadFile(filepath.Join(dir, "shop.findings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fs []finding.Finding
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatal(err)
	}
	repo := os.DirFS(filepath.Join(dir, "shop"))
	groups, skipped := Grouped(repo, fs)
	var out strings.Builder
	for _, g := range groups {
		var ids []string
		for _, f := range g.Findings {
			ids = append(ids, f.ID)
		}
		fmt.Fprintf(&out, "== %s %d-%d for %s\n%s\n", g.Fix.File, g.Fix.StartLine, g.Fix.EndLine, strings.Join(ids, " "), g.Fix.Title)
		if s, ok := g.Fix.Suggestion(); ok {
			out.WriteString(s)
		} else {
			out.WriteString("(creates the file)\n" + g.Fix.Replacement)
		}
	}
	for _, s := range skipped {
		fmt.Fprintf(&out, "skipped %s %s:%d: %s\n", s.Finding.ID, s.Finding.File, s.Finding.Line, s.Reason)
	}
	golden(t, filepath.Join(dir, "shop.grouped.txt"), out.String())
	if len(groups) != 4 {
		t.Errorf("%d groups, want 4 (.dockerignore, Dockerfile, container api, container proxy)", len(groups))
	}
}
