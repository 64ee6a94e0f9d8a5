package dryrun

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

// crdYAML is a two-version CRD (v1 stored, v1beta1 served) converting
// through a webhook with the given clientConfig.
func crdYAML(plural, kind, clientConfig string) string {
	schema := "    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              size: {type: integer}\n"
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[1]s.a.example.com
spec:
  group: a.example.com
  names: {kind: %[2]s, listKind: %[2]sList, plural: %[1]s, singular: %[3]s}
  scope: Namespaced
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
      clientConfig:
%[4]s
  versions:
  - name: v1
    served: true
    storage: true
%[5]s  - name: v1beta1
    served: true
    storage: false
%[5]s`, plural, kind, strings.ToLower(kind), clientConfig, schema)
}

// repoA brings CRDs converting through webhooks (one at a URL on the
// test's listener, one at a Service), its own namespace and objects, and
// every kind that would make the server call out or change admission.
func repoA(t *testing.T, hook string) *validate.Input {
	webhooks := func(path string) string {
		return fmt.Sprintf(`webhooks:
- name: url.a.example.com
  clientConfig: {url: "%[1]s/%[2]s"}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}]
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Fail
- name: svc.a.example.com
  clientConfig: {service: {namespace: a-system, name: hooks, path: /%[2]s}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}]
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Fail
`, hook, path)
	}
	return validatetest.NewInput(t, map[string]string{
		"crds/widgets.yaml": crdYAML("widgets", "Widget", "        url: "+hook+"/convert"),
		"crds/gadgets.yaml": crdYAML("gadgets", "Gadget", "        service: {namespace: a-system, name: gadget-conversion, path: /convert}"),
		"k8s/ns.yaml":       "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
		"k8s/w1.yaml":       "apiVersion: a.example.com/v1beta1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: team-a\nspec:\n  size: 3\n",
		"k8s/w2.yaml":       "apiVersion: a.example.com/v1\nkind: Widget\nmetadata:\n  name: w2\n  namespace: team-a\nspec:\n  size: 4\n",
		"k8s/g1.yaml":       "apiVersion: a.example.com/v1beta1\nkind: Gadget\nmetadata:\n  name: g1\n  namespace: team-a\nspec:\n  size: 1\n",
		"k8s/cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team-a\ndata:\n  a: b\n",
		"k8s/apiservice.yaml": `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha1.metrics.a.example.com
spec:
  group: metrics.a.example.com
  version: v1alpha1
  service: {namespace: a-system, name: metrics-api, port: 443}
  groupPriorityMinimum: 1000
  versionPriority: 15
  insecureSkipTLSVerify: true
`,
		"k8s/validating.yaml": "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: a-validate\n" + webhooks("validate"),
		"k8s/mutating.yaml":   "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: a-mutate\n" + webhooks("mutate"),
		"k8s/policy.yaml": `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: a-deny-configmaps
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}]
  validations:
  - expression: "false"
    message: repository A allows no ConfigMaps
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: a-deny-configmaps
spec:
  policyName: a-deny-configmaps
  validationActions: [Deny]
