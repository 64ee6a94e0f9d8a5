package ops

import (
	"context"
	"fmt"
	"path"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// DefaultCPUPercent is the autoscaler's default CPU utilization target.
const DefaultCPUPercent = 70

// DefaultCPURequest is the CPU request autoscale gives a container that
// has none: utilization is measured against requests, so an autoscaler
// cannot work without them.
const DefaultCPURequest = "100m"

// Autoscale gives a service an autoscaling/v2 HorizontalPodAutoscaler on
// CPU: it edits the one next to each definition of the service, or
// writes hpa.yaml beside the workload and lists it in that directory's
// kustomization. It adds CPU requests where a container has none, and
// removes spec.replicas from the workload and its overlays: with replicas
// in Git, Flux would reset the autoscaler's choice at every
// reconciliation.
type Autoscale struct {
	Service    string
	Min, Max   int
	CPUPercent int // 0 means DefaultCPUPercent
}

// Name implements Operation.
func (Autoscale) Name() string { return "autoscale" }

func (a Autoscale) String() string {
	return fmt.Sprintf("autoscale %s %d %d --cpu %d%%", a.Service, a.Min, a.Max, a.cpu())
}

func (a Autoscale) service() string { return a.Service }

func (a Autoscale) cpu() int {
	if a.CPUPercent == 0 {
		return DefaultCPUPercent
	}
	return a.CPUPercent
}

func (a Autoscale) validate() error {
	switch {
	case a.Min < 1:
		return fmt.Errorf("autoscale: MIN must be at least 1, not %d", a.Min)
	case a.Max < a.Min:
		return fmt.Errorf("autoscale: MAX (%d) must be at least MIN (%d)", a.Max, a.Min)
	case a.Max > MaxReplicas:
		return fmt.Errorf("autoscale: MAX must be at most %d, not %d", MaxReplicas, a.Max)
	case a.CPUPercent < 0 || a.CPUPercent > 1000:
		return fmt.Errorf("autoscale: --cpu must be between 1%% and 1000%%, not %d%%", a.CPUPercent)
	}
	return nil
}

func (a Autoscale) plan(_ context.Context, e *editor, ws []*workload, _ Options) error {
	r := e.repo
	var all []*object
	for _, w := range ws {
		all = append(all, r.hpasFor(w)...)
	}
	owned := nearest(dedupe(all), ws)
	var created []string
	for _, w := range ws {
		if hs := owned[w]; len(hs) > 0 {
			for _, h := range hs {
				if err := a.edit(e, h); err != nil {
					return err
				}
			}
		} else {
			p, err := a.create(e, w)
			if err != nil {
				return err
			}
			created = append(created, p)
		}
		if err := a.requests(e, w); err != nil {
			return err
		}
	}
	if err := removeReplicas(e, ws); err != nil {
		return err
	}
	e.plan.Summary = fmt.Sprintf("Autoscale %s between %d and %d replicas at %d%% of its CPU requests.", e.plan.Service, a.Min, a.Max, a.cpu())
	if len(created) > 0 {
		e.plan.Undo = "Revert this pull request: the autoscaler goes and spec.replicas comes back."
	} else {
		e.plan.Undo = "Revert this pull request: the autoscaler's range and target go back to what they were."
	}
	return nil
}

func dedupe(objs []*object) []*object {
	seen := map[*object]bool{}
	var out []*object
	for _, o := range objs {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

// edit sets an existing autoscaler's range and CPU target.
func (a Autoscale) edit(e *editor, h *object) error {
	t, err := e.doc(h)
	if err != nil {
		return err
	}
	spec := yamlnode.At(h.root, "spec")
	why := "autoscale"
	if err := e.setField(t, h.ref(), "spec.minReplicas", spec, []string{"minReplicas"}, intNode(a.Min), why); err != nil {
		return err
	}
	if err := e.setField(t, h.ref(), "spec.maxReplicas", spec, []string{"maxReplicas"}, intNode(a.Max), why); err != nil {
		return err
	}
	if scalarAt(h.root, "apiVersion") == "autoscaling/v1" {
		return e.setField(t, h.ref(), "spec.targetCPUUtilizationPercentage", spec, []string{"targetCPUUtilizationPercentage"}, intNode(a.cpu()), why)
	}
	ms := yamlnode.At(spec, "metrics")
	if ms != nil && ms.Kind == yaml.SequenceNode {
		for i, m := range ms.Content {
			if scalarAt(m, "type") == "Resource" && scalarAt(m, "resource", "name") == "cpu" {
				return e.setField(t, h.ref(), fmt.Sprintf("spec.metrics[%d].resource.target.averageUtilization", i), yamlnode.At(m, "resource"),
					[]string{"target", "averageUtilization"}, intNode(a.cpu()), why)
			}
		}
		if err := t.insertItem(ms, len(ms.Content)-1, cpuMetric(a.cpu())); err != nil {
			return err
		}
	} else if err := t.setPath(spec, []string{"metrics"}, &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{cpuMetric(a.cpu())}}); err != nil {
		return err
	}
	e.change(Change{File: t.file, Line: spec.Line, Object: h.ref(), Field: "spec.metrics", To: fmt.Sprintf("cpu %d%%", a.cpu()), Why: why})
	return nil
}

// cpuMetric is an autoscaling/v2 CPU utilization metric.
func cpuMetric(pct int) *yaml.Node {
	return mapping("type", "Resource", "resource", mapping("name", "cpu", "target", mapping("type", "Utilization", "averageUtilization", intNode(pct))))
}

// create writes an autoscaler beside workload w and lists it in the
// directory's kustomization.
func (a Autoscale) create(e *editor, w *workload) (string, error) {
	dir := dirOf(w.obj.file.path)
	name := path.Join(dir, "hpa.yaml")
	if e.repo.file(name) != nil || e.created[name] != nil {
		name = path.Join(dir, w.obj.name+"-hpa.yaml")
	}
	if e.repo.file(name) != nil {
		return "", fmt.Errorf("autoscale %s: %s exists and is not an autoscaler of %s; remove or rename it", a.Service, name, w.obj.ref())
	}
	minR, cpu := int32(a.Min), int32(a.cpu())
	h := autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: w.obj.name, Namespace: w.obj.namespace, Labels: w.objLabels},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: w.obj.kind, Name: w.obj.name},
			MinReplicas:    &minR,
			MaxReplicas:    int32(a.Max),
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: "cpu", Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &cpu},
			}}},
		},
	}
	data, err := sigsyaml.Marshal(&h)
	if err != nil {
		return "", fmt.Errorf("autoscale: render %s: %w", name, err)
	}
	data = stripStatus(data)
	e.create(name, data)
	ref := fmt.Sprintf("HorizontalPodAutoscaler/%s", w.obj.name)
	if w.obj.namespace != "" {
		ref = fmt.Sprintf("HorizontalPodAutoscaler/%s/%s", w.obj.namespace, w.obj.name)
	}
	e.change(Change{File: name, Line: 1, Object: ref, Field: "(new file)", To: fmt.Sprintf("min %d, max %d, cpu %d%%", a.Min, a.Max, a.cpu()), Why: "autoscale " + w.obj.ref()})
	k := e.repo.kustomizationIn(dir)
	if k == nil {
		e.note("%s has no kustomization.yaml: %s is picked up with the directory's other manifests.", dir, name)
		return name, nil
	}
	t, err := e.open(k.file.path)
	if err != nil {
		return "", err
	}
	list, i := resourceList(k, w.obj.file.path)
	if list == nil {
		return "", fmt.Errorf("autoscale %s: %s has no resources: list to add %s to; add it by hand", a.Service, k.file.path, path.Base(name))
	}
	if i < 0 {
		i = len(list.Content) - 1
	}
	if err := t.insertItem(list, i, str(path.Base(name))); err != nil {
		return "", err
	}
	e.change(Change{File: k.file.path, Line: list.Content[i].Line + 1, Object: k.where(), Field: "resources", To: path.Base(name), Why: "list the new autoscaler"})
	return name, nil
}

