package diagnose

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubewright/kubewright/internal/finding"
)

// connError is a failed connection a log line reports.
type connError struct {
	host, port string
	dns        bool // the name did not resolve; else the connection was refused
}

// hostRe matches a host name or an IPv4 address.
const hostRe = `([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)`

// The ways runtimes and clients word a failed lookup or a refused
// connection, each with the host (and port) it names.
var (
	dnsErrors = []*regexp.Regexp{
		regexp.MustCompile(`lookup ` + hostRe + `(?: on [^:\s]+:\d+)?: (?:no such host|server misbehaving)`), // Go
		regexp.MustCompile(`getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ` + hostRe),                                  // Node.js
		regexp.MustCompile(`UnknownHostException: ` + hostRe),                                                // JVM
		regexp.MustCompile(`could not translate host name "` + hostRe + `" to address`),                      // libpq
		regexp.MustCompile(`Failed to resolve '` + hostRe + `'`),                                             // urllib3
		regexp.MustCompile(`host='` + hostRe + `', port=(\d+)\).*(?:Name or service not known|Temporary failure in name resolution|nodename nor servname)`),
	}
	refusedErrors = []*regexp.Regexp{
		regexp.MustCompile(`dial tcp ` + hostRe + `:(\d+): connect: connection refused`),                                // Go
		regexp.MustCompile(`ECONNREFUSED ` + hostRe + `:(\d+)`),                                                         // Node.js
		regexp.MustCompile(`Connection refused: ` + hostRe + `/[0-9.]+:(\d+)`),                                          // Netty
		regexp.MustCompile(`connection to server at "` + hostRe + `" \([^)]*\), port (\d+) failed: Connection refused`), // libpq
		regexp.MustCompile(`host='` + hostRe + `', port=(\d+)\).*(?:Connection refused|\[Errno 111\])`),                 // urllib3
	}
)

// connErrors finds the failed lookups and refused connections in a line.
func connErrors(line string) []connError {
	var out []connError
	for _, re := range dnsErrors {
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			ce := connError{host: m[1], dns: true}
			if len(m) > 2 {
				ce.port = m[2]
			}
			out = append(out, ce)
		}
	}
	for _, re := range refusedErrors {
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			out = append(out, connError{host: m[1], port: m[2]})
		}
	}
	return out
}

// inCluster maps a host to the Service it names in the cluster: "orders",
// "orders.shop", "orders.shop.svc(.cluster.local)", or a Service's
// cluster IP. ok is false for other hosts (outside the cluster, or
// addresses that are no Service's).
func (d *diag) inCluster(host string) (name, ns string, ok bool) {
	if ip := net.ParseIP(host); ip != nil {
		for _, s := range d.s.Services {
			if s.Spec.ClusterIP == host {
				return s.Name, d.s.Namespace, true
			}
		}
		return "", "", false
	}
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	switch {
	case len(parts) == 1:
		return parts[0], d.s.Namespace, true
	case len(parts) == 2 && parts[1] == d.s.Namespace:
		return parts[0], parts[1], true
	case len(parts) >= 3 && parts[2] == "svc":
		return parts[0], parts[1], true
	}
	return "", "", false
}

