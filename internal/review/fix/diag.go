package fix

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
)

// Fixers of the runtime diagnosis (internal/diagnose) whose cause is
// written in the manifests: a readiness probe on a port the container
// does not declare (KW-DIAG-010), a Service targetPort no container port
// has (KW-DIAG-013) and a Service selector that matches no Pod
// (KW-DIAG-012). They read the diagnosis's own messages.

// The two KW-DIAG-010 messages whose cause is in the manifest: a probe
// port number the container does not declare, and a port name no port
// of the container has. The name is Go-quoted.
var (
	probeNotReady  = regexp.MustCompile(`^container (\S+) is not ready: (.*)$`)
	probePortNum   = regexp.MustCompile(`^readiness probe on port (\d+), but container (\S+) listens on .+$`)
	probePortNamed = regexp.MustCompile(`^readiness probe on port ("(?:[^"\\]|\\.)*"), a name container (\S+) does not give any port$`)
)

// probeHandlers are the probe handlers that have a port, in the order
// the kubelet checks them.
var probeHandlers = []string{"httpGet", "tcpSocket", "grpc"}

func fixDiagProbePort(c *call) (change, error) {
	m := probeNotReady.FindStringSubmatch(c.f.Message)
	if m == nil {
		return change{}, unfixable("the finding's message is not the one this fixer reads")
	}
	name, cause := m[1], m[2]
	var reported string // the probe's port as the finding reports it
	named := false
	if p := probePortNum.FindStringSubmatch(cause); p != nil && p[2] == name {
		reported = p[1]
	} else if p := probePortNamed.FindStringSubmatch(cause); p != nil && p[2] == name {
		s, err := strconv.Unquote(p[1])
		if err != nil {
			return change{}, unfixable("the finding's message is not the one this fixer reads")
		}
		reported, named = s, true
	} else {
		return change{}, unfixable("kubewright has no deterministic fix for this probe failure; follow the hint")
	}
	w, err := c.podSpec()
	if err != nil {
		return change{}, err
	}
	if err := w.pick("container", name); err != nil {
		return change{}, err
	}
	probe := yamlnode.At(w.container, "readinessProbe")
	if probe == nil || probe.Kind != yaml.MappingNode {
		return change{}, unfixable("%s sets no readinessProbe for container %s (a patch or a base does): fix the probe there", c.f.File, name)
	}
	handler := ""
	var cur *yaml.Node
	for _, h := range probeHandlers {
		if v := yamlnode.At(probe, h, "port"); v != nil {
			handler, cur = h, v
			break
		}
	}
	if cur == nil || cur.Kind != yaml.ScalarNode {
		return change{}, unfixable("the readinessProbe of container %s in %s has no httpGet, tcpSocket or grpc port: fix the probe by hand", name, c.f.File)
	}
	if cur.Value != reported {
		return change{}, unfixable("the readinessProbe of container %s in %s is on port %s, not on %s as in the cluster: the file changed since the diagnosis, or a patch sets the port; fix it where the cluster's value comes from", name, c.f.File, cur.Value, reported)
	}
	port, err := onlyPort(w.container, name, c.f.File)
	if err != nil {
		return change{}, err
	}
	num, _ := strconv.ParseInt(scalarAt(port, "containerPort"), 10, 32)
	val, shown := integer(num), strconv.FormatInt(num, 10)
	if pn := scalarAt(port, "name"); named && pn != "" && handler != "grpc" {
		val, shown = str(pn), pn
	}
	e, err := at(w.container, mapping("port", val), "readinessProbe", handler)
	if err != nil {
		return change{}, err
	}
	note := fmt.Sprintf("check that the process listens on %d", num)
	if shown != strconv.FormatInt(num, 10) {
		note = fmt.Sprintf("check that the process listens on %d (the port named %s)", num, shown)
	}
	return w.change(fmt.Sprintf("Point the readiness probe of container %s at port %s, the port it declares.", name, shown), note, e)
}

// onlyPort is the one port a container declares in file, or an
// *Unfixable that says why there is not exactly one TCP port to use.
func onlyPort(ctr *yaml.Node, name, file string) (*yaml.Node, error) {
	ports := yamlnode.At(ctr, "ports")
	if ports == nil || isEmpty(ports) {
		return nil, unfixable("container %s declares no port in %s, so the port it listens on is not known: declare it (containerPort) and point the probe at it", name, file)
	}
	if ports.Kind != yaml.SequenceNode {
		return nil, unfixable("the ports of container %s in %s are not a list: fix them by hand", name, file)
	}
	var declared []string
	for _, p := range ports.Content {
		if p.Kind != yaml.MappingNode {
			return nil, unfixable("a port of container %s in %s is not a mapping: fix it by hand", name, file)
		}
		declared = append(declared, scalarAt(p, "containerPort"))
	}
	if len(ports.Content) > 1 {
		return nil, unfixable("container %s declares several ports in %s (%s), so which one answers the probe is not known: point the probe at it by hand", name, file, strings.Join(declared, ", "))
	}
	p := ports.Content[0]
	if _, err := strconv.ParseInt(scalarAt(p, "containerPort"), 10, 32); err != nil {
		return nil, unfixable("the containerPort of container %s in %s is not a number: fix it by hand", name, file)
	}
	if proto := scalarAt(p, "protocol"); proto != "" && proto != "TCP" {
		return nil, unfixable("the only port of container %s in %s is %s, and a probe connects over TCP: point the probe at the port the process serves by hand", name, file, proto)
	}
	return p, nil
}

