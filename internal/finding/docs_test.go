package finding

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md")

// docs/rules.md is RulesMarkdown: the reference cannot drift from Rules.
func TestRulesDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "rules.md")
	want := RulesMarkdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/finding -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date: run go test ./internal/finding -update", path)
	}
	if u := DocURL("KW-POL-003"); u != DocsURL+"#kw-pol-003" {
		t.Errorf("DocURL = %q", u)
	}
	if DocURL("KW-NOPE-1") != "" {
		t.Error("DocURL of an unknown ID")
	}
}
