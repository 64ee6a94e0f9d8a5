package policy

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// Wiring rules: NetworkPolicy coverage (KW-POL-030), Service selectors and
// target ports (031, 032), Ingress backends (033) and Istio
// VirtualService destinations (034).

func (p *policyRun) checkNetworkPolicies() {
	selectors := map[string][]labels.Selector{}
	// Namespaces covered by another implementation's policy
	// (CiliumNetworkPolicy, Calico NetworkPolicy), which we do not evaluate.
	other := map[string]bool{}
	for _, o := range p.in.Objects {
		gvk := o.U.GroupVersionKind()
		if !strings.HasSuffix(gvk.Kind, "NetworkPolicy") {
			continue
		}
		if gvk.Group != "networking.k8s.io" {
			other[policyNS(o)] = true
			continue
		}
		var np networkingv1.NetworkPolicy
		if policyDecode(o.U.Object, &np) != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			continue
		}
		selectors[policyNS(o)] = append(selectors[policyNS(o)], sel)
	}
	var order []string
	uncovered := map[string][]*policyWorkload{}
	for _, w := range p.workloads {
		if other[w.ns] {
			continue
		}
		selected := false
		for _, s := range selectors[w.ns] {
			if s.Matches(labels.Set(w.labels)) {
				selected = true
				break
			}
		}
		if selected {
			continue
		}
		if _, seen := uncovered[w.ns]; !seen {
			order = append(order, w.ns)
		}
		uncovered[w.ns] = append(uncovered[w.ns], w)
	}
	for _, ns := range order {
		ws := uncovered[ns]
		var refs []string
		for _, w := range ws {
			refs = append(refs, w.o.U.GetKind()+"/"+w.o.U.GetName())
		}
		msg := fmt.Sprintf("namespace %s has no NetworkPolicy: its workloads (%s) accept traffic from any pod in the cluster", ns, policyList(refs))
		if len(selectors[ns]) > 0 {
			msg = fmt.Sprintf("no NetworkPolicy in namespace %s selects %s: they accept traffic from any pod in the cluster", ns, policyList(refs))
		}
		first := ws[0]
		f, l := first.loc.at("")
		p.add("KW-POL-030", finding.Warning, first.o, f, l, msg,
			"add a NetworkPolicy in namespace "+ns+" whose podSelector selects these pods and allows only the traffic they need")
	}
}

// policyList joins names, eliding after five.
func policyList(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}

