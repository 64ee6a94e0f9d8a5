package dryrun

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/schema"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
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

func newInputFromDir(b *testing.B, dir string) *validate.Input {
	files := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		files["k8s/"+e.Name()] = string(data)
	}
	return validatetest.NewInput(b, files)
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

// isolationJob is what one typical job validates on its server: Flux
// objects (their CRDs from the shared collection), a CRD of its own with a
// conversion webhook and one without, five namespaces with a ConfigMap and
// a Deployment each.
func isolationJob(b *testing.B) *validate.Input {
	files := map[string]string{
		"crds/widgets.yaml":  crdYAML("widgets", "Widget", "        url: https://127.0.0.1:9/convert"),
		"crds/probes.yaml":   "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: probes.a.example.com\nspec:\n  group: a.example.com\n  names: {kind: Probe, listKind: ProbeList, plural: probes, singular: probe}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n",
		"gitops/source.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: shop\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: https://example.com/shop.git\n  ref: {branch: main}\n",
		"gitops/apps.yaml":   "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./k8s\n  prune: true\n  sourceRef: {kind: GitRepository, name: shop}\n",
	}
	for i := range 5 {
		ns := fmt.Sprintf("team-%d", i)
		files["k8s/"+ns+".yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %[1]s\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: %[1]s\ndata:\n  a: b\n---\napiVersion: a.example.com/v1beta1\nkind: Widget\nmetadata:\n  name: w\n  namespace: %[1]s\nspec:\n  size: 1\n---\napiVersion: a.example.com/v1\nkind: Probe\nmetadata:\n  name: p\n  namespace: %[1]s\n---\n"+
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: %[1]s\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: ghcr.io/acme/web:1.0.0\n", ns)
	}
	in := validatetest.NewInput(b, files)
	crds, err := schema.LoadCRDs(filepath.Join(validatetest.CRDDir(b), "flux"))
	if err != nil {
		b.Fatal(err)
	}
	in.CRDs = crds
	return in
}

func mustCleanJob(b *testing.B, fs []finding.Finding) {
	b.Helper()
	for _, f := range fs {
		if f.Severity != finding.Info {
			b.Fatalf("the job's validation has findings: %v", f)
		}
	}
}

// BenchmarkJobIsolation measures the two ways to keep one job's dry-run
// state from the next, per job, on this machine:
//
//   - start: a fresh kube-apiserver+etcd per job (start-s, stop-s, and the
//     servers' CPU seconds for both), what the Pool does;
//   - reset: one server for every job, whose CRDs and namespaces are
//     deleted after each job and the whole server listed to verify it
//     (reset-s, and the server's CPU seconds for it);
//   - pool: a job on a Pool whose spare is ready (acquire-s is its wait
//     for a server, job-s its validation including CRD installs, release-s
//     the stop at its end).
func BenchmarkJobIsolation(b *testing.B) {
	assets, err := FindAssets("")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	job := isolationJob(b)
	b.Run("start", func(b *testing.B) {
		var start, stop, cpu float64
		for b.Loop() {
			c0 := childrenCPU()
			e := NewEphemeral(assets)
			if _, err := e.Config(ctx); err != nil {
				b.Fatal(err)
			}
			t := time.Now()
			if err := e.Stop(); err != nil {
				b.Fatal(err)
			}
			start += e.Started.Seconds()
			stop += time.Since(t).Seconds()
			cpu += childrenCPU() - c0
		}
		n := float64(b.N)
		b.ReportMetric(start/n, "start-s/op")
		b.ReportMetric(stop/n, "stop-s/op")
		b.ReportMetric(cpu/n, "cpu-s/op")
	})
	b.Run("reset", func(b *testing.B) {
		e := NewEphemeral(assets)
		defer e.Stop()
		cfg, err := e.Config(ctx)
		if err != nil {
			b.Fatal(err)
		}
		base, err := snapshotServer(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		var reset, cpu float64
		for b.Loop() {
			mustCleanJob(b, Check{Config: e.Config, Install: true, Memo: e.Memo()}.Check(ctx, job))
			c0, t := childrenCPU(), time.Now()
			if err := resetServer(ctx, cfg, base); err != nil {
				b.Fatal(err)
			}
			e.memo = InstallMemo{} // the server no longer has the CRDs
			reset += time.Since(t).Seconds()
			cpu += childrenCPU() - c0
		}
		b.ReportMetric(reset/float64(b.N), "reset-s/op")
		b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	})
	b.Run("pool", func(b *testing.B) {
		p := NewPool(assets)
		defer p.Close()
		p.Warm()
		var acquire, validate, release float64
		for b.Loop() {
			for p.stats().ready == 0 { // jobs further apart than a start
				time.Sleep(10 * time.Millisecond)
			}
			jctx, end := JobScope(ctx)
			t := time.Now()
			if _, err := p.Config(jctx); err != nil {
				b.Fatal(err)
			}
			acquire += time.Since(t).Seconds()
			t = time.Now()
			mustCleanJob(b, Check{Config: p.Config, Install: true}.Check(jctx, job))
			validate += time.Since(t).Seconds()
			t = time.Now()
			end()
			release += time.Since(t).Seconds()
		}
		n := float64(b.N)
		b.ReportMetric(acquire/n, "acquire-s/op")
		b.ReportMetric(validate/n, "job-s/op")
		b.ReportMetric(release/n, "release-s/op")
	})
}

// BenchmarkDryRunUnknownKinds dry-runs a repository with five kinds no CRD
// defines on a warm server (issue 12: each used to wait 5 s, one after the
// other, under one lock).
func BenchmarkDryRunUnknownKinds(b *testing.B) {
	e := testEphemeral(b)
	var refreshes atomic.Int32
	c := Check{Config: countingConfig(e.Config, &refreshes), Install: true, Memo: e.Memo()}
	in := unknownKinds(b, true)
	for b.Loop() {
		if fs := c.Check(context.Background(), in); len(fs) != 5 {
			b.Fatalf("findings: %s", messages(fs))
		}
	}
	b.ReportMetric(float64(refreshes.Load())/float64(b.N), "discoveries/op")
}
