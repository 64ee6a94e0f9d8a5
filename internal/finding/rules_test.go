package finding

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestRulesMatchValidate keeps Rules the one list: every ID the validate
// stages and diagnose report is in it, and every ID in it is still reported.
func TestRulesMatchValidate(t *testing.T) {
	// The validate core and every stage package under it, and diagnose.
	var files []string
	for _, root := range []string{filepath.Join("..", "validate"), filepath.Join("..", "diagnose")} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
				files = append(files, p)
			}
			return err
		})
		if err != nil || len(files) == 0 {
			t.Fatalf("no sources found under %s: %v", root, err)
		}
	}
	id := regexp.MustCompile(`"(KW-[A-Z]+-\d{3})"`)
	used := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range id.FindAllStringSubmatch(string(data), -1) {
			used[m[1]], _ = filepath.Rel("..", f)
		}
	}
	for u, file := range used {
		if _, ok := LookupRule(u); !ok {
			t.Errorf("%s (reported in internal/%s) is missing from finding.Rules: add it to internal/finding/rules.go", u, file)
		}
	}
	for _, r := range Rules {
		if _, ok := used[r.ID]; !ok {
			t.Errorf("finding.Rules lists %s, which neither internal/validate nor internal/diagnose reports any more: remove it", r.ID)
		}
		if r.Stage == "" || r.Title == "" || r.Severity.Rank() == 0 {
			t.Errorf("rule %s is incomplete: %+v", r.ID, r)
		}
	}
	if !sort.SliceIsSorted(Rules, func(i, j int) bool { return Rules[i].ID < Rules[j].ID }) {
		t.Error("finding.Rules is not sorted by ID; LookupRule needs it sorted")
	}
}

func TestLookupRule(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{{"KW-POL-030", true}, {"KW-BUILD-001", true}, {"KW-SCHEMA-014", true}, {"KW-POL-03", false}, {"kw-pol-030", false}, {"", false}, {"KW-ZZZ-999", false}} {
		if r, ok := LookupRule(tc.id); ok != tc.ok || (ok && r.ID != tc.id) {
			t.Errorf("LookupRule(%q) = %+v, %v; want ok=%v", tc.id, r, ok, tc.ok)
		}
	}
}