// The two KW-DIAG-013 messages: a targetPort number and a targetPort
// name (Go-quoted) no container port has, with the ports the Pods of the
// owners declare: "8080" or "8080 (name)", comma separated.
var (
	targetPortNum   = regexp.MustCompile(`^Service (\S+) port (\d+) sends to targetPort (\d+), but the Pods of (.+?) listen on (.+)$`)
	targetPortNamed = regexp.MustCompile(`^Service (\S+) port (\d+) sends to targetPort ("(?:[^"\\]|\\.)*"), a name no container port of (.+?) has \(they declare (.+)\)$`)
	declaredPort    = regexp.MustCompile(`^(\d+)(?: \(([^()]*)\))?$`)
)

func fixDiagTargetPort(c *call) (change, error) {
	var port, target, owners, declared string
	if m := targetPortNum.FindStringSubmatch(c.f.Message); m != nil {
		port, target, owners, declared = m[2], m[3], m[4], m[5]
	} else if m := targetPortNamed.FindStringSubmatch(c.f.Message); m != nil {
		s, err := strconv.Unquote(m[3])
		if err != nil {
			return change{}, unfixable("the finding's message is not the one this fixer reads")
		}
		port, target, owners, declared = m[2], s, m[4], m[5]
	} else {
		return change{}, unfixable("the finding's message is not the one this fixer reads")
	}
	list := strings.Split(declared, ", ")
	for _, d := range list {
		if !declaredPort.MatchString(d) {
			return change{}, unfixable("the ports the Pods declare cannot be read from the finding")
		}
	}
	if len(list) != 1 {
		return change{}, unfixable("the Pods of %s declare several ports (%s), so which one the Service sends to is not known: set targetPort by hand", owners, declared)
	}
	num, err := strconv.ParseInt(declaredPort.FindStringSubmatch(list[0])[1], 10, 32)
	if err != nil {
		return change{}, unfixable("the ports the Pods declare cannot be read from the finding")
	}
	y, o, err := c.yamlObject()
	if err != nil {
		return change{}, err
	}
	ports := yamlnode.At(o.root, "spec", "ports")
	if ports == nil || ports.Kind != yaml.SequenceNode {
		return change{}, unfixable("%s sets no spec.ports for the Service (a patch or a base does): fix the targetPort there", c.f.File)
	}
	var entry *yaml.Node
	for _, p := range ports.Content {
		if p.Kind != yaml.MappingNode || scalarAt(p, "port") != port {
			continue
		}
		if entry != nil {
			return change{}, unfixable("%s lists port %s more than once (one per protocol): set the targetPort by hand", c.f.File, port)
		}
		entry = p
	}
	if entry == nil {
		return change{}, unfixable("%s has no Service port %s (a patch or a base adds it): fix the targetPort there", c.f.File, port)
	}
	cur := port // the API server defaults targetPort to port
	if v := yamlnode.At(entry, "targetPort"); v != nil {
		if v.Kind != yaml.ScalarNode {
			return change{}, unfixable("the targetPort of port %s in %s is not a plain value: fix it by hand", port, c.f.File)
		}
		cur = v.Value
	}
	if cur != target {
		return change{}, unfixable("in %s port %s of the Service sends to targetPort %s, not to %s as in the cluster: the file changed since the diagnosis, or a patch sets it; fix it where the cluster's value comes from", c.f.File, port, cur, target)
	}
	e, err := at(entry, mapping("targetPort", integer(num)))
	if err != nil {
		return change{}, err
	}
	after, err := y.apply(o, e)
	if err != nil {
		return change{}, err
	}
	return change{file: y.name, after: after,
		title: fmt.Sprintf("Send Service port %s to targetPort %d, the port the Pods of %s declare.", port, num, owners),
		note:  fmt.Sprintf("check that the process listens on %d", num)}, nil
}

// serviceSelectsNothing reads KW-DIAG-012's message: the Service's
// selector and, when the diagnosis found the workload it is meant for,
// that workload and its pod labels ("k=v,k=v", sorted).
var serviceSelectsNothing = regexp.MustCompile(`^Service (\S+) selects (\S*), and no Pod in namespace (\S+) has those labels(?:; the Pods of (.+?) are labelled (\S*))?$`)

func fixDiagServiceSelector(c *call) (change, error) {
	m := serviceSelectsNothing.FindStringSubmatch(c.f.Message)
	if m == nil {
		return change{}, unfixable("the finding's message is not the one this fixer reads")
	}
	rendered, ok := parseLabels(m[2])
	if !ok || len(rendered) == 0 {
		return change{}, unfixable("the Service's selector cannot be read from the finding")
	}
	if m[4] == "" {
		return change{}, unfixable("the diagnosis found no workload the Service is meant for, so the labels to select are not known: fix the selector by hand")
	}
	labels, ok := parseLabels(m[5])
	if !ok {
		return change{}, unfixable("the workload's labels cannot be read from the finding")
	}
	if len(labels) == 0 {
		return change{}, unfixable("%s has no pod labels to select", m[4])
	}
	return matchSelector(c, rendered, labels, m[4])
}
