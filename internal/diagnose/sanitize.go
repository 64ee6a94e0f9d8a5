package diagnose

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubewright/kubewright/internal/redact"
)

// lastApplied is the annotation kubectl apply keeps the whole applied
// object in: a Secret's data included.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// sanitize redacts the snapshot in place before anything reads it: it
// drops managed fields and last-applied annotations, redacts literal env
// values that look secret, commands and arguments, every status and event
// message (a termination message is whatever the process wrote), and
// Flux messages. Node image lists go too (large, and not needed).
func sanitize(s *Snapshot) {
	for i := range s.Pods {
		p := &s.Pods[i]
		stripMeta(&p.ObjectMeta)
		podSpec(&p.Spec)
		p.Status.Message = text(p.Status.Message)
		for j := range p.Status.Conditions {
			p.Status.Conditions[j].Message = text(p.Status.Conditions[j].Message)
		}
		for _, sts := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses} {
			for j := range sts {
				state(&sts[j].State)
				state(&sts[j].LastTerminationState)
			}
		}
	}
	for i := range s.Deployments {
		stripMeta(&s.Deployments[i].ObjectMeta)
		stripMeta(&s.Deployments[i].Spec.Template.ObjectMeta)
		podSpec(&s.Deployments[i].Spec.Template.Spec)
		for j := range s.Deployments[i].Status.Conditions {
			s.Deployments[i].Status.Conditions[j].Message = text(s.Deployments[i].Status.Conditions[j].Message)
		}
	}
	for i := range s.StatefulSets {
		stripMeta(&s.StatefulSets[i].ObjectMeta)
		stripMeta(&s.StatefulSets[i].Spec.Template.ObjectMeta)
		podSpec(&s.StatefulSets[i].Spec.Template.Spec)
	}
	for i := range s.ReplicaSets {
		stripMeta(&s.ReplicaSets[i].ObjectMeta)
		stripMeta(&s.ReplicaSets[i].Spec.Template.ObjectMeta)
		podSpec(&s.ReplicaSets[i].Spec.Template.Spec)
	}
	for i := range s.Events {
		stripMeta(&s.Events[i].ObjectMeta)
		s.Events[i].Message = text(s.Events[i].Message)
	}
	for i := range s.Services {
		stripMeta(&s.Services[i].ObjectMeta)
	}
	for i := range s.EndpointSlices {
		stripMeta(&s.EndpointSlices[i].ObjectMeta)
	}
	for i := range s.Ingresses {
		stripMeta(&s.Ingresses[i].ObjectMeta)
	}
	for i := range s.HPAs {
		stripMeta(&s.HPAs[i].ObjectMeta)
		for j := range s.HPAs[i].Status.Conditions {
			s.HPAs[i].Status.Conditions[j].Message = text(s.HPAs[i].Status.Conditions[j].Message)
		}
	}
	for i := range s.PVCs {
		stripMeta(&s.PVCs[i].ObjectMeta)
	}
	for i := range s.Nodes {
		stripMeta(&s.Nodes[i].ObjectMeta)
		s.Nodes[i].Annotations = nil
		s.Nodes[i].Status.Images = nil
	}
	for i := range s.Flux {
		s.Flux[i].Message = text(s.Flux[i].Message)
	}
}

func text(s string) string {
	if s == "" {
		return s
	}
	out, _ := redact.Text(s)
	return out
}

func stripMeta(m *metav1.ObjectMeta) {
	m.ManagedFields = nil
	delete(m.Annotations, lastApplied)
}

func state(s *corev1.ContainerState) {
	if s.Waiting != nil {
		s.Waiting.Message = text(s.Waiting.Message)
	}
	if s.Terminated != nil {
		s.Terminated.Message = text(s.Terminated.Message)
	}
}

// podSpec redacts what a pod spec may carry in the clear: literal env
// values that are secrets (judged with their names: DB_PASSWORD=x), and
// commands, arguments and exec probes.
func podSpec(p *corev1.PodSpec) {
	for _, cs := range [][]corev1.Container{p.InitContainers, p.Containers} {
		for i := range cs {
			c := &cs[i]
			for j := range c.Env {
				if v := c.Env[j].Value; v != "" {
					if out, n := redact.Text(c.Env[j].Name + "=" + v); n > 0 || out != c.Env[j].Name+"="+v {
						c.Env[j].Value = redact.Placeholder
					} else {
						c.Env[j].Value = text(v)
					}
				}
			}
			redact.Strings(c.Command)
			redact.Strings(c.Args)
			for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if pr != nil && pr.Exec != nil {
					redact.Strings(pr.Exec.Command)
				}
			}
		}
	}
	for i := range p.EphemeralContainers {
		p.EphemeralContainers[i].Env = nil
		redact.Strings(p.EphemeralContainers[i].Command)
		redact.Strings(p.EphemeralContainers[i].Args)
	}
}
