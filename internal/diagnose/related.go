package diagnose

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// related is what the model is shown of the cluster besides the findings
// and the logs: the objects in scope, summarized, redacted already (the
// snapshot is), and bounded.
type related struct {
	Workloads []workloadView `json:"workloads,omitempty"`
	Services  []serviceView  `json:"services,omitempty"`
	Pods      []podView      `json:"pods,omitempty"`
	Events    []string       `json:"events,omitempty"`
	Flux      []fluxView     `json:"flux,omitempty"`
	// Secrets and ConfigMaps are the names in the namespace.
	Secrets    []string `json:"secrets,omitempty"`
	ConfigMaps []string `json:"configMaps,omitempty"`
}

type workloadView struct {
	Object     string          `json:"object"`
	Where      string          `json:"where,omitempty"`
	Replicas   int32           `json:"replicas"`
	Ready      int32           `json:"ready"`
	Containers []containerView `json:"containers"`
	Volumes    []string        `json:"volumes,omitempty"`
}

type containerView struct {
	Name      string   `json:"name"`
	Image     string   `json:"image"`
	Command   []string `json:"command,omitempty"`
	Args      []string `json:"args,omitempty"`
	Ports     []string `json:"ports,omitempty"`
	Env       []string `json:"env,omitempty"`
	Resources string   `json:"resources,omitempty"`
	Probes    []string `json:"probes,omitempty"`
}

type serviceView struct {
	Object   string   `json:"object"`
	Selector string   `json:"selector,omitempty"`
	Ports    []string `json:"ports,omitempty"`
}

type podView struct {
	Name       string   `json:"name"`
	Phase      string   `json:"phase"`
	Node       string   `json:"node,omitempty"`
	Containers []string `json:"containers,omitempty"`
}

