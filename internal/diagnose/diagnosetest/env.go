// Package diagnosetest is the cluster diagnose's tests run against, for
// any package's tests: a real kube-apiserver (with etcd, through envtest)
// whose kubelet client reaches a stand-in serving container logs, with
// Flux's CRDs installed and two Nodes registered; the fixtures that set a
// case's cluster state up from its repository; a request counter; and a
// kubeconfig writer for tests of the command line.
//
// Tests that need the server fail (never skip) when its binaries are
// missing: KUBEBUILDER_ASSETS (kube-apiserver, etcd) and KUBEWRIGHT_CRDS
// (the shared CRD collection, for Flux's) must be set.
package diagnosetest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Env is a control plane: a real kube-apiserver whose kubelet client
// reaches the stand-in, with Flux's CRDs installed, and Nodes registered
// at the stand-in's address.
type Env struct {
	// Config reaches the API server as its administrator.
	Config *rest.Config
	// Kubelet serves the containers' logs the API server proxies.
	Kubelet *Kubelet
	// Dir is a scratch directory removed by Stop.
	Dir string

	env *envtest.Environment
}

// NodeName is the Node fixture Pods are bound to.
const NodeName = "kw-node-1"

// FluxCRDs are the Flux CRDs installed, from the shared collection
// ($KUBEWRIGHT_CRDS/flux).
var FluxCRDs = []string{
	"kustomize.toolkit.fluxcd.io_kustomizations.yaml",
	"helm.toolkit.fluxcd.io_helmreleases.yaml",
	"image.toolkit.fluxcd.io_imageupdateautomations.yaml",
	"image.toolkit.fluxcd.io_imagepolicies.yaml",
	"image.toolkit.fluxcd.io_imagerepositories.yaml",
}

// Shared starts one Env per test binary, on first use; the binary's
// TestMain calls Stop after m.Run.
type Shared struct {
	once sync.Once
	env  *Env
	err  error
}

// Get returns the Env, starting it on first use; it fails the test when
// the server cannot start.
func (s *Shared) Get(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() { s.env, s.err = Start() })
	if s.err != nil {
		t.Fatalf("this test needs a kube-apiserver: %v. Run `make testenv` and export KUBEBUILDER_ASSETS=$PWD/.cache/kube-assets KUBEWRIGHT_CRDS=/work/shared/crds", s.err)
	}
	return s.env
}

// Stop stops the Env if it was started.
func (s *Shared) Stop() {
	if s.env != nil {
		s.env.Stop()
	}
}

// Start starts a control plane.
func Start() (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set")
	}
	crds := os.Getenv("KUBEWRIGHT_CRDS")
	if crds == "" {
		return nil, fmt.Errorf("KUBEWRIGHT_CRDS is not set (the shared CRD collection, for Flux's)")
	}
	dir, err := os.MkdirTemp("", "kw-diagnose-")
	if err != nil {
		return nil, err
	}
	kl, err := newKubelet(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	var paths []string
	for _, f := range FluxCRDs {
		paths = append(paths, filepath.Join(crds, "flux", f))
	}
	never := false
	e := &envtest.Environment{
		UseExistingCluster:       &never,
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
		CRDInstallOptions:        envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true},
	}
	api := e.ControlPlane.GetAPIServer().Configure()
	// The API server reaches kubelets as a real one does: at the Node's
	// InternalIP and daemon endpoint port, verifying the kubelet's serving
	// certificate and presenting its client certificate.
	api.Set("kubelet-preferred-address-types", "InternalIP")
	api.Set("kubelet-certificate-authority", kl.CAFile)
	api.Set("kubelet-client-certificate", kl.ClientCert)
	api.Set("kubelet-client-key", kl.ClientKey)
	api.Set("enable-priority-and-fairness", "false")
	api.Set("profiling", "false")
	cfg, err := e.Start()
	if err != nil {
		kl.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start kube-apiserver from %s: %w (stop: %v)", assets, err, e.Stop())
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	te := &Env{env: e, Config: cfg, Kubelet: kl, Dir: dir}
	if err := te.registerNodes(); err != nil {
		te.Stop()
		return nil, err
	}
	if err := te.warmCRDs(); err != nil {
		te.Stop()
		return nil, err
	}
	return te, nil
}

// Stop stops the server and the stand-in and removes Dir.
func (te *Env) Stop() {
	_ = te.env.Stop()
	te.Kubelet.Close()
	_ = os.RemoveAll(te.Dir)
}

// testNodes are the Nodes every test sees: one plain, one tainted for
// dedicated workloads. Both are served by the kubelet stand-in.
var testNodes = []struct {
	name  string
	taint *corev1.Taint
}{
	{name: NodeName},
	{name: "kw-node-2", taint: &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}},
}