// stripStatus drops the empty status and creationTimestamp a typed
// object marshals with.
func stripStatus(data []byte) []byte {
	var m map[string]any
	if sigsyaml.Unmarshal(data, &m) != nil {
		return data
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	out, err := sigsyaml.Marshal(m)
	if err != nil {
		return data
	}
	return out
}

// requests gives every container of w a CPU request, which utilization
// is measured against.
func (a Autoscale) requests(e *editor, w *workload) error {
	for _, c := range w.containers() {
		if scalarAt(c.node, "resources", "requests", "cpu") != "" {
			continue
		}
		t, err := e.doc(w.obj)
		if err != nil {
			return err
		}
		if err := e.setField(t, w.obj.ref(), containerField(c, "resources.requests.cpu"), c.node, []string{"resources", "requests", "cpu"}, str(DefaultCPURequest),
			"an autoscaler measures CPU utilization against requests"); err != nil {
			return err
		}
		e.note("Container %s of %s had no CPU request, which the autoscaler measures utilization against: it gets %s; adjust it (or run `resources %s --from-metrics`).", c.name, w.obj.ref(), DefaultCPURequest, a.Service)
	}
	return nil
}

// removeReplicas removes the replicas the workloads and their overlays
// set, which an autoscaler owns from now on.
func removeReplicas(e *editor, ws []*workload) error {
	why := "an autoscaler owns the replicas"
	removed := false
	for _, w := range ws {
		if yamlnode.At(w.obj.root, "spec", "replicas") == nil {
			continue
		}
		t, err := e.doc(w.obj)
		if err != nil {
			return err
		}
		if err := e.removeField(t, w.obj.ref(), "spec.replicas", w.obj.root, []string{"spec", "replicas"}, why); err != nil {
			return err
		}
		removed = true
	}
	ovs := e.overlays(ws)
	seen := map[*yaml.Node]bool{}
	for _, ov := range ovs {
		for _, ent := range replicasOf(ov.k, ov.w.obj.name) {
			if seen[ent.node] {
				continue
			}
			seen[ent.node] = true
			if err := removeEntry(e, ov.k, ent.seq, ent.index, "replicas", fmt.Sprintf("%s %sreplicas[%s]", ov.k.where(), ov.k.fieldPrefix(), ov.w.obj.name), why); err != nil {
				return err
			}
			removed = true
		}
	}
	for _, bp := range e.patchesFor(ovs) {
		if root := smpRoot(bp.p); root != nil && yamlnode.At(root, "spec", "replicas") != nil {
			t, err := e.patchDoc(bp.p)
			if err != nil {
				return err
			}
			if err := e.removeField(t, bp.p.where(), "spec.replicas", root, []string{"spec", "replicas"}, why); err != nil {
				return err
			}
			removed = true
		}
		ops := jsonOps(bp.p, func(p string) bool { return p == "/spec/replicas" })
		if len(ops) == 0 {
			continue
		}
		all := bp.p.docs[0].Content[0]
		if len(ops) == len(all.Content) {
			if err := removeEntry(e, bp.p.k, bp.p.seq, bp.p.index, bp.p.list, bp.p.where(), why+" (the patch set nothing else)"); err != nil {
				return err
			}
			removed = true
			continue
		}
		t, err := e.patchDoc(bp.p)
		if err != nil {
			return err
		}
		for i, op := range all.Content {
			for _, o := range ops {
				if o == op {
					if err := t.deleteItem(all, i); err != nil {
						return err
					}
					e.change(Change{File: t.file, Line: t.lineBase + op.Line, Object: bp.p.where(), Field: "/spec/replicas", From: scalarAt(op, "value"), Why: why})
				}
			}
		}
		removed = true
	}
	if removed {
		e.note("Removed the replica counts from Git: with an autoscaler, a count in Git makes Flux reset the autoscaler's choice at every reconciliation.")
		e.warn("When Flux first applies the workload without spec.replicas, Kubernetes may set it to 1 replica until the autoscaler scales it back to its minimum (seconds, usually): merge at a quiet time.")
	}
	return nil
}

// removeEntry removes item index of a kustomization list, or the whole
// key when it is the list's last item.
func removeEntry(e *editor, k *kust, seq *yaml.Node, index int, key, object, why string) error {
	t, err := e.open(k.file.path)
	if err != nil {
		return err
	}
	item := seq.Content[index]
	if t.remaining(seq) > 1 {
		if err := t.deleteItem(seq, index); err != nil {
			return err
		}
	} else if err := t.deletePair(k.root, key); err != nil {
		return err
	}
	e.change(Change{File: k.file.path, Line: item.Line, Object: object, Field: key, From: "(entry)", Why: why})
	return nil
}
