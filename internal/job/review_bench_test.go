package job_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
)

// BenchmarkReviewPolyglot measures a pull_request event on the polyglot
// shop (its services and the manifests containerize writes for them) to
// the posted review and check run, warm (the dry-run server started and
// its CRDs installed), for a push that changes 20 manifest files: clone
// base and head, validate both with the dry-run, compare, fix, diff,
// post. It reports the GitHub API calls of one review.
func BenchmarkReviewPolyglot(b *testing.B) {
	src := filepath.Join(b.TempDir(), "shop")
	for _, from := range []string{
		filepath.Join("..", "..", "testdata", "repos", "polyglot-shop"),
		filepath.Join("..", "author", "rules", "testdata", "containerize", "polyglot-shop"),
	} {
		if out, err := exec.Command("cp", "-R", from+"/.", src+"/").CombinedOutput(); err != nil {
			os.MkdirAll(src, 0o755)
			if out, err = exec.Command("cp", "-R", from+"/.", src+"/").CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	}
	os.Remove(filepath.Join(src, "PLAN.json"))
	var manifests []string
	filepath.WalkDir(filepath.Join(src, "gitops", "apps", "base"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") && filepath.Base(p) != "kustomization.yaml" {
			rel, _ := filepath.Rel(src, p)
			manifests = append(manifests, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(manifests)
	if len(manifests) < 20 {
		b.Fatalf("only %d manifests", len(manifests))
	}
	manifests = manifests[:20]

	e := newEnvFrom(b, src, "")
	change := func(i int) map[string]string {
		files := map[string]string{}
		for _, m := range manifests {
			body, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(m)))
			if err != nil {
				b.Fatal(err)
			}
			files[m] = fmt.Sprintf("# revision %d\n%s", i, body)
		}
		return files
	}
	e.push(b, "acme", "shop", "tune", change(0))
	n := e.fake.AddPull("acme", "shop", githubtest.PullSpec{User: "alice", Head: "tune"})
	if err := e.pullEvent(b, "opened", n, false); err != nil { // warm
		b.Fatal(err)
	}
	if len(e.fake.Reviews("acme", "shop", n)) != 1 {
		b.Fatal("no review")
	}
	var last time.Duration
	var calls int
	i := 1
	for b.Loop() {
		b.StopTimer()
		e.push(b, "acme", "shop", "tune", change(i))
		i++
		before := total(e.fake.ValidatedRequests())
		b.StartTimer()
		t := time.Now()
		if err := e.pullEvent(b, "synchronize", n, false); err != nil {
			b.Fatal(err)
		}
		last = time.Since(t)
		calls = total(e.fake.ValidatedRequests()) - before
	}
	b.ReportMetric(last.Seconds(), "s/review")
	b.ReportMetric(float64(calls), "api-calls/review")
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