// registerNodes creates the Nodes and writes their status as a kubelet
// would: Ready, InternalIP 127.0.0.1, the daemon endpoint (the stand-in)
// and capacity.
func (te *Env) registerNodes() error {
	cs, err := kubernetes.NewForConfig(te.Config)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, tn := range testNodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: tn.name,
			Labels: map[string]string{"kubernetes.io/hostname": tn.name, "kubernetes.io/os": "linux"}}}
		if tn.taint != nil {
			node.Spec.Taints = []corev1.Taint{*tn.taint}
		}
		n, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110")}
		n.Status = corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: tn.name}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(te.Kubelet.Port)}},
			Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			NodeInfo:        corev1.NodeSystemInfo{KubeletVersion: "v1.34.4", OperatingSystem: "linux", Architecture: "amd64"},
		}
		if n, err = cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
		// The node lifecycle controller would lift the not-ready taint the
		// API server put on the new Node once it reports Ready; there is
		// no controller here, so the test does.
		var keep []corev1.Taint
		for _, t := range n.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady {
				keep = append(keep, t)
			}
		}
		n.Spec.Taints = keep
		if _, err = cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// warmCRDs lists every served version of every installed CRD once, so
// the diagnoses the tests count requests of do not meet the 429 a
// just-installed CRD's resource answers while its watch cache initializes
// (client-go would retry it, and the tests count every request).
func (te *Env) warmCRDs() error {
	dyn, err := dynamic.NewForConfig(te.Config)
	if err != nil {
		return err
	}
	for _, crd := range te.env.CRDs {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			r := dyn.Resource(schema.GroupVersionResource{Group: crd.Spec.Group, Version: v.Name, Resource: crd.Spec.Names.Plural})
			if _, err := r.List(context.Background(), metav1.ListOptions{}); err != nil {
				return fmt.Errorf("list %s.%s/%s: %w", crd.Spec.Names.Plural, crd.Spec.Group, v.Name, err)
			}
		}
	}
	return nil
}

// WriteKubeconfig writes a kubeconfig file (0600) reaching the server as
// its administrator, in a context named "kw-test" whose namespace is
// namespace ("": none, as a context without one).
func (te *Env) WriteKubeconfig(path, namespace string) error {
	cfg, err := clientcmd.Load(te.env.KubeConfig)
	if err != nil {
		return fmt.Errorf("envtest's kubeconfig: %w", err)
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	if cur == nil {
		return fmt.Errorf("envtest's kubeconfig has no current context")
	}
	c := cur.DeepCopy()
	c.Namespace = namespace
	cfg.Contexts = map[string]*clientcmdapi.Context{"kw-test": c}
	cfg.CurrentContext = "kw-test"
	return clientcmd.WriteToFile(*cfg, path)
}

// Counter records every request a client makes, for the "no list call
// repeated" and "nothing written" checks.
type Counter struct {
	mu      sync.Mutex
	reqs    []string          // "GET /api/v1/namespaces/x/pods?..."
	accepts map[string]string // path -> Accept header
	rt      http.RoundTripper
}

// RoundTrip records r and sends it on.
func (c *Counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	if c.accepts == nil {
		c.accepts = map[string]string{}
	}
	c.accepts[r.URL.Path] = r.Header.Get("Accept")
	c.mu.Unlock()
	return c.rt.RoundTrip(r)
}

// Accept returns the Accept header of the last request to path.
func (c *Counter) Accept(path string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepts[path]
}

// Requests returns the recorded requests, "METHOD PATH?QUERY".
func (c *Counter) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.reqs...)
}

// CountingConfig returns a copy of Config whose requests are recorded by
// the returned Counter.
func (te *Env) CountingConfig() (*rest.Config, *Counter) {
	cfg := rest.CopyConfig(te.Config)
	c := &Counter{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { c.rt = rt; return c })
	return cfg, c
}

// Lists counts the list requests among reqs (a GET of a collection), by
// path.
func Lists(reqs []string) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		method, rest, _ := strings.Cut(r, " ")
		p, _, _ := strings.Cut(rest, "?")
		if method == http.MethodGet && isCollection(p) {
			out[p]++
		}
	}
	return out
}

// isCollection tells whether an API path names a collection
// (/api/v1/namespaces/x/pods, /apis/g/v/nodes), not an object or a
// subresource.
func isCollection(p string) bool {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		segs = segs[2:] // api, v1
	case len(segs) >= 3 && segs[0] == "apis":
		segs = segs[3:] // apis, group, version
	default:
		return false
	}
	if len(segs) >= 2 && segs[0] == "namespaces" {
		segs = segs[2:]
	}
	return len(segs) == 1
}
