package diagnose

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The logs reach the diagnosis through the API server's pods/log proxy:
// the kubelet stand-in is asked, by the API server, for the bounded
// previous log of the crashing container.
func TestLogsThroughAPIServer(t *testing.T) {
	te := sharedEnv(t)
	f, r, ctr := diagnoseCase(t, te, "crashloop")
	want := "/containerLogs/" + f.NS + "/orders-5b7f9c8d6-kq2xw/api?limitBytes=32768&previous=true&tailLines=50"
	if got := te.Kubelet.Requests(f.NS); !slices.Contains(got, want) {
		t.Errorf("the kubelet was not asked for %s; it served %q", want, got)
	}
	if !slices.ContainsFunc(ctr.Requests(), func(s string) bool {
		return strings.HasPrefix(s, "GET /api/v1/namespaces/"+f.NS+"/pods/orders-5b7f9c8d6-kq2xw/log?")
	}) {
		t.Errorf("no pods/log request: %q", ctr.Requests())
	}
	if len(r.Logs) == 0 || !slices.ContainsFunc(r.Logs[0].Lines, func(l string) bool { return strings.Contains(l, "ORDERS_QUEUE_URL is required") }) {
		t.Errorf("the log read is not in the report: %+v", r.Logs)
	}
}

// Secrets never leave a diagnosis: not a password in a log line, not a
// literal token in a container's env, not a Secret's data (listed by name
// through metadata-only requests).
func TestRedaction(t *testing.T) {
	te := sharedEnv(t)
	secrets := []string{"Sup3rS3cretPassw0rd", "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngOnly00000", "c0rrect-h0rse-battery-stapl3"}
	for _, name := range []string{"crashloop", "configerror"} {
		f, r, ctr := diagnoseCase(t, te, name)
		var out bytes.Buffer
		for _, format := range []string{FormatText, FormatJSON, FormatMarkdown} {
			if err := Write(&out, r, format); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range secrets {
			if strings.Contains(out.String(), s) {
				t.Errorf("%s: the report shows a secret %q", name, s)
			}
		}
		for _, kind := range []string{"secrets", "configmaps"} {
			accept := ctr.Accept("/api/v1/namespaces/" + f.NS + "/" + kind)
			if !strings.Contains(accept, "as=PartialObjectMetadataList") {
				t.Errorf("%s were listed with Accept %q, not as metadata only", kind, accept)
			}
		}
	}
	_, r, _ := diagnoseCase(t, te, "crashloop")
	found := false
	for _, l := range r.Logs {
		for _, line := range l.Lines {
			found = found || strings.Contains(line, "postgres://orders:[REDACTED]@postgres:5432/orders")
		}
	}
	if !found {
		t.Errorf("the log line with the password is not kept, redacted: %+v", r.Logs)
	}
	// What is kept of the cluster is redacted too, not only what is shown.
	s := snapshotOf(t, te, "diag-crashloop")
	for _, d := range s.Deployments {
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "API_TOKEN" && e.Value != "[REDACTED]" {
				t.Errorf("API_TOKEN kept as %q", e.Value)
			}
		}
	}
	if !slices.Contains(s.Secrets, "orders-db") {
		t.Errorf("secret names: %q", s.Secrets)
	}
}

func snapshotOf(t *testing.T, te *testEnv, ns string) *Snapshot {
	t.Helper()
	cl, err := NewCluster(te.Config)
	if err != nil {
		t.Fatal(err)
	}
	s, err := collect(context.Background(), cl, ns, options{concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A kubelet that ignores tailLines and limitBytes does not make the
// diagnosis keep more than its bounds.
func TestLogBounds(t *testing.T) {
	te := sharedEnv(t)
	ctx := context.Background()
	kube := kubernetes.NewForConfigOrDie(te.Config)
	ns := "diag-bounds"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := crashingPod(ns, "noisy", nil)
	createPod(t, kube, p)
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, "line %03d %s\n", i, strings.Repeat("x", 150))
	}
	te.Kubelet.SetLog(ns, "noisy", "app", true, b.String())
	for _, ignore := range []bool{false, true} {
		te.Kubelet.SetIgnoreLimits(ignore)
		cl, _ := NewCluster(te.Config)
		r, err := Diagnose(ctx, cl, ns, "", "", WithLogLimits(20, 2048), WithFluxNamespace(""))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Logs) != 1 {
			t.Fatalf("ignore=%v: logs %+v", ignore, r.Logs)
		}
		l := r.Logs[0]
		size := 0
		for _, line := range l.Lines {
			size += len(line) + 1
		}
		if len(l.Lines) > 20 || size > 2048 || !l.Truncated || len(l.Lines) == 0 {
			t.Errorf("ignore=%v: kept %d lines, %d bytes, truncated=%v", ignore, len(l.Lines), size, l.Truncated)
		}
		if !strings.HasPrefix(l.Lines[0], "line ") {
			t.Errorf("ignore=%v: a partial line was kept: %q", ignore, l.Lines[0])
		}
	}
	te.Kubelet.SetIgnoreLimits(false)
	if got := te.Kubelet.Requests(ns); len(got) != 2 || !strings.Contains(got[0], "limitBytes=2048") || !strings.Contains(got[0], "tailLines=20") {
		t.Errorf("kubelet requests: %q", got)
	}
}

