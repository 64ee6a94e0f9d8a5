package diagnose

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Snapshot is what the collectors read from one namespace, redacted: the
// typed objects with their managed fields, last-applied annotations and
// literal env values removed or redacted, Secret and ConfigMap names
// (never their data), Flux objects summarized, and bounded log excerpts.
type Snapshot struct {
	Namespace      string
	Deployments    []appsv1.Deployment
	StatefulSets   []appsv1.StatefulSet
	ReplicaSets    []appsv1.ReplicaSet
	Pods           []corev1.Pod
	Events         []corev1.Event
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Ingresses      []networkingv1.Ingress
	HPAs           []autoscalingv2.HorizontalPodAutoscaler
	PVCs           []corev1.PersistentVolumeClaim
	// ConfigMaps and Secrets are names only, sorted.
	ConfigMaps, Secrets []string
	// Nodes are cluster-wide (for scheduling), without their image lists.
	Nodes []corev1.Node
	// Flux holds the Flux objects of the namespace and of the Flux
	// namespace, when Flux's CRDs are served.
	Flux []FluxObject
	Logs []Log
	// Notes say what could not be read and why (RBAC, a kind the server
	// does not serve, a log the kubelet no longer has).
	Notes []string
}

// Bounds on what one list may bring back; a list cut short says so in
// the notes.
const (
	maxEvents = 5000
	maxNodes  = 2000
)

// listJob is one List call. fatal jobs fail the diagnosis; the others
// leave a note.
type listJob struct {
	what  string // resource plural, for notes and errors
	ns    string // "" when cluster-scoped
	fatal bool
	run   func(ctx context.Context) error
}

// collect lists every kind once (in parallel, o.concurrency at a time)
// and then reads the logs of the containers that fail.
func collect(ctx context.Context, cl Cluster, ns string, o options) (*Snapshot, error) {
	s := &Snapshot{Namespace: ns}
	var mu sync.Mutex
	note := func(msg string) {
		mu.Lock()
		s.Notes = append(s.Notes, msg)
		mu.Unlock()
	}
	jobs := coreJobs(cl, ns, s, note)
	fj, err := fluxJobs(ctx, cl, ns, o.fluxNamespace, &mu, s)
	if err != nil {
		note(err.Error())
	}
	jobs = append(jobs, fj...)
	if err := runJobs(ctx, jobs, o.concurrency, note); err != nil {
		return nil, err
	}
	sanitize(s)
	sort.Strings(s.Notes)
	return s, nil
}

// coreJobs are the built-in kinds: one List each in ns, Nodes once.
func coreJobs(cl Cluster, ns string, s *Snapshot, note func(string)) []listJob {
	all := metav1.ListOptions{}
	core, apps := cl.Kube.CoreV1(), cl.Kube.AppsV1()
	return []listJob{
		{"pods", ns, true, func(ctx context.Context) error {
			l, err := core.Pods(ns).List(ctx, all)
			if err == nil {
				s.Pods = l.Items
			}
			return err
		}},
		{"deployments", ns, false, func(ctx context.Context) error {
			l, err := apps.Deployments(ns).List(ctx, all)
			if err == nil {
				s.Deployments = l.Items
			}
			return err
		}},
		{"statefulsets", ns, false, func(ctx context.Context) error {
			l, err := apps.StatefulSets(ns).List(ctx, all)
			if err == nil {
				s.StatefulSets = l.Items
			}
			return err
		}},
		{"replicasets", ns, false, func(ctx context.Context) error {
			l, err := apps.ReplicaSets(ns).List(ctx, all)
			if err == nil {
				s.ReplicaSets = l.Items
			}
			return err
		}},
		{"events", ns, false, func(ctx context.Context) error {
			l, err := core.Events(ns).List(ctx, metav1.ListOptions{Limit: maxEvents})
			if err == nil {
				s.Events = l.Items
				if l.Continue != "" {
					note(fmt.Sprintf("namespace %s has more than %d events: only the first %d were read", ns, maxEvents, maxEvents))
				}
			}
			return err
		}},
		{"services", ns, false, func(ctx context.Context) error {
			l, err := core.Services(ns).List(ctx, all)
			if err == nil {
				s.Services = l.Items
			}
			return err
		}},
		{"endpointslices", ns, false, func(ctx context.Context) error {
			l, err := cl.Kube.DiscoveryV1().EndpointSlices(ns).List(ctx, all)
			if err == nil {
				s.EndpointSlices = l.Items
			}
			return err
		}},
		{"ingresses", ns, false, func(ctx context.Context) error {
			l, err := cl.Kube.NetworkingV1().Ingresses(ns).List(ctx, all)
			if err == nil {
				s.Ingresses = l.Items
			}
			return err
		}},
		{"horizontalpodautoscalers", ns, false, func(ctx context.Context) error {
			l, err := cl.Kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, all)
			if err == nil {
				s.HPAs = l.Items
			}
			return err
		}},
		{"persistentvolumeclaims", ns, false, func(ctx context.Context) error {
			l, err := core.PersistentVolumeClaims(ns).List(ctx, all)
			if err == nil {
				s.PVCs = l.Items
			}
			return err
		}},
		{"configmaps", ns, false, func(ctx context.Context) error {
			names, err := metadataNames(ctx, cl, ns, "configmaps")
			s.ConfigMaps = names
			return err
		}},
		{"secrets", ns, false, func(ctx context.Context) error {
			names, err := metadataNames(ctx, cl, ns, "secrets")
			s.Secrets = names
			return err
		}},
		{"nodes", "", false, func(ctx context.Context) error {
			l, err := core.Nodes().List(ctx, metav1.ListOptions{Limit: maxNodes})
			if err == nil {
				s.Nodes = l.Items
				if l.Continue != "" {
					note(fmt.Sprintf("the cluster has more than %d nodes: only the first %d were read", maxNodes, maxNodes))
				}
			}
			return err
		}},
	}
}

// metadataNames lists a core kind's object names through the metadata
// client: the server sends PartialObjectMetadata, so a Secret's data never
// leaves it.
func metadataNames(ctx context.Context, cl Cluster, ns, resource string) ([]string, error) {
	l, err := cl.Metadata.Resource(corev1.SchemeGroupVersion.WithResource(resource)).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(l.Items))
	for _, it := range l.Items {
		names = append(names, it.Name)
	}
	sort.Strings(names)
	return names, nil
}

// runJobs runs the list jobs, at most n at a time. A fatal job's error is
// returned; any other error becomes a note.
func runJobs(ctx context.Context, jobs []listJob, n int, note func(string)) error {
	sem := make(chan struct{}, max(n, 1))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := j.run(ctx)
			if err == nil {
				return
			}
			if j.fatal {
				errs[i] = listError(j, err)
				return
			}
			note(listError(j, err).Error())
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// listError says which list failed, and for RBAC, what to grant.
func listError(j listJob, err error) error {
	where := "in namespace " + j.ns
	if j.ns == "" {
		where = "cluster-wide"
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("cannot list %s %s: forbidden; grant get and list on %s to kubewright's identity (deploy/ ships a read-only ClusterRole)", j.what, where, j.what)
	}
	return fmt.Errorf("list %s %s: %w", j.what, where, err)
}
