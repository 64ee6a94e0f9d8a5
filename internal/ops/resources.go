package ops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubewright/kubewright/internal/ops/metrics"
	"github.com/kubewright/kubewright/internal/yamlnode"
)

// Resources sets a container's CPU and memory requests and limits
// everywhere the service defines them (workload documents and overlay
// patches that set them), or, with FromMetrics, right-sizes both from the
// container's usage in Prometheus (Options.Usage); the plan then carries
// the numbers it used as Evidence.
type Resources struct {
	Service   string
	Container string
	// CPU and Memory are the values to set; an empty part is left as is.
	CPU, Memory Quantities
	FromMetrics bool
	// Window is the usage window for FromMetrics (0: metrics.DefaultWindow).
	Window time.Duration
}

// Name implements Operation.
func (Resources) Name() string { return "resources" }

func (r Resources) String() string {
	c := "resources " + r.Service
	if r.FromMetrics {
		c += " --from-metrics"
		if r.Window != 0 {
			c += " --window " + formatWindow(r.Window)
		}
	}
	if r.CPU != (Quantities{}) {
		c += " --cpu " + r.CPU.String()
	}
	if r.Memory != (Quantities{}) {
		c += " --memory " + r.Memory.String()
	}
	if r.Container != "" {
		c += " --container " + r.Container
	}
	return c
}

