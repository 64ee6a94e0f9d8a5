package fix

import (
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubewright/kubewright/internal/finding"
)

// Fixers of the policy rules about a container: its securityContext,
// resources, probes and image tag.

// change makes the edits on the workload's document.
func (w *workload) change(title, note string, eds ...edit) (change, error) {
	after, err := w.y.apply(w.o, eds...)
	if err != nil {
		return change{}, err
	}
	return change{file: w.y.name, title: title, note: note, after: after}, nil
}

// setSecurity merges fields into the container's securityContext.
func (w *workload) setSecurity(frag *yaml.Node, title, note string) (change, error) {
	e, err := at(w.container, frag, "securityContext")
	if err != nil {
		return change{}, err
	}
	return w.change(title, note, e)
}

func (w *workload) what() string { return fmt.Sprintf("container %q", w.cname) }

const nonRootNote = "the image must run as a numeric, non-zero UID (a numeric USER in its Dockerfile, or runAsUser here), or the kubelet refuses to start the container"

func fixRunAsNonRoot(c *call) (change, error) {
	msg := c.f.Message
	if strings.Contains(msg, "(runAsUser: 0)") {
		return change{}, unfixable("the UID the image can run as is not known here: set runAsUser to the numeric USER of the image, and runAsNonRoot: true")
	}
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	frag := mapping("runAsNonRoot", boolean(true))
	title := "Set runAsNonRoot: true on " + w.what() + "."
	if strings.Contains(msg, "runAsNonRoot is false") && yamlnode.At(w.container, "securityContext", "runAsNonRoot") == nil {
		// The pod's false is what the container inherits.
		e, err := at(w.pod, frag, "securityContext")
		if err != nil {
			return change{}, err
		}
		return w.change("Set runAsNonRoot: true in the pod securityContext.", nonRootNote, e)
	}
	return w.setSecurity(frag, title, nonRootNote)
}

func fixReadOnlyRoot(c *call) (change, error) {
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	return w.setSecurity(mapping("readOnlyRootFilesystem", boolean(true)),
		"Set readOnlyRootFilesystem: true on "+w.what()+".",
		"the process can no longer write to the image's filesystem: mount an emptyDir volume where it writes (often /tmp)")
}

func fixPrivileged(c *call) (change, error) {
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	return w.setSecurity(mapping("privileged", boolean(false)),
		"Set privileged: false on "+w.what()+".",
		"if the process needs a privilege, grant only that capability with securityContext.capabilities.add")
}

func fixPrivilegeEscalation(c *call) (change, error) {
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	return w.setSecurity(mapping("allowPrivilegeEscalation", boolean(false)),
		"Set allowPrivilegeEscalation: false on "+w.what()+".", "")
}

func fixDropCapabilities(c *call) (change, error) {
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	return w.setSecurity(mapping("capabilities", mapping("drop", seq(str("ALL")))),
		"Drop all Linux capabilities of "+w.what()+".",
		"add back only what the process needs with capabilities.add (NET_BIND_SERVICE to listen on a port below 1024)")
}

// seccompFinding reports a finding about a missing or unconfined
// seccompProfile. No kubewright rule reports one yet; the fixer keys on the
// field name so that the rule that does (or a finding imported from
// another linter) gets the fix.
func seccompFinding(f finding.Finding) bool {
	return strings.Contains(f.Message, "seccompProfile")
}

func fixSeccomp(c *call) (change, error) {
	w, err := c.workload(false)
	if err != nil {
		return change{}, err
	}
	frag := mapping("seccompProfile", mapping("type", str("RuntimeDefault")))
	note := "RuntimeDefault blocks the system calls the container runtime's default profile blocks; almost every application runs under it"
	if w.container != nil && yamlnode.At(w.container, "securityContext", "seccompProfile") != nil {
		// The container overrides the pod: fix it there.
		return w.setSecurity(frag, "Set seccompProfile RuntimeDefault on "+w.what()+".", note)
	}
	e, err := at(w.pod, frag, "securityContext")
	if err != nil {
		return change{}, err
	}
	return w.change("Set seccompProfile RuntimeDefault in the pod securityContext.", note, e)
}

