// Package schema is the schema stage of validation: it checks every
// rendered object offline, without a cluster, against the built-in
// Kubernetes types and the CustomResourceDefinitions it is given (LoadCRDs,
// LoadRepoCRDs) or finds in the repository.
//
// Rules (ID, default severity, what):
//
//	KW-SCHEMA-001  error    unknown field in a built-in kind (a typo or a field from another version)
//	KW-SCHEMA-002  error    wrong type in a built-in kind (a string where a number goes, a list for a map, ...)
//	KW-SCHEMA-003  error    required field missing: containers' name and image; workloads' spec.selector and
//	                        spec.template; Job spec.template; CronJob spec.schedule and spec.jobTemplate;
//	                        Service ports' port; Ingress paths' pathType and backend service name and port
//	KW-SCHEMA-004  error    apiVersion not served for a built-in kind (removed API version, or a kind in the wrong group)
//	KW-SCHEMA-005  error    metadata.name missing or not a valid name; metadata.namespace not a valid name
//	KW-SCHEMA-006  error    duplicate field in the source document
//	KW-SCHEMA-010  warning  no CRD known for a custom resource's group/kind (once per kind), or its schema is unusable
//	KW-SCHEMA-011  error    custom resource version not served by its CRD
//	KW-SCHEMA-012  error    custom resource violates its CRD schema (type, enum, pattern, required, min/max, list keys)
//	KW-SCHEMA-013  error    unknown field in a custom resource (dropped by the API server's pruning)
//	KW-SCHEMA-014  warning  custom resource uses a version its CRD marks deprecated
//
// Findings point at the field's line in the source document when the
// object can be traced to one, else at the object.
package schema

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	runtimeschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/version"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// Check validates objects against the built-in Kubernetes types and
// the CRDs in Input.CRDs.
type Check struct{}

// Name is StageSchema.
func (Check) Name() string { return validate.StageSchema }

// Check runs the schema stage. It builds each CRD validator at most once.
func (Check) Check(ctx context.Context, in *validate.Input) []finding.Finding {
	r, err := newSchemaRun(in)
	if err != nil {
		return []finding.Finding{{ID: "KW-SCHEMA-010", Severity: finding.Warning, Stage: validate.StageSchema,
			Message: "schema check could not start: " + err.Error(), Hint: "report this as a kubewright bug"}}
	}
	for _, o := range in.Objects {
		if ctx.Err() != nil {
			break
		}
		r.object(ctx, o)
	}
	return r.out
}

// schemaRun is the state of one Check call.
type schemaRun struct {
	in      *validate.Input
	scheme  *runtime.Scheme
	decoder runtime.Decoder
	// builtinGroups are API groups served by Kubernetes itself.
	builtinGroups map[string]bool
	// objectDocs are "file:line" of every object's own document, so
	// patches can be told from objects when locating fields.
	objectDocs map[string]bool
	dupSeen    map[string]bool
	walker     *schemaWalker
	crs        *schemaCRs
	out        []finding.Finding
}

func newSchemaRun(in *validate.Input) (*schemaRun, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, err
	}
	r := &schemaRun{
		in:            in,
		scheme:        s,
		decoder:       serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer(),
		builtinGroups: map[string]bool{"extensions": true, "apiregistration.k8s.io": true},
		objectDocs:    map[string]bool{},
		dupSeen:       map[string]bool{},
		walker:        &schemaWalker{fields: map[reflect.Type]map[string]reflect.Type{}},
	}
	for _, gv := range s.PrioritizedVersionsAllGroups() {
		r.builtinGroups[gv.Group] = true
	}
	for _, rm := range schemaRemoved {
		r.builtinGroups[runtimeschema.FromAPIVersionAndKind(rm.apiVersion, "").Group] = true
	}
	for _, o := range in.Objects {
		r.objectDocs[fmt.Sprintf("%s:%d", o.File, o.Line)] = true
	}
	r.crs = newSchemaCRs(r, in.CRDs)
	return r, nil
}

