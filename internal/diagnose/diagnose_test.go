package diagnose

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/diagnose/diagnosetest"
)

var update = flag.Bool("update", false, "rewrite the golden reports under testdata")

// testNow is the clock of every case (events and statuses are written
// relative to it).
var testNow = time.Date(2026, 5, 4, 10, 5, 0, 0, time.UTC)

// caseNames are the directories under testdata holding a cluster.yaml.
func caseNames(t testing.TB) []string {
	matches, err := filepath.Glob(filepath.Join("testdata", "*", "cluster.yaml"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no cases under testdata: %v", err)
	}
	var out []string
	for _, m := range matches {
		out = append(out, filepath.Base(filepath.Dir(m)))
	}
	return out
}

// diagnoseCase sets the case up and diagnoses it through a counting
// client.
func diagnoseCase(t *testing.T, te *testEnv, name string, opts ...Option) (*diagnosetest.Fixture, *Report, *diagnosetest.Counter) {
	t.Helper()
	f := setUp(t, te, name)
	cfg, ctr := te.CountingConfig()
	cl, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Diagnose(context.Background(), cl, f.NS, f.Service, filepath.Join(f.Dir, "repo"),
		append([]Option{WithFluxNamespace(""), WithNow(func() time.Time { return testNow })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return f, r, ctr
}

// TestCases diagnoses every case against the real API server: the text
// report is golden (testdata/<case>/report.golden, -update rewrites it),
// the IDs the case expects are reported with a repository file and line,
// and no list call is repeated.
func TestCases(t *testing.T) {
	te := sharedEnv(t)
	for _, name := range caseNames(t) {
		t.Run(name, func(t *testing.T) {
			f, r, ctr := diagnoseCase(t, te, name)
			var b bytes.Buffer
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(f.Dir, "report.golden"), b.Bytes())
			for _, id := range f.Expect(t) {
				i := slices.IndexFunc(r.Findings, func(x Finding) bool { return x.ID == id })
				if i < 0 {
					t.Errorf("%s not reported:\n%s", id, b.String())
					continue
				}
				if x := r.Findings[i]; x.File == "" || x.Line == 0 || !strings.HasPrefix(x.File, "k8s/") && !strings.HasPrefix(x.File, "gitops/") {
					t.Errorf("%s is not traced to a repository line: %q:%d", id, x.File, x.Line)
				}
			}
			for path, n := range lists(ctr.Requests()) {
				if n > 1 {
					t.Errorf("%s listed %d times", path, n)
				}
			}
			for _, req := range ctr.Requests() {
				if !strings.HasPrefix(req, "GET ") {
					t.Errorf("a diagnosis wrote to the cluster: %s", req)
				}
			}
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/diagnose -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./internal/diagnose -update rewrites it); got:\n%s", file, got)
	}
}