// Starting values for missing resources: small enough to schedule
// anywhere, for a person to adjust to measured use.
var defaultRequests = map[string]string{"cpu": "100m", "memory": "128Mi"}

const resourceNote = "starting values: set them to what the container uses at steady state (kubectl top, or your metrics)"

func fixRequests(c *call) (change, error) {
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	_, list, ok := strings.Cut(c.f.Message, "resources.requests for ")
	if !ok {
		return change{}, unfixable("the finding does not say which requests are missing")
	}
	frag := mapping()
	var set []string
	for _, name := range strings.Split(list, " and ") {
		v, ok := defaultRequests[name]
		if !ok {
			return change{}, unfixable("kubewright has no starting value for the %s request", name)
		}
		if yamlnode.At(w.container, "resources", "requests", name) != nil || yamlnode.At(w.container, "resources", "limits", name) != nil {
			return change{}, unfixable("%s sets %s for %s here, so an overlay or patch removes it: fix it there", c.f.File, name, w.what())
		}
		frag.Content = append(frag.Content, str(name), str(v))
		set = append(set, name+": "+v)
	}
	e, err := at(w.container, frag, "resources", "requests")
	if err != nil {
		return change{}, err
	}
	return w.change("Set resources.requests "+strings.Join(set, ", ")+" on "+w.what()+".", resourceNote, e)
}

func fixMemoryLimit(c *call) (change, error) {
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	if yamlnode.At(w.container, "resources", "limits", "memory") != nil {
		return change{}, unfixable("%s sets a memory limit for %s here, so an overlay or patch removes it: fix it there", c.f.File, w.what())
	}
	limit := "256Mi"
	if req := scalarAt(w.container, "resources", "requests", "memory"); req != "" {
		q, err := resource.ParseQuantity(req)
		if err != nil {
			return change{}, unfixable("the memory request %q of %s is not a quantity: fix it first", req, w.what())
		}
		limit = resource.NewQuantity(2*q.Value(), q.Format).String()
	}
	e, err := at(w.container, mapping("memory", str(limit)), "resources", "limits")
	if err != nil {
		return change{}, err
	}
	return w.change("Set resources.limits.memory: "+limit+" on "+w.what()+".",
		"a starting value (twice the request, if one is set): make it the most the container may use before it is OOM-killed", e)
}

// probePort picks the port a tcpSocket probe checks: a TCP port named
// like an HTTP or API port, else the first TCP port; by name when it has
// one. ok is false when the container declares no TCP port here.
func probePort(ctr *yaml.Node) (*yaml.Node, string, bool) {
	ports := yamlnode.At(ctr, "ports")
	if ports == nil || ports.Kind != yaml.SequenceNode {
		return nil, "", false
	}
	var first *yaml.Node
	for _, p := range ports.Content {
		if p.Kind != yaml.MappingNode {
			continue
		}
		if proto := scalarAt(p, "protocol"); proto != "" && proto != "TCP" {
			continue
		}
		if _, err := strconv.ParseInt(scalarAt(p, "containerPort"), 10, 32); err != nil {
			continue
		}
		switch scalarAt(p, "name") {
		case "http", "web", "api", "grpc", "http-api", "main":
			return portRef(p)
		}
		if first == nil {
			first = p
		}
	}
	if first == nil {
		return nil, "", false
	}
	return portRef(first)
}

// portRef is a port's name, else its number, as a probe's port value.
func portRef(p *yaml.Node) (*yaml.Node, string, bool) {
	if name := scalarAt(p, "name"); name != "" {
		return str(name), name, true
	}
	n, _ := strconv.ParseInt(scalarAt(p, "containerPort"), 10, 32)
	return integer(n), strconv.FormatInt(n, 10), true
}

