package rules

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubewright/kubewright/internal/analyze"
)

// Probe timing. Readiness is strict: a pod that fails its health check for
// 30 s leaves the Service. Liveness is tolerant: it restarts a container
// only after two minutes without accepting connections. A startup probe
// gives slow starters (JVM, .NET) up to three minutes before liveness
// counts.
var (
	readinessTiming = corev1.Probe{PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3}
	livenessTiming  = corev1.Probe{PeriodSeconds: 20, TimeoutSeconds: 5, FailureThreshold: 6}
	startupTiming   = corev1.Probe{PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 36}
)

func timed(h corev1.ProbeHandler, t corev1.Probe) *corev1.Probe {
	t.ProbeHandler = h
	return &t
}

// probes decides a service container's probes. Readiness asks the
// service's own health check (its HTTP health path, or the standard gRPC
// health service); liveness asks only whether the process still accepts
// connections on its port, so a pod whose dependencies are down is taken
// out of rotation rather than restarted, and the two are never the same
// check. Spring Boot has both answers built in (the liveness and readiness
// health groups). A service with no health check gets a TCP readiness probe
// and no liveness probe: the same TCP check twice would restart pods for
// the reason readiness already handles.
func (sys *system) probes(s analyze.Service) (readiness, liveness, startup *corev1.Probe) {
	if s.Port == 0 {
		return nil, nil, nil
	}
	port := intstr.FromString(portName(s))
	tcp := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}
	var ready, live corev1.ProbeHandler
	hasLive := true
	switch {
	case s.Framework == "spring-boot" && s.HealthPath != "":
		base := strings.TrimSuffix(s.HealthPath, "/")
		ready = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: base + "/readiness", Port: port}}
		live = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: base + "/liveness", Port: port}}
		sys.assume("%s: probes use Spring Boot's %s/readiness and %s/liveness health groups (Boot 2.3+; MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED=true in its ConfigMap turns them on)", s.Name, base, base)
	case s.GRPC && s.GRPCHealth:
		ready = corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(s.Port)}}
		live = tcp
	case s.HealthPath != "":
		ready = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: s.HealthPath, Port: port}}
		live = tcp
	default:
		ready, hasLive = tcp, false
		what := "an HTTP health endpoint"
		if s.GRPC {
			what = "the standard gRPC health service (grpc.health.v1)"
		}
		sys.assume("%s has no health check: it gets a TCP readiness probe and no liveness probe; add %s so Kubernetes can tell a hung process from a busy one", s.Name, what)
	}
	readiness = timed(ready, readinessTiming)
	if hasLive {
		liveness = timed(live, livenessTiming)
	}
	if s.SlowStart {
		h := ready
		if hasLive {
			h = live
		}
		startup = timed(h, startupTiming)
	}
	return readiness, liveness, startup
}

// storeProbes are a backing store's probes: readiness runs the store's own
// client check where the image has one (strict), liveness only checks the
// port (tolerant).
func storeProbes(kind, port string, check []string) (readiness, liveness *corev1.Probe) {
	tcp := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(port)}}
	ready := corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: check}}
	r := readinessTiming
	if kind == analyze.BackingKafka || kind == analyze.BackingSQLServer || kind == analyze.BackingRabbitMQ {
		// These checks start a JVM, an Erlang node or sqlcmd: give them time.
		r.PeriodSeconds, r.TimeoutSeconds = 20, 15
	}
	l := livenessTiming
	l.InitialDelaySeconds = 30
	return timed(ready, r), timed(tcp, l)
}
