package diagnose

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Cluster is the read-only access Diagnose has to a cluster: client-go's
// typed client (workloads, Pods, Events, Services, logs), its
// metadata-only client (Secrets and ConfigMaps are listed by name: their
// values never cross the wire) and its dynamic client (Flux's custom
// resources). Diagnose only gets and lists. NewCluster builds one from a
// rest.Config; callers holding clients already may fill the fields.
type Cluster struct {
	Kube     kubernetes.Interface
	Metadata metadata.Interface
	Dynamic  dynamic.Interface

	requests *atomic.Int64
}

// NewCluster builds the clients from cfg (a kubeconfig's or the in-cluster
// identity's), counting the requests they make (see Requests).
func NewCluster(cfg *rest.Config) (Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "kubewright-diagnose"
	}
	n := &atomic.Int64{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt: rt, n: n} })
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Cluster{}, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return Cluster{}, fmt.Errorf("metadata client for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return Cluster{}, fmt.Errorf("dynamic client for %s: %w", cfg.Host, err)
	}
	return Cluster{Kube: kube, Metadata: md, Dynamic: dyn, requests: n}, nil
}

// Requests is how many API requests the clients made so far; 0 when the
// Cluster was not built by NewCluster.
func (c Cluster) Requests() int64 {
	if c.requests == nil {
		return 0
	}
	return c.requests.Load()
}

type countingTransport struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.rt.RoundTrip(r)
}
