package diagnose

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubewright/kubewright/internal/finding"
)

// The scheduler's reasons, as its FailedScheduling message words them.
var (
	schedInsufficient = regexp.MustCompile(`Insufficient ([A-Za-z0-9./_-]+)`)
	schedTaint        = regexp.MustCompile(`(?:untolerated taint|had taint)s?\(?s?\)?\s*(\{[^}]*\})?`)
	schedSelector     = regexp.MustCompile(`didn't match Pod's node affinity/selector|didn't match node selector|didn't satisfy existing pods anti-affinity|node affinity`)
	schedClaimMissing = regexp.MustCompile(`persistentvolumeclaim "([^"]+)" not found`)
	schedClaimUnbound = regexp.MustCompile(`unbound immediate PersistentVolumeClaims|unbound PersistentVolumeClaims|volume node affinity conflict`)
)

// detectPending reports Pods the scheduler cannot place (KW-DIAG-005),
// one finding per reason it gives: requests no node can hold, taints not
// tolerated, a node selector or affinity no node matches, a claim that
// is missing or unbound.
func (d *diag) detectPending() []issue {
	var out []issue
	for i := range d.s.Pods {
		p := &d.s.Pods[i]
		if !d.scope.pod(p.Name) || p.Status.Phase != corev1.PodPending {
			continue
		}
		cond := podCondition(p, corev1.PodScheduled)
		if cond == nil || cond.Status != corev1.ConditionFalse || cond.Reason != corev1.PodReasonUnschedulable {
			continue
		}
		owner := d.ownerOf(p)
		ev := append([]string{fmt.Sprintf("pod %s: %s", p.Name, strings.TrimSpace(cond.Message))},
			eventEvidence(d.events.of("Pod", p.Name, "FailedScheduling"), 1)...)
		mk := func(field path, msg, hint string, more ...string) issue {
			return issue{id: "KW-DIAG-005", sev: finding.Error, obj: owner, field: field, msg: msg, hint: hint, evidence: append(slices.Clone(ev), more...)}
		}
		base := templateBase(owner)
		found := false
		for _, m := range schedInsufficient.FindAllStringSubmatch(cond.Message, -1) {
			found = true
			out = append(out, d.insufficient(p, owner, corev1.ResourceName(m[1]), mk))
		}
		if m := schedTaint.FindStringSubmatch(cond.Message); m != nil {
			found = true
			taints := m[1]
			msg := "no node it may run on tolerates its taints"
			if taints != "" {
				msg += " " + taints
			}
			out = append(out, mk(base.with(key("tolerations")), "Pod cannot be scheduled: "+msg,
				"add a toleration for the taint when the Pod belongs on those nodes, or let it run on untainted ones", d.nodeTaints()...))
		}
		if schedSelector.MatchString(cond.Message) {
			found = true
			field, what := base.with(key("affinity")), "its node affinity"
			if len(p.Spec.NodeSelector) > 0 {
				field, what = base.with(key("nodeSelector")), "its nodeSelector "+labelsString(p.Spec.NodeSelector)
			}
			out = append(out, mk(field, "Pod cannot be scheduled: no node matches "+what,
				"correct the selector (or affinity) to labels the nodes carry, or label the nodes"))
		}
		if m := schedClaimMissing.FindStringSubmatch(cond.Message); m != nil {
			found = true
			out = append(out, mk(d.claimField(p, owner, m[1]), fmt.Sprintf("Pod cannot be scheduled: it mounts PersistentVolumeClaim %s, which does not exist", m[1]),
				"create the claim (or a volumeClaimTemplate), or correct claimName"))
		} else if schedClaimUnbound.MatchString(cond.Message) {
			found = true
			claim := d.unboundClaim(p)
			out = append(out, mk(d.claimField(p, owner, claim), fmt.Sprintf("Pod cannot be scheduled: its PersistentVolumeClaim %s is not bound", claim),
				"see why the claim is not bound (KW-DIAG-006): usually its storage class"))
		}
		if !found {
			out = append(out, mk(base, "Pod cannot be scheduled: "+strings.TrimSpace(cond.Message),
				"the scheduler's message says which constraint no node meets"))
		}
	}
	return out
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// insufficient reports requests of r no node can hold, at the request of
// the container asking most.
func (d *diag) insufficient(p *corev1.Pod, owner objRef, r corev1.ResourceName, mk func(path, string, string, ...string) issue) issue {
	var total resource.Quantity
	var top *corev1.Container
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		q := c.Resources.Requests[r]
		total.Add(q)
		if top == nil || q.Cmp(top.Resources.Requests[r]) > 0 {
			top = c
		}
	}
	var largest resource.Quantity
	for _, n := range d.s.Nodes {
		if q, ok := n.Status.Allocatable[r]; ok && q.Cmp(largest) > 0 {
			largest = q
		}
	}
	msg := fmt.Sprintf("Pod cannot be scheduled: no node has %s free for its requests (%s)", r, total.String())
	if !largest.IsZero() {
		msg += fmt.Sprintf("; the largest node allocates %s", largest.String())
	}
	field := templateBase(owner)
	if top != nil {
		field = field.with(key("containers"), sel("name", top.Name), key("resources"), key("requests"), key(string(r)))
	}
	return mk(field, msg, fmt.Sprintf("lower resources.requests.%s to what the container needs, or add capacity (nodes, or fewer other workloads)", r))
}

