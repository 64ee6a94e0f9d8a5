package dryrun

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// crdServeTimeout bounds how long the first object of a kind waits for
// the server to serve a CRD that just became Established.
const crdServeTimeout = 10 * time.Second

// InstallMemo remembers which CRD specs a server already has, and the
// kinds they serve.
type InstallMemo struct {
	mu    sync.Mutex
	done  map[string]string
	kinds map[string]schema.GroupKind
}

// seen reports whether name was installed with this spec.
func (m *InstallMemo) seen(name, spec string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done != nil && m.done[name] == spec
}

func (m *InstallMemo) record(name, spec string, gk schema.GroupKind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		m.done, m.kinds = map[string]string{}, map[string]schema.GroupKind{}
	}
	m.done[name], m.kinds[name] = spec, gk
}

// installed returns the kinds served by the CRDs installed so far, with
// the CRD that serves each.
func (m *InstallMemo) installed() map[schema.GroupKind]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[schema.GroupKind]string, len(m.kinds))
	for name, gk := range m.kinds {
		out[gk] = name
	}
	return out
}

// neededCRDs returns the CRDs of in.CRDs (--crds, the repository's
// configuration, then the embedded set) that serve kinds the objects use,
// except those the repository's own CRD objects define: those are
// installed as written. Of several CRDs for one name or one group/kind,
// the first wins.
func neededCRDs(in *validate.Input, crdObjs, objs []validate.Object) []*apiextensionsv1.CustomResourceDefinition {
	used := map[schema.GroupKind]bool{}
	for _, o := range objs {
		used[o.U.GroupVersionKind().GroupKind()] = true
	}
	seen := map[string]bool{}
	covered := map[schema.GroupKind]bool{}
	for _, o := range crdObjs {
		seen[o.U.GetName()] = true
		group, _, _ := unstructured.NestedString(o.U.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.U.Object, "spec", "names", "kind")
		covered[schema.GroupKind{Group: group, Kind: kind}] = true
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, crd := range in.CRDs {
		gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
		if used[gk] && !seen[crd.Name] && !covered[gk] {
			seen[crd.Name], covered[gk] = true, true
			out = append(out, crd)
		}
	}
	return out
}

// crdKind is a kind served by a CRD of this validation.
type crdKind struct {
	crd        string
	plural     string
	namespaced bool
	served     []string
	// failed is set in stage 1 when the CRD did not install (a
	// KW-DRYRUN-002 says why); read only after stage 1.
	failed bool

	once sync.Once
	err  error
}

// mapping returns the resource of the kind at gvk's version, or why no
// object of it can be sent. The first caller per kind waits until the
// server serves it; the others of that kind share the outcome.
func (k *crdKind) mapping(ctx context.Context, dyn dynamic.Interface, gvk schema.GroupVersionKind) (*meta.RESTMapping, string) {
	if k.failed {
		return nil, "its CustomResourceDefinition " + k.crd + " did not install (see the KW-DRYRUN-002 finding)"
	}
	if !slices.Contains(k.served, gvk.Version) {
		return nil, fmt.Sprintf("CustomResourceDefinition %s serves %s only", k.crd, strings.Join(k.served, ", "))
	}
	gvr := gvk.GroupVersion().WithResource(k.plural)
	k.once.Do(func() { k.err = waitServed(ctx, dyn, gvr) })
	if k.err != nil {
		return nil, fmt.Sprintf("CustomResourceDefinition %s is Established but was not served within %s (%v)", k.crd, crdServeTimeout, k.err)
	}
	scope := meta.RESTScopeRoot
	if k.namespaced {
		scope = meta.RESTScopeNamespace
	}
	return &meta.RESTMapping{Resource: gvr, GroupVersionKind: gvk, Scope: scope}, ""
}

// waitServed polls one list of the resource until the server answers it:
// the handler of a CRD can lag its Established condition by a moment.
func waitServed(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, crdServeTimeout, true, func(ctx context.Context) (bool, error) {
		_, last = dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
		return last == nil, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}

// installCRDs installs the repository's CRD objects and the needed --crds
// CRDs for real, waits for each to be Established, and records the kinds
// they serve. A conversion webhook is never installed: the CRD goes in
// with conversion None, after a dry-run of it as written.
func (r *dryRunner) installCRDs(ctx context.Context, objs []validate.Object, extra []*apiextensionsv1.CustomResourceDefinition) {
	type item struct {
		o    validate.Object
		crd  *apiextensionsv1.CustomResourceDefinition
		kind *crdKind
	}
	var items []item
	for _, o := range objs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := validate.FromUnstructured(o.U, &crd); err != nil {
			r.report(o, "KW-DRYRUN-002", finding.Error, "not a valid CustomResourceDefinition: "+err.Error(), "", "")
			continue
		}
		items = append(items, item{o: o, crd: &crd})
	}
	for _, crd := range extra {
		items = append(items, item{o: validate.Object{U: &unstructured.Unstructured{Object: map[string]any{"kind": "CustomResourceDefinition", "metadata": map[string]any{"name": crd.Name}}}}, crd: crd})
	}
	r.kinds = map[schema.GroupKind]*crdKind{}
	for i, it := range items {
		k := &crdKind{crd: it.crd.Name, plural: it.crd.Spec.Names.Plural, namespaced: it.crd.Spec.Scope == apiextensionsv1.NamespaceScoped}
		for _, v := range it.crd.Spec.Versions {
			if v.Served {
				k.served = append(k.served, v.Name)
			}
		}
		items[i].kind = k
		r.kinds[schema.GroupKind{Group: it.crd.Spec.Group, Kind: it.crd.Spec.Names.Kind}] = k
	}
	r.stale = map[schema.GroupKind]string{}
	for gk, name := range r.memo.installed() {
		if _, ok := r.kinds[gk]; !ok {
			r.stale[gk] = name
		}
	}
	crdGVR := apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
	r.parallel(len(items), func(i int) {
		it := items[i]
		crd := it.crd.DeepCopy()
		crd.APIVersion, crd.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
		crd.ResourceVersion = ""
		crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
		if target := conversionTarget(crd); target != "" {
			if it.o.File != "" {
				r.dryRunCRD(ctx, it.o, crd)
				r.report(it.o, "KW-DRYRUN-007", finding.Info, fmt.Sprintf("CustomResourceDefinition %s converts through a webhook (%s); "+
					"the throwaway API server never calls out, so it was installed there with conversion None and the webhook was only dry-run: "+
					"objects of its kinds were checked against each version's schema, without conversion", crd.Name, target),
					"nothing to fix here; test the conversion on a real cluster", "spec.conversion.strategy")
			}
			crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
		}
		failed := func(msg, hint string) {
			it.kind.failed = true
			r.report(it.o, "KW-DRYRUN-002", finding.Error, msg, hint, "")
		}
		spec, err := json.Marshal(crd.Spec)
		if err != nil {
			failed(err.Error(), "")
			return
		}
		gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
		if r.memo.seen(crd.Name, string(spec)) {
			return
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
		if err != nil {
			failed(err.Error(), "")
			return
		}
		_, err = r.dyn.Resource(crdGVR).Apply(ctx, crd.Name, &unstructured.Unstructured{Object: m}, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		if err != nil {
			it.kind.failed = true
			r.reportAPIError(it.o, "KW-DRYRUN-002", err)
			return
		}
		err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := r.ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range got.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			failed("CRD "+crd.Name+" did not become Established", "check its versions and schema")
			return
		}
		r.memo.record(crd.Name, string(spec), gk)
	})
}

// dryRunCRD sends the CRD as written, conversion webhook included, as a
// dry-run: the server validates it without keeping it, so the webhook is
// checked and never called.
func (r *dryRunner) dryRunCRD(ctx context.Context, o validate.Object, crd *apiextensionsv1.CustomResourceDefinition) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
	if err != nil {
		r.report(o, "KW-DRYRUN-002", finding.Error, err.Error(), "", "")
		return
	}
	_, err = r.dyn.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")).
		Apply(ctx, crd.Name, &unstructured.Unstructured{Object: m}, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		r.reportAPIError(o, "KW-DRYRUN-002", err)
	}
}

// conversionTarget describes where a CRD's conversion webhook points
// ("service ns/name", "https://host"), or "" when it converts without one.
func conversionTarget(crd *apiextensionsv1.CustomResourceDefinition) string {
	conv := crd.Spec.Conversion
	if conv == nil || conv.Strategy != apiextensionsv1.WebhookConverter {
		return ""
	}
	if conv.Webhook == nil || conv.Webhook.ClientConfig == nil {
		return "no client configuration"
	}
	cc := conv.Webhook.ClientConfig
	return clientTarget(cc.Service != nil, svcName(cc.Service), cc.URL)
}

func svcName(s *apiextensionsv1.ServiceReference) string {
	if s == nil {
		return ""
	}
	return s.Namespace + "/" + s.Name
}

// clientTarget names a webhook's destination without anything secret: a
// service by namespace/name, a URL by scheme and host only (no user
// information, path or query).
func clientTarget(isService bool, service string, rawURL *string) string {
	switch {
	case isService:
		return "service " + service
	case rawURL != nil:
		u, err := url.Parse(*rawURL)
		if err != nil || u.Host == "" {
			return "a URL"
		}
		return u.Scheme + "://" + u.Host
	default:
		return "no client configuration"
	}
}

// sortedKeys is for stable messages.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
