package diagnose

import (
	pathpkg "path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubewright/kubewright/internal/validate"
)

// RepoNamespaces returns the namespaces the repository's manifests put
// service in, sorted: those of its Deployments, StatefulSets and Services
// (named service, or labelled app=service as the scope reads labels),
// their own namespace or, when they have none, the targetNamespace of a
// Flux Kustomization applying their root. Empty when the repository does
// not place the service.
func RepoNamespaces(in *validate.Input, service string) []string {
	if in == nil || service == "" {
		return nil
	}
	targets := map[string]string{} // root dir -> Flux targetNamespace
	for _, o := range in.Objects {
		if o.U.GetKind() != "Kustomization" || !strings.HasPrefix(o.U.GetAPIVersion(), "kustomize.toolkit.fluxcd.io/") {
			continue
		}
		p, _, _ := unstructured.NestedString(o.U.Object, "spec", "path")
		ns, _, _ := unstructured.NestedString(o.U.Object, "spec", "targetNamespace")
		if ns != "" {
			targets[pathpkg.Clean(strings.TrimPrefix(p, "./"))] = ns
		}
	}
	seen := map[string]bool{}
	for _, o := range in.Objects {
		switch o.U.GetKind() {
		case "Deployment", "StatefulSet", "Service":
		default:
			continue
		}
		tmpl, _, _ := unstructured.NestedStringMap(o.U.Object, "spec", "template", "metadata", "labels")
		if o.U.GetName() != service && !labelled(o.U.GetLabels(), service) && !labelled(tmpl, service) {
			continue
		}
		ns := o.U.GetNamespace()
		if ns == "" && o.Root != "" {
			ns = targets[pathpkg.Clean(o.Root)]
		}
		if ns != "" {
			seen[ns] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ns := range seen {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}
