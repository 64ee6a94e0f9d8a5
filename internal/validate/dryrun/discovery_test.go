package dryrun

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

// countingConfig wraps a Config so every GET /apis (one discovery
// refresh: the group list, aggregated or not) is counted.
func countingConfig(base func(context.Context) (*rest.Config, error), refreshes *atomic.Int32) func(context.Context) (*rest.Config, error) {
	return func(ctx context.Context) (*rest.Config, error) {
		cfg, err := base(ctx)
		if err != nil {
			return nil, err
		}
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if req.Method == http.MethodGet && req.URL.Path == "/apis" {
					refreshes.Add(1)
				}
				return rt.RoundTrip(req)
			})
		})
		return cfg, nil
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// unknownKinds is a repository with five kinds no CRD defines and a
// ConfigMap, and with withCRD a CRD of its own with an object of it.
func unknownKinds(t testing.TB, withCRD bool) *validate.Input {
	files := map[string]string{
		"k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: default\ndata:\n  a: b\n",
	}
	if withCRD {
		files["k8s/crd.yaml"] = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: probes.disc.example.com
spec:
  group: disc.example.com
  names: {kind: Probe, listKind: ProbeList, plural: probes, singular: probe}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`
		files["k8s/probe.yaml"] = "apiVersion: disc.example.com/v1\nkind: Probe\nmetadata:\n  name: p\n  namespace: default\nspec: {}\n"
	}
	for i := 1; i <= 5; i++ {
		files[fmt.Sprintf("k8s/thing%d.yaml", i)] = fmt.Sprintf("apiVersion: unknown.example.com/v1\nkind: Thing%d\nmetadata:\n  name: t\n  namespace: default\nspec: {}\n", i)
	}
	return validatetest.NewInput(t, files)
}

// TestDryRunUnknownKindsOneDiscovery: kinds the server does not serve are
// known after one discovery refresh per validation, however many there
// are; the kind of a CRD just installed is mapped from the CRD and waited
// for on its own, never through discovery.
func TestDryRunUnknownKindsOneDiscovery(t *testing.T) {
	e := testEphemeral(t)
	var want []string
	for i := 1; i <= 5; i++ {
		want = append(want, fmt.Sprintf("KW-DRYRUN-003 error Thing%d/default/t", i))
	}
	for _, tc := range []struct {
		name    string
		install bool
	}{
		{"ephemeral: CRDs installed", true},
		{"existing cluster: dry-run only", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var refreshes atomic.Int32
			c := Check{Config: countingConfig(e.Config, &refreshes), Install: tc.install, Memo: e.Memo()}
			in := unknownKinds(t, tc.install)
			for round := range 2 {
				refreshes.Store(0)
				got := c.Check(context.Background(), in)
				assertFindings(t, fmt.Sprintf("round %d", round), got, want)
				if n := refreshes.Load(); n != 1 {
					t.Errorf("round %d: %d discovery refreshes, want 1", round, n)
				}
			}
		})
	}
}

// TestDryRunStaleCRDInJob: a CRD an earlier validation of the same job
// installed does not serve a later validation that no longer defines it.
func TestDryRunStaleCRDInJob(t *testing.T) {
	e := testEphemeral(t)
	c := Check{Config: e.Config, Install: true, Memo: e.Memo()}
	in := unknownKinds(t, true)
	if got := c.Check(context.Background(), in); len(got) != 5 {
		t.Fatalf("first validation: %s", messages(got))
	}
	without := validatetest.NewInput(t, map[string]string{
		"k8s/probe.yaml": "apiVersion: disc.example.com/v1\nkind: Probe\nmetadata:\n  name: p\n  namespace: default\nspec: {}\n",
	})
	got := c.Check(context.Background(), without)
	assertFindings(t, "without the CRD", got, []string{"KW-DRYRUN-003 error Probe/default/p"})
	if len(got) == 1 && !strings.Contains(got[0].Message, "no CustomResourceDefinition of this change defines it") {
		t.Errorf("message: %s", got[0].Message)
	}
}

// TestPoolReleasesJobs: a server never outlives its job, whether the job
// ends, is cancelled while it holds the server, or is cancelled while it
// waits for one; a validation outside any job gets a server of its own.
func TestPoolReleasesJobs(t *testing.T) {
	assets, err := FindAssets("")
	if err != nil {
		t.Fatalf("this test needs a kube-apiserver: %v (run `make testenv`)", err)
	}
	before := serverProcs(t)
	pool := NewPool(assets, WithSpare(0))
	defer pool.Close()

	// A validation outside any job: its own server, stopped on return.
	c := Check{Config: pool.Config, Install: true}
	in := validatetest.NewInput(t, map[string]string{"k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: x\n"})
	if got := c.Check(context.Background(), in); len(got) != 0 {
		t.Fatalf("unscoped validation: %s", messages(got))
	}
	if st := pool.stats(); st != (poolStats{}) {
		t.Errorf("after an unscoped validation: %+v, want nothing", st)
	}
	assertNoLeak(t, before)

	// A job cancelled while it holds a server, never calling its end.
	ctx, cancel := context.WithCancel(context.Background())
	jctx, _ := JobScope(ctx)
	if got := c.Check(jctx, in); len(got) != 0 {
		t.Fatalf("job: %s", messages(got))
	}
	dirs := scopeDirs(t, jctx)
	if st := pool.stats(); st.leased != 1 {
		t.Fatalf("job holds no server: %+v", st)
	}
	cancel()
	waitGone(t, "the cancelled job's server", dirs)
	waitFor(t, "the lease to end", func() bool { return pool.stats().leased == 0 })
	if _, err := pool.Config(jctx); !errors.Is(err, errScopeEnded) {
		t.Errorf("validation after the job was cancelled: %v, want %v", err, errScopeEnded)
	}

	// A job cancelled while it waits for a start.
	ctx, cancel = context.WithCancel(context.Background())
	jctx, end := JobScope(ctx)
	defer end()
	errc := make(chan error, 1)
	go func() { _, err := pool.Config(jctx); errc <- err }()
	waitFor(t, "the job to wait", func() bool { return pool.stats().waiting == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	waitFor(t, "the start to finish", func() bool { return pool.stats().starting == 0 })
	if st := pool.stats(); st != (poolStats{}) {
		t.Errorf("after a cancelled wait with no spare wanted: %+v", st)
	}
	assertNoLeak(t, before)

	// Close refuses new jobs.
	if err := pool.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	jctx, end = JobScope(context.Background())
	defer end()
	if got := c.Check(jctx, in); len(got) != 1 || got[0].ID != "KW-DRYRUN-006" || !strings.Contains(got[0].Message, "closed") {
		t.Errorf("after Close: %s", messages(got))
	}
	assertNoLeak(t, before)
}

// TestCallOutFindings: each kind that would make the server call out or
// change admission gets its info finding, naming targets without secrets.
func TestCallOutFindings(t *testing.T) {
	hook := func(kind, cc string) string {
		return "apiVersion: admissionregistration.k8s.io/v1\nkind: " + kind + "\nmetadata:\n  name: h\nwebhooks:\n- name: a.example.com\n  clientConfig: " + cc + "\n"
	}
	for _, tc := range []struct {
		name, doc, id string
		has           []string
	}{
		{"APIService to a service", "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  name: v1.m.example.com\nspec:\n  group: m.example.com\n  version: v1\n  service: {namespace: ns, name: api}\n",
			"KW-DRYRUN-008", []string{"m.example.com/v1 to service ns/api", "never dials"}},
		{"local APIService", "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  name: v1.l.example.com\nspec:\n  group: l.example.com\n  version: v1\n",
			"KW-DRYRUN-008", []string{"to the API server itself"}},
		{"validating webhook at a URL", hook("ValidatingWebhookConfiguration", `{url: "https://user:hunter2@hooks.example.com:8443/v?token=s3cret"}`),
			"KW-DRYRUN-008", []string{"ValidatingWebhookConfiguration h", "(https://hooks.example.com:8443)"}},
		{"mutating webhook at a service", hook("MutatingWebhookConfiguration", "{service: {namespace: ns, name: hooks}}"),
			"KW-DRYRUN-008", []string{"MutatingWebhookConfiguration h", "(service ns/hooks)"}},
		{"ValidatingAdmissionPolicy", "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: p\n",
			"KW-DRYRUN-009", []string{"ValidatingAdmissionPolicy p would change how the API server admits"}},
		{"ValidatingAdmissionPolicyBinding", "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: b\n",
			"KW-DRYRUN-009", []string{"ValidatingAdmissionPolicyBinding b"}},
		{"MutatingAdmissionPolicy", "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: MutatingAdmissionPolicy\nmetadata:\n  name: m\n",
			"KW-DRYRUN-009", []string{"MutatingAdmissionPolicy m"}},
		{"MutatingAdmissionPolicyBinding", "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: MutatingAdmissionPolicyBinding\nmetadata:\n  name: mb\n",
			"KW-DRYRUN-009", []string{"MutatingAdmissionPolicyBinding mb"}},
		{"a ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", "", nil},
		{"a webhook-like kind of another group", "apiVersion: example.com/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: x\n", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := validatetest.NewInput(t, map[string]string{"k8s/o.yaml": tc.doc})
			r := &dryRunner{in: in}
			r.reportCallOut(in.Objects[0])
			if tc.id == "" {
				if len(r.findings) != 0 {
					t.Errorf("findings: %s", messages(r.findings))
				}
				return
			}
			if len(r.findings) != 1 {
				t.Fatalf("findings: %s", messages(r.findings))
			}
			f := r.findings[0]
			if f.ID != tc.id || f.Severity != "info" || f.File != "k8s/o.yaml" || f.Line == 0 {
				t.Errorf("finding: %+v", f)
			}
			for _, s := range tc.has {
				if !strings.Contains(f.Message, s) {
					t.Errorf("message lacks %q: %s", s, f.Message)
				}
			}
			for _, secret := range []string{"hunter2", "s3cret", "user:"} {
				if strings.Contains(f.Message, secret) {
					t.Errorf("message leaks %q: %s", secret, f.Message)
				}
			}
		})
	}
}
