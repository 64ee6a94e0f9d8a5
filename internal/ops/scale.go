package ops

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
	"k8s.io/apimachinery/pkg/api/resource"
)

// MaxReplicas caps what scale and autoscale accept.
const MaxReplicas = 1000

// Scale sets a service's replicas everywhere they are defined: the
// workload documents, overlay patches and kustomize replicas: entries.
// It keeps each PodDisruptionBudget of the service consistent, lowering
// an integer minAvailable that would reach the replicas (when at least
// two remain) and warning otherwise. When a HorizontalPodAutoscaler owns
// the replicas it refuses, naming the autoscaler's file, unless Force.
type Scale struct {
	Service  string
	Replicas int
	// Force writes the replicas even though an autoscaler owns them.
	Force bool
}

// Name implements Operation.
func (Scale) Name() string { return "scale" }

func (s Scale) String() string {
	c := fmt.Sprintf("scale %s %d", s.Service, s.Replicas)
	if s.Force {
		c += " --force"
	}
	return c
}

func (s Scale) service() string { return s.Service }

func (s Scale) validate() error {
	if s.Replicas < 0 || s.Replicas > MaxReplicas {
		return fmt.Errorf("scale: replicas must be between 0 and %d, not %d", MaxReplicas, s.Replicas)
	}
	return nil
}

func (s Scale) plan(_ context.Context, e *editor, ws []*workload, _ Options) error {
	r := e.repo
	var hpas []*object
	for _, w := range ws {
		hpas = append(hpas, r.hpasFor(w)...)
	}
	if len(hpas) > 0 {
		h := hpas[0]
		owner := fmt.Sprintf("%s (%s:%d, minReplicas %s, maxReplicas %s)", h.ref(), h.file.path, h.root.Line,
			orDefault(scalarAt(h.root, "spec", "minReplicas"), "1"), scalarAt(h.root, "spec", "maxReplicas"))
		if !s.Force {
			return fmt.Errorf("scale %s: %s owns its replicas and would override spec.replicas; change the autoscaler with `autoscale %s MIN MAX`, or add --force to write spec.replicas anyway",
				s.Service, owner, s.Service)
		}
		e.warn("The autoscaler %s owns the replicas: it sets them back within its range as soon as its metrics say so, and Flux and the autoscaler may fight over spec.replicas.", owner)
	}
	why := fmt.Sprintf("scale to %d", s.Replicas)
	from := map[string]bool{}
	for _, w := range ws {
		t, err := e.doc(w.obj)
		if err != nil {
			return err
		}
		spec := yamlnode.At(w.obj.root, "spec")
		cur := scalarAt(spec, "replicas")
		if cur == "" {
			cur = "1"
		}
		from[cur] = true
		if yamlnode.At(spec, "replicas") == nil {
			if err := t.insertPairFirst(spec, "replicas", intNode(s.Replicas)); err != nil {
				return err
			}
			e.change(Change{File: t.file, Line: spec.Line, Object: w.obj.ref(), Field: "spec.replicas", From: "1 (default)", To: strconv.Itoa(s.Replicas), Why: why})
			continue
		}
		if err := e.setField(t, w.obj.ref(), "spec.replicas", spec, []string{"replicas"}, intNode(s.Replicas), why); err != nil {
			return err
		}
	}
	if err := s.overlays(e, ws, why, from); err != nil {
		return err
	}
	for _, w := range ws {
		for _, pdb := range nearest(r.pdbsFor(w), ws)[w] {
			if err := s.keepPDB(e, pdb); err != nil {
				return err
			}
		}
	}
	s.capacity(e, ws[0], from)
	var was []string
	for v := range from {
		was = append(was, v)
	}
	sort.Strings(was)
	e.plan.Summary = fmt.Sprintf("Scale %s to %d replicas (now %s).", e.plan.Service, s.Replicas, strings.Join(was, " or "))
	e.plan.Undo = "Revert this pull request: the replicas go back to " + strings.Join(was, " or ") + "."
	switch s.Replicas {
	case 0:
		e.warn("0 replicas stops %s: every request to it fails until it is scaled up again.", e.plan.Service)
	case 1:
		e.warn("A single replica has no redundancy: a restart, a rollout or a node drain is an outage of %s.", e.plan.Service)
	}
	return nil
}

