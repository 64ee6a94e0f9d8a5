package suite_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/validate/dryrun"
	"github.com/kubewright/kubewright/internal/validate/suite"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

// TestContainerizeOutputValidates: what `kubewright containerize` writes
// for every fixture repository passes every stage, the ephemeral
// server-side dry-run included, with no error and no warning on any file
// it wrote.
func TestContainerizeOutputValidates(t *testing.T) {
	assets, err := dryrun.FindAssets("")
	if err != nil {
		t.Fatalf("%v: run `make test`, which builds the binaries", err)
	}
	eph := dryrun.NewEphemeral(assets)
	defer eph.Stop()
	opts := suite.Options{
		CRDDirs: []string{validatetest.CRDDir(t)},
		DryRun:  dryrun.Check{Config: func(ctx context.Context) (*rest.Config, error) { return eph.Config(ctx) }, Install: true, Memo: eph.Memo()},
	}
	fixtures, err := os.ReadDir(filepath.Join("..", "..", "..", "testdata", "repos"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fx := range fixtures {
		t.Run(fx.Name(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), fx.Name())
			if out, err := exec.Command("cp", "-R", filepath.Join("..", "..", "..", "testdata", "repos", fx.Name()), dir).CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			plan, err := job.Containerize(context.Background(), dir, job.ContainerizeOptions{Author: author.Options{Registry: "ghcr.io/acme"}})
			if err != nil {
				t.Fatal(err)
			}
			written := map[string]bool{"": true}
			for _, f := range plan.Files {
				written[f.Path] = true
			}
			rep, err := suite.Validate(context.Background(), dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.Findings {
				switch {
				case !written[f.File]:
					// The repository's own files are the owner's business.
					t.Logf("not written by kubewright: %s", f)
				case f.Severity.Rank() >= finding.Warning.Rank():
					t.Errorf("%s", f)
				}
			}
			for _, s := range rep.Stages {
				if s.Skipped != "" {
					t.Errorf("stage %s skipped: %s", s.Name, s.Skipped)
				}
			}
		})
	}
}