// detectLogErrors reports failed lookups and refused connections to other
// services in the logs read (KW-DIAG-020), at the env var or ConfigMap
// entry that names the host when there is one.
func (d *diag) detectLogErrors() []issue {
	type key struct {
		owner objRef
		host  string
		dns   bool
	}
	type hit struct {
		ce       connError
		log      *Log
		lines    []string
		name, ns string
	}
	hits := map[key]*hit{}
	var order []key
	for i := range d.s.Logs {
		l := &d.s.Logs[i]
		for _, line := range l.Lines {
			for _, ce := range connErrors(line) {
				name, ns, ok := d.inCluster(ce.host)
				if !ok || ns == d.s.Namespace && d.scope.service != "" && name == d.scope.service {
					continue
				}
				k := key{l.owner, ce.host, ce.dns}
				h, seen := hits[k]
				if !seen {
					h = &hit{ce: ce, log: l, name: name, ns: ns}
					hits[k] = h
					order = append(order, k)
				}
				if len(h.lines) < 3 && !contains(h.lines, line) {
					h.lines = append(h.lines, line)
				}
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		return order[i].owner.String()+order[i].host < order[j].owner.String()+order[j].host
	})
	var out []issue
	for _, k := range order {
		h := hits[k]
		is := issue{id: "KW-DIAG-020", sev: finding.Warning, obj: k.owner}
		target := h.ce.host
		if h.ce.port != "" {
			target += ":" + h.ce.port
		}
		svc := d.service(h.name)
		switch {
		case h.ce.dns && h.ns == d.s.Namespace && svc == nil:
			is.sev = finding.Error
			is.msg = fmt.Sprintf("container %s cannot resolve %s: there is no Service %s in namespace %s", h.log.Container, h.ce.host, h.name, h.ns)
			if near := closest(h.name, d.serviceNames()); near != "" {
				is.msg += fmt.Sprintf(" (there is a Service named %s)", near)
			}
			is.hint = "correct the host name where the container's configuration names it, or create the Service"
		case h.ce.dns:
			is.msg = fmt.Sprintf("container %s cannot resolve %s", h.log.Container, h.ce.host)
			is.hint = "check the host name and that the Service exists in the namespace it names"
		case svc != nil && !d.hasReadyEndpoint(svc):
			is.msg = fmt.Sprintf("container %s has its connections to %s refused: Service %s has no ready endpoint", h.log.Container, target, svc.Name)
			is.hint = fmt.Sprintf("the service it calls is down: fix the Pods of Service %s first (diagnose %s)", svc.Name, svc.Name)
		default:
			is.msg = fmt.Sprintf("container %s has its connections to %s refused", h.log.Container, target)
			is.hint = "check the port it connects to against the Service's port, and that the service behind it listens"
		}
		is.field = d.hostField(h.log, h.ce.host)
		which := "log"
		if h.log.Previous {
			which = "previous log"
		}
		for _, line := range h.lines {
			is.evidence = append(is.evidence, fmt.Sprintf("%s %s/%s: %s", which, h.log.Pod, h.log.Container, line))
		}
		out = append(out, is)
	}
	return out
}

func (d *diag) service(name string) *corev1.Service {
	for i := range d.s.Services {
		if d.s.Services[i].Name == name {
			return &d.s.Services[i]
		}
	}
	return nil
}

func (d *diag) serviceNames() []string {
	out := make([]string, 0, len(d.s.Services))
	for _, s := range d.s.Services {
		out = append(out, s.Name)
	}
	return out
}

func (d *diag) hasReadyEndpoint(svc *corev1.Service) bool {
	var pods []*corev1.Pod
	for i := range d.s.Pods {
		if selects(svc.Spec.Selector, d.s.Pods[i].Labels) {
			pods = append(pods, &d.s.Pods[i])
		}
	}
	if len(svc.Spec.Selector) == 0 {
		return true // endpoints managed by hand: not judged
	}
	_, none := d.noReadyEndpoints(svc, objRef{}, pods)
	return !none
}

// hostField is the env var of the logging container whose literal value
// names host, or the container itself.
func (d *diag) hostField(l *Log, host string) path {
	for i := range d.s.Pods {
		p := &d.s.Pods[i]
		if p.Name != l.Pod {
			continue
		}
		list, c := "containers", findContainer(p.Spec.Containers, l.Container)
		if c == nil {
			list, c = "initContainers", findContainer(p.Spec.InitContainers, l.Container)
		}
		if c == nil {
			break
		}
		at := templateBase(l.owner).with(key(list), sel("name", c.Name))
		for _, e := range c.Env {
			if e.Value != "" && mentionsHost(e.Value, host) {
				return at.with(key("env"), sel("name", e.Name), key("value"))
			}
		}
		return at
	}
	return nil
}

// mentionsHost tells whether value names host as a whole host name (in a
// URL, host:port, or alone).
func mentionsHost(value, host string) bool {
	for i := strings.Index(value, host); i >= 0; {
		before, after := i == 0 || !hostChar(value[i-1]), i+len(host) == len(value) || !hostChar(value[i+len(host)])
		if before && after {
			return true
		}
		j := strings.Index(value[i+1:], host)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func hostChar(b byte) bool {
	return b == '-' || b == '.' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
