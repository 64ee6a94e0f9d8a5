package diagnose

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/validate"
)

func TestConnErrors(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []connError
	}{
		{`dial tcp: lookup postgress on 10.96.0.10:53: no such host`, []connError{{host: "postgress", dns: true}}},
		{`Error: getaddrinfo ENOTFOUND redis-master`, []connError{{host: "redis-master", dns: true}}},
		{`java.net.UnknownHostException: orders.shop.svc.cluster.local`, []connError{{host: "orders.shop.svc.cluster.local", dns: true}}},
		{`psql: error: could not translate host name "db" to address: Name or service not known`, []connError{{host: "db", dns: true}}},
		{`HTTPConnectionPool(host='inventory', port=8080): Max retries exceeded (Caused by NameResolutionError("Failed to resolve 'inventory'"))`, []connError{{host: "inventory", dns: true}}},
		{`dial tcp 10.0.0.12:5432: connect: connection refused`, []connError{{host: "10.0.0.12", port: "5432"}}},
		{`Error: connect ECONNREFUSED 10.0.0.7:6379`, []connError{{host: "10.0.0.7", port: "6379"}}},
		{`io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: orders/10.0.0.5:8080`, []connError{{host: "orders", port: "8080"}}},
		{`connection to server at "postgres" (10.0.0.9), port 5432 failed: Connection refused`, []connError{{host: "postgres", port: "5432"}}},
		{`HTTPConnectionPool(host='orders', port=8080): Max retries exceeded with url: / (Caused by NewConnectionError('[Errno 111] Connection refused'))`, []connError{{host: "orders", port: "8080"}}},
		{`GET /healthz 200 3ms`, nil},
		{`connection refused`, nil},
	} {
		got := connErrors(tc.line)
		if len(got) != len(tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.line, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: got %+v, want %+v", tc.line, got[i], tc.want[i])
			}
		}
	}
}

func TestInCluster(t *testing.T) {
	d := &diag{s: &Snapshot{Namespace: "shop", Services: []corev1.Service{{}}}}
	d.s.Services[0].Name, d.s.Services[0].Spec.ClusterIP = "orders", "10.0.0.20"
	for _, tc := range []struct {
		host, name, ns string
		ok             bool
	}{
		{"orders", "orders", "shop", true},
		{"orders.shop", "orders", "shop", true},
		{"orders.billing.svc", "orders", "billing", true},
		{"orders.billing.svc.cluster.local", "orders", "billing", true},
		{"10.0.0.20", "orders", "shop", true},
		{"10.0.0.21", "", "", false},
		{"api.github.com", "", "", false},
		{"orders.other", "", "", false},
	} {
		name, ns, ok := d.inCluster(tc.host)
		if name != tc.name || ns != tc.ns || ok != tc.ok {
			t.Errorf("inCluster(%q) = %q, %q, %v", tc.host, name, ns, ok)
		}
	}
}

func TestImageNames(t *testing.T) {
	for _, tc := range []struct{ image, repo, registry string }{
		{"ghcr.io/acme/web:1.8.0", "ghcr.io/acme/web", "ghcr.io"},
		{"nginx", "nginx", "docker.io"},
		{"library/nginx:1.27", "library/nginx", "docker.io"},
		{"localhost:5000/app@sha256:abc", "localhost:5000/app", "localhost:5000"},
		{"registry.example.com:443/team/app:v1", "registry.example.com:443/team/app", "registry.example.com:443"},
	} {
		if got := imageRepo(tc.image); got != tc.repo {
			t.Errorf("imageRepo(%q) = %q, want %q", tc.image, got, tc.repo)
		}
		if got := registryOf(tc.image); got != tc.registry {
			t.Errorf("registryOf(%q) = %q, want %q", tc.image, got, tc.registry)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"db-credentials", "postgres", "orders", "api"}
	for _, tc := range []struct{ n, want string }{
		{"db-credential", "db-credentials"}, {"postgress", "postgres"}, {"order", "orders"},
		{"ap", ""}, {"billing", ""}, {"orders", ""},
	} {
		if got := closest(tc.n, names); got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestMentionsHost(t *testing.T) {
	for _, tc := range []struct {
		value, host string
		want        bool
	}{
		{"postgress", "postgress", true},
		{"postgres://app@postgress:5432/db", "postgress", true},
		{"http://orders:8080", "orders", true},
		{"http://orders-v2:8080", "orders", false},
		{"myorders", "orders", false},
		{"orders.shop.svc", "orders", false},
		{"orders orders2", "orders", true},
	} {
		if got := mentionsHost(tc.value, tc.host); got != tc.want {
			t.Errorf("mentionsHost(%q, %q) = %v", tc.value, tc.host, got)
		}
	}
}

func TestProbeAnalysis(t *testing.T) {
	c := &corev1.Container{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	ev := func(msg string) []*corev1.Event { return []*corev1.Event{{Message: "Readiness probe failed: " + msg}} }
	httpProbe := func(port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: port}}}
	}
	for _, tc := range []struct {
		name  string
		probe *corev1.Probe
		evs   []*corev1.Event
		what  string
		field string
	}{
		{"port not declared", httpProbe(intstr.FromInt32(8081)), nil, "readiness probe on port 8081, but container web listens on 8080", "httpGet.port"},
		{"name not declared", httpProbe(intstr.FromString("metrics")), nil, `readiness probe on port "metrics", a name container web does not give any port`, "httpGet.port"},
		{"404", httpProbe(intstr.FromString("http")), ev("HTTP probe failed with statuscode: 404"), "readiness probe GET /healthz on port http answers 404", "httpGet.path"},
		{"refused", httpProbe(intstr.FromInt32(8080)), ev(`Get "http://10.0.0.1:8080/healthz": dial tcp 10.0.0.1:8080: connect: connection refused`), "nothing accepts the readiness probe's connections on port 8080", "httpGet.port"},
		{"timeout", httpProbe(intstr.FromInt32(8080)), ev(`Get "http://10.0.0.1:8080/healthz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`), "readiness probe times out after 1s", "timeoutSeconds"},
		{"exec", &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"pg_isready"}}}}, ev("/var/run/postgresql:5432 - no response"), "readiness probe command fails: /var/run/postgresql:5432 - no response", "exec.command"},
		{"no events", httpProbe(intstr.FromInt32(8080)), nil, "its readiness probe has not passed", ""},
	} {
		pa := analyzeProbe("readiness", c, tc.probe, tc.evs)
		if pa.what != tc.what || pa.field.String() != tc.field {
			t.Errorf("%s: got %q at %q, want %q at %q", tc.name, pa.what, pa.field.String(), tc.what, tc.field)
		}
	}
}

