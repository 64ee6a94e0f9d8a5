package fix

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
)

// Fixers of selectors that do not match the pod template labels: a
// Service's (KW-POL-031) and a workload's own (the API server's "selector
// does not match template labels", KW-DRYRUN-001).

// serviceSelectorMsg reads KW-POL-031's message.
var serviceSelectorMsg = regexp.MustCompile(`^Service selector (\S+) matches no workload's pod labels in namespace \S+, so the Service has no endpoints(?:; workloads there: (.*))?$`)

// workloadEntry is one "Kind/name (k=v,k=v)" of that message.
var workloadEntry = regexp.MustCompile(`^([A-Za-z]+/[^ ]+) \(([^)]*)\)$`)

// parseLabels reads "k=v,k=v".
func parseLabels(s string) (map[string]string, bool) {
	out := map[string]string{}
	if s == "" {
		return out, true
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, false
		}
		out[k] = v
	}
	return out, true
}

func fixServiceSelector(c *call) (change, error) {
	m := serviceSelectorMsg.FindStringSubmatch(c.f.Message)
	if m == nil {
		return change{}, unfixable("the finding's message is not the one this fixer reads")
	}
	rendered, ok := parseLabels(m[1])
	if !ok {
		return change{}, unfixable("the Service's selector cannot be read from the finding")
	}
	if m[2] == "" {
		return change{}, unfixable("no workload in the Service's namespace has pod labels to match: add the workload, or fix the selector by hand")
	}
	entries := strings.Split(m[2], ", ")
	if len(entries) != 1 || strings.Contains(m[2], " more") {
		return change{}, unfixable("the namespace has several workloads, so which one the Service fronts is not known: fix the selector by hand")
	}
	e := workloadEntry.FindStringSubmatch(entries[0])
	if e == nil {
		return change{}, unfixable("the workload's labels cannot be read from the finding")
	}
	labels, ok := parseLabels(e[2])
	if !ok || len(labels) == 0 {
		return change{}, unfixable("%s has no pod labels to select", e[1])
	}
	return matchSelector(c, rendered, labels, e[1])
}

// matchSelector edits the Service's spec.selector in the finding's file
// so that the selector it renders to (rendered) selects labels, the pod
// labels of workload: each key whose value differs takes the label's
// value. A key the pod labels lack, or one a transformer sets, is
// Unfixable.
func matchSelector(c *call, rendered, labels map[string]string, workload string) (change, error) {
	y, o, err := c.yamlObject()
	if err != nil {
		return change{}, err
	}
	sel := yamlnode.At(o.root, "spec", "selector")
	if sel == nil || sel.Kind != yaml.MappingNode {
		return change{}, unfixable("%s sets no spec.selector for the Service (a patch or a transformer does): fix it there", c.f.File)
	}
	frag := mapping()
	for _, k := range sortedKeys(rendered) {
		want, has := labels[k]
		if !has {
			return change{}, unfixable("the selector key %s is not a pod label of %s: fix the selector or the labels by hand", k, workload)
		}
		_, src := yamlnode.Get(sel, k)
		switch {
		case src == nil && rendered[k] != want:
			return change{}, unfixable("the selector key %s is added by a transformer (commonLabels, labels), not by %s: fix it there", k, c.f.File)
		case src == nil:
		case src.Kind != yaml.ScalarNode || src.Value != rendered[k]:
			return change{}, unfixable("a transformer changes the selector of %s after %s: fix it there", c.f.Object, c.f.File)
		case src.Value != want:
			frag.Content = append(frag.Content, str(k), str(want))
		}
	}
	if len(frag.Content) == 0 {
		return change{}, unfixable("%s already selects what %s is labelled with", c.f.File, workload)
	}
	ed, err := at(o.root, frag, "spec", "selector")
	if err != nil {
		return change{}, err
	}
	after, err := y.apply(o, ed)
	if err != nil {
		return change{}, err
	}
	return change{file: y.name, after: after,
		title: fmt.Sprintf("Make the Service selector match the pod labels of %s.", workload),
		note:  fmt.Sprintf("check that %s is the workload this Service fronts", workload)}, nil
}

// selectorKinds are the workloads whose spec.selector must match their
// template's labels.
var selectorKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true}

func fixWorkloadSelector(c *call) (change, error) {
	if !strings.Contains(c.f.Message, "selector") || !strings.Contains(c.f.Message, "does not match template") {
		return change{}, unfixable("kubewright has no deterministic fix for this API server error; follow its message")
	}
	y, o, err := c.yamlObject()
	if err != nil {
		return change{}, err
	}
	if !selectorKinds[o.kind] {
		return change{}, unfixable("kubewright fixes the selector of Deployments, StatefulSets, DaemonSets and ReplicaSets, not of a %s", o.kind)
	}
	sel := yamlnode.At(o.root, "spec", "selector")
	if sel == nil || sel.Kind != yaml.MappingNode {
		return change{}, unfixable("%s sets no spec.selector (a patch does): fix it there", c.f.File)
	}
	if yamlnode.At(sel, "matchExpressions") != nil {
		return change{}, unfixable("the selector has matchExpressions: make the template labels satisfy them by hand")
	}
	ml := yamlnode.At(sel, "matchLabels")
	if ml == nil || ml.Kind != yaml.MappingNode || len(ml.Content) == 0 {
		return change{}, unfixable("the selector has no matchLabels to copy")
	}
	tmpl := yamlnode.At(o.root, "spec", "template", "metadata", "labels")
	frag := mapping()
	var set []string
	for i := 0; i+1 < len(ml.Content); i += 2 {
		k, v := ml.Content[i], ml.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return change{}, unfixable("the selector's label %s is not a plain value", k.Value)
		}
		if cur := yamlnode.At(tmpl, k.Value); cur != nil && cur.Kind == yaml.ScalarNode && cur.Value == v.Value {
			continue
		}
		frag.Content = append(frag.Content, str(k.Value), str(v.Value))
		set = append(set, k.Value+"="+v.Value)
	}
	if len(set) == 0 {
		return change{}, unfixable("in %s the template labels already match the selector: a patch or an overlay changes them, fix it there", c.f.File)
	}
	ed, err := at(o.root, frag, "spec", "template", "metadata", "labels")
	if err != nil {
		return change{}, err
	}
	after, err := y.apply(o, ed)
	if err != nil {
		return change{}, err
	}
	return change{file: y.name, after: after,
		title: fmt.Sprintf("Label the pod template with the selector's %s (a %s's selector cannot change once it exists).", strings.Join(set, ", "), o.kind),
		note:  "check the Services and NetworkPolicies that select these pods by the labels that changed"}, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
