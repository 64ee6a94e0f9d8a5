package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
)

// Label keys used on everything the author creates.
const (
	labelName     = "app.kubernetes.io/name"
	labelPartOf   = "app.kubernetes.io/part-of"
	labelComp     = "app.kubernetes.io/component"
	labelManaged  = "app.kubernetes.io/managed-by"
	managedByName = "kubewright"
	// firstTag is the image tag manifests start from; Flux image automation
	// moves it forward in gitops/.
	firstTag = "0.1.0"
)

// system is the resolved view of one authoring run: the model, the options
// with defaults applied, and per-service facts several builders need.
type system struct {
	m    *analyze.SystemModel
	opts author.Options
	// svcs are the services selected for authoring, sorted by name.
	svcs []analyze.Service
	// all are every service of the model, for call targets.
	all map[string]analyze.Service
	// uid is the numeric user each service's image runs as.
	uid map[string]int64
	// sharedNS is the single namespace an existing repository uses, if any.
	sharedNS    string
	assumptions []string
}

func (sys *system) assume(format string, args ...any) {
	sys.assumptions = append(sys.assumptions, fmt.Sprintf(format, args...))
}

// namespace returns the namespace for a service (or "messaging" for shared
// brokers): the repository's own single namespace when it has one, else one
// namespace per service.
func (sys *system) namespace(name string) string {
	if sys.sharedNS != "" {
		return sys.sharedNS
	}
	return sys.opts.NamespacePrefix + name
}

func (sys *system) image(s analyze.Service) string {
	return sys.opts.Registry + "/" + s.Name + ":" + firstTag
}

func (sys *system) labels(name, component string) map[string]string {
	l := map[string]string{}
	for k, v := range sys.m.Conventions.Labels {
		l[k] = v
	}
	l[labelName] = name
	l[labelPartOf] = sys.m.Name
	if component != "" {
		l[labelComp] = component
	}
	l[labelManaged] = managedByName
	return l
}

func selector(name string) map[string]string { return map[string]string{labelName: name} }

// marshalObjects renders objects as one YAML stream. Each object is
// marshaled through JSON so the API types' field tags decide the shape;
// what the API types emit without a value (status blocks, null
// creationTimestamp, empty structs such as "resources: {}") is dropped, so
// the files hold only what was decided.
//
// Nil objects (a builder's "nothing to render here") are skipped; when all
// are nil the result is empty.
func marshalObjects(objs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		raw, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		if string(raw) == "null" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		delete(m, "status")
		prune(m)
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		if buf.Len() > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// prune removes, at every level, keys whose value is null or an empty
// object (after pruning what is inside it). Empty lists stay: an empty
// list of NetworkPolicy ingress rules means "admit nothing".
func prune(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			prune(val)
			if val == nil || isEmptyMap(val) {
				delete(t, k)
			}
		}
	case []any:
		for _, e := range t {
			prune(e)
		}
	}
}

func isEmptyMap(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

// kustomization renders a kustomization.yaml listing resources (sorted
// except that namespace.yaml goes first for readability).
func kustomization(resources []string, extra map[string]any) ([]byte, error) {
	res := append([]string(nil), resources...)
	sort.SliceStable(res, func(i, j int) bool {
		ni, nj := strings.HasPrefix(res[i], "namespace"), strings.HasPrefix(res[j], "namespace")
		if ni != nj {
			return ni
		}
		return res[i] < res[j]
	})
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  res,
	}
	for key, v := range extra {
		k[key] = v
	}
	return yaml.Marshal(k)
}

func ptr[T any](v T) *T { return &v }
