package job_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/diagnose/diagnosetest"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
	"github.com/kubewright/kubewright/internal/notify"
)

// ownNamespace is a manifest's metadata.namespace line.
var ownNamespace = regexp.MustCompile(`\n  namespace: \S+\n`)

// kustNamespace is a kustomization's top-level namespace line.
var kustNamespace = regexp.MustCompile(`(^|\n)namespace: \S+\n`)

// cluster is the kube-apiserver (with the kubelet stand-in that serves
// logs) the diagnose tests read; TestMain stops it.
var cluster diagnosetest.Shared

// diagnoseCase starts the fake GitHub with the repository of diagnose's
// case (its manifest carries the mistake), placed in namespace ns, with
// edit applied to the file at path for the first commit and the case's
// own file pushed on top when edit is set; and sets the cluster state the
// mistake causes up in ns. The Runner reads that cluster.
func diagnoseCase(t *testing.T, name, ns, path string, edit func(string) string, opts ...job.Option) *env {
	t.Helper()
	te := cluster.Get(t)
	caseDir := filepath.Join("..", "diagnose", "testdata", name)
	src := filepath.Join(t.TempDir(), "repo")
	if out, err := exec.Command("cp", "-R", filepath.Join(caseDir, "repo"), src).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Every manifest of the case goes to namespace ns, as the cluster
	// state does.
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(p, []byte(inNamespace(string(b), ns)), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(src, filepath.FromSlash(path))
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	placed := string(b)
	if edit != nil {
		if err := os.WriteFile(file, []byte(edit(placed)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnvFrom(t, src, "")
	if edit != nil {
		e.push(t, "acme", "shop", "main", map[string]string{path: placed})
	}
	diagnosetest.SetUp(t, te, caseDir, ns)
	cl, err := diagnose.NewCluster(te.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.runner = e.rebuild(append([]job.Option{job.WithCluster(cl)}, opts...)...)
	return e
}

// inNamespace puts a manifest in namespace ns: a kustomization's
// namespace, or each object's own.
func inNamespace(manifest, ns string) string {
	if kustNamespace.MatchString(manifest) {
		return kustNamespace.ReplaceAllString(manifest, "${1}namespace: "+ns+"\n")
	}
	if ownNamespace.MatchString(manifest) {
		return ownNamespace.ReplaceAllString(manifest, "\n  namespace: "+ns+"\n")
	}
	if strings.Contains(manifest, "\nkind: Kustomization\n") || strings.HasPrefix(manifest, "kind: Kustomization\n") {
		return manifest
	}
	return strings.ReplaceAll(manifest, "\nmetadata:\n", "\nmetadata:\n  namespace: "+ns+"\n")
}

// `/ai diagnose` answers with the findings traced to the default branch's
// lines; with --fix it opens the pull request of the repository fix.
func TestDiagnoseCommand(t *testing.T) {
	t.Run("OOMKilled: the memory limit doubled", func(t *testing.T) {
		var mu sync.Mutex
		var posted []string
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			posted = append(posted, string(b))
			mu.Unlock()
		}))
		defer hook.Close()
		w, err := notify.New(hook.URL + "/services/T000/B000/x")
		if err != nil {
			t.Fatal(err)
		}
		e := diagnoseCase(t, "oomkilled", "diag-oom", "k8s/reports/deployment.yaml", nil, job.WithNotifier(w))
		e.onNewIssue(t, "octocat", "/ai diagnose reports")
		got := e.lastComment()
		mu.Lock()
		if len(posted) != 1 || !strings.Contains(posted[0], "KW-DIAG-002") || !strings.Contains(posted[0], "reports") {
			t.Errorf("the team's channel heard %q", posted)
		}
		mu.Unlock()
		for _, s := range []string{"### Diagnosis of `reports` in `diag-oom`", "KW-DIAG-002", "OOMKilled", "/acme/shop/blob/", "k8s/reports/deployment.yaml#L"} {
			if !strings.Contains(got, s) {
				t.Errorf("diagnosis lacks %q:\n%s", s, got)
			}
		}
		n := e.onNewIssue(t, "octocat", "/ai diagnose reports --fix")
		branch := "kubewright/resources-reports-" + itoa(n)
		pr, ok := pullFor(e, branch)
		if !ok {
			t.Fatalf("no pull request; status: %s", e.lastComment())
		}
		dep := e.show(t, branch, "k8s/reports/deployment.yaml")
		if !strings.Contains(dep, "memory: 128Mi") {
			t.Errorf("the limit is not doubled:\n%s", dep)
		}
		for _, s := range []string{"<summary>Diagnosis</summary>", "KW-DIAG-002: the container was OOMKilled at its memory limit of 64Mi", "## Validation"} {
			if !strings.Contains(pr.Body, s) {
				t.Errorf("body lacks %q:\n%s", s, pr.Body)
			}
		}
	})

	t.Run("a tag that does not exist: the service as it was", func(t *testing.T) {
		good := func(s string) string {
			return strings.Replace(s, "ghcr.io/acme/cart:v1.4.3", "ghcr.io/acme/cart:v1.4.2", 1)
		}
		e := diagnoseCase(t, "imagepull", "diag-pull", "k8s/cart/deployment.yaml", good)
		n := e.onNewIssue(t, "octocat", "/ai diagnose cart --fix")
		branch := "kubewright/rollback-cart-" + itoa(n)
		if _, ok := pullFor(e, branch); !ok {
			t.Fatalf("no pull request; status: %s", e.lastComment())
		}
		if dep := e.show(t, branch, "k8s/cart/deployment.yaml"); !strings.Contains(dep, "image: ghcr.io/acme/cart:v1.4.2") {
			t.Errorf("not rolled back:\n%s", dep)
		}
	})

	t.Run("a crash loop since the last change: the service as it was", func(t *testing.T) {
		withQueue := func(s string) string {
			return strings.Replace(s, "            - name: API_TOKEN\n", "            - name: ORDERS_QUEUE_URL\n              value: amqp://rabbitmq:5672\n            - name: API_TOKEN\n", 1)
		}
		e := diagnoseCase(t, "crashloop", "diag-crash", "k8s/orders/deployment.yaml", withQueue)
		n := e.onNewIssue(t, "octocat", "/ai diagnose orders --fix")
		branch := "kubewright/rollback-orders-" + itoa(n)
		pr, ok := pullFor(e, branch)
		if !ok {
			t.Fatalf("no pull request; status: %s", e.lastComment())
		}
		if dep := e.show(t, branch, "k8s/orders/deployment.yaml"); !strings.Contains(dep, "ORDERS_QUEUE_URL") {
			t.Errorf("not rolled back:\n%s", dep)
		}
		if strings.Contains(pr.Body, "Sup3rS3cretPassw0rd") {
			t.Error("the password from the log reached the pull request")
		}
	})

	// Findings no Day-2 operation fixes get the deterministic fix of the
	// review's fixers.
	for _, tc := range []struct {
		name, dir, ns, service, file, want string
	}{
		{"a readiness probe on a port the container does not serve", "readiness", "diag-fix-probe", "user-service", "k8s/user-service/deployment.yaml", "port: 8080"},
		{"a Service targetPort no container declares", "targetport", "diag-fix-target", "billing", "k8s/billing/service.yaml", "targetPort: 8080"},
		{"a Service selector that matches nothing", "selector", "diag-fix-selector", "inventory", "k8s/inventory/service.yaml", "app: inventory\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := diagnoseCase(t, tc.dir, tc.ns, tc.file, nil)
			n := e.onNewIssue(t, "octocat", "/ai diagnose "+tc.service+" --fix")
			branch := "kubewright/fix-" + tc.service + "-" + itoa(n)
			pr, ok := pullFor(e, branch)
			if !ok {
				t.Fatalf("no pull request; status: %s", e.lastComment())
			}
			if got := e.show(t, branch, tc.file); !strings.Contains(got, tc.want) {
				t.Errorf("%s lacks %q:\n%s", tc.file, tc.want, got)
			}
			for _, s := range []string{"<summary>Diagnosis</summary>", "the fix is deterministic", "Check before merging", "## Validation", "| `" + tc.file + ":"} {
				if !strings.Contains(pr.Body, s) {
					t.Errorf("body lacks %q:\n%s", s, pr.Body)
				}
			}
			// The case's manifests are not hardened (policy finds errors
			// in them before and after), but the fix adds none.
			if pr.Draft || !strings.Contains(pr.Body, "This change adds no validation error") {
				t.Errorf("the fix adds errors:\n%s", pr.Body)
			}
			runs := e.fake.CheckRuns("acme", "shop")
			if len(runs) == 0 || runs[len(runs)-1].Conclusion != "neutral" || !strings.Contains(runs[len(runs)-1].Title, "No new validation errors") {
				t.Errorf("the check run should not fail for the branch's own errors: %+v", runs)
			}
		})
	}

	t.Run("a missing Secret: the repair agent's edit", func(t *testing.T) {
		const file = "k8s/payments/deployment.yaml"
		caseFile := filepath.Join("..", "diagnose", "testdata", "configerror", "repo", filepath.FromSlash(file))
		b, err := os.ReadFile(caseFile)
		if err != nil {
			t.Fatal(err)
		}
		fixed := strings.Replace(inNamespace(string(b), "diag-fix-secret"), "name: db-credential\n", "name: db-credentials\n", 1)
		cause := llmtest.Reply{Content: `{"causes":[{"rank":1,"cause":"DB_PASSWORD refers to the Secret db-credential; the namespace has db-credentials.",` +
			`"evidence":["secret \"db-credential\" not found"],"fix":"Name db-credentials in k8s/payments/deployment.yaml:25.","finding":"KW-DIAG-004"}]}`}
		opt, srv := scriptedAgents(t, cause,
			proposal("Point DB_PASSWORD at the Secret db-credentials, which exists.", llm.Edit{Path: file, Action: llm.ActionReplace, Content: fixed}),
			reviewReply("payments restarts once the Secret name is right."))
		e := diagnoseCase(t, "configerror", "diag-fix-secret", file, nil, opt)
		n := e.onNewIssue(t, "octocat", "/ai diagnose payments --fix")
		branch := "kubewright/fix-payments-" + itoa(n)
		pr, ok := pullFor(e, branch)
		if !ok {
			t.Fatalf("no pull request; status: %s", e.lastComment())
		}
		if got := e.show(t, branch, file); !strings.Contains(got, "name: db-credentials\n") {
			t.Errorf("not fixed:\n%s", got)
		}
		for _, s := range []string{"> 🤖 The repair agent (model): Point DB_PASSWORD", "The repair agent (model) wrote this change for KW-DIAG-004 (k8s/payments/deployment.yaml:25)", "- 🤖 payments restarts once"} {
			if !strings.Contains(pr.Body, s) {
				t.Errorf("body lacks %q:\n%s", s, pr.Body)
			}
		}
		rec := srv.Requests()
		if len(rec) != 3 {
			t.Fatalf("model calls: %d, want the root cause, the repair and the review", len(rec))
		}
		if p := userPrompt(rec[1]); !strings.Contains(p, "KW-DIAG-004") || !strings.Contains(p, "db-credential") || !strings.Contains(p, "Hint: create Secret") {
			t.Errorf("the repair prompt lacks the finding:\n%s", p)
		}
	})

	t.Run("mistakes", func(t *testing.T) {
		e := newEnvFrom(t, reviewRepo, "")
		for _, tc := range []struct{ body, want string }{
			{"/ai diagnose cart", "no cluster configured"},
			{"/ai diagnose cart web", "one service at a time"},
			{"/ai diagnose cart --all", "unknown flag"},
		} {
			e.onNewIssue(t, "octocat", tc.body)
			if got := e.lastComment(); !strings.Contains(got, tc.want) {
				t.Errorf("%s: %q", tc.body, got)
			}
		}
	})
}
