// Package policy is the policy stage of validation: it holds rendered
// workloads, their Services, Ingresses and NetworkPolicies, and the
// Secrets and ConfigMaps of the repository to the baseline a reviewer
// would otherwise enforce by hand (non-root, read-only, resources, probes,
// pinned images, matching selectors, no plaintext secrets).
package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// Check is the policy stage: it holds rendered workloads and their
// wiring to a baseline that a reviewer would otherwise enforce by hand.
// Each rule, with its default severity (the runner applies the
// per-repository overrides of .github/kubewright.yaml validate.rules):
//
//	ID          Severity  What
//	KW-POL-001  error     a container may run as root: runAsNonRoot is not true (container setting overrides the pod's), or runAsUser is 0
//	KW-POL-002  warning   readOnlyRootFilesystem is not true
//	KW-POL-003  error     privileged: true
//	KW-POL-004  error     allowPrivilegeEscalation: true (warning when it is unset, which defaults to true)
//	KW-POL-005  error     a hostPath volume
//	KW-POL-006  error     hostNetwork, hostPID or hostIPC: true
//	KW-POL-007  warning   capabilities.drop does not include ALL
//	KW-POL-010  warning   no resources.requests cpu and memory (limits count, as the API defaults requests to them)
//	KW-POL-011  warning   no resources.limits.memory
//	KW-POL-012  warning   a container with ports and no readinessProbe
//	KW-POL-013  warning   a long-running container (not Job/CronJob) serving ports with no livenessProbe
//	                      (a container without ports has nothing to probe without the app's help)
//	KW-POL-014  error     an image with the :latest tag or with neither tag nor digest
//	KW-POL-020  error     an env var with a literal value that is a secret (by its name or by its content)
//	KW-POL-021  error     a ConfigMap key that holds a secret (by its name or by its content)
//	KW-POL-022  error     a Secret with literal data/stringData committed to the repository (SOPS-encrypted ones are fine)
//	KW-POL-030  warning   a namespace with workloads that no NetworkPolicy selects (one finding per namespace)
//	KW-POL-031  error     a Service whose selector matches no workload's pod labels in its namespace
//	KW-POL-032  warning   a Service targetPort that no selected container declares
//	KW-POL-033  error     an Ingress backend Service that does not exist, or a port it does not define
//	KW-POL-034  error     an Istio VirtualService destination host that is no Service, or a port it does not define
//
// Pod specs are read from Deployment, StatefulSet, DaemonSet, ReplicaSet,
// Job, CronJob and Pod; containers include initContainers (probe rules only
// apply to sidecars, restartPolicy: Always, as others cannot have probes).
// Custom resources whose operators create pods (a CNPG Cluster, a
// HelmRelease) are not pod specs: their namespaces are "opaque", and rules
// that would report a missing Service or workload there stay silent
// rather than guess. A two-label VirtualService host (a.b) is a Service
// only when namespace b holds objects; otherwise it may be a domain.
// Findings point at the field in the source document when it can be
// traced, otherwise at the object's document. Secret values are never
// echoed.
type Check struct{}

// Name implements Check.
func (Check) Name() string { return validate.StagePolicy }

// Check implements Check.
func (Check) Check(ctx context.Context, in *validate.Input) []finding.Finding {
	p := &policyRun{in: in}
	p.index()
	for _, w := range p.workloads {
		p.checkWorkload(w)
	}
	for _, o := range in.Objects {
		switch {
		case policyIs(o, "", "ConfigMap"):
			p.checkConfigMap(o)
		case policyIs(o, "", "Secret"):
			p.checkSecret(o)
		}
	}
	p.checkNetworkPolicies()
	p.checkServices()
	p.checkIngresses()
	p.checkVirtualServices()
	finding.Sort(p.out)
	return p.out
}

// policyRun is one run's state: indexes over the input and the findings.
type policyRun struct {
	in        *validate.Input
	out       []finding.Finding
	workloads []*policyWorkload
	// services by namespace and name.
	services map[string]map[string]*policyService
	// namespaces that hold any object, and those with pod creators we
	// cannot see into.
	known, opaque map[string]bool
}

// policyWorkload is an object with a pod template.
type policyWorkload struct {
	o       validate.Object
	loc     policyLoc
	ns      string
	podPath string
	labels  map[string]string
	spec    corev1.PodSpec
	// longRunning is false for Jobs, CronJobs and run-to-completion Pods.
	longRunning bool
}

