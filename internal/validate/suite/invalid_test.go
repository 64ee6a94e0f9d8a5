package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const invalidDir = "../../../testdata/invalid"

type goldenFinding struct {
	ID       string           `json:"id"`
	Severity finding.Severity `json:"severity"`
	File     string           `json:"file"`
	Line     int              `json:"line"`
	Object   string           `json:"object,omitempty"`
}

// TestInvalidFixtures runs every stage, the ephemeral dry-run included,
// over each fixture of testdata/invalid/ (one mistake each) and pins the
// findings (ID, severity, file, line) in testdata/invalid/<case>.json.
func TestInvalidFixtures(t *testing.T) {
	entries, err := os.ReadDir(invalidDir)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{CRDDirs: []string{validatetest.CRDDir(t)}, DryRun: testDryRun(t)}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			rep, err := Validate(context.Background(), filepath.Join(invalidDir, e.Name()), opts)
			if err != nil {
				t.Fatal(err)
			}
			got := []goldenFinding{}
			errorsFound := 0
			for _, f := range rep.Findings {
				got = append(got, goldenFinding{f.ID, f.Severity, f.File, f.Line, f.Object})
				if f.Severity == finding.Error {
					errorsFound++
				}
			}
			if errorsFound == 0 {
				t.Errorf("no error found; every invalid fixture holds one mistake: %+v", rep.Findings)
			}
			b, _ := json.MarshalIndent(got, "", "  ")
			b = append(b, '\n')
			golden := filepath.Join("testdata", "invalid", e.Name()+".json")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it, then read it)", err)
			}
			if !bytes.Equal(want, b) {
				t.Errorf("findings differ from %s:\n%s\nall findings:\n%v", golden, b, rep.Findings)
			}
		})
	}
}