// overlays edits the replicas that kustomizations set for the workloads.
func (s Scale) overlays(e *editor, ws []*workload, why string, from map[string]bool) error {
	ovs := e.overlays(ws)
	seen := map[*yaml.Node]bool{}
	for _, ov := range ovs {
		for _, ent := range replicasOf(ov.k, ov.w.obj.name) {
			if seen[ent.node] {
				continue
			}
			seen[ent.node] = true
			t, err := e.open(ov.k.file.path)
			if err != nil {
				return err
			}
			from[scalarAt(ent.node, "count")] = true
			obj := fmt.Sprintf("%s %sreplicas[%s]", ov.k.where(), ov.k.fieldPrefix(), ov.w.obj.name)
			if err := e.setField(t, obj, "count", ent.node, []string{"count"}, intNode(s.Replicas), why); err != nil {
				return err
			}
		}
	}
	for _, bp := range e.patchesFor(ovs) {
		t, err := e.patchDoc(bp.p)
		if err != nil {
			return err
		}
		if root := smpRoot(bp.p); root != nil && yamlnode.At(root, "spec", "replicas") != nil {
			from[scalarAt(root, "spec", "replicas")] = true
			if err := e.setField(t, bp.p.where(), "spec.replicas", yamlnode.At(root, "spec"), []string{"replicas"}, intNode(s.Replicas), why); err != nil {
				return err
			}
		}
		for _, op := range jsonOps(bp.p, func(p string) bool { return p == "/spec/replicas" }) {
			from[scalarAt(op, "value")] = true
			if err := e.setField(t, bp.p.where(), "/spec/replicas", op, []string{"value"}, intNode(s.Replicas), why); err != nil {
				return err
			}
		}
	}
	return nil
}

// keepPDB keeps a PodDisruptionBudget's minAvailable below the replicas,
// so node drains and rollouts can still evict a pod.
func (s Scale) keepPDB(e *editor, pdb *object) error {
	n := s.Replicas
	spec := yamlnode.At(pdb.root, "spec")
	where := fmt.Sprintf("%s (%s:%d)", pdb.ref(), pdb.file.path, pdb.root.Line)
	if v := yamlnode.At(spec, "minAvailable"); v != nil && v.Kind == yaml.ScalarNode {
		need := minAvailable(v.Value, n)
		switch {
		case need < n || n == 0:
		case v.Tag == "!!int" && n >= 2:
			t, err := e.doc(pdb)
			if err != nil {
				return err
			}
			e.note("%s had minAvailable %s, which %d replicas cannot satisfy while evicting a pod: lowered to %d so node drains and rollouts can proceed.", where, v.Value, n, n-1)
			return e.setField(t, pdb.ref(), "spec.minAvailable", spec, []string{"minAvailable"}, intNode(n-1), "stay below the replicas")
		case strings.HasSuffix(v.Value, "%"):
			e.warn("%s requires %s of the %d replicas available: no pod can be evicted, so node drains block. Lower its minAvailable.", where, v.Value, n)
		default:
			e.warn("%s requires %s of the %d replicas available: no pod can be evicted, so node drains block. Scale to at least %d, or lower its minAvailable.", where, v.Value, n, need+1)
		}
	}
	if v := yamlnode.At(spec, "maxUnavailable"); v != nil && v.Kind == yaml.ScalarNode && n > 0 {
		if q, err := strconv.Atoi(strings.TrimSuffix(v.Value, "%")); err == nil && q == 0 {
			e.warn("%s has maxUnavailable %s: no pod can be evicted, so node drains block.", where, v.Value)
		}
	}
	return nil
}

// minAvailable is how many pods a minAvailable value (a count or a
// percentage, rounded up as Kubernetes does) requires of n.
func minAvailable(v string, n int) int {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.Atoi(p)
		if err != nil {
			return 0
		}
		return int(math.Ceil(float64(f) * float64(n) / 100))
	}
	m, _ := strconv.Atoi(v)
	return m
}

// capacity notes what the change adds to or frees from the cluster's
// requested resources.
func (s Scale) capacity(e *editor, w *workload, from map[string]bool) {
	if len(from) != 1 {
		return
	}
	var was int
	for v := range from {
		was, _ = strconv.Atoi(v)
	}
	d := s.Replicas - was
	if d == 0 {
		return
	}
	cpu, mem := resource.Quantity{}, resource.Quantity{}
	for _, c := range w.containers() {
		if q, err := resource.ParseQuantity(scalarAt(c.node, "resources", "requests", "cpu")); err == nil {
			cpu.Add(q)
		}
		if q, err := resource.ParseQuantity(scalarAt(c.node, "resources", "requests", "memory")); err == nil {
			mem.Add(q)
		}
	}
	if cpu.IsZero() && mem.IsZero() {
		e.warn("%s's containers request no CPU or memory, so the scheduler cannot account for the pods the change adds or frees.", e.plan.Service)
		return
	}
	verb := "adds"
	if d < 0 {
		verb, d = "frees", -d
	}
	cpu.SetMilli(cpu.MilliValue() * int64(d))
	mem.Set(mem.Value() * int64(d))
	e.note("Capacity: the change %s %s, %s CPU and %s of memory in requests (per pod, from %s).", verb, pods(d), cpu.String(), humanBytes(mem.Value()), w.obj.file.path)
}

// pods writes a pod count.
func pods(n int) string {
	if n == 1 {
		return "1 pod"
	}
	return strconv.Itoa(n) + " pods"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// humanBytes writes a byte count in Mi or Gi.
func humanBytes(b int64) string {
	const mi = 1 << 20
	if b >= 1<<30 && b%(1<<30) == 0 {
		return strconv.FormatInt(b>>30, 10) + "Gi"
	}
	return strconv.FormatInt((b+mi-1)/mi, 10) + "Mi"
}
