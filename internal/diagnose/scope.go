package diagnose

import (
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubewright/kubewright/internal/finding"
)

// objRef names a cluster object; Group is "" for the core group.
type objRef struct{ Group, Kind, Namespace, Name string }

// String is the object as Finding.Object spells it.
func (r objRef) String() string { return finding.ObjectRef(r.Kind, r.Namespace, r.Name) }

// appLabels are the labels that name the application a workload or Pod
// belongs to, in the order they are trusted.
var appLabels = []string{"app.kubernetes.io/name", "app", "app.kubernetes.io/instance", "k8s-app"}

// scope is what a diagnosis of one service looks at; everything in the
// namespace when no service is named.
type scope struct {
	service   string
	pods      map[string]bool
	workloads map[objRef]bool
	services  map[string]bool
	pvcs      map[string]bool
	// empty is true when a named service matched nothing at all.
	empty bool
}

func (s *scope) all() bool { return s.service == "" }

func (s *scope) pod(name string) bool            { return s.all() || s.pods[name] }
func (s *scope) svc(name string) bool            { return s.all() || s.services[name] }
func (s *scope) pvc(name string) bool            { return s.all() || s.pvcs[name] }
func (s *scope) workload(r objRef) bool          { return s.all() || s.workloads[r] }
func (s *scope) anyWorkload() []objRef           { return sortedRefs(s.workloads) }
func namedBy(m metav1.ObjectMeta, n string) bool { return m.Name == n || labelled(m.Labels, n) }

func labelled(labels map[string]string, n string) bool {
	for _, k := range appLabels {
		if labels[k] == n {
			return true
		}
	}
	return false
}

// selects tells whether a non-empty selector matches labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// buildScope finds what belongs to service: the Deployments and
// StatefulSets named by it (by name or application label), the Service of
// that name, the Pods they own or it selects, the Services selecting
// those, and the claims those Pods mount.
func (d *diag) buildScope(service string) *scope {
	sc := &scope{service: service, pods: map[string]bool{}, workloads: map[objRef]bool{}, services: map[string]bool{}, pvcs: map[string]bool{}}
	if service == "" {
		return sc
	}
	s := d.s
	var templates []map[string]string
	for _, w := range s.Deployments {
		if namedBy(w.ObjectMeta, service) || labelled(w.Spec.Template.Labels, service) {
			sc.workloads[d.ref("apps", "Deployment", w.Name)] = true
			templates = append(templates, w.Spec.Template.Labels)
		}
	}
	for _, w := range s.StatefulSets {
		if namedBy(w.ObjectMeta, service) || labelled(w.Spec.Template.Labels, service) {
			sc.workloads[d.ref("apps", "StatefulSet", w.Name)] = true
			templates = append(templates, w.Spec.Template.Labels)
		}
	}
	var own *corev1.Service
	for i := range s.Services {
		if s.Services[i].Name == service {
			own = &s.Services[i]
			sc.services[service] = true
		}
	}
	for i := range s.Pods {
		p := &s.Pods[i]
		if sc.workloads[d.ownerOf(p)] || labelled(p.Labels, service) || own != nil && selects(own.Spec.Selector, p.Labels) {
			sc.pods[p.Name] = true
			sc.workloads[d.ownerOf(p)] = true
			templates = append(templates, p.Labels)
		}
	}
	if own != nil {
		for _, w := range s.Deployments {
			if selects(own.Spec.Selector, w.Spec.Template.Labels) {
				sc.workloads[d.ref("apps", "Deployment", w.Name)] = true
			}
		}
		for _, w := range s.StatefulSets {
			if selects(own.Spec.Selector, w.Spec.Template.Labels) {
				sc.workloads[d.ref("apps", "StatefulSet", w.Name)] = true
			}
		}
	}
	for _, svc := range s.Services {
		for _, l := range templates {
			if selects(svc.Spec.Selector, l) {
				sc.services[svc.Name] = true
			}
		}
	}
	for _, p := range s.Pods {
		if !sc.pods[p.Name] {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				sc.pvcs[v.PersistentVolumeClaim.ClaimName] = true
			}
		}
	}
	for _, w := range s.StatefulSets {
		if !sc.workloads[d.ref("apps", "StatefulSet", w.Name)] {
			continue
		}
		for _, t := range w.Spec.VolumeClaimTemplates {
			for _, c := range s.PVCs {
				if strings.HasPrefix(c.Name, t.Name+"-"+w.Name+"-") {
					sc.pvcs[c.Name] = true
				}
			}
		}
	}
	sc.empty = len(sc.workloads) == 0 && len(sc.pods) == 0 && len(sc.services) == 0
	return sc
}

func (d *diag) ref(group, kind, name string) objRef {
	return objRef{Group: group, Kind: kind, Namespace: d.s.Namespace, Name: name}
}

// ownerOf is the object that defines a Pod in the repository: its
// Deployment (through its ReplicaSet), StatefulSet, DaemonSet or Job, or
// the Pod itself.
func (d *diag) ownerOf(p *corev1.Pod) objRef {
	c := metav1.GetControllerOf(p)
	if c == nil {
		return d.ref("", "Pod", p.Name)
	}
	if c.Kind == "ReplicaSet" {
		if rs, ok := d.replicaSets[c.Name]; ok {
			if o := metav1.GetControllerOf(rs); o != nil && o.Kind == "Deployment" {
				return d.ref("apps", "Deployment", o.Name)
			}
		}
		return d.ref("apps", "ReplicaSet", c.Name)
	}
	group, _, _ := strings.Cut(c.APIVersion, "/")
	if !strings.Contains(c.APIVersion, "/") {
		group = ""
	}
	return d.ref(group, c.Kind, c.Name)
}

// templateBase is the path of the pod spec inside an owner's manifest.
func templateBase(owner objRef) path {
	switch owner.Kind {
	case "Pod":
		return path{key("spec")}
	case "CronJob":
		return path{key("spec"), key("jobTemplate"), key("spec"), key("template"), key("spec")}
	}
	return path{key("spec"), key("template"), key("spec")}
}

// workloadTemplates returns the Deployments' and StatefulSets' pod
// templates in scope, by owner.
func (d *diag) workloadTemplates() map[objRef]*corev1.PodTemplateSpec {
	out := map[objRef]*corev1.PodTemplateSpec{}
	add := func(r objRef, t *corev1.PodTemplateSpec) {
		if d.scope.workload(r) {
			out[r] = t
		}
	}
	for i := range d.s.Deployments {
		w := &d.s.Deployments[i]
		add(d.ref("apps", "Deployment", w.Name), &w.Spec.Template)
	}
	for i := range d.s.StatefulSets {
		w := &d.s.StatefulSets[i]
		add(d.ref("apps", "StatefulSet", w.Name), &w.Spec.Template)
	}
	return out
}

func sortedRefs(m map[objRef]bool) []objRef {
	out := make([]objRef, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// replicaSetIndex maps ReplicaSet names to the objects.
func replicaSetIndex(rss []appsv1.ReplicaSet) map[string]*appsv1.ReplicaSet {
	out := make(map[string]*appsv1.ReplicaSet, len(rss))
	for i := range rss {
		out[rss[i].Name] = &rss[i]
	}
	return out
}