type fluxView struct {
	Object  string `json:"object"`
	Ready   string `json:"ready,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Bounds on what the model is shown of the cluster.
const (
	maxRelatedPods   = 10
	maxRelatedEvents = 30
	maxRelatedNames  = 50
)

// related collects the objects in scope for the model.
func (d *diag) related() related {
	var out related
	add := func(ref objRef, tmpl *corev1.PodTemplateSpec, replicas *int32, ready int32) {
		w := workloadView{Object: ref.String(), Ready: ready, Replicas: 1}
		if replicas != nil {
			w.Replicas = *replicas
		}
		if file, line := d.loc.locate(ref, nil); file != "" {
			w.Where = fmt.Sprintf("%s:%d", file, line)
		}
		for _, c := range tmpl.Spec.Containers {
			w.Containers = append(w.Containers, viewContainer(c))
		}
		for _, v := range tmpl.Spec.Volumes {
			switch {
			case v.PersistentVolumeClaim != nil:
				w.Volumes = append(w.Volumes, v.Name+": PersistentVolumeClaim "+v.PersistentVolumeClaim.ClaimName)
			case v.Secret != nil:
				w.Volumes = append(w.Volumes, v.Name+": Secret "+v.Secret.SecretName)
			case v.ConfigMap != nil:
				w.Volumes = append(w.Volumes, v.Name+": ConfigMap "+v.ConfigMap.Name)
			}
		}
		out.Workloads = append(out.Workloads, w)
	}
	for i := range d.s.Deployments {
		w := &d.s.Deployments[i]
		if r := d.ref("apps", "Deployment", w.Name); d.scope.workload(r) {
			add(r, &w.Spec.Template, w.Spec.Replicas, w.Status.ReadyReplicas)
		}
	}
	for i := range d.s.StatefulSets {
		w := &d.s.StatefulSets[i]
		if r := d.ref("apps", "StatefulSet", w.Name); d.scope.workload(r) {
			add(r, &w.Spec.Template, w.Spec.Replicas, w.Status.ReadyReplicas)
		}
	}
	for _, s := range d.s.Services {
		if !d.scope.svc(s.Name) {
			continue
		}
		v := serviceView{Object: d.ref("", "Service", s.Name).String(), Selector: labelString(s.Spec.Selector)}
		for _, p := range s.Spec.Ports {
			v.Ports = append(v.Ports, fmt.Sprintf("%s %d -> %s", p.Protocol, p.Port, p.TargetPort.String()))
		}
		out.Services = append(out.Services, v)
	}
	pods := slices.Clone(d.s.Pods)
	sort.SliceStable(pods, func(i, j int) bool { return failing(&pods[i]) && !failing(&pods[j]) })
	for i := range pods {
		p := &pods[i]
		if !d.scope.pod(p.Name) || len(out.Pods) == maxRelatedPods {
			continue
		}
		v := podView{Name: p.Name, Phase: string(p.Status.Phase), Node: p.Spec.NodeName}
		for _, cs := range allStatuses(p) {
			v.Containers = append(v.Containers, containerLine(cs))
		}
		out.Pods = append(out.Pods, v)
	}
	var warnings []*corev1.Event
	for i := range d.s.Events {
		e := &d.s.Events[i]
		if e.Type == corev1.EventTypeWarning && d.eventInScope(e) {
			warnings = append(warnings, e)
		}
	}
	sort.SliceStable(warnings, func(i, j int) bool { return eventUnix(warnings[i]) < eventUnix(warnings[j]) })
	out.Events = eventEvidence(warnings, maxRelatedEvents)
	for _, f := range d.s.Flux {
		if f.Ready == "False" || f.Suspended {
			out.Flux = append(out.Flux, fluxView{Object: f.Ref().String(), Ready: f.Ready, Reason: f.Reason, Message: firstLine(f.Message)})
		}
	}
	out.Secrets = firstN(d.s.Secrets, maxRelatedNames)
	out.ConfigMaps = firstN(d.s.ConfigMaps, maxRelatedNames)
	return out
}

// eventInScope tells whether an event is about an object of the scope.
func (d *diag) eventInScope(e *corev1.Event) bool {
	o := e.InvolvedObject
	switch o.Kind {
	case "Pod":
		return d.scope.pod(o.Name)
	case "Service":
		return d.scope.svc(o.Name)
	case "PersistentVolumeClaim":
		return d.scope.pvc(o.Name)
	case "Deployment", "StatefulSet":
		return d.scope.workload(d.ref("apps", o.Kind, o.Name))
	case "ReplicaSet":
		if rs, ok := d.replicaSets[o.Name]; ok {
			for _, ref := range rs.OwnerReferences {
				if ref.Kind == "Deployment" && d.scope.workload(d.ref("apps", "Deployment", ref.Name)) {
					return true
				}
			}
		}
		return d.scope.all()
	}
	return d.scope.all()
}

func viewContainer(c corev1.Container) containerView {
	v := containerView{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args}
	for _, p := range c.Ports {
		port := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
		if p.Name != "" {
			port += " (" + p.Name + ")"
		}
		v.Ports = append(v.Ports, port)
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			v.Env = append(v.Env, fmt.Sprintf("%s from Secret %s key %s", e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			v.Env = append(v.Env, fmt.Sprintf("%s from ConfigMap %s key %s", e.Name, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key))
		case e.ValueFrom != nil:
			v.Env = append(v.Env, e.Name+" from a field")
		default:
			v.Env = append(v.Env, e.Name+"="+e.Value)
		}
	}
	for _, f := range c.EnvFrom {
		switch {
		case f.SecretRef != nil:
			v.Env = append(v.Env, "all keys of Secret "+f.SecretRef.Name)
		case f.ConfigMapRef != nil:
			v.Env = append(v.Env, "all keys of ConfigMap "+f.ConfigMapRef.Name)
		}
	}
	var res []string
	for _, kv := range []struct {
		what string
		l    corev1.ResourceList
	}{{"requests", c.Resources.Requests}, {"limits", c.Resources.Limits}} {
		var parts []string
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := kv.l[name]; ok {
				parts = append(parts, fmt.Sprintf("%s=%s", name, q.String()))
			}
		}
		if len(parts) > 0 {
			res = append(res, kv.what+" "+strings.Join(parts, ","))
		}
	}
	v.Resources = strings.Join(res, "; ")
	for _, pr := range []struct {
		what string
		p    *corev1.Probe
	}{{"liveness", c.LivenessProbe}, {"readiness", c.ReadinessProbe}, {"startup", c.StartupProbe}} {
		if pr.p != nil {
			v.Probes = append(v.Probes, pr.what+" "+probeString(pr.p))
		}
	}
	return v
}

func probeString(p *corev1.Probe) string {
	switch {
	case p.HTTPGet != nil:
		return fmt.Sprintf("httpGet %s port %s", p.HTTPGet.Path, p.HTTPGet.Port.String())
	case p.TCPSocket != nil:
		return "tcpSocket port " + p.TCPSocket.Port.String()
	case p.GRPC != nil:
		return fmt.Sprintf("grpc port %d", p.GRPC.Port)
	case p.Exec != nil:
		return "exec " + strings.Join(p.Exec.Command, " ")
	}
	return "(no handler)"
}

// containerLine spells a container status in one line.
func containerLine(cs corev1.ContainerStatus) string {
	s := fmt.Sprintf("%s ready=%v restarts=%d", cs.Name, cs.Ready, cs.RestartCount)
	switch st := cs.State; {
	case st.Waiting != nil:
		s += " waiting " + st.Waiting.Reason
	case st.Terminated != nil:
		s += fmt.Sprintf(" terminated %s exit %d", st.Terminated.Reason, st.Terminated.ExitCode)
	case st.Running != nil:
		s += " running"
	}
	if t := cs.LastTerminationState.Terminated; t != nil {
		s += fmt.Sprintf("; last terminated %s exit %d", t.Reason, t.ExitCode)
	}
	return s
}

func labelString(m map[string]string) string {
	kv := make([]string, 0, len(m))
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), fmt.Sprintf("(and %d more)", len(s)-n))
	}
	return s
}