// policySelects reports whether every selector pair is among the labels.
func policySelects(selector, lbls map[string]string) bool {
	for k, v := range selector {
		if lv, ok := lbls[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

func policySelectorString(sel map[string]string) string {
	var parts []string
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (p *policyRun) checkServices() {
	for _, o := range p.in.Objects {
		if !policyIs(o, "", "Service") {
			continue
		}
		ns := policyNS(o)
		svc := p.services[ns][o.U.GetName()]
		if svc == nil || svc.o.Key() != o.Key() {
			continue
		}
		if svc.spec.Type == corev1.ServiceTypeExternalName || len(svc.spec.Selector) == 0 {
			continue
		}
		var matched, others []*policyWorkload
		for _, w := range p.workloads {
			if w.ns != ns {
				continue
			}
			if policySelects(svc.spec.Selector, w.labels) {
				matched = append(matched, w)
			} else {
				others = append(others, w)
			}
		}
		if len(matched) == 0 {
			if p.opaque[ns] {
				continue
			}
			msg := fmt.Sprintf("Service selector %s matches no workload's pod labels in namespace %s, so the Service has no endpoints", policySelectorString(svc.spec.Selector), ns)
			if len(others) > 0 {
				var refs []string
				for _, w := range others {
					refs = append(refs, fmt.Sprintf("%s/%s (%s)", w.o.U.GetKind(), w.o.U.GetName(), policySelectorString(w.labels)))
				}
				msg += "; workloads there: " + policyList(refs)
			}
			f, l := svc.loc.at("spec.selector")
			p.add("KW-POL-031", finding.Error, o, f, l, msg,
				"make spec.selector a subset of the pod template labels (spec.template.metadata.labels) of the workload the Service fronts")
			continue
		}
		p.checkTargetPorts(svc, matched)
	}
}

// checkTargetPorts is KW-POL-032: each targetPort must be a port the
// selected containers declare, by name or number.
func (p *policyRun) checkTargetPorts(svc *policyService, matched []*policyWorkload) {
	for i, sp := range svc.spec.Ports {
		tp := sp.TargetPort
		byName := tp.Type == intstr.String && tp.StrVal != ""
		num := tp.IntVal
		if tp.Type == intstr.Int && num == 0 {
			num = sp.Port
		}
		found := false
		for _, w := range matched {
			for _, pc := range w.containers() {
				for _, cp := range pc.c.Ports {
					if (byName && cp.Name == tp.StrVal) || (!byName && cp.ContainerPort == num) {
						found = true
					}
				}
			}
		}
		if found {
			continue
		}
		want := fmt.Sprintf("containerPort %d", num)
		if byName {
			want = fmt.Sprintf("a port named %q", tp.StrVal)
		}
		path := svc.loc.item("spec.ports", i, sp.Name)
		f, l := svc.loc.at(path + ".targetPort")
		p.add("KW-POL-032", finding.Warning, svc.o, f, l,
			fmt.Sprintf("Service port %s targets %s, which no selected container declares (%s)", policyPortName(sp), want, matched[0].o.U.GetKind()+"/"+matched[0].o.U.GetName()),
			"set targetPort to a containerPort number or port name of the selected containers, or declare that port in the container's ports")
	}
}

func policyPortName(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return fmt.Sprintf("%q (%d)", sp.Name, sp.Port)
	}
	return fmt.Sprint(sp.Port)
}

// policyServicePort reports whether the Service defines a port by name
// (name != "") or number.
func policyServicePort(svc *policyService, name string, number int64) bool {
	for _, sp := range svc.spec.Ports {
		if (name != "" && sp.Name == name) || (name == "" && int64(sp.Port) == number) {
			return true
		}
	}
	return false
}

func (p *policyRun) checkIngresses() {
	for _, o := range p.in.Objects {
		if o.U.GetAPIVersion() != "networking.k8s.io/v1" || o.U.GetKind() != "Ingress" {
			continue
		}
		var ing networkingv1.Ingress
		if policyDecode(o.U.Object, &ing) != nil {
			continue
		}
		loc := p.locate(o)
		ns := policyNS(o)
		check := func(b *networkingv1.IngressBackend, path string) {
			if b == nil || b.Service == nil {
				return
			}
			name := b.Service.Name
			hint := "point the backend at an existing Service in namespace " + ns + " and one of its ports (name or number)"
			svc := p.services[ns][name]
			if svc == nil {
				if !p.opaque[ns] {
					f, l := loc.at(path + ".service.name")
					p.add("KW-POL-033", finding.Error, o, f, l, fmt.Sprintf("Ingress backend Service %s does not exist in namespace %s", name, ns), hint)
				}
				return
			}
			port := b.Service.Port
			if port.Name == "" && port.Number == 0 {
				return
			}
			if !policyServicePort(svc, port.Name, int64(port.Number)) {
				want := fmt.Sprint(port.Number)
				if port.Name != "" {
					want = fmt.Sprintf("%q", port.Name)
				}
				f, l := loc.at(path + ".service.port")
				p.add("KW-POL-033", finding.Error, o, f, l, fmt.Sprintf("Ingress backend Service %s has no port %s (it defines %s)", name, want, policyPortsString(svc)), hint)
			}
		}
		check(ing.Spec.DefaultBackend, "spec.defaultBackend")
		for i, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for j := range r.HTTP.Paths {
				check(&r.HTTP.Paths[j].Backend, fmt.Sprintf("spec.rules[%d].http.paths[%d].backend", i, j))
			}
		}
	}
}

func policyPortsString(svc *policyService) string {
	var s []string
	for _, sp := range svc.spec.Ports {
		s = append(s, policyPortName(sp))
	}
	if len(s) == 0 {
		return "no ports"
	}
	return strings.Join(s, ", ")
}

func (p *policyRun) checkVirtualServices() {
	entries := map[string]bool{}
	for _, o := range p.in.Objects {
		if policyIs(o, "networking.istio.io", "ServiceEntry") {
			hosts, _ := policyField(o.U.Object, "spec.hosts")
			list, _ := hosts.([]any)
			for _, h := range list {
				if s, ok := h.(string); ok {
					entries[s] = true
				}
			}
		}
	}
	for _, o := range p.in.Objects {
		if !policyIs(o, "networking.istio.io", "VirtualService") {
			continue
		}
		loc := p.locate(o)
		for _, proto := range []string{"http", "tcp", "tls"} {
			raw, _ := policyField(o.U.Object, "spec."+proto)
			routes, _ := raw.([]any)
			for i, r := range routes {
				rm, _ := r.(map[string]any)
				dests, _ := rm["route"].([]any)
				for j, d := range dests {
					dm, _ := d.(map[string]any)
					dest, _ := dm["destination"].(map[string]any)
					host, _ := dest["host"].(string)
					if host == "" || entries[host] {
						continue
					}
					path := fmt.Sprintf("spec.%s[%d].route[%d].destination", proto, i, j)
					p.checkDestination(o, loc, path, host, dest)
				}
			}
		}
	}
}

func (p *policyRun) checkDestination(o validate.Object, loc policyLoc, path, host string, dest map[string]any) {
	name, ns, ok := p.resolveHost(host, policyNS(o))
	if !ok {
		return
	}
	hint := "point the destination host at an existing Service (name, name.namespace or name.namespace.svc.cluster.local) and one of its ports"
	svc := p.services[ns][name]
	if svc == nil {
		if !p.opaque[ns] {
			f, l := loc.at(path + ".host")
			p.add("KW-POL-034", finding.Error, o, f, l, fmt.Sprintf("VirtualService destination host %s does not resolve to a Service (no Service %s in namespace %s)", host, name, ns), hint)
		}
		return
	}
	portMap, _ := dest["port"].(map[string]any)
	number, ok := policyInt(portMap["number"])
	if !ok || number == 0 {
		return
	}
	if !policyServicePort(svc, "", number) {
		f, l := loc.at(path + ".port.number")
		p.add("KW-POL-034", finding.Error, o, f, l, fmt.Sprintf("VirtualService destination %s has no port %d (Service %s/%s defines %s)", host, number, ns, name, policyPortsString(svc)), hint)
	}
}

// resolveHost maps an Istio destination host to a Service name and
// namespace; ok is false for hosts outside the cluster (or that we cannot
// tell from an external domain).
func (p *policyRun) resolveHost(host, vsNS string) (name, ns string, ok bool) {
	h := strings.TrimSuffix(host, ".")
	if strings.Contains(h, "*") {
		return "", "", false
	}
	if rest, cut := strings.CutSuffix(h, ".svc.cluster.local"); cut {
		parts := strings.Split(rest, ".")
		if len(parts) != 2 {
			return "", "", false
		}
		return parts[0], parts[1], true
	}
	parts := strings.Split(h, ".")
	switch {
	case len(parts) == 1:
		return h, vsNS, true
	case len(parts) == 2:
		// name.namespace, or an external domain (example.com): only a
		// namespace we know of makes it a Service.
		if !p.known[parts[1]] {
			return "", "", false
		}
		return parts[0], parts[1], true
	case len(parts) == 3 && parts[2] == "svc":
		return parts[0], parts[1], true
	}
	return "", "", false
}

func policyInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}
