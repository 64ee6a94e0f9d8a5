package diagnose

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/textdist"
)

// container is one container of a scoped Pod, with where its manifest
// lives.
type container struct {
	pod   *corev1.Pod
	spec  *corev1.Container
	st    corev1.ContainerStatus
	owner objRef
	// at is the container's path in the owner's manifest.
	at path
}

// containers returns the containers (init containers first) of the Pods
// in scope that have a status.
func (d *diag) containers() []container {
	var out []container
	for i := range d.s.Pods {
		p := &d.s.Pods[i]
		if !d.scope.pod(p.Name) {
			continue
		}
		owner := d.ownerOf(p)
		for _, st := range allStatuses(p) {
			list, spec := "containers", findContainer(p.Spec.Containers, st.Name)
			if spec == nil {
				list, spec = "initContainers", findContainer(p.Spec.InitContainers, st.Name)
			}
			if spec == nil {
				continue
			}
			at := templateBase(owner).with(key(list), sel("name", st.Name))
			out = append(out, container{pod: p, spec: spec, st: st, owner: owner, at: at})
		}
	}
	return out
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// detectContainers reports containers that crash (KW-DIAG-001), run out
// of memory (002), cannot pull their image (003) or cannot be created from
// their configuration (004).
func (d *diag) detectContainers() []issue {
	var out []issue
	for _, c := range d.containers() {
		last := c.st.LastTerminationState.Terminated
		if t := c.st.State.Terminated; t != nil && t.ExitCode != 0 {
			last = t
		}
		w := c.st.State.Waiting
		switch {
		case last != nil && last.Reason == "OOMKilled":
			out = append(out, d.oomKilled(c, last))
		case w != nil && w.Reason == "CrashLoopBackOff", last != nil && last.ExitCode != 0 && c.st.RestartCount > 0:
			out = append(out, d.crashLoop(c, last))
		case w != nil && (w.Reason == "ImagePullBackOff" || w.Reason == "ErrImagePull" || w.Reason == "InvalidImageName" || w.Reason == "ErrImageNeverPull"):
			out = append(out, d.imagePull(c, w))
		case w != nil && (w.Reason == "CreateContainerConfigError" || w.Reason == "CreateContainerError"):
			out = append(out, d.configError(c, w))
		}
	}
	return out
}

// statusLine is a Pod's container status as evidence.
func statusLine(c container, last *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("pod %s: container %s restarted %d times", c.pod.Name, c.st.Name, c.st.RestartCount)
	if w := c.st.State.Waiting; w != nil {
		s += ", waiting: " + w.Reason
	}
	if last != nil {
		s += fmt.Sprintf(", last exit code %d (%s)", last.ExitCode, last.Reason)
		if !last.FinishedAt.IsZero() {
			s += " at " + last.FinishedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		if m := strings.TrimSpace(last.Message); m != "" {
			s += ": " + m
		}
	}
	return s
}

// exitMeaning explains the exit codes that say something by themselves.
func exitMeaning(code int32) string {
	switch code {
	case 126:
		return "the command is not executable"
	case 127:
		return "the command was not found in the image"
	case 134:
		return "the process aborted (SIGABRT)"
	case 137:
		return "the process was killed (SIGKILL)"
	case 139:
		return "the process crashed (SIGSEGV)"
	case 143:
		return "the process was stopped (SIGTERM)"
	}
	return ""
}

func (d *diag) crashLoop(c container, last *corev1.ContainerStateTerminated) issue {
	is := issue{id: "KW-DIAG-001", sev: finding.Error, obj: c.owner, field: c.at}
	code, reason := int32(0), "Error"
	if last != nil {
		code, reason = last.ExitCode, last.Reason
	}
	is.msg = fmt.Sprintf("container %s keeps crashing: exit code %d (%s)", c.st.Name, code, reason)
	if m := exitMeaning(code); m != "" {
		is.msg += ": " + m
	}
	is.hint = "the last log lines say why the process exits; fix that cause (its configuration, a missing dependency, the command) in the manifest or the image"
	is.evidence = append(is.evidence, statusLine(c, last))
	if (code == 126 || code == 127) && len(c.spec.Command) > 0 {
		is.field = c.at.with(key("command"))
		is.hint = "correct the command: it must exist and be executable in the image"
	}
	live := withMessage(d.events.of("Pod", c.pod.Name, "Unhealthy"), "Liveness probe failed")
	if c.spec.LivenessProbe != nil && len(live) > 0 {
		pa := analyzeProbe("liveness", c.spec, c.spec.LivenessProbe, live)
		is.msg = fmt.Sprintf("container %s keeps restarting: %s", c.st.Name, pa.what)
		is.field = c.at.with(key("livenessProbe")).with(pa.field...)
		is.hint = pa.hint
		is.evidence = append(is.evidence, eventEvidence(live, 2)...)
	}
	log := d.logOf(c.pod.Name, c.st.Name, true)
	if log == nil {
		log = d.logOf(c.pod.Name, c.st.Name, false)
	}
	is.evidence = append(is.evidence, logEvidence(log, 5)...)
	return is
}

func (d *diag) oomKilled(c container, last *corev1.ContainerStateTerminated) issue {
	is := issue{id: "KW-DIAG-002", sev: finding.Error, obj: c.owner, evidence: []string{statusLine(c, last)}}
	if lim, ok := c.spec.Resources.Limits[corev1.ResourceMemory]; ok {
		is.msg = fmt.Sprintf("container %s is killed for using more memory than its limit (OOMKilled): resources.limits.memory is %s", c.st.Name, lim.String())
		is.field = c.at.with(key("resources"), key("limits"), key("memory"))
		is.hint = "raise resources.limits.memory (and requests.memory) above the process's peak use, or bound the process's own memory (heap size, GOMEMLIMIT) below the limit"
	} else {
		is.msg = fmt.Sprintf("container %s was killed for lack of memory (OOMKilled) and has no memory limit: the node ran out", c.st.Name)
		is.field = c.at.with(key("resources"))
		is.hint = "set resources.requests.memory and resources.limits.memory to what the process needs, so the scheduler places it where that memory is free"
	}
	is.evidence = append(is.evidence, logEvidence(d.logOf(c.pod.Name, c.st.Name, true), 3)...)
	return is
}

// Image pull failures, by what the kubelet's message says.
var (
	pullNotFound = regexp.MustCompile(`(?i)not found|manifest unknown|no such manifest|NotFound`)
	pullAuth     = regexp.MustCompile(`(?i)unauthorized|authentication required|pull access denied|403 forbidden|denied|insufficient_scope`)
	pullRegistry = regexp.MustCompile(`(?i)no such host|server misbehaving|i/o timeout|connection refused|dial tcp|network is unreachable|tls: |x509: `)
)

func (d *diag) imagePull(c container, w *corev1.ContainerStateWaiting) issue {
	is := issue{id: "KW-DIAG-003", sev: finding.Error, obj: c.owner, field: c.at.with(key("image"))}
	evs := d.events.of("Pod", c.pod.Name, "Failed")
	all := w.Message
	for _, e := range evs {
		all += "\n" + e.Message
	}
	img := c.spec.Image
	reg := registryOf(img)
	switch {
	case w.Reason == "InvalidImageName":
		is.msg = fmt.Sprintf("image %q is not a valid image reference", img)
		is.hint = "write the image as registry/repository:tag (lowercase repository, no spaces)"
	case pullAuth.MatchString(all):
		is.msg = fmt.Sprintf("image %s cannot be pulled: %s refused access", img, reg)
		is.hint = fmt.Sprintf("give the Pod imagePullSecrets naming a docker-registry Secret that can read from %s (or its ServiceAccount), or make the image public", reg)
	case pullNotFound.MatchString(all):
		is.msg = fmt.Sprintf("image %s cannot be pulled: the tag does not exist in %s", img, reg)
		is.hint = "correct the tag, or push the image with it; when an ImagePolicy writes the tag, check the policy's latest image"
	case pullRegistry.MatchString(all):
		is.msg = fmt.Sprintf("image %s cannot be pulled: the registry %s cannot be reached", img, reg)
		is.hint = "check the registry host name in the image reference"
	default:
		is.msg = fmt.Sprintf("image %s cannot be pulled (%s)", img, w.Reason)
		is.hint = "the kubelet's message below says why; check the image reference and the registry's credentials"
	}
	is.evidence = append(is.evidence, fmt.Sprintf("pod %s: container %s waiting: %s: %s", c.pod.Name, c.st.Name, w.Reason, strings.TrimSpace(w.Message)))
	is.evidence = append(is.evidence, eventEvidence(evs, 2)...)
	return is
}

// registryOf is the registry host of an image reference.
func registryOf(image string) string {
	first, _, ok := strings.Cut(image, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}

// The kubelet's messages for references it cannot resolve.
var (
	missingObject = regexp.MustCompile(`(secret|configmap) "([^"]+)" not found`)
	missingKey    = regexp.MustCompile(`couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)/(\S+)`)
)

func (d *diag) configError(c container, w *corev1.ContainerStateWaiting) issue {
	is := issue{id: "KW-DIAG-004", sev: finding.Error, obj: c.owner, field: c.at,
		evidence: []string{fmt.Sprintf("pod %s: container %s waiting: %s: %s", c.pod.Name, c.st.Name, w.Reason, strings.TrimSpace(w.Message))}}
	if m := missingKey.FindStringSubmatch(w.Message); m != nil {
		k, kind, name := m[1], m[2], m[4]
		is.msg = fmt.Sprintf("container %s needs key %s of %s %s, which has no such key", c.st.Name, k, kind, name)
		is.field = d.refField(c, kind, name, k)
		is.hint = fmt.Sprintf("add %s to %s %s, or correct the key the container refers to", k, kind, name)
		return is
	}
	if m := missingObject.FindStringSubmatch(w.Message); m != nil {
		kind := map[string]string{"secret": "Secret", "configmap": "ConfigMap"}[m[1]]
		name := m[2]
		is.msg = fmt.Sprintf("container %s refers to %s %s, which does not exist in namespace %s", c.st.Name, kind, name, d.s.Namespace)
		names := d.s.Secrets
		if kind == "ConfigMap" {
			names = d.s.ConfigMaps
		}
		if near := closest(name, names); near != "" {
			is.msg += fmt.Sprintf(" (there is a %s named %s)", kind, near)
		}
		is.field = d.refField(c, kind, name, "")
		is.hint = fmt.Sprintf("create %s %s in the namespace (or the ExternalSecret or SealedSecret that makes it), or correct the name", kind, name)
		return is
	}
	is.msg = fmt.Sprintf("container %s cannot be created from its configuration: %s", c.st.Name, strings.TrimSpace(w.Message))
	if strings.Contains(w.Message, "runAsNonRoot") {
		is.field = c.at.with(key("securityContext"))
		is.hint = "the image runs as root while the Pod requires non-root: set securityContext.runAsUser to a non-zero UID the image supports, or build the image with a numeric USER"
	} else {
		is.hint = "the kubelet's message says which part of the container's configuration is wrong"
	}
	return is
}

// refField finds where a container refers to a Secret or ConfigMap (and
// key): an env var's secretKeyRef or configMapKeyRef, an envFrom source,
// or a volume of the Pod.
func (d *diag) refField(c container, kind, name, k string) path {
	for _, e := range c.spec.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; kind == "Secret" && r != nil && r.Name == name && (k == "" || k == r.Key) {
			return envRef(c, e.Name, "secretKeyRef", k)
		}
		if r := e.ValueFrom.ConfigMapKeyRef; kind == "ConfigMap" && r != nil && r.Name == name && (k == "" || k == r.Key) {
			return envRef(c, e.Name, "configMapKeyRef", k)
		}
	}
	for i, ef := range c.spec.EnvFrom {
		if kind == "Secret" && ef.SecretRef != nil && ef.SecretRef.Name == name {
			return c.at.with(key("envFrom"), idx(i), key("secretRef"), key("name"))
		}
		if kind == "ConfigMap" && ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == name {
			return c.at.with(key("envFrom"), idx(i), key("configMapRef"), key("name"))
		}
	}
	base := templateBase(c.owner)
	for _, v := range c.pod.Spec.Volumes {
		if kind == "Secret" && v.Secret != nil && v.Secret.SecretName == name {
			return base.with(key("volumes"), sel("name", v.Name), key("secret"), key("secretName"))
		}
		if kind == "ConfigMap" && v.ConfigMap != nil && v.ConfigMap.Name == name {
			return base.with(key("volumes"), sel("name", v.Name), key("configMap"), key("name"))
		}
	}
	return c.at
}

func envRef(c container, env, at, k string) path {
	p := c.at.with(key("env"), sel("name", env), key("valueFrom"), key(at))
	if k != "" {
		return p.with(key("key"))
	}
	return p.with(key("name"))
}

// closest is the name among names nearest to n, when it is near enough
// to be a likely typo; "" otherwise.
func closest(n string, names []string) string {
	if len(n) < 4 {
		return "" // too short for a typo to be told from another name
	}
	best, bd := "", 0
	for _, c := range names {
		if c == n {
			continue
		}
		dist := textdist.Distance(n, c)
		if dist <= max(1, min(3, len(n)/4)) && (best == "" || dist < bd) {
			best, bd = c, dist
		}
	}
	return best
}