const probeNote = "a tcpSocket probe only checks that the port accepts connections: an httpGet on the application's health endpoint checks more"

func fixReadinessProbe(c *call) (change, error) {
	return fixProbe(c, "readinessProbe", mapping("periodSeconds", integer(10)))
}

func fixLivenessProbe(c *call) (change, error) {
	// Six failures 20 s apart: a slow start (a JVM) is not restarted in a loop.
	return fixProbe(c, "livenessProbe", mapping("periodSeconds", integer(20), "failureThreshold", integer(6)))
}

func fixProbe(c *call, field string, timing *yaml.Node) (change, error) {
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	if yamlnode.At(w.container, field) != nil {
		return change{}, unfixable("%s sets a %s for %s here, so an overlay or patch removes it: fix it there", c.f.File, field, w.what())
	}
	port, shown, ok := probePort(w.container)
	if !ok {
		return change{}, unfixable("%s declares no TCP port in %s, so the port to probe is not known: add a %s by hand", w.what(), c.f.File, field)
	}
	probe := mapping("tcpSocket", mapping("port", port))
	probe.Content = append(probe.Content, timing.Content...)
	e, err := at(w.container, mapping(field, probe))
	if err != nil {
		return change{}, err
	}
	return w.change(fmt.Sprintf("Add a %s on port %s to %s.", field, shown, w.what()), probeNote, e)
}

func fixManifestImageTag(c *call) (change, error) {
	w, err := c.workload(true)
	if err != nil {
		return change{}, err
	}
	img := yamlnode.At(w.container, "image")
	if img == nil || img.Kind != yaml.ScalarNode {
		return change{}, unfixable("%s does not set the image of %s: fix it where it is set (a kustomization images: entry, or a patch)", c.f.File, w.what())
	}
	var others []string
	for _, d := range w.y.docs {
		collectImages(d, &others)
	}
	pinned, err := pinFrom(img.Value, others, c.f.File)
	if err != nil {
		return change{}, err
	}
	e, err := at(w.container, mapping("image", str(pinned)))
	if err != nil {
		return change{}, err
	}
	return w.change(fmt.Sprintf("Pin the image of %s to %s, the version %s uses elsewhere.", w.what(), pinned, c.f.File),
		"check that this is the version to deploy", e)
}

// collectImages appends the values of every "image" key under n.
func collectImages(n *yaml.Node, out *[]string) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "image" && n.Content[i+1].Kind == yaml.ScalarNode {
				*out = append(*out, n.Content[i+1].Value)
			}
		}
	}
	for _, c := range n.Content {
		collectImages(c, out)
	}
}

// pinFrom derives a pinned reference for an untagged or :latest image
// from the other references of the same file: when they pin the same
// repository to exactly one version, that version.
func pinFrom(image string, others []string, file string) (string, error) {
	if strings.ContainsAny(image, "${}") {
		return "", unfixable("the image %s is set through a variable: pin it where the variable is set", image)
	}
	repo, tag, digest := splitImage(image)
	if digest != "" || tag != "" && tag != "latest" {
		return "", unfixable("%s is already pinned", image)
	}
	seen := map[string]bool{}
	var found []string
	for _, o := range others {
		r, t, d := splitImage(o)
		if r != repo || (t == "" || t == "latest") && d == "" {
			continue
		}
		ref := repo
		if t != "" {
			ref += ":" + t
		}
		if d != "" {
			ref += "@" + d
		}
		if !seen[ref] {
			seen[ref] = true
			found = append(found, ref)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", unfixable("no version of %s is known from %s: pin the version you deploy (%s:1.2.3, or a digest)", repo, file, repo)
	}
	return "", unfixable("%s pins %s to several versions (%s): pin this one by hand", file, repo, strings.Join(found, ", "))
}

// splitImage splits "registry:5000/a/b:tag@sha256:x" into repository, tag
// and digest.
func splitImage(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:], digest
	}
	return ref, "", digest
}