func (r *schemaRun) add(o validate.Object, id string, sev finding.Severity, segs []string, msg, hint string) {
	file, line := r.locate(o, segs)
	r.out = append(r.out, finding.Finding{ID: id, Severity: sev, Stage: validate.StageSchema, File: file, Line: line,
		Object: o.Ref(), Message: msg, Hint: hint})
}

func (r *schemaRun) object(ctx context.Context, o validate.Object) {
	if o.U == nil || schemaSkip(o) {
		return
	}
	gvk := o.U.GroupVersionKind()
	r.names(o)
	r.duplicates(o)
	if o.U.GetAPIVersion() == "" {
		r.add(o, "KW-SCHEMA-004", finding.Error, []string{"kind"}, fmt.Sprintf("%s has no apiVersion", gvk.Kind),
			"add apiVersion (for example "+r.suggestAPIVersion(gvk.Kind, "")+")")
		return
	}
	if !r.builtinGroups[gvk.Group] {
		r.metadata(o)
		r.crs.check(ctx, o)
		return
	}
	if !r.apiVersion(o) {
		return
	}
	r.strict(o)
	r.required(o)
}

// schemaSkip reports objects that are not sent to a cluster: kustomize's
// own files and local configuration.
func schemaSkip(o validate.Object) bool {
	gvk := o.U.GroupVersionKind()
	if gvk.Group == "kustomize.config.k8s.io" || gvk.Group == "config.kubernetes.io" {
		return true
	}
	if gvk.Group == "" && gvk.Kind == "List" {
		return true
	}
	return o.U.GetAnnotations()["config.kubernetes.io/local-config"] == "true"
}

// ---- names -----------------------------------------------------------------

func (r *schemaRun) names(o validate.Object) {
	gvk := o.U.GroupVersionKind()
	name, found := schemaString(o.U.Object, "metadata", "name")
	if !found || name == "" {
		hint := "add metadata.name"
		if gn, _ := schemaString(o.U.Object, "metadata", "generateName"); gn != "" {
			hint = "GitOps applies objects by name and generateName only works with create; set metadata.name instead"
		}
		r.add(o, "KW-SCHEMA-005", finding.Error, []string{"metadata", "name"},
			fmt.Sprintf("%s has no metadata.name", gvk.Kind), hint)
		return
	}
	var errs []string
	rule := "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters"
	switch {
	case gvk.Group == "" && gvk.Kind == "Namespace":
		errs = utilvalidation.IsDNS1123Label(name)
		rule = "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
	case gvk.Group == "" && gvk.Kind == "Service":
		errs = utilvalidation.IsDNS1035Label(name)
		rule = "a DNS-1035 label: lowercase letters, digits and '-', starting with a letter, at most 63 characters"
	case gvk.Group == "rbac.authorization.k8s.io":
		errs = pathvalidation.ValidatePathSegmentName(name, false)
		rule = "a path segment: not '.' or '..' and without '/' or '%'"
	default:
		errs = utilvalidation.IsDNS1123Subdomain(name)
	}
	if len(errs) > 0 {
		r.add(o, "KW-SCHEMA-005", finding.Error, []string{"metadata", "name"},
			fmt.Sprintf("metadata.name %q is not a valid %s name: %s", name, gvk.Kind, strings.Join(errs, "; ")),
			"rename it; a "+gvk.Kind+" name must be "+rule)
	}
	if ns := o.U.GetNamespace(); ns != "" {
		if errs := utilvalidation.IsDNS1123Label(ns); len(errs) > 0 {
			r.add(o, "KW-SCHEMA-005", finding.Error, []string{"metadata", "namespace"},
				fmt.Sprintf("metadata.namespace %q is not a valid namespace name: %s", ns, strings.Join(errs, "; ")),
				"use a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters")
		}
	}
}

// ---- duplicate keys in the source -------------------------------------------