type policyService struct {
	o    validate.Object
	loc  policyLoc
	spec corev1.ServiceSpec
}

// policyPodPaths are the pod spec paths of the workload kinds.
var policyPodPaths = map[string]string{
	"apps/Deployment":  "spec.template.spec",
	"apps/StatefulSet": "spec.template.spec",
	"apps/DaemonSet":   "spec.template.spec",
	"apps/ReplicaSet":  "spec.template.spec",
	"batch/Job":        "spec.template.spec",
	"batch/CronJob":    "spec.jobTemplate.spec.template.spec",
	"/Pod":             "spec",
}

func policyIs(o validate.Object, group, kind string) bool {
	gvk := o.U.GroupVersionKind()
	return gvk.Group == group && gvk.Kind == kind
}

// policyNS is the object's namespace, "default" when unset.
func policyNS(o validate.Object) string {
	if ns := o.U.GetNamespace(); ns != "" {
		return ns
	}
	return "default"
}

func (p *policyRun) index() {
	p.services = map[string]map[string]*policyService{}
	p.known = map[string]bool{}
	p.opaque = map[string]bool{}
	for _, o := range p.in.Objects {
		ns := policyNS(o)
		p.known[ns] = true
		if policyIs(o, "", "Namespace") {
			p.known[o.U.GetName()] = true
		}
		if ons, ok := policyOpaqueNS(o); ok {
			p.opaque[ons] = true
		}
		gvk := o.U.GroupVersionKind()
		if path, ok := policyPodPaths[gvk.Group+"/"+gvk.Kind]; ok {
			if w := p.workload(o, path); w != nil {
				p.workloads = append(p.workloads, w)
			}
			continue
		}
		if policyIs(o, "", "Service") {
			var svc corev1.Service
			if policyDecode(o.U.Object, &svc) != nil {
				continue
			}
			if p.services[ns] == nil {
				p.services[ns] = map[string]*policyService{}
			}
			if _, dup := p.services[ns][o.U.GetName()]; !dup {
				p.services[ns][o.U.GetName()] = &policyService{o: o, loc: p.locate(o), spec: svc.Spec}
			}
		}
	}
}

// policyOpaqueNS reports the namespace in which o may create pods or
// Services that are not among the objects: a HelmRelease (its target
// namespace), a bare ReplicationController, or any custom resource of a
// group not known to be configuration only.
func policyOpaqueNS(o validate.Object) (string, bool) {
	gvk := o.U.GroupVersionKind()
	switch {
	case gvk.Group == "helm.toolkit.fluxcd.io" && gvk.Kind == "HelmRelease":
		if t := policyString(o.U.Object, "spec", "targetNamespace"); t != "" {
			return t, true
		}
		return policyNS(o), true
	case gvk.Group == "" && gvk.Kind == "ReplicationController":
		return policyNS(o), true
	case gvk.Group == "" || !strings.Contains(gvk.Group, ".") || strings.HasSuffix(gvk.Group, ".k8s.io"):
		return "", false
	case policyConfigGroups[gvk.Group]:
		return "", false
	}
	return policyNS(o), true
}

// policyConfigGroups are API groups whose objects create neither pods nor
// Services.
var policyConfigGroups = map[string]bool{
	"source.toolkit.fluxcd.io":       true,
	"kustomize.toolkit.fluxcd.io":    true,
	"image.toolkit.fluxcd.io":        true,
	"notification.toolkit.fluxcd.io": true,
	"networking.istio.io":            true,
	"security.istio.io":              true,
	"telemetry.istio.io":             true,
	"external-secrets.io":            true,
	"generators.external-secrets.io": true,
	"cert-manager.io":                true,
	"acme.cert-manager.io":           true,
	"monitoring.coreos.com":          true,
	"bitnami.com":                    true,
}

// policyString returns the string at a path of map keys, or "".
func policyString(obj map[string]any, fields ...string) string {
	v, _ := policyField(obj, strings.Join(fields, "."))
	s, _ := v.(string)
	return s
}

