package validate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// BenchmarkEphemeralStart measures start-to-ready of a fresh throwaway
// kube-apiserver + etcd.
func BenchmarkEphemeralStart(b *testing.B) {
	assets, err := FindAssets("")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		e := NewEphemeral(assets)
		if _, err := e.Config(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		e.Stop()
		b.StartTimer()
	}
}

// BenchmarkValidatePolyglot validates the polyglot shop with the
// deterministic author's full output (all stages, warm apiserver). The
// output is the golden tree of the author's tests laid over the fixture.
func BenchmarkValidatePolyglot(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "polyglot-shop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, src := range []string{
		filepath.Join("..", "..", "testdata", "repos", "polyglot-shop"),
		filepath.Join("..", "author", "rules", "testdata", "containerize", "polyglot-shop"),
	} {
		if out, err := exec.Command("cp", "-R", src+"/.", dir+"/").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
	os.Remove(filepath.Join(dir, "PLAN.json"))
	crds, err := LoadCRDs(testCRDDir(b))
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{CRDs: crds, DryRun: testDryRun(b)}
	rep, err := Validate(context.Background(), dir, opts) // warm: CRDs installed, namespaces created
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity == "error" {
			b.Fatalf("polyglot output has findings: %v", f)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Validate(context.Background(), dir, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rep.Objects), "objects")
}

// corpus writes n objects (ConfigMaps, Services, Deployments in 10
// namespaces) as one file per object.
func corpus(b *testing.B, n int) string {
	dir := b.TempDir()
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("bench-%d", i%10)
		var doc string
		switch i % 3 {
		case 0:
			doc = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: %s\ndata:\n  key: value-%d\n", i, ns, i)
		case 1:
			doc = fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%d\n  namespace: %s\nspec:\n  selector:\n    app: a%d\n  ports:\n  - port: 80\n    targetPort: 8080\n", i, ns, i)
		default:
			doc = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dep-%d\n  namespace: %s\nspec:\n  selector:\n    matchLabels:\n      app: a%d\n  template:\n    metadata:\n      labels:\n        app: a%d\n    spec:\n      containers:\n      - name: app\n        image: ghcr.io/acme/app:1.0.%d\n        ports:\n        - containerPort: 8080\n", i, ns, i, i, i)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("obj-%04d.yaml", i)), []byte(doc), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkDryRun1000 sends 1,000 objects through the dry-run stage on a
// warm apiserver and, once, through `kubectl apply --server-side
// --dry-run=server -f` on the same files and server when kubectl is in the
// assets directory or on PATH; it reports the speedup.
func BenchmarkDryRun1000(b *testing.B) {
	const n = 1000
	dir := corpus(b, n)
	in := newInputFromDir(b, dir)
	check := testDryRun(b)
	if fs := check.Check(context.Background(), in); len(fs) > 0 { // warm: namespaces created
		b.Fatalf("corpus has findings: %v", fs[0])
	}
	b.ResetTimer()
	var per time.Duration
	for b.Loop() {
		t := time.Now()
		if fs := check.Check(context.Background(), in); len(fs) > 0 {
			b.Fatal(fs[0])
		}
		per = time.Since(t)
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/per.Seconds(), "objects/s")
	kubectl := kubectlPath()
	if kubectl == "" {
		b.Log("kubectl not found (make bench builds it): no comparison")
		return
	}
	cfg, err := testEphemeral(b).Config(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	kc := writeKubeconfig(b, cfg)
	t := time.Now()
	out, err := exec.Command(kubectl, "--kubeconfig", kc, "apply", "--server-side", "--dry-run=server", "--field-manager", "kubectl-bench", "-f", dir).CombinedOutput()
	if err != nil {
		b.Fatalf("kubectl: %v: %s", err, out)
	}
	kt := time.Since(t)
	if got := strings.Count(string(out), "(server dry run)"); got != n {
		b.Fatalf("kubectl dry-ran %d objects, want %d", got, n)
	}
	b.ReportMetric(kt.Seconds(), "kubectl-s")
	b.ReportMetric(kt.Seconds()/per.Seconds(), "speedup-x")
}

func kubectlPath() string {
	if a, err := FindAssets(""); err == nil {
		if _, err := os.Stat(filepath.Join(a, "kubectl")); err == nil {
			return filepath.Join(a, "kubectl")
		}
	}
	p, _ := exec.LookPath("kubectl")
	return p
}

func newInputFromDir(b *testing.B, dir string) *Input {
	files := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		files["k8s/"+e.Name()] = string(data)
	}
	return newInput(b, files)
}

func writeKubeconfig(b *testing.B, cfg *rest.Config) string {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["e"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["e"] = &clientcmdapi.Context{Cluster: "e", AuthInfo: "e"}
	kc.CurrentContext = "e"
	p := filepath.Join(b.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, p); err != nil {
		b.Fatal(err)
	}
	return p
}