func (r *schemaRun) duplicates(o validate.Object) {
	d, ok := r.primaryDoc(o)
	if !ok {
		return
	}
	key := fmt.Sprintf("%s:%d", d.File, d.Line)
	if r.dupSeen[key] {
		return
	}
	r.dupSeen[key] = true
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.MappingNode:
			first := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := schemaJoin(prefix, k.Value)
				if l, dup := first[k.Value]; dup {
					r.out = append(r.out, finding.Finding{ID: "KW-SCHEMA-006", Severity: finding.Error, Stage: validate.StageSchema,
						File: d.File, Line: k.Line, Object: o.Ref(),
						Message: fmt.Sprintf("duplicate field %s (first on line %d)", p, l),
						Hint:    "keep one of them; tools disagree on which one wins"})
					continue
				}
				first[k.Value] = k.Line
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", prefix, i))
			}
		}
	}
	walk(d.Node, "")
}

// ---- API versions of built-in kinds ------------------------------------------

// schemaRemoved lists API versions Kubernetes no longer serves, with the
// version to use instead (empty when the kind itself is gone).
var schemaRemoved = []struct {
	apiVersion string
	kinds      []string // empty: every kind of the version
	use        string
	since      string
}{
	{"extensions/v1beta1", []string{"Deployment", "DaemonSet", "ReplicaSet"}, "apps/v1", "1.16"},
	{"extensions/v1beta1", []string{"Ingress", "NetworkPolicy"}, "networking.k8s.io/v1", "1.22"},
	{"extensions/v1beta1", []string{"PodSecurityPolicy"}, "", "1.25"},
	{"extensions/v1beta1", nil, "", "1.22"},
	{"apps/v1beta1", nil, "apps/v1", "1.16"},
	{"apps/v1beta2", nil, "apps/v1", "1.16"},
	{"networking.k8s.io/v1beta1", []string{"Ingress", "IngressClass"}, "networking.k8s.io/v1", "1.22"},
	{"policy/v1beta1", []string{"PodDisruptionBudget"}, "policy/v1", "1.25"},
	{"policy/v1beta1", nil, "", "1.25"},
	{"batch/v1beta1", nil, "batch/v1", "1.25"},
	{"batch/v2alpha1", nil, "batch/v1", "1.21"},
	{"autoscaling/v2beta1", nil, "autoscaling/v2", "1.25"},
	{"autoscaling/v2beta2", nil, "autoscaling/v2", "1.26"},
	{"rbac.authorization.k8s.io/v1beta1", nil, "rbac.authorization.k8s.io/v1", "1.22"},
	{"rbac.authorization.k8s.io/v1alpha1", nil, "rbac.authorization.k8s.io/v1", "1.22"},
	{"admissionregistration.k8s.io/v1beta1", []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}, "admissionregistration.k8s.io/v1", "1.22"},
	{"apiextensions.k8s.io/v1beta1", nil, "apiextensions.k8s.io/v1", "1.22"},
	{"apiregistration.k8s.io/v1beta1", nil, "apiregistration.k8s.io/v1", "1.22"},
	{"scheduling.k8s.io/v1beta1", nil, "scheduling.k8s.io/v1", "1.22"},
	{"scheduling.k8s.io/v1alpha1", []string{"PriorityClass"}, "scheduling.k8s.io/v1", "1.22"},
	{"storage.k8s.io/v1beta1", []string{"StorageClass", "CSIDriver", "CSINode", "VolumeAttachment"}, "storage.k8s.io/v1", "1.22"},
	{"storage.k8s.io/v1beta1", []string{"CSIStorageCapacity"}, "storage.k8s.io/v1", "1.27"},
	{"discovery.k8s.io/v1beta1", nil, "discovery.k8s.io/v1", "1.25"},
	{"events.k8s.io/v1beta1", nil, "events.k8s.io/v1", "1.25"},
	{"node.k8s.io/v1beta1", nil, "node.k8s.io/v1", "1.25"},
	{"node.k8s.io/v1alpha1", nil, "node.k8s.io/v1", "1.22"},
	{"coordination.k8s.io/v1beta1", []string{"Lease"}, "coordination.k8s.io/v1", "1.22"},
	{"certificates.k8s.io/v1beta1", []string{"CertificateSigningRequest"}, "certificates.k8s.io/v1", "1.22"},
	{"flowcontrol.apiserver.k8s.io/v1beta1", nil, "flowcontrol.apiserver.k8s.io/v1", "1.26"},
	{"flowcontrol.apiserver.k8s.io/v1beta2", nil, "flowcontrol.apiserver.k8s.io/v1", "1.29"},
	{"flowcontrol.apiserver.k8s.io/v1beta3", nil, "flowcontrol.apiserver.k8s.io/v1", "1.32"},
}

