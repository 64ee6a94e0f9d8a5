package diagnose

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// FluxObject is what Diagnose keeps of a Flux custom resource: identity,
// its Ready condition and the few spec and status fields the detectors
// and the scoping read. Messages are redacted.
type FluxObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Suspended  bool   `json:"suspended,omitempty"`
	// Ready is the Ready condition's status: True, False, Unknown, or ""
	// when the object has none yet.
	Ready   string    `json:"ready,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	// Interval is spec.interval as written ("5m").
	Interval string `json:"interval,omitempty"`
	// Path and TargetNamespace are a Kustomization's.
	Path            string `json:"path,omitempty"`
	TargetNamespace string `json:"targetNamespace,omitempty"`
	// SourceRef is "Kind/namespace/name" of a Kustomization's source.
	SourceRef string `json:"sourceRef,omitempty"`
	// Inventory holds a Kustomization's applied objects, as Flux spells
	// them: "namespace_name_group_Kind".
	Inventory []string `json:"inventory,omitempty"`
	// ReleaseName and Chart ("name@version") are a HelmRelease's.
	ReleaseName string `json:"releaseName,omitempty"`
	Chart       string `json:"chart,omitempty"`
	// ImageRepository is an ImagePolicy's spec.imageRepositoryRef.name;
	// LatestImage its status (repository:tag).
	ImageRepository string `json:"imageRepository,omitempty"`
	LatestImage     string `json:"latestImage,omitempty"`
	// Image is an ImageRepository's spec.image.
	Image string `json:"image,omitempty"`
	// LastRun is an ImageUpdateAutomation's status.lastAutomationRunTime.
	LastRun time.Time `json:"lastRun,omitzero"`
}

// Ref is the object as Finding.Object spells it.
func (f FluxObject) Ref() objRef {
	gv, _ := schema.ParseGroupVersion(f.APIVersion)
	return objRef{Group: gv.Group, Kind: f.Kind, Namespace: f.Namespace, Name: f.Name}
}

// fluxKind is one Flux kind and the versions Diagnose reads, newest first.
type fluxKind struct {
	group, resource, kind string
	versions              []string
}

// fluxKinds are the Flux kinds the collectors read. The fields read are
// the same in every version listed.
var fluxKinds = []fluxKind{
	{"kustomize.toolkit.fluxcd.io", "kustomizations", "Kustomization", []string{"v1", "v1beta2"}},
	{"helm.toolkit.fluxcd.io", "helmreleases", "HelmRelease", []string{"v2", "v2beta2", "v2beta1"}},
	{"image.toolkit.fluxcd.io", "imageupdateautomations", "ImageUpdateAutomation", []string{"v1", "v1beta2", "v1beta1"}},
	{"image.toolkit.fluxcd.io", "imagepolicies", "ImagePolicy", []string{"v1", "v1beta2"}},
	{"image.toolkit.fluxcd.io", "imagerepositories", "ImageRepository", []string{"v1", "v1beta2"}},
}

// fluxJobs asks discovery (one request) which Flux groups the server
// serves, and returns one list job per served kind per namespace (ns and
// fluxNS). A server without Flux yields no jobs and no error.
func fluxJobs(ctx context.Context, cl Cluster, ns, fluxNS string, mu *sync.Mutex, s *Snapshot) ([]listJob, error) {
	if cl.Dynamic == nil {
		return nil, nil
	}
	groups, err := cl.Kube.Discovery().ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("discovery failed, Flux objects not read: %w", err)
	}
	served := map[string][]string{}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			served[g.Name] = append(served[g.Name], v.Version)
		}
	}
	return fluxJobsFor(fluxKinds, served, cl, ns, fluxNS, mu, s), nil
}

func fluxJobsFor(kinds []fluxKind, served map[string][]string, cl Cluster, ns, fluxNS string, mu *sync.Mutex, s *Snapshot) []listJob {
	namespaces := []string{ns}
	if fluxNS != "" && fluxNS != ns {
		namespaces = append(namespaces, fluxNS)
	}
	var jobs []listJob
	for _, k := range kinds {
		i := slices.IndexFunc(k.versions, func(v string) bool { return slices.Contains(served[k.group], v) })
		if i < 0 {
			continue
		}
		gvr := schema.GroupVersionResource{Group: k.group, Version: k.versions[i], Resource: k.resource}
		for _, n := range namespaces {
			jobs = append(jobs, listJob{what: k.resource + "." + k.group, ns: n, run: func(ctx context.Context) error {
				l, err := cl.Dynamic.Resource(gvr).Namespace(n).List(ctx, metav1.ListOptions{})
				if err != nil {
					return err
				}
				objs := make([]FluxObject, 0, len(l.Items))
				for i := range l.Items {
					objs = append(objs, summarizeFlux(&l.Items[i]))
				}
				mu.Lock()
				s.Flux = append(s.Flux, objs...)
				mu.Unlock()
				return nil
			}})
		}
	}
	return jobs
}

// summarizeFlux keeps what the detectors read of a Flux object.
func summarizeFlux(u *unstructured.Unstructured) FluxObject {
	str := func(fields ...string) string {
		v, _, _ := unstructured.NestedString(u.Object, fields...)
		return v
	}
	f := FluxObject{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(),
		Interval: str("spec", "interval"), Path: str("spec", "path"), TargetNamespace: str("spec", "targetNamespace")}
	f.Suspended, _, _ = unstructured.NestedBool(u.Object, "spec", "suspend")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		f.Ready, _ = m["status"].(string)
		f.Reason, _ = m["reason"].(string)
		f.Message, _ = m["message"].(string)
		if ts, ok := m["lastTransitionTime"].(string); ok {
			f.Since, _ = time.Parse(time.RFC3339, ts)
		}
	}
	if k := str("spec", "sourceRef", "kind"); k != "" {
		sns := str("spec", "sourceRef", "namespace")
		if sns == "" {
			sns = f.Namespace
		}
		f.SourceRef = k + "/" + sns + "/" + str("spec", "sourceRef", "name")
	}
	entries, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
	for _, e := range entries {
		if m, ok := e.(map[string]any); ok {
			if id, ok := m["id"].(string); ok {
				f.Inventory = append(f.Inventory, id)
			}
		}
	}
	sort.Strings(f.Inventory)
	switch f.Kind {
	case "HelmRelease":
		f.ReleaseName = str("spec", "releaseName")
		if chart := str("spec", "chart", "spec", "chart"); chart != "" {
			f.Chart = chart
			if v := str("spec", "chart", "spec", "version"); v != "" {
				f.Chart += "@" + v
			}
		}
	case "ImagePolicy":
		f.ImageRepository = str("spec", "imageRepositoryRef", "name")
		f.LatestImage = str("status", "latestImage") // v1beta2
		if n := str("status", "latestRef", "name"); n != "" {
			f.LatestImage = n + ":" + str("status", "latestRef", "tag")
		}
	case "ImageRepository":
		f.Image = str("spec", "image")
	case "ImageUpdateAutomation":
		if ts := str("status", "lastAutomationRunTime"); ts != "" {
			f.LastRun, _ = time.Parse(time.RFC3339, ts)
		}
	}
	return f
}

// inventoryHas tells whether a Kustomization applied kind/namespace/name
// (group "" for the core group).
func (f FluxObject) inventoryHas(group, kind, namespace, name string) bool {
	id := strings.Join([]string{namespace, name, group, kind}, "_")
	_, found := slices.BinarySearch(f.Inventory, id)
	return found
}