func TestResolve(t *testing.T) {
	src := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: sidecar
          image: envoy
        - name: web
          image: web:1
          env:
            - name: A
              value: "1"
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        storageClassName: fast
`
	doc := docOf(t, src)
	for _, tc := range []struct {
		p    path
		line int
		full bool
	}{
		{path{key("spec"), key("template"), key("spec"), key("containers"), sel("name", "web"), key("image")}, 12, true},
		{path{key("spec"), key("template"), key("spec"), key("containers"), sel("name", "web"), key("env"), sel("name", "A"), key("value")}, 15, true},
		{path{key("spec"), key("template"), key("spec"), key("containers"), idx(0)}, 9, true},
		{path{key("spec"), key("volumeClaimTemplates"), sel("metadata.name", "data"), key("spec"), key("storageClassName")}, 20, true},
		{path{key("spec"), key("template"), key("spec"), key("tolerations")}, 7, false},
		{path{key("spec"), key("template"), key("spec"), key("containers"), sel("name", "nope"), key("image")}, 8, false},
	} {
		line, full := resolve(doc, tc.p)
		if line != tc.line || full != tc.full {
			t.Errorf("%s: line %d full %v, want %d %v", tc.p, line, full, tc.line, tc.full)
		}
	}
	if got := (path{key("spec"), key("ports"), idx(0), key("targetPort")}).String(); got != "spec.ports[0].targetPort" {
		t.Errorf("path.String() = %q", got)
	}
}

// docOf parses one manifest as the source index does.
func docOf(t *testing.T, src string) validate.Doc {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "k8s/d.yaml", src)
	docs := validate.IndexSources(dir, []string{"k8s/d.yaml"}).Docs()
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	return docs[0]
}

// Without Flux's CRDs (discovery lists none of its groups) no Flux list is
// made; with an older served version, that version is listed.
func TestFluxJobs(t *testing.T) {
	var mu sync.Mutex
	s := &Snapshot{}
	if jobs := fluxJobsFor(fluxKinds, map[string][]string{"apps": {"v1"}}, Cluster{}, "shop", "flux-system", &mu, s); len(jobs) != 0 {
		t.Errorf("jobs without Flux: %d", len(jobs))
	}
	jobs := fluxJobsFor(fluxKinds, map[string][]string{"helm.toolkit.fluxcd.io": {"v2beta2"}}, Cluster{}, "shop", "flux-system", &mu, s)
	if len(jobs) != 2 || jobs[0].ns != "shop" || jobs[1].ns != "flux-system" || jobs[0].what != "helmreleases.helm.toolkit.fluxcd.io" {
		t.Errorf("jobs: %+v", jobs)
	}
}

func TestSanitize(t *testing.T) {
	var d struct {
		Spec corev1.PodSpec `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(`spec:
  containers:
    - name: app
      image: app
      command: ["app", "--password=hunter2hunter2"]
      env:
        - {name: DB_PASSWORD, value: s3cr3t-value}
        - {name: DB_HOST, value: postgres}
        - {name: TOKEN_URL, value: "https://user:pa55word@auth.example.com/token"}
`), &d); err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Pods: []corev1.Pod{{Spec: d.Spec}}}
	s.Pods[0].Annotations = map[string]string{lastApplied: `{"data":{"password":"x"}}`, "keep": "yes"}
	sanitize(s)
	p := s.Pods[0]
	env := p.Spec.Containers[0].Env
	if env[0].Value != "[REDACTED]" || env[1].Value != "postgres" || strings.Contains(env[2].Value, "pa55word") {
		t.Errorf("env: %+v", env)
	}
	if strings.Contains(strings.Join(p.Spec.Containers[0].Command, " "), "hunter2") {
		t.Errorf("command: %q", p.Spec.Containers[0].Command)
	}
	if _, ok := p.Annotations[lastApplied]; ok || p.Annotations["keep"] != "yes" {
		t.Errorf("annotations: %v", p.Annotations)
	}
}

func TestMarkdownInert(t *testing.T) {
	r := &Report{Namespace: "shop", Service: "web", Findings: []Finding{{Evidence: []string{"```\n@octocat <!-- x -->"}}}}
	r.Findings[0].ID, r.Findings[0].Severity = "KW-DIAG-001", "error"
	r.Findings[0].Message = "see ![x](https://evil.example/p.png) and @octocat | <script>"
	md := r.Markdown(nil)
	for _, bad := range []string{"![x](", "@octocat |", "<script>", "| <"} {
		if strings.Contains(md, bad) {
			t.Errorf("markdown carries %q:\n%s", bad, md)
		}
	}
	if !strings.Contains(md, "````text\n```\n@octocat") {
		t.Errorf("evidence fence does not enclose a fence:\n%s", md)
	}
}

func writeFile(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := dir + "/" + rel
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