// A reader without access to Secrets and Nodes still gets a diagnosis,
// and notes that say what to grant.
func TestForbiddenLists(t *testing.T) {
	te := sharedEnv(t)
	f := setUp(t, te, "crashloop")
	ctx := context.Background()
	kube := kubernetes.NewForConfigOrDie(te.Config)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "partial-reader", Namespace: f.NS}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "events", "services", "persistentvolumeclaims", "configmaps"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "replicasets"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list"}},
	}}
	if _, err := kube.RbacV1().Roles(f.NS).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "partial-reader", Namespace: f.NS},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "partial-reader"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "kw-partial-reader", APIGroup: "rbac.authorization.k8s.io"}}}
	if _, err := kube.RbacV1().RoleBindings(f.NS).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(te.Config)
	cfg.Impersonate.UserName = "kw-partial-reader"
	cl, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Diagnose(ctx, cl, f.NS, f.Service, filepath.Join(f.Dir, "repo"), WithFluxNamespace(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cannot list secrets in namespace " + f.NS + ": forbidden; grant get and list on secrets",
		"cannot list nodes cluster-wide: forbidden",
		"cannot list kustomizations.kustomize.toolkit.fluxcd.io in namespace " + f.NS + ": forbidden",
	} {
		if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("no note %q in %q", want, r.Notes)
		}
	}
	if !slices.ContainsFunc(r.Findings, func(x Finding) bool { return x.ID == "KW-DIAG-001" }) {
		t.Errorf("the crash is not found with partial access: %+v", r.Findings)
	}
	// Without access to Pods there is no diagnosis, and the error says why.
	cfg2 := rest.CopyConfig(te.Config)
	cfg2.Impersonate.UserName = "kw-nobody"
	cl2, _ := NewCluster(cfg2)
	if _, err := Diagnose(ctx, cl2, f.NS, f.Service, ""); err == nil || !strings.Contains(err.Error(), "cannot list pods in namespace "+f.NS+": forbidden") {
		t.Errorf("without access to pods: %v", err)
	}
}

// The Markdown and JSON renderings of one report are golden too.
func TestRenderings(t *testing.T) {
	te := sharedEnv(t)
	f, r, _ := diagnoseCase(t, te, "lognetwork")
	r.Stats.Requests, r.Stats.Duration = 0, 0
	link := func(file string, line int) string {
		return fmt.Sprintf("https://github.com/acme/shop/blob/main/%s#L%d", file, line)
	}
	golden(t, filepath.Join(f.Dir, "report.md.golden"), []byte(r.Markdown(link)))
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join(f.Dir, "report.json.golden"), b.Bytes())
	if err := Write(&b, r, "yaml"); err == nil {
		t.Error("format yaml accepted")
	}
}

// crashingPod is a Pod bound to the test node whose container app crashes
// in a loop, owned by owner when given.
func crashingPod(ns, name string, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/acme/" + name + ":1.0.0"}}}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "ghcr.io/acme/" + name + ":1.0.0", RestartCount: 3,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", FinishedAt: metav1.NewTime(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))}}}}}
	return p
}

// createPod creates p and writes its status.
func createPod(t testing.TB, kube kubernetes.Interface, p *corev1.Pod) {
	t.Helper()
	if err := createPodErr(kube, p); err != nil {
		t.Fatal(err)
	}
}

func createPodErr(kube kubernetes.Interface, p *corev1.Pod) error {
	ctx := context.Background()
	status := p.Status
	got, err := kube.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	got.Status = status
	_, err = kube.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, got, metav1.UpdateOptions{})
	return err
}