// policyDecode converts a generic value into a typed one through JSON.
func policyDecode(v any, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// policyField returns the value at a dotted path of plain map keys.
func policyField(obj map[string]any, path string) (any, bool) {
	var cur any = obj
	for _, f := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[f]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func (p *policyRun) workload(o validate.Object, podPath string) *policyWorkload {
	raw, ok := policyField(o.U.Object, podPath)
	if !ok {
		return nil
	}
	w := &policyWorkload{o: o, loc: p.locate(o), ns: policyNS(o), podPath: podPath, longRunning: true}
	if policyDecode(raw, &w.spec) != nil {
		// Malformed: the schema stage reports it.
		return nil
	}
	labelPath := strings.TrimSuffix(podPath, ".spec") + ".metadata.labels"
	if podPath == "spec" {
		labelPath = "metadata.labels"
	}
	if l, ok := policyField(o.U.Object, labelPath); ok {
		_ = policyDecode(l, &w.labels)
	}
	switch o.U.GetKind() {
	case "Job", "CronJob":
		w.longRunning = false
	case "Pod":
		w.longRunning = w.spec.RestartPolicy == "" || w.spec.RestartPolicy == corev1.RestartPolicyAlways
	}
	return w
}

// policyLoc finds fields of an object in its source document.
type policyLoc struct {
	o   validate.Object
	doc validate.Doc
	ok  bool
}

// locate finds the document an object was rendered from: the one at its
// file and line, else the best match by kind and name.
func (p *policyRun) locate(o validate.Object) policyLoc {
	l := policyLoc{o: o}
	if p.in.Sources == nil {
		return l
	}
	kind, name := o.U.GetKind(), o.U.GetName()
	for _, d := range p.in.Sources.Docs() {
		if d.File == o.File && d.Line == o.Line && d.Kind == kind {
			l.doc, l.ok = d, true
			return l
		}
	}
	for _, d := range p.in.Sources.Docs() {
		if d.File == o.File && d.Kind == kind && d.Name == name {
			l.doc, l.ok = d, true
			return l
		}
	}
	if d, ok := p.in.Sources.Find(o.Root, kind, o.U.GetNamespace(), name); ok {
		l.doc, l.ok = d, true
	}
	return l
}

// at returns the file and line of a field path ("spec.ports[0].port"); a
// missing field resolves to its nearest present parent.
func (l policyLoc) at(path string) (string, int) {
	if !l.ok {
		return l.o.File, l.o.Line
	}
	return l.doc.File, l.doc.FieldLine(path)
}

// node returns the YAML node at a path of the source document, or nil.
func (l policyLoc) node(path string) *yaml.Node {
	if !l.ok {
		return nil
	}
	n := l.doc.Node
	for _, part := range validate.SplitPath(path) {
		if n == nil {
			return nil
		}
		if i, err := strconv.Atoi(part); err == nil {
			if n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
			continue
		}
		n = validate.MapValue(n, part)
	}
	return n
}

// item is the source path of element idx of a list of named items
// (containers, env vars, ports), found by name in the source when an
// overlay has reordered or added items.
func (l policyLoc) item(listPath string, idx int, name string) string {
	if n := l.node(listPath); n != nil && n.Kind == yaml.SequenceNode && name != "" {
		for i, it := range n.Content {
			if validate.MapScalar(it, "name") == name {
				return fmt.Sprintf("%s[%d]", listPath, i)
			}
		}
	}
	return fmt.Sprintf("%s[%d]", listPath, idx)
}

// keyLine is the line of a map key below path, for keys with dots that
// FieldLine would split.
func (l policyLoc) keyLine(path, key string) (string, int) {
	file, line := l.at(path)
	if n := l.node(path); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return file, n.Content[i].Line
			}
		}
	}
	return file, line
}

func (p *policyRun) add(id string, sev finding.Severity, o validate.Object, file string, line int, msg, hint string) {
	p.out = append(p.out, finding.Finding{
		ID: id, Severity: sev, Stage: validate.StagePolicy, File: file, Line: line,
		Object: o.Ref(), Message: msg, Hint: hint,
	})
}

// policyContainer is a container of a pod spec with its source path.
type policyContainer struct {
	c    *corev1.Container
	path string
	// serving is true for regular containers and sidecar init containers
	// (restartPolicy: Always), which can have probes.
	serving bool
	what    string
}