`,
	})
}

// TestJobIsolation validates two repositories one after the other in two
// job scopes on one pool: B sees nothing of A (CRD, namespace, objects),
// nothing A brings makes a server call out, and no server outlives its job.
func TestJobIsolation(t *testing.T) {
	assets, err := FindAssets("")
	if err != nil {
		t.Fatalf("this test needs a kube-apiserver: %v (run `make testenv`)", err)
	}
	before := serverProcs(t)
	var calls atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			calls.Add(1)
			c.Close()
		}
	}()
	hook := "https://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	pool := NewPool(assets)
	defer pool.Close()
	pool.Warm()
	check := Check{Config: pool.Config, Install: true}
	ctx := context.Background()

	// Job A, validated twice (a baseline and an attempt) on one server.
	ctxA, endA := JobScope(ctx)
	defer endA()
	inA := repoA(t, hook)
	want := []string{
		"KW-DRYRUN-007 info CustomResourceDefinition/gadgets.a.example.com",
		"KW-DRYRUN-007 info CustomResourceDefinition/widgets.a.example.com",
		"KW-DRYRUN-008 info APIService/v1alpha1.metrics.a.example.com",
		"KW-DRYRUN-008 info MutatingWebhookConfiguration/a-mutate",
		"KW-DRYRUN-008 info ValidatingWebhookConfiguration/a-validate",
		"KW-DRYRUN-009 info ValidatingAdmissionPolicy/a-deny-configmaps",
		"KW-DRYRUN-009 info ValidatingAdmissionPolicyBinding/a-deny-configmaps",
	}
	var dirsA []string
	for round := range 2 {
		got := check.Check(ctxA, inA)
		assertFindings(t, fmt.Sprintf("A round %d", round), got, want)
		for _, f := range got {
			if f.Line == 0 || f.File == "" {
				t.Errorf("A round %d: %s has no file/line: %+v", round, f.ID, f)
			}
		}
		d := scopeDirs(t, ctxA)
		if round == 1 && strings.Join(d, ",") != strings.Join(dirsA, ",") {
			t.Errorf("job A's second validation used another server: %v, then %v", dirsA, d)
		}
		dirsA = d
	}
	cfgA, err := pool.Config(ctxA)
	if err != nil {
		t.Fatal(err)
	}
	// A's server has the CRDs (conversion None) and the namespace, and
	// none of the objects that were only dry-run.
	ext := apiextclient.NewForConfigOrDie(cfgA)
	crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "widgets.a.example.com", metav1.GetOptions{})
	if err != nil || crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.NoneConverter {
		t.Errorf("A's widget CRD on its server: %v, conversion %+v; want installed with conversion None", err, crd.Spec.Conversion)
	}
	dynA := dynamic.NewForConfigOrDie(cfgA)
	assertPresent(t, dynA, "A", schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", "team-a", true)
	for _, gone := range []struct {
		gvr      schema.GroupVersionResource
		ns, name string
	}{
		{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "team-a", "settings"},
		{schema.GroupVersionResource{Group: "a.example.com", Version: "v1", Resource: "widgets"}, "team-a", "w1"},
		{schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}, "", "v1alpha1.metrics.a.example.com"},
		{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, "", "a-validate"},
		{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}, "", "a-mutate"},
		{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}, "", "a-deny-configmaps"},
	} {
		assertPresent(t, dynA, "A", gone.gvr, gone.ns, gone.name, false)
	}
	endA()
	waitGone(t, "job A's server", dirsA)
	if _, err := pool.Config(ctxA); err == nil {
		t.Error("a validation after job A ended got a server")
	}

	// Job B takes the spare: nothing of A is there.
	waitFor(t, "a warm spare", func() bool { return pool.stats().ready == 1 })
	ctxB, endB := JobScope(ctx)
	defer endB()
	cfgB, err := pool.Config(ctxB)
	if err != nil {
		t.Fatal(err)
	}
	if st := pool.stats(); st.leased != 1 || st.waiting != 0 {
		t.Errorf("job B did not take the spare: %+v", st)
	}
	dynB := dynamic.NewForConfigOrDie(cfgB)
	assertPresent(t, dynB, "B", schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, "", "widgets.a.example.com", false)
	assertPresent(t, dynB, "B", schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", "team-a", false)
	got := check.Check(ctxB, validatetest.NewInput(t, map[string]string{
		"k8s/w1.yaml": "apiVersion: a.example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: team-a\nspec:\n  size: 3\n",
		"k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team-a\ndata:\n  a: b\n",
	}))
	assertFindings(t, "B", got, []string{"KW-DRYRUN-003 error Widget/team-a/w1"})
	if len(got) == 1 && !strings.Contains(got[0].Message, "does not serve a.example.com/v1 Widget") {
		t.Errorf("B's widget: %s", got[0].Message)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the webhook listener received %d connections from the validation servers", n)
	}

	// The listener does see a server that installs the webhook as
	// written: the zero above is not for want of trying.
	controlWebhook(t, cfgB, inA)
	waitFor(t, "the control conversion call", func() bool { return calls.Load() > 0 })
	// Webhook admission is off: even a configuration installed for real
	// is never called.
	n := calls.Load()
	admissionOff(t, cfgB, inA)
	if got := calls.Load(); got != n {
		t.Errorf("an admission webhook installed for real was called %d times", got-n)
	}

	dirsB := scopeDirs(t, ctxB)
	assertNeverDials(t, cfgB, dirsB)
	endB()
	waitGone(t, "job B's server", dirsB)
	if err := pool.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	assertNoLeak(t, before)
}

// controlWebhook installs repository A's widget CRD with its conversion
// webhook as written and sends a v1beta1 object, which must be converted.
func controlWebhook(t *testing.T, cfg *rest.Config, in *validate.Input) {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	for _, o := range in.Objects {
		if o.U.GetName() == "widgets.a.example.com" {
			if err := validate.FromUnstructured(o.U, &crd); err != nil {
				t.Fatal(err)
			}
		}
	}
	ext := apiextclient.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		return err == nil && apiextensionsv1IsEstablished(got), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	gvr := schema.GroupVersionResource{Group: "a.example.com", Version: "v1beta1", Resource: "widgets"}
	w := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "a.example.com/v1beta1", "kind": "Widget", "metadata": map[string]any{"name": "control"}}}
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(gvr).Namespace("default").Create(ctx, w, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && !apierrors.IsNotFound(err), nil // served, and the conversion failed
	})
}

// admissionOff installs repository A's validating webhook configuration
// (every ConfigMap, failure policy Fail) for real and dry-runs a ConfigMap.
func admissionOff(t *testing.T, cfg *rest.Config, in *validate.Input) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	vwc := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	for _, o := range in.Objects {
		if o.U.GetKind() == "ValidatingWebhookConfiguration" {
			if _, err := dyn.Resource(vwc).Create(ctx, o.U.DeepCopy(), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "after-webhook"}}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default").
		Create(ctx, cm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("a ConfigMap under a failing webhook configuration: %v", err)
	}
}

// assertNeverDials checks the server cannot call out: its kube-apiserver
// and etcd run with only the flags reviewed here (a new one, say from an
// envtest upgrade, fails this test until reviewed), everything they listen
// on or name is 127.0.0.1, and every APIService is served locally.
func assertNeverDials(t *testing.T, cfg *rest.Config, dirs []string) {
	t.Helper()
	allowed := map[string]map[string]bool{
		"kube-apiserver": {"allow-privileged": true, "authorization-mode": true, "bind-address": true, "cert-dir": true, "client-ca-file": true,
			"disable-admission-plugins": true, "enable-priority-and-fairness": true, "etcd-servers": true, "max-mutating-requests-inflight": true,
			"max-requests-inflight": true, "profiling": true, "secure-port": true, "service-account-issuer": true, "service-account-key-file": true,
			"service-account-signing-key-file": true, "service-cluster-ip-range": true},
		"etcd": {"advertise-client-urls": true, "data-dir": true, "listen-client-urls": true, "listen-peer-urls": true, "unsafe-no-fsync": true},
	}
	seen := map[string]bool{}
	for _, p := range serverProcs(t) {
		if !strings.Contains(p, dirs[0]) && !strings.Contains(p, dirs[1]) {
			continue
		}
		fields := strings.Fields(p)
		comm := fields[0]
		seen[comm] = true
		for _, arg := range fields[2:] {
			name, val, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			if !allowed[comm][name] {
				t.Errorf("%s runs with --%s: review whether it makes the server dial out, then allow it here", comm, name)
			}
			if strings.Contains(val, "://") && !strings.Contains(val, "://127.0.0.1:") {
				t.Errorf("%s --%s=%s is not on 127.0.0.1", comm, name, val)
			}
		}
		if comm == "kube-apiserver" && !strings.Contains(p, "--bind-address=127.0.0.1 ") {
			t.Errorf("kube-apiserver is not bound to 127.0.0.1: %s", p)
		}
		if comm == "kube-apiserver" && !strings.Contains(p, "--disable-admission-plugins="+strings.Join(disabledAdmission, ",")) {
			t.Errorf("kube-apiserver runs with webhook admission: %s", p)
		}
	}
	if !seen["kube-apiserver"] || !seen["etcd"] {
		t.Errorf("processes of the server not found: %v", seen)
	}
	list, err := dynamic.NewForConfigOrDie(cfg).Resource(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}).
		List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list.Items {
		if svc, ok, _ := unstructured.NestedMap(a.Object, "spec", "service"); ok && svc != nil {
			t.Errorf("APIService %s is served by service %v: the aggregator would dial it", a.GetName(), svc)
		}
	}
}

func apiextensionsv1IsEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

func assertFindings(t *testing.T, what string, fs []finding.Finding, want []string) {
	t.Helper()
	var got []string
	for _, f := range fs {
		got = append(got, f.ID+" "+string(f.Severity)+" "+f.Object)
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s findings:\n%s\nwant:\n%s\nmessages:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"), messages(fs))
	}
}

func messages(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s %s: %s\n", f.ID, f.Object, f.Message)
	}
	return b.String()
}

func assertPresent(t *testing.T, dyn dynamic.Interface, who string, gvr schema.GroupVersionResource, ns, name string, want bool) {
	t.Helper()
	var err error
	if ns != "" {
		_, err = dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	} else {
		_, err = dyn.Resource(gvr).Get(context.Background(), name, metav1.GetOptions{})
	}
	switch {
	case want && err != nil:
		t.Errorf("%s's server lacks %s %s/%s: %v", who, gvr.Resource, ns, name, err)
	case !want && err == nil:
		t.Errorf("%s's server has %s %s/%s", who, gvr.Resource, ns, name)
	case !want && !apierrors.IsNotFound(err):
		t.Errorf("%s's server: %s %s/%s: %v, want NotFound", who, gvr.Resource, ns, name, err)
	}
}

// scopeDirs are the directories of the server the job in ctx holds.
func scopeDirs(t *testing.T, ctx context.Context) []string {
	t.Helper()
	s, _ := ctx.Value(scopeKey{}).(*jobScope)
	if s == nil || s.eph == nil {
		t.Fatal("the job holds no server")
	}
	d := s.eph.dirs()
	if len(d) != 2 || d[0] == "" || d[1] == "" {
		t.Fatalf("server directories: %v", d)
	}
	return d
}

// waitGone waits until no process names the server's directories and the
// directories are removed.
func waitGone(t *testing.T, what string, dirs []string) {
	t.Helper()
	waitFor(t, what+" to stop", func() bool {
		for _, p := range serverProcs(t) {
			for _, d := range dirs {
				if strings.Contains(p, d) {
					return false
				}
			}
		}
		for _, d := range dirs {
			if _, err := os.Stat(d); err == nil {
				return false
			}
		}
		return true
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 90s", what)
		}
	}
}

// serverProcs are the kube-apiserver and etcd processes this test binary
// started that still exist, as pid -> command line.
func serverProcs(t testing.TB) map[int]string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		comm, rest := s[open+1:end], strings.Fields(s[end+1:])
		if len(rest) < 2 || rest[1] != strconv.Itoa(os.Getpid()) || (comm != "kube-apiserver" && comm != "etcd") {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		out[pid] = comm + " " + strings.ReplaceAll(string(cmd), "\x00", " ")
	}
	return out
}

// assertNoLeak waits for every server process started since before to be
// gone.
func assertNoLeak(t *testing.T, before map[int]string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var left []string
		for pid, cmd := range serverProcs(t) {
			if _, ok := before[pid]; !ok {
				left = append(left, fmt.Sprintf("%d %.60s", pid, cmd))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver/etcd processes left running:\n%s", strings.Join(left, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
