package diagnose

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubewright/kubewright/internal/finding"
)

// probeAnalysis says why a probe fails, where in the probe the cause is
// written (a path below the probe), and what to change.
type probeAnalysis struct {
	what, hint string
	field      path
	// static is true when the cause is in the manifest itself (the probe
	// targets a port the container does not declare).
	static bool
}

// The kubelet's probe failure messages.
var (
	probeStatus  = regexp.MustCompile(`statuscode: (\d+)`)
	probeRefused = regexp.MustCompile(`connect: connection refused`)
	probeTimeout = regexp.MustCompile(`(?i)deadline exceeded|timeout|timed out`)
)

// probeTarget is the port a probe connects to and where it is written.
func probeTarget(pr *corev1.Probe) (intstr.IntOrString, path, bool) {
	switch {
	case pr.HTTPGet != nil:
		return pr.HTTPGet.Port, path{key("httpGet"), key("port")}, true
	case pr.TCPSocket != nil:
		return pr.TCPSocket.Port, path{key("tcpSocket"), key("port")}, true
	case pr.GRPC != nil:
		return intstr.FromInt32(pr.GRPC.Port), path{key("grpc"), key("port")}, true
	}
	return intstr.IntOrString{}, nil, false
}

// containerPort resolves a port (a number or a port name) against the
// container's declared ports: its number, and whether it is declared.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp.ContainerPort, true
		}
	}
	if p.Type == intstr.String {
		if n, err := strconv.Atoi(p.StrVal); err == nil {
			return int32(n), false
		}
		return 0, false
	}
	return p.IntVal, false
}

func declaredPorts(c *corev1.Container) string {
	var ps []string
	for _, cp := range c.Ports {
		ps = append(ps, strconv.Itoa(int(cp.ContainerPort)))
	}
	return strings.Join(ps, ", ")
}

// analyzeProbe explains a failing probe of kind ("readiness", "liveness")
// from the container's declared ports and the kubelet's failure events.
func analyzeProbe(kind string, c *corev1.Container, pr *corev1.Probe, evs []*corev1.Event) probeAnalysis {
	port, portField, hasPort := probeTarget(pr)
	last := ""
	if len(evs) > 0 {
		last = evs[len(evs)-1].Message
		last = strings.TrimSpace(last[strings.Index(last, ":")+1:])
	}
	if hasPort && len(c.Ports) > 0 {
		if num, ok := containerPort(c, port); !ok {
			if port.Type == intstr.String && num == 0 {
				return probeAnalysis{static: true, field: portField,
					what: fmt.Sprintf("%s probe on port %q, a name container %s does not give any port", kind, port.StrVal, c.Name),
					hint: fmt.Sprintf("name one of the container's ports %q, or probe the port the process listens on (%s)", port.StrVal, declaredPorts(c))}
			}
			return probeAnalysis{static: true, field: portField,
				what: fmt.Sprintf("%s probe on port %d, but container %s listens on %s", kind, num, c.Name, declaredPorts(c)),
				hint: fmt.Sprintf("point the probe at the port the process listens on (%s), or make the process serve %d", declaredPorts(c), num)}
		}
	}
	portText := port.String()
	switch {
	case pr.HTTPGet != nil && probeStatus.MatchString(last):
		code := probeStatus.FindStringSubmatch(last)[1]
		return probeAnalysis{field: path{key("httpGet"), key("path")},
			what: fmt.Sprintf("%s probe GET %s on port %s answers %s", kind, orSlash(pr.HTTPGet.Path), portText, code),
			hint: "serve that path with a 2xx or 3xx answer, or point the probe at a health endpoint the application serves"}
	case hasPort && probeRefused.MatchString(last):
		return probeAnalysis{field: portField,
			what: fmt.Sprintf("nothing accepts the %s probe's connections on port %s", kind, portText),
			hint: "make the process listen on that port on all addresses (0.0.0.0, not 127.0.0.1), or probe the port it listens on"}
	case probeTimeout.MatchString(last):
		t := pr.TimeoutSeconds
		if t == 0 {
			t = 1
		}
		return probeAnalysis{field: path{key("timeoutSeconds")},
			what: fmt.Sprintf("%s probe times out after %ds", kind, t),
			hint: "raise timeoutSeconds (and initialDelaySeconds for a slow start), or make the endpoint answer faster"}
	case pr.Exec != nil && last != "":
		return probeAnalysis{field: path{key("exec"), key("command")},
			what: fmt.Sprintf("%s probe command fails: %s", kind, last),
			hint: "the command must exit 0 when the container is healthy; check it runs in the image"}
	case last != "":
		return probeAnalysis{field: portField, what: fmt.Sprintf("%s probe fails: %s", kind, last),
			hint: "the kubelet's message says what the probe got"}
	}
	return probeAnalysis{what: fmt.Sprintf("its %s probe has not passed", kind),
		hint: "check the probe's target, and initialDelaySeconds against the start-up time"}
}

func orSlash(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// detectReadiness reports running containers that are not ready
// (KW-DIAG-010), at the probe's field the cause is in.
func (d *diag) detectReadiness() []issue {
	var out []issue
	for _, c := range d.containers() {
		if c.st.State.Running == nil || c.st.Ready || c.spec.ReadinessProbe == nil || isInit(c.pod, c.st.Name) || c.pod.DeletionTimestamp != nil {
			continue
		}
		evs := withMessage(d.events.of("Pod", c.pod.Name, "Unhealthy"), "Readiness probe failed")
		pa := analyzeProbe("readiness", c.spec, c.spec.ReadinessProbe, evs)
		sev := finding.Error
		if len(evs) == 0 && !pa.static {
			sev = finding.Warning
		}
		out = append(out, issue{id: "KW-DIAG-010", sev: sev, obj: c.owner,
			field: c.at.with(key("readinessProbe")).with(pa.field...),
			msg:   fmt.Sprintf("container %s is not ready: %s", c.st.Name, pa.what), hint: pa.hint,
			evidence: append([]string{fmt.Sprintf("pod %s: container %s running, not ready", c.pod.Name, c.st.Name)}, eventEvidence(evs, 2)...)})
	}
	return out
}

// podReady tells whether a Pod's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// notReadyContainers names a Pod's containers that are not ready.
func notReadyContainers(p *corev1.Pod) []string {
	var out []string
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready {
			out = append(out, cs.Name)
		}
	}
	slices.Sort(out)
	return out
}