func (w *policyWorkload) containers() []policyContainer {
	var out []policyContainer
	for i := range w.spec.InitContainers {
		c := &w.spec.InitContainers[i]
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		out = append(out, policyContainer{c: c, path: w.loc.item(w.podPath+".initContainers", i, c.Name), serving: sidecar,
			what: fmt.Sprintf("init container %q", c.Name)})
	}
	for i := range w.spec.Containers {
		c := &w.spec.Containers[i]
		out = append(out, policyContainer{c: c, path: w.loc.item(w.podPath+".containers", i, c.Name), serving: true,
			what: fmt.Sprintf("container %q", c.Name)})
	}
	return out
}

func (p *policyRun) checkWorkload(w *policyWorkload) {
	o, pod := w.o, w.podPath
	psc := w.spec.SecurityContext
	for _, h := range []struct {
		field string
		set   bool
	}{{"hostNetwork", w.spec.HostNetwork}, {"hostPID", w.spec.HostPID}, {"hostIPC", w.spec.HostIPC}} {
		if h.set {
			f, l := w.loc.at(pod + "." + h.field)
			p.add("KW-POL-006", finding.Error, o, f, l, fmt.Sprintf("the pod shares the node's namespaces: %s is true", h.field),
				"remove "+h.field+"; reach the pod through a Service, and use a Service or a metrics exporter instead of host namespaces")
		}
	}
	for i, v := range w.spec.Volumes {
		if v.HostPath != nil {
			f, l := w.loc.at(w.loc.item(pod+".volumes", i, v.Name) + ".hostPath")
			p.add("KW-POL-005", finding.Error, o, f, l, fmt.Sprintf("volume %q mounts a path of the node (hostPath %s)", v.Name, v.HostPath.Path),
				"use an emptyDir, configMap, secret or persistentVolumeClaim volume instead of hostPath")
		}
	}
	for _, pc := range w.containers() {
		c, cp := pc.c, pc.path
		csc := c.SecurityContext
		if csc == nil {
			csc = &corev1.SecurityContext{}
		}
		scPath := cp + ".securityContext"

		// KW-POL-001: container settings override the pod's.
		nonRoot, nonRootPath := csc.RunAsNonRoot, scPath+".runAsNonRoot"
		if nonRoot == nil && psc != nil && psc.RunAsNonRoot != nil {
			nonRoot, nonRootPath = psc.RunAsNonRoot, pod+".securityContext.runAsNonRoot"
		}
		user, userPath := csc.RunAsUser, scPath+".runAsUser"
		if user == nil && psc != nil && psc.RunAsUser != nil {
			user, userPath = psc.RunAsUser, pod+".securityContext.runAsUser"
		}
		rootHint := "set runAsNonRoot: true in the pod securityContext (or the container's) with a non-zero runAsUser, and build the image with a numeric non-root USER"
		switch {
		case user != nil && *user == 0:
			f, l := w.loc.at(userPath)
			p.add("KW-POL-001", finding.Error, o, f, l, pc.what+" runs as root (runAsUser: 0)", rootHint)
		case nonRoot == nil:
			f, l := w.loc.at(scPath)
			p.add("KW-POL-001", finding.Error, o, f, l, pc.what+" may run as root: neither it nor the pod sets runAsNonRoot: true", rootHint)
		case !*nonRoot:
			f, l := w.loc.at(nonRootPath)
			p.add("KW-POL-001", finding.Error, o, f, l, pc.what+" may run as root: runAsNonRoot is false", rootHint)
		}
		if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
			f, l := w.loc.at(scPath + ".readOnlyRootFilesystem")
			p.add("KW-POL-002", finding.Warning, o, f, l, pc.what+" has a writable root filesystem: readOnlyRootFilesystem is not true",
				"set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process writes (e.g. /tmp)")
		}
		if csc.Privileged != nil && *csc.Privileged {
			f, l := w.loc.at(scPath + ".privileged")
			p.add("KW-POL-003", finding.Error, o, f, l, pc.what+" is privileged: it has full access to the node",
				"remove privileged: true; add only the capabilities the process needs with capabilities.add")
		}
		switch ape := csc.AllowPrivilegeEscalation; {
		case ape == nil:
			f, l := w.loc.at(scPath)
			p.add("KW-POL-004", finding.Warning, o, f, l, pc.what+" does not set allowPrivilegeEscalation: false (it defaults to true)",
				"set securityContext.allowPrivilegeEscalation: false on the container")
		case *ape:
			f, l := w.loc.at(scPath + ".allowPrivilegeEscalation")
			p.add("KW-POL-004", finding.Error, o, f, l, pc.what+" allows privilege escalation (allowPrivilegeEscalation: true)",
				"set securityContext.allowPrivilegeEscalation: false on the container")
		}
		if !policyDropsAll(csc.Capabilities) {
			f, l := w.loc.at(scPath + ".capabilities.drop")
			p.add("KW-POL-007", finding.Warning, o, f, l, pc.what+" keeps the default Linux capabilities: capabilities.drop does not include ALL",
				"set securityContext.capabilities.drop: [ALL] and add back only what the process needs")
		}
		p.checkResources(w, pc)
		if pc.serving {
			if len(c.Ports) > 0 && c.ReadinessProbe == nil {
				f, l := w.loc.at(cp + ".ports")
				p.add("KW-POL-012", finding.Warning, o, f, l, pc.what+" serves ports but has no readinessProbe",
					"add a readinessProbe (httpGet on a health path or tcpSocket on the port) so Services route only to ready pods")
			}
			if w.longRunning && len(c.Ports) > 0 && c.LivenessProbe == nil {
				f, l := w.loc.at(cp + ".name")
				p.add("KW-POL-013", finding.Warning, o, f, l, pc.what+" has no livenessProbe",
					"add a livenessProbe so the kubelet restarts the container when it hangs")
			}
		}
		if why := policyImageProblem(c.Image); why != "" {
			f, l := w.loc.at(cp + ".image")
			p.add("KW-POL-014", finding.Error, o, f, l, fmt.Sprintf("%s image %s %s", pc.what, c.Image, why),
				"pin the image to a version tag or a digest (repo:1.2.3 or repo@sha256:...) so a rollout is reproducible")
		}
		p.checkEnv(w, pc)
	}
}

