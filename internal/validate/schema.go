package validate

// The schema stage checks every rendered object offline, without a cluster.
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

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/kubewright/kubewright/internal/textdist"
	"math"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/version"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/kubewright/kubewright/internal/finding"
)

// SchemaCheck validates objects against the built-in Kubernetes types and
// the CRDs in Input.CRDs.
type SchemaCheck struct{}

// Name is StageSchema.
func (SchemaCheck) Name() string { return StageSchema }

// Check runs the schema stage. It builds each CRD validator at most once.
func (SchemaCheck) Check(ctx context.Context, in *Input) []finding.Finding {
	r, err := newSchemaRun(in)
	if err != nil {
		return []finding.Finding{{ID: "KW-SCHEMA-010", Severity: finding.Warning, Stage: StageSchema,
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
	in      *Input
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

func newSchemaRun(in *Input) (*schemaRun, error) {
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
		r.builtinGroups[schema.FromAPIVersionAndKind(rm.apiVersion, "").Group] = true
	}
	for _, o := range in.Objects {
		r.objectDocs[fmt.Sprintf("%s:%d", o.File, o.Line)] = true
	}
	r.crs = newSchemaCRs(r, in.CRDs)
	return r, nil
}

func (r *schemaRun) add(o Object, id string, sev finding.Severity, segs []string, msg, hint string) {
	file, line := r.locate(o, segs)
	r.out = append(r.out, finding.Finding{ID: id, Severity: sev, Stage: StageSchema, File: file, Line: line,
		Object: o.Ref(), Message: msg, Hint: hint})
}

func (r *schemaRun) object(ctx context.Context, o Object) {
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
func schemaSkip(o Object) bool {
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

func (r *schemaRun) names(o Object) {
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

func (r *schemaRun) duplicates(o Object) {
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
					r.out = append(r.out, finding.Finding{ID: "KW-SCHEMA-006", Severity: finding.Error, Stage: StageSchema,
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
func (r *schemaRun) apiVersion(o Object) bool {
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
	group := schema.FromAPIVersionAndKind(apiVersion, kind).Group
	var cands []schema.GroupVersion
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

// ---- strict decoding of built-in kinds -----------------------------------------

func (r *schemaRun) strict(o Object) {
	data, err := json.Marshal(o.U.Object)
	if err != nil {
		return
	}
	_, _, derr := r.decoder.Decode(data, nil, nil)
	if derr == nil {
		return
	}
	obj, err := r.scheme.New(o.U.GroupVersionKind())
	if err != nil {
		return
	}
	errs := r.walker.check(o.U.Object, reflect.TypeOf(obj).Elem())
	if len(errs) == 0 {
		// The walker and the decoder disagree; trust the decoder.
		r.add(o, "KW-SCHEMA-002", finding.Error, nil, fmt.Sprintf("%s does not decode: %v", o.U.GetKind(), derr),
			"fix the object so it matches the "+o.U.GetAPIVersion()+" "+o.U.GetKind()+" schema")
		return
	}
	r.fieldErrs(o, errs)
}

// metadata type-checks a custom resource's metadata, which CRD schemas
// leave to the API server's ObjectMeta rules.
func (r *schemaRun) metadata(o Object) {
	md, ok := o.U.Object["metadata"]
	if !ok {
		return
	}
	r.walker.errs = nil
	r.walker.walk(md, reflect.TypeOf(metav1.ObjectMeta{}), []string{"metadata"}, "metadata")
	r.fieldErrs(o, r.walker.errs)
}

func (r *schemaRun) fieldErrs(o Object, errs []schemaFieldErr) {
	for _, e := range errs {
		if e.unknown {
			hint := "remove it, or fix the spelling"
			if s := schemaSuggest(e.segs[len(e.segs)-1], e.known); s != "" {
				hint = fmt.Sprintf("did you mean %s? (rename the field)", s)
			}
			r.add(o, "KW-SCHEMA-001", finding.Error, e.segs,
				fmt.Sprintf("unknown field %s in %s %s", e.path, o.U.GetAPIVersion(), o.U.GetKind()), hint)
			continue
		}
		r.add(o, "KW-SCHEMA-002", finding.Error, e.segs, fmt.Sprintf("%s: %s", e.path, e.msg), e.hint)
	}
}

// schemaFieldErr is one problem the walker found.
type schemaFieldErr struct {
	segs    []string
	path    string
	unknown bool
	known   []string // field names at the parent, for suggestions
	msg     string
	hint    string
}

// schemaWalker checks an unstructured value against a Go API type the way
// the strict JSON decoder would, but reports every problem with its path.
type schemaWalker struct {
	fields map[reflect.Type]map[string]reflect.Type
	errs   []schemaFieldErr
}

var schemaUnmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

func (w *schemaWalker) check(obj map[string]any, t reflect.Type) []schemaFieldErr {
	w.errs = nil
	w.walk(obj, t, nil, "")
	return w.errs
}

func (w *schemaWalker) typeErr(segs []string, p, want string, v any) {
	got, shown := schemaJSONType(v)
	w.errs = append(w.errs, schemaFieldErr{segs: append([]string(nil), segs...), path: p,
		msg:  fmt.Sprintf("expected %s, got %s%s", want, got, shown),
		hint: "change the value to " + want + schemaQuoteHint(want, got)})
}

func (w *schemaWalker) walk(v any, t reflect.Type, segs []string, p string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // null leaves the field unset
	}
	if reflect.PointerTo(t).Implements(schemaUnmarshalerType) {
		data, err := json.Marshal(v)
		if err != nil {
			return
		}
		if err := json.Unmarshal(data, reflect.New(t).Interface()); err != nil {
			w.errs = append(w.errs, schemaFieldErr{segs: append([]string(nil), segs...), path: p,
				msg: fmt.Sprintf("invalid %s value %s: %v", t.Name(), schemaShort(data), err), hint: schemaFormatHint(t)})
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			w.typeErr(segs, p, "an object", v)
			return
		}
		fields := w.structFields(t)
		for _, k := range schemaSortedKeys(m) {
			ft, ok := fields[k]
			cs := append(append([]string(nil), segs...), k)
			cp := schemaJoin(p, k)
			if !ok {
				known := make([]string, 0, len(fields))
				for f := range fields {
					known = append(known, f)
				}
				sort.Strings(known)
				w.errs = append(w.errs, schemaFieldErr{segs: cs, path: cp, unknown: true, known: known})
				continue
			}
			w.walk(m[k], ft, cs, cp)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			w.typeErr(segs, p, "a map", v)
			return
		}
		for _, k := range schemaSortedKeys(m) {
			w.walk(m[k], t.Elem(), append(append([]string(nil), segs...), k), schemaJoin(p, k))
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			s, ok := v.(string)
			if !ok {
				w.typeErr(segs, p, "a base64 string", v)
				return
			}
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				w.errs = append(w.errs, schemaFieldErr{segs: append([]string(nil), segs...), path: p,
					msg: "not valid base64: " + err.Error(), hint: "base64-encode the value, or move it to stringData"})
			}
			return
		}
		l, ok := v.([]any)
		if !ok {
			w.typeErr(segs, p, "a list", v)
			return
		}
		for i, e := range l {
			w.walk(e, t.Elem(), append(append([]string(nil), segs...), strconv.Itoa(i)), fmt.Sprintf("%s[%d]", p, i))
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			w.typeErr(segs, p, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			w.typeErr(segs, p, "a boolean (true or false)", v)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := schemaNumber(v)
		if !ok || f != math.Trunc(f) {
			w.typeErr(segs, p, "an integer", v)
			return
		}
		z := reflect.New(t).Elem()
		over := false
		if t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64 {
			over = f < 0 || z.OverflowUint(uint64(f))
		} else {
			over = z.OverflowInt(int64(f))
		}
		if over {
			w.errs = append(w.errs, schemaFieldErr{segs: append([]string(nil), segs...), path: p,
				msg: fmt.Sprintf("%v does not fit in %s", v, t.Kind()), hint: "use a smaller number"})
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := schemaNumber(v); !ok {
			w.typeErr(segs, p, "a number", v)
		}
	}
}

// structFields maps JSON names to field types, flattening inline structs.
func (w *schemaWalker) structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := w.fields[t]; ok {
		return f
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range w.structFields(ft) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	w.fields[t] = out
	return out
}

// ---- required fields the decoder cannot see -------------------------------------

func (r *schemaRun) required(o Object) {
	gvk := o.U.GroupVersionKind()
	m := o.U.Object
	missing := func(segs []string, what, hint string) {
		r.add(o, "KW-SCHEMA-003", finding.Error, segs, fmt.Sprintf("%s is required", what), hint)
	}
	var pod []string
	switch gvk.GroupKind().String() {
	case "Pod":
		pod = []string{"spec"}
	case "ReplicationController":
		pod = []string{"spec", "template", "spec"}
	case "Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "ReplicaSet.apps":
		for _, f := range []string{"selector", "template"} {
			if _, ok := schemaGet(m, "spec", f); !ok {
				missing([]string{"spec", f}, "spec."+f, fmt.Sprintf("add spec.%s to the %s", f, gvk.Kind))
			}
		}
		pod = []string{"spec", "template", "spec"}
	case "Job.batch":
		if _, ok := schemaGet(m, "spec", "template"); !ok {
			missing([]string{"spec", "template"}, "spec.template", "add the pod template to the Job")
		}
		pod = []string{"spec", "template", "spec"}
	case "CronJob.batch":
		for _, f := range []string{"schedule", "jobTemplate"} {
			if v, ok := schemaGet(m, "spec", f); !ok || v == "" {
				missing([]string{"spec", f}, "spec."+f, "add spec."+f+" to the CronJob")
			}
		}
		pod = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	case "Service":
		ports, _ := schemaGet(m, "spec", "ports")
		l, _ := ports.([]any)
		for i, p := range l {
			pm, _ := p.(map[string]any)
			if n, _ := schemaNumber(pm["port"]); n == 0 {
				missing([]string{"spec", "ports", strconv.Itoa(i), "port"}, fmt.Sprintf("spec.ports[%d].port", i),
					"set the port the Service listens on (targetPort is the container's port)")
			}
		}
	case "Ingress.networking.k8s.io":
		if b, ok := schemaGet(m, "spec", "defaultBackend"); ok {
			r.ingressBackend(o, b, []string{"spec", "defaultBackend"})
		}
		rules, _ := schemaGet(m, "spec", "rules")
		rl, _ := rules.([]any)
		for i, rule := range rl {
			paths, _ := schemaGet(rule, "http", "paths")
			pl, _ := paths.([]any)
			for j, p := range pl {
				segs := []string{"spec", "rules", strconv.Itoa(i), "http", "paths", strconv.Itoa(j)}
				disp := fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j)
				if v, _ := schemaGet(p, "pathType"); v == nil || v == "" {
					missing(append(segs, "pathType"), disp+".pathType", "set pathType: Prefix, Exact or ImplementationSpecific")
				}
				b, ok := schemaGet(p, "backend")
				if !ok {
					missing(append(segs, "backend"), disp+".backend", "add backend.service.name and backend.service.port")
					continue
				}
				r.ingressBackend(o, b, append(segs, "backend"))
			}
		}
	}
	if pod == nil {
		return
	}
	for _, list := range []string{"initContainers", "containers"} {
		cs, _ := schemaGet(m, append(append([]string(nil), pod...), list)...)
		cl, _ := cs.([]any)
		if list == "containers" && len(cl) == 0 {
			if _, ok := schemaGet(m, pod...); ok || len(pod) == 1 {
				missing(append(append([]string(nil), pod...), "containers"), strings.Join(pod, ".")+".containers",
					"add at least one container")
			}
			continue
		}
		for i, c := range cl {
			segs := append(append([]string(nil), pod...), list, strconv.Itoa(i))
			disp := fmt.Sprintf("%s.%s[%d]", strings.Join(pod, "."), list, i)
			for _, f := range []string{"name", "image"} {
				if v, _ := schemaGet(c, f); v == nil || v == "" {
					hint := "give the container a name (a DNS-1123 label, unique in the pod)"
					if f == "image" {
						hint = "set the container image (registry/name:tag or @digest)"
					}
					missing(append(append([]string(nil), segs...), f), disp+"."+f, hint)
				}
			}
		}
	}
}

func (r *schemaRun) ingressBackend(o Object, b any, segs []string) {
	disp := schemaDisplay(segs)
	if _, ok := schemaGet(b, "resource"); ok {
		return
	}
	add := func(s []string, what, hint string) {
		r.add(o, "KW-SCHEMA-003", finding.Error, s, what+" is required", hint)
	}
	svc, ok := schemaGet(b, "service")
	if !ok {
		add(append(append([]string(nil), segs...), "service"), disp+".service", "add service.name and service.port.number (or port.name)")
		return
	}
	ss := append(append([]string(nil), segs...), "service")
	if v, _ := schemaGet(svc, "name"); v == nil || v == "" {
		add(append(append([]string(nil), ss...), "name"), disp+".service.name", "name the Service that receives the traffic")
	}
	num, _ := schemaGet(svc, "port", "number")
	name, _ := schemaGet(svc, "port", "name")
	if n, _ := schemaNumber(num); n == 0 && (name == nil || name == "") {
		add(append(append([]string(nil), ss...), "port"), disp+".service.port", "set service.port.number or service.port.name")
	}
}

// ---- locating fields in the source ----------------------------------------------

// primaryDoc is the object's own source document.
func (r *schemaRun) primaryDoc(o Object) (Doc, bool) {
	if r.in.Sources == nil {
		return Doc{}, false
	}
	kind, name := o.U.GetKind(), o.U.GetName()
	for _, d := range r.in.Sources.Docs() {
		if d.File == o.File && d.Line == o.Line && d.Kind == kind {
			return d, true
		}
	}
	d, ok := r.in.Sources.Find(path.Dir(o.File), kind, o.U.GetNamespace(), name)
	if !ok || name == "" {
		return Doc{}, false
	}
	return d, true
}

// locate returns the file and line of a field path (segments) of the
// object: its own document when the field is there, else a patch that sets
// it, else the nearest enclosing field of its own document.
func (r *schemaRun) locate(o Object, segs []string) (string, int) {
	d, ok := r.primaryDoc(o)
	if !ok {
		return o.File, o.Line
	}
	line, full := schemaResolve(d, segs)
	if full {
		return d.File, line
	}
	for _, p := range r.in.Sources.Docs() {
		if p.Kind != d.Kind || p.Name != d.Name || r.objectDocs[fmt.Sprintf("%s:%d", p.File, p.Line)] {
			continue
		}
		if p.Namespace != "" && o.U.GetNamespace() != "" && p.Namespace != o.U.GetNamespace() {
			continue
		}
		if l, ok := schemaResolve(p, segs); ok {
			return p.File, l
		}
	}
	return d.File, line
}

// schemaResolve walks segments through a document and returns the line of
// the deepest field found, and whether every segment was found.
func schemaResolve(d Doc, segs []string) (int, bool) {
	n, line := d.Node, d.Line
	for _, s := range segs {
		if n == nil {
			return line, false
		}
		switch n.Kind {
		case yaml.SequenceNode:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line, false
			}
			n = n.Content[i]
			line = n.Line
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
			if next == nil {
				return line, false
			}
			n = next
		default:
			return line, false
		}
	}
	return line, true
}

// schemaParsePath splits "spec.a[0].b", `spec.m["k.x"]` and "spec.a.0.b".
func schemaParsePath(p string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '.':
			flush()
		case '[':
			flush()
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				cur.WriteString(p[i:])
				i = len(p)
				continue
			}
			out = append(out, strings.Trim(p[i+1:i+end], `"'`))
			i += end
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// ---- small helpers -------------------------------------------------------------

func schemaGet(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func schemaString(v any, keys ...string) (string, bool) {
	x, ok := schemaGet(v, keys...)
	s, _ := x.(string)
	return s, ok
}

func schemaNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func schemaJSONType(v any) (string, string) {
	switch x := v.(type) {
	case string:
		return "a string", fmt.Sprintf(" (%q)", x)
	case bool:
		return "a boolean", fmt.Sprintf(" (%v)", x)
	case map[string]any:
		return "an object", ""
	case []any:
		return "a list", ""
	}
	if f, ok := schemaNumber(v); ok {
		return "a number", fmt.Sprintf(" (%v)", f)
	}
	return fmt.Sprintf("%T", v), ""
}

func schemaQuoteHint(want, got string) string {
	if want == "a string" && (got == "a number" || got == "a boolean") {
		return " (quote it: YAML reads unquoted 1.0, true, yes and on as numbers and booleans)"
	}
	if got == "a string" && (strings.Contains(want, "integer") || strings.Contains(want, "number")) {
		return " (write digits without quotes)"
	}
	return ""
}

// schemaFormatHint says what a value of a custom-decoded type looks like.
func schemaFormatHint(t reflect.Type) string {
	switch t.Name() {
	case "Quantity":
		return "use a quantity such as 250m, 1, 128Mi or 2Gi"
	case "IntOrString":
		return "use a number or a name"
	case "Time", "MicroTime":
		return "use an RFC 3339 time such as 2024-01-31T12:00:00Z"
	case "Duration":
		return "use a duration such as 30s, 5m or 1h"
	}
	return "fix the value's format"
}

func schemaShort(b []byte) string {
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

func schemaSortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// schemaJoin appends a key to a display path, bracketing keys with dots.
func schemaJoin(p, k string) string {
	if strings.ContainsAny(k, "./[] ") || k == "" {
		return fmt.Sprintf("%s[%q]", p, k)
	}
	if p == "" {
		return k
	}
	return p + "." + k
}

// schemaDisplay renders segments as a display path.
func schemaDisplay(segs []string) string {
	p := ""
	for _, s := range segs {
		if _, err := strconv.Atoi(s); err == nil {
			p += "[" + s + "]"
			continue
		}
		p = schemaJoin(p, s)
	}
	return p
}

// schemaSuggest returns the candidate closest to name when it is close
// enough to be a typo.
func schemaSuggest(name string, cands []string) string {
	best, bestD := "", 3
	for _, c := range cands {
		if strings.EqualFold(c, name) {
			return c
		}
		if d := textdist.Distance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
