package diagnose

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubewright/kubewright/internal/finding"
)

// detectServices reports Services in scope whose selector matches no Pod
// (KW-DIAG-012), whose targetPort no selected container declares
// (KW-DIAG-013), and that have no ready endpoint (KW-DIAG-011).
func (d *diag) detectServices() []issue {
	var out []issue
	for i := range d.s.Services {
		svc := &d.s.Services[i]
		if !d.scope.svc(svc.Name) || len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		obj := d.ref("", "Service", svc.Name)
		var pods []*corev1.Pod
		for j := range d.s.Pods {
			if p := &d.s.Pods[j]; selects(svc.Spec.Selector, p.Labels) && p.DeletionTimestamp == nil {
				pods = append(pods, p)
			}
		}
		if len(pods) == 0 {
			if is, ok := d.selectsNothing(svc, obj); ok {
				out = append(out, is)
			}
			continue
		}
		out = append(out, d.portMismatches(svc, obj, pods)...)
		if is, ok := d.noReadyEndpoints(svc, obj, pods); ok {
			out = append(out, is)
		}
	}
	return out
}

// selectsNothing reports a Service that selects no Pod, unless a workload
// with no Pods yet (scaled to zero) matches it.
func (d *diag) selectsNothing(svc *corev1.Service, obj objRef) (issue, bool) {
	type tmpl struct {
		ref    objRef
		labels map[string]string
	}
	var ts []tmpl
	for _, w := range d.s.Deployments {
		ts = append(ts, tmpl{d.ref("apps", "Deployment", w.Name), w.Spec.Template.Labels})
	}
	for _, w := range d.s.StatefulSets {
		ts = append(ts, tmpl{d.ref("apps", "StatefulSet", w.Name), w.Spec.Template.Labels})
	}
	var intended *tmpl
	for i, t := range ts {
		if selects(svc.Spec.Selector, t.labels) {
			return issue{}, false
		}
		if intended == nil && (t.ref.Name == svc.Name || labelled(t.labels, svc.Name) || d.scope.service != "" && d.scope.workloads[t.ref]) {
			intended = &ts[i]
		}
	}
	is := issue{id: "KW-DIAG-012", sev: finding.Error, obj: obj, field: path{key("spec"), key("selector")},
		msg:  fmt.Sprintf("Service %s selects %s, and no Pod in namespace %s has those labels", svc.Name, labelsString(svc.Spec.Selector), d.s.Namespace),
		hint: "make spec.selector match the labels of the pod template (spec.template.metadata.labels) of the workload the Service fronts"}
	if intended != nil {
		is.msg += fmt.Sprintf("; the Pods of %s are labelled %s", intended.ref, labelsString(intended.labels))
		keys := make([]string, 0, len(svc.Spec.Selector))
		for k := range svc.Spec.Selector {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if intended.labels[k] != svc.Spec.Selector[k] {
				is.field = is.field.with(key(k))
				break
			}
		}
	}
	is.evidence = eventEvidence(d.events.of("Service", svc.Name), 2)
	return is, true
}

// portMismatches reports Service ports whose targetPort no container of
// the selected Pods declares (only when the containers declare ports).
func (d *diag) portMismatches(svc *corev1.Service, obj objRef, pods []*corev1.Pod) []issue {
	var out []issue
	declares := false
	var owners []string
	seen := map[string]bool{}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			declares = declares || len(c.Ports) > 0
		}
		if o := d.ownerOf(p).String(); !seen[o] {
			seen[o] = true
			owners = append(owners, o)
		}
	}
	if !declares {
		return nil
	}
	sort.Strings(owners)
	for i, sp := range svc.Spec.Ports {
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 || target.Type == intstr.String && target.StrVal == "" {
			target = intstr.FromInt32(sp.Port)
		}
		found := false
		var declared []string
		for _, p := range pods {
			for j := range p.Spec.Containers {
				c := &p.Spec.Containers[j]
				if _, ok := containerPort(c, target); ok {
					found = true
				}
				for _, cp := range c.Ports {
					if s := portString(cp); !contains(declared, s) {
						declared = append(declared, s)
					}
				}
			}
		}
		if found {
			continue
		}
		sort.Strings(declared)
		msg := fmt.Sprintf("Service %s port %d sends to targetPort %s, but the Pods of %s listen on %s", svc.Name, sp.Port, target.String(), strings.Join(owners, ", "), strings.Join(declared, ", "))
		if target.Type == intstr.String {
			msg = fmt.Sprintf("Service %s port %d sends to targetPort %q, a name no container port of %s has (they declare %s)", svc.Name, sp.Port, target.StrVal, strings.Join(owners, ", "), strings.Join(declared, ", "))
		}
		out = append(out, issue{id: "KW-DIAG-013", sev: finding.Error, obj: obj,
			field: path{key("spec"), key("ports"), idx(i), key("targetPort")}, msg: msg,
			hint: "set targetPort to the port (or port name) the container declares and listens on"})
	}
	return out
}

func portString(cp corev1.ContainerPort) string {
	if cp.Name != "" {
		return fmt.Sprintf("%d (%s)", cp.ContainerPort, cp.Name)
	}
	return fmt.Sprint(cp.ContainerPort)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// noReadyEndpoints reports a Service whose selected Pods exist but none is
// ready, by its EndpointSlices (or the Pods' Ready condition when it has
// none yet).
func (d *diag) noReadyEndpoints(svc *corev1.Service, obj objRef, pods []*corev1.Pod) (issue, bool) {
	ready, slices := 0, 0
	for _, es := range d.s.EndpointSlices {
		if es.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		slices++
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready++
			}
		}
	}
	if slices == 0 {
		for _, p := range pods {
			if podReady(p) {
				ready++
			}
		}
	}
	if ready > 0 {
		return issue{}, false
	}
	is := issue{id: "KW-DIAG-011", sev: finding.Error, obj: obj,
		msg:  fmt.Sprintf("Service %s has no ready endpoint: none of the %d Pods it selects is ready", svc.Name, len(pods)),
		hint: "a Service sends traffic only to ready Pods: fix why its Pods are not ready (see the findings about them)"}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, p := range pods[:min(3, len(pods))] {
		line := fmt.Sprintf("pod %s: %s", p.Name, p.Status.Phase)
		if nr := notReadyContainers(p); len(nr) > 0 {
			line += ", not ready: " + strings.Join(nr, ", ")
		}
		is.evidence = append(is.evidence, line)
	}
	return is, true
}
