package flux

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// dependsOn checks o's dependencies exist and records the graph edges.
func (r *fluxRun) dependsOn(o validate.Object, group string) {
	kind := o.U.GetKind()
	gk := group + "/" + kind
	if r.edges[gk] == nil {
		r.edges[gk] = map[string][]string{}
	}
	self := o.U.GetNamespace() + "/" + o.U.GetName()
	if _, ok := r.edges[gk][self]; !ok {
		r.edges[gk][self] = nil
	}
	deps, _, _ := unstructured.NestedSlice(o.U.Object, "spec", "dependsOn")
	for i, d := range deps {
		field := fmt.Sprintf("spec.dependsOn[%d]", i)
		m, _ := d.(map[string]any)
		name := fluxMapStr(m, "name")
		if name == "" {
			r.emit(o, field, "KW-FLUX-004", finding.Error,
				field+" has no name", "name the "+kind+" to wait for")
			continue
		}
		ns := fluxMapStr(m, "namespace")
		if ns == "" {
			ns = o.U.GetNamespace()
		}
		if !r.has(group, kind, ns, name) {
			hint := fmt.Sprintf("fix the name (and namespace) or define %s %s; Flux does not reconcile %s until it is ready", kind, name, o.U.GetName())
			hint += r.existing(group, kind, ns)
			r.emit(o, field, "KW-FLUX-004", finding.Error,
				fmt.Sprintf("dependsOn %s %s/%s, which is not defined in the repository", kind, ns, name),
				hint)
			continue
		}
		r.edges[gk][self] = append(r.edges[gk][self], ns+"/"+name)
	}
}

// cycles reports each strongly connected component of the dependsOn graph
// that holds a cycle, once, on its first member in sorted order, with the
// shortest cycle through that member.
func (r *fluxRun) cycles(group, kind string) {
	g := r.edges[group+"/"+kind]
	for _, comp := range fluxSCCs(g) {
		sort.Strings(comp)
		start := comp[0]
		if len(comp) == 1 && !fluxContains(g[start], start) {
			continue
		}
		in := map[string]bool{}
		for _, n := range comp {
			in[n] = true
		}
		cyc := fluxCyclePath(g, in, start)
		sameNS := true
		for _, n := range cyc {
			sameNS = sameNS && strings.SplitN(n, "/", 2)[0] == strings.SplitN(start, "/", 2)[0]
		}
		shown := make([]string, len(cyc))
		for i, n := range cyc {
			shown[i] = n
			if sameNS {
				shown[i] = strings.SplitN(n, "/", 2)[1]
			}
		}
		ns, name, _ := strings.Cut(start, "/")
		o := r.objs[strings.Join([]string{group, kind, ns, name}, "/")]
		r.emit(o, "spec.dependsOn", "KW-FLUX-005", finding.Error,
			fmt.Sprintf("dependsOn cycle: %s; Flux never reconciles any of them", strings.Join(shown, " -> ")),
			"remove one dependsOn entry so the dependencies form a chain")
	}
}

func fluxContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fluxSCCs returns the strongly connected components of g (Tarjan), in a
// deterministic order.
func fluxSCCs(g map[string][]string) [][]string {
	nodes := make([]string, 0, len(g))
	for n := range g {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(n string)
	visit = func(n string) {
		index[n], low[n] = next, next
		next++
		stack = append(stack, n)
		onStack[n] = true
		succ := append([]string(nil), g[n]...)
		sort.Strings(succ)
		for _, m := range succ {
			if _, seen := index[m]; !seen {
				visit(m)
				low[n] = min(low[n], low[m])
			} else if onStack[m] {
				low[n] = min(low[n], index[m])
			}
		}
		if low[n] == index[n] {
			var comp []string
			for {
				m := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[m] = false
				comp = append(comp, m)
				if m == n {
					break
				}
			}
			out = append(out, comp)
		}
	}
	for _, n := range nodes {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	return out
}

// fluxCyclePath is the shortest path start -> ... -> start inside the
// component, preferring sorted successors.
func fluxCyclePath(g map[string][]string, comp map[string]bool, start string) []string {
	prev := map[string]string{}
	queue := []string{start}
	seen := map[string]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		succ := append([]string(nil), g[n]...)
		sort.Strings(succ)
		for _, m := range succ {
			if !comp[m] {
				continue
			}
			if m == start {
				path := []string{start}
				for x := n; x != start; x = prev[x] {
					path = append(path, x)
				}
				path = append(path, start)
				// path is start, n, ..., start reversed in the middle.
				for i, j := 1, len(path)-2; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path
			}
			if !seen[m] {
				seen[m] = true
				prev[m] = n
				queue = append(queue, m)
			}
		}
	}
	return []string{start, start}
}