// nodeTaints lists the nodes' NoSchedule and NoExecute taints, as evidence.
func (d *diag) nodeTaints() []string {
	var out []string
	for _, n := range d.s.Nodes {
		for _, t := range n.Spec.Taints {
			if t.Effect == corev1.TaintEffectPreferNoSchedule {
				continue
			}
			out = append(out, fmt.Sprintf("node %s taint %s=%s:%s", n.Name, t.Key, t.Value, t.Effect))
		}
	}
	sort.Strings(out)
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("(%d more taints)", len(out)-5))
	}
	return out
}

// unboundClaim is the first claim the Pod mounts that is not Bound.
func (d *diag) unboundClaim(p *corev1.Pod) string {
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		name := v.PersistentVolumeClaim.ClaimName
		bound := false
		for _, c := range d.s.PVCs {
			if c.Name == name && c.Status.Phase == corev1.ClaimBound {
				bound = true
			}
		}
		if !bound {
			return name
		}
	}
	return "(unknown)"
}

// claimField is where the Pod's manifest names a claim: the volume's
// claimName, or the StatefulSet's volumeClaimTemplate that makes it.
func (d *diag) claimField(p *corev1.Pod, owner objRef, claim string) path {
	base := templateBase(owner)
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != claim {
			continue
		}
		if owner.Kind == "StatefulSet" && strings.HasPrefix(claim, v.Name+"-"+owner.Name+"-") {
			return path{key("spec"), key("volumeClaimTemplates"), sel("metadata.name", v.Name)}
		}
		return base.with(key("volumes"), sel("name", v.Name), key("persistentVolumeClaim"), key("claimName"))
	}
	return base.with(key("volumes"))
}

var missingClass = regexp.MustCompile(`storageclass\.storage\.k8s\.io "([^"]+)" not found`)

// detectClaims reports claims in scope that are not bound (KW-DIAG-006),
// at their storage class: in the claim's manifest, or in the
// StatefulSet's volumeClaimTemplate that makes it.
func (d *diag) detectClaims() []issue {
	var out []issue
	for _, c := range d.s.PVCs {
		if !d.scope.pvc(c.Name) || c.Status.Phase != corev1.ClaimPending {
			continue
		}
		evs := d.events.of("PersistentVolumeClaim", c.Name)
		var problems []*corev1.Event
		for _, e := range evs {
			if e.Type == corev1.EventTypeWarning {
				problems = append(problems, e)
			}
		}
		if len(problems) == 0 {
			continue // waiting for its first consumer, or provisioning
		}
		last := problems[len(problems)-1].Message
		is := issue{id: "KW-DIAG-006", sev: finding.Error, obj: d.ref("", "PersistentVolumeClaim", c.Name),
			field: path{key("spec"), key("storageClassName")}, evidence: eventEvidence(problems, 3)}
		for _, w := range d.s.StatefulSets {
			for _, t := range w.Spec.VolumeClaimTemplates {
				if strings.HasPrefix(c.Name, t.Name+"-"+w.Name+"-") {
					is.obj = d.ref("apps", "StatefulSet", w.Name)
					is.field = path{key("spec"), key("volumeClaimTemplates"), sel("metadata.name", t.Name), key("spec"), key("storageClassName")}
				}
			}
		}
		switch m := missingClass.FindStringSubmatch(last); {
		case m != nil:
			is.msg = fmt.Sprintf("PersistentVolumeClaim %s is not bound: its storage class %s does not exist", c.Name, m[1])
			is.hint = "set storageClassName to a StorageClass the cluster has (kubectl get storageclass), or leave it out for the default"
		case strings.Contains(last, "no storage class is set"):
			is.msg = fmt.Sprintf("PersistentVolumeClaim %s is not bound: it names no storage class and no PersistentVolume matches it", c.Name)
			is.hint = "set storageClassName to a StorageClass the cluster has, or mark one as the default"
		default:
			is.msg = fmt.Sprintf("PersistentVolumeClaim %s is not bound: %s", c.Name, strings.TrimSpace(last))
			is.hint = "the provisioner's message says why; check the storage class and the requested size and access mode"
		}
		out = append(out, is)
	}
	return out
}

func labelsString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}