// formatWindow writes a window as the parser reads it back.
func formatWindow(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func (r Resources) service() string { return r.Service }

func (r Resources) validate() error {
	switch {
	case r.FromMetrics && (r.CPU != Quantities{} || r.Memory != Quantities{}):
		return fmt.Errorf("resources: give either --cpu/--memory or --from-metrics, not both")
	case !r.FromMetrics && r.CPU == Quantities{} && r.Memory == Quantities{}:
		return fmt.Errorf("resources: give --cpu REQUEST/LIMIT, --memory REQUEST/LIMIT, or --from-metrics")
	case r.Window != 0 && !r.FromMetrics:
		return fmt.Errorf("resources: --window goes with --from-metrics")
	case r.Window < 0 || r.Window > 90*24*time.Hour:
		return fmt.Errorf("resources: --window must be between 10s and 90d")
	}
	for _, q := range []struct {
		flag string
		q    Quantities
	}{{"--cpu", r.CPU}, {"--memory", r.Memory}} {
		a := Arg{Flag: q.flag}
		if q.q == (Quantities{}) {
			continue
		}
		if _, err := parseQuantities(a, q.q.String()); err != nil {
			return fmt.Errorf("resources: %w", err)
		}
		if q.q.Request != "" && q.q.Limit != "" {
			if cmp(q.q.Request, q.q.Limit) > 0 {
				return fmt.Errorf("resources: %s request %s is above its limit %s", q.flag, q.q.Request, q.q.Limit)
			}
		}
	}
	return nil
}

// cmp compares two valid quantities.
func cmp(a, b string) int {
	qa, qb := resource.MustParse(a), resource.MustParse(b)
	return qa.Cmp(qb)
}

func (r Resources) plan(ctx context.Context, e *editor, ws []*workload, opts Options) error {
	if r.FromMetrics {
		if err := r.fromMetrics(ctx, e, ws, opts); err != nil {
			return err
		}
	}
	var parts []string
	for _, w := range ws {
		c, err := w.container(r.Container)
		if err != nil {
			return err
		}
		for _, res := range []struct {
			name string
			q    Quantities
		}{{"cpu", r.CPU}, {"memory", r.Memory}} {
			for _, side := range []struct{ key, v, other, otherV string }{
				{"requests", res.q.Request, "limits", res.q.Limit}, {"limits", res.q.Limit, "requests", res.q.Request},
			} {
				if side.v == "" {
					continue
				}
				if err := r.consistent(w, c, res.name, side.key, side.v, side.other, side.otherV); err != nil {
					return err
				}
				if err := r.set(e, w, c, res.name, side.key, side.v); err != nil {
					return err
				}
				if w == ws[0] {
					parts = append(parts, fmt.Sprintf("%s %s %s → %s", res.name, strings.TrimSuffix(side.key, "s"), orDefault(scalarAt(c.node, "resources", side.key, res.name), "unset"), side.v))
				}
			}
		}
		if cur := scalarAt(c.node, "resources", "limits", "memory"); r.Memory.Limit != "" && cur != "" && cmp(r.Memory.Limit, cur) < 0 && e.plan.Evidence == nil && w == ws[0] {
			e.warn("The memory limit goes down from %s to %s: a container that needs more is OOMKilled. Check its usage first (`resources %s --from-metrics` shows it).", cur, r.Memory.Limit, r.Service)
		}
	}
	e.plan.Summary = fmt.Sprintf("Set %s's resources: %s.", e.plan.Service, strings.Join(parts, ", "))
	e.plan.Undo = "Revert this pull request: the requests and limits go back to what they were."
	return nil
}

// consistent refuses a request above the limit (or a limit below the
// request) the container keeps.
func (r Resources) consistent(w *workload, c *container, res, key, v, other, otherV string) error {
	keep := otherV
	if keep == "" {
		keep = scalarAt(c.node, "resources", other, res)
	}
	q, err := resource.ParseQuantity(keep)
	if keep == "" || err != nil {
		return nil
	}
	nq := resource.MustParse(v)
	if key == "requests" && nq.Cmp(q) > 0 || key == "limits" && nq.Cmp(q) < 0 {
		flag := "--cpu"
		if res == "memory" {
			flag = "--memory"
		}
		return fmt.Errorf("resources %s: the %s %s %s would be %s the %s %s at %s:%d; give both, as %s REQUEST/LIMIT",
			r.Service, res, strings.TrimSuffix(key, "s"), v, map[bool]string{true: "above", false: "below"}[key == "requests"],
			strings.TrimSuffix(other, "s"), keep, w.obj.file.path, c.node.Line, flag)
	}
	return nil
}

// set writes one request or limit in the workload and in the overlay
// patches that set it.
func (r Resources) set(e *editor, w *workload, c *container, res, key, v string) error {
	why := "resources"
	if r.FromMetrics {
		why = "right-sized from observed usage"
	}
	t, err := e.doc(w.obj)
	if err != nil {
		return err
	}
	field := containerField(c, "resources."+key+"."+res)
	if err := e.setField(t, w.obj.ref(), field, c.node, []string{"resources", key, res}, str(v), why); err != nil {
		return err
	}
	for _, bp := range e.patchesFor(e.overlays([]*workload{w})) {
		pt, err := e.patchDoc(bp.p)
		if err != nil {
			return err
		}
		if pc := smpContainer(smpRoot(bp.p), c.name); pc != nil && yamlnode.At(pc, "resources", key, res) != nil {
			if err := e.setField(pt, bp.p.where(), field, pc, []string{"resources", key, res}, str(v), why); err != nil {
				return err
			}
		}
		for _, sub := range [][]string{{"resources", key, res}, {"resources", key}, {"resources"}} {
			ptr := containerPath(c, sub...)
			rest := []string{"resources", key, res}[len(sub):]
			for _, op := range jsonOps(bp.p, func(p string) bool { return p == ptr }) {
				if len(rest) > 0 && yamlnode.At(op, append([]string{"value"}, rest...)...) == nil {
					continue
				}
				if err := e.setField(pt, bp.p.where(), ptr, op, append([]string{"value"}, rest...), str(v), why); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fromMetrics fills CPU and Memory from the container's observed usage.
func (r *Resources) fromMetrics(ctx context.Context, e *editor, ws []*workload, opts Options) error {
	if opts.Usage == nil {
		return fmt.Errorf("resources %s --from-metrics: no Prometheus is configured; set its URL, or give --cpu and --memory", r.Service)
	}
	w := ws[0]
	for _, x := range ws {
		if x.obj.namespace != "" {
			w = x
			break
		}
	}
	if w.obj.namespace == "" {
		return fmt.Errorf("resources %s --from-metrics: %s:%d sets no namespace, so its pods cannot be found in Prometheus; give --cpu and --memory", r.Service, w.obj.file.path, w.obj.root.Line)
	}
	c, err := w.container(r.Container)
	if err != nil {
		return err
	}
	rec, err := opts.Usage.Recommend(ctx, metrics.Target{Namespace: w.obj.namespace, Workload: w.obj.name, Kind: w.obj.kind, Container: c.name, Window: r.Window})
	if err != nil {
		return fmt.Errorf("resources %s --from-metrics: %w", r.Service, err)
	}
	r.CPU = Quantities{Request: rec.CPU.Request, Limit: rec.CPU.Limit}
	r.Memory = Quantities{Request: rec.Memory.Request, Limit: rec.Memory.Limit}
	e.plan.Evidence = rec
	e.note("From %d samples of %d pods over %s: CPU p95 %s, max %s; memory p95 %s, max %s. %s",
		rec.Samples, rec.Pods, rec.Window, rec.CPU.P95, rec.CPU.Max, rec.Memory.P95, rec.Memory.Max, rec.Method)
	return nil
}