func policyDropsAll(c *corev1.Capabilities) bool {
	if c == nil {
		return false
	}
	for _, d := range c.Drop {
		if strings.EqualFold(string(d), "ALL") {
			return true
		}
	}
	return false
}

func (p *policyRun) checkResources(w *policyWorkload, pc policyContainer) {
	r, rp := pc.c.Resources, pc.path+".resources"
	var missing []string
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		// The API server defaults a missing request to the limit.
		_, req := r.Requests[name]
		_, lim := r.Limits[name]
		if !req && !lim {
			missing = append(missing, string(name))
		}
	}
	if len(missing) > 0 {
		f, l := w.loc.at(rp + ".requests")
		p.add("KW-POL-010", finding.Warning, w.o, f, l, pc.what+" has no resources.requests for "+strings.Join(missing, " and "),
			"set resources.requests.cpu and resources.requests.memory to what the container needs at steady state, so the scheduler can place it")
	}
	if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
		f, l := w.loc.at(rp + ".limits")
		p.add("KW-POL-011", finding.Warning, w.o, f, l, pc.what+" has no resources.limits.memory",
			"set resources.limits.memory so a leak ends in an OOM kill of this container instead of starving the node")
	}
}

// policyImageProblem says what is wrong with an image reference, or "".
func policyImageProblem(image string) string {
	if image == "" || strings.Contains(image, "@") {
		return ""
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	switch {
	case i < 0 || i == len(last)-1:
		return "has neither a tag nor a digest (it means :latest)"
	case last[i+1:] == "latest":
		return "uses the :latest tag"
	}
	return ""
}

func (p *policyRun) checkEnv(w *policyWorkload, pc policyContainer) {
	for i, e := range pc.c.Env {
		if e.ValueFrom != nil || e.Value == "" {
			continue
		}
		why := policySecretValue(e.Name, e.Value)
		if why == "" {
			continue
		}
		f, l := w.loc.at(w.loc.item(pc.path+".env", i, e.Name) + ".value")
		p.add("KW-POL-020", finding.Error, w.o, f, l, fmt.Sprintf("env var %s of %s has a literal value that looks like %s; anyone who can read the repository can read it", e.Name, pc.what, why),
			"move the value into a Secret (an ExternalSecret, or SOPS) and reference it with valueFrom.secretKeyRef; rotate the exposed credential")
	}
}
