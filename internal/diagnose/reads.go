package diagnose

import "sort"

// Resource is one API resource a diagnosis reads, as RBAC names it: its
// group ("" for the core group) and resource ("pods/log" for a
// subresource).
type Resource struct {
	Group    string `json:"group"`
	Resource string `json:"resource"`
}

// String is "resource.group", or "resource" for the core group.
func (r Resource) String() string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// coreReads are the built-in resources the collectors list (coreJobs) and
// get (the logs); the tests hold them to the requests a diagnosis makes.
var coreReads = []Resource{
	{"", "pods"}, {"", "pods/log"}, {"", "events"}, {"", "services"},
	{"", "persistentvolumeclaims"}, {"", "configmaps"}, {"", "secrets"}, {"", "nodes"},
	{"apps", "deployments"}, {"apps", "statefulsets"}, {"apps", "replicasets"},
	{"discovery.k8s.io", "endpointslices"},
	{"networking.k8s.io", "ingresses"},
	{"autoscaling", "horizontalpodautoscalers"},
}

// Reads returns every resource a diagnosis may read, sorted: what a
// read-only role for it must grant get and list on (deploy/base ships
// one). Flux's kinds are read only where their CRDs are served.
func Reads() []Resource {
	out := append([]Resource(nil), coreReads...)
	for _, k := range fluxKinds {
		out = append(out, Resource{Group: k.group, Resource: k.resource})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}