// schemaRemovedLookup finds apiVersion/kind in schemaRemoved.
func schemaRemovedLookup(apiVersion, kind string) (use, since string, ok bool) {
	for _, rm := range schemaRemoved {
		if rm.apiVersion != apiVersion {
			continue
		}
		if len(rm.kinds) == 0 {
			return rm.use, rm.since, true
		}
		for _, k := range rm.kinds {
			if k == kind {
				return rm.use, rm.since, true
			}
		}
	}
	return "", "", false
}

// apiVersion reports whether the object's built-in apiVersion is served,
// adding KW-SCHEMA-004 when it is not.
func (r *schemaRun) apiVersion(o validate.Object) bool {
	gvk := o.U.GroupVersionKind()
	av := o.U.GetAPIVersion()
	segs := []string{"apiVersion"}
	if use, since, removed := schemaRemovedLookup(av, gvk.Kind); removed {
		if use == "" {
			use = r.suggestAPIVersion(gvk.Kind, av)
		}
		if use == "" {
			r.add(o, "KW-SCHEMA-004", finding.Error, segs,
				fmt.Sprintf("%s %s was removed in Kubernetes %s and has no replacement version", av, gvk.Kind, since),
				"remove the object (PodSecurityPolicy gave way to Pod Security Admission namespace labels)")
			return false
		}
		r.add(o, "KW-SCHEMA-004", finding.Error, segs,
			fmt.Sprintf("removed API version; use %s (%s %s was removed in Kubernetes %s)", use, av, gvk.Kind, since),
			fmt.Sprintf("set apiVersion: %s and adjust fields that changed between versions", use))
		return false
	}
	if gvk.Group == "apiregistration.k8s.io" {
		return false // served, but not in our scheme: nothing more to check offline
	}
	if r.scheme.Recognizes(gvk) {
		return true
	}
	use := r.suggestAPIVersion(gvk.Kind, "")
	if use == "" {
		r.add(o, "KW-SCHEMA-004", finding.Error, []string{"kind"},
			fmt.Sprintf("kind %s does not exist in %s or any built-in API group", gvk.Kind, av),
			"check the spelling of kind; a custom resource needs an apiVersion in its own group")
		return false
	}
	r.add(o, "KW-SCHEMA-004", finding.Error, segs,
		fmt.Sprintf("%s does not serve %s; use %s", av, gvk.Kind, use),
		fmt.Sprintf("set apiVersion: %s", use))
	return false
}

// suggestAPIVersion returns the most stable served apiVersion of kind,
// preferring the group of the given apiVersion.
func (r *schemaRun) suggestAPIVersion(kind, apiVersion string) string {
	group := runtimeschema.FromAPIVersionAndKind(apiVersion, kind).Group
	var cands []runtimeschema.GroupVersion
	for gvk := range r.scheme.AllKnownTypes() {
		if gvk.Kind != kind || gvk.Version == runtime.APIVersionInternal {
			continue
		}
		if _, _, removed := schemaRemovedLookup(gvk.GroupVersion().String(), kind); removed {
			continue
		}
		cands = append(cands, gvk.GroupVersion())
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if (a.Group == group) != (b.Group == group) {
			return a.Group == group
		}
		if c := version.CompareKubeAwareVersionStrings(a.Version, b.Version); c != 0 {
			return c > 0
		}
		return a.String() < b.String()
	})
	if len(cands) == 0 {
		return ""
	}
	return cands[0].String()
}
