package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kubewright/kubewright/internal/finding"
)

// FieldManager is the server-side apply field manager of every request.
const FieldManager = "kubewright"

// DryRunCheck sends every object to a kube-apiserver as a server-side apply
// with dryRun=All, staged: CRDs first, then Namespaces, then the rest in
// parallel over one long-lived client.
//
// With Install (the ephemeral server), CRDs are installed and Namespaces
// created for real, since that server is thrown away. Without it (a real
// cluster from a kubeconfig) only dry-run requests are sent: CRDs missing
// there and Namespaces the change creates are reported as such.
type DryRunCheck struct {
	// Config returns the client config; it may start the server.
	Config func(ctx context.Context) (*rest.Config, error)
	// Install installs CRDs and creates Namespaces for real.
	Install bool
	// Workers bounds parallel requests (default 64).
	Workers int
	// Memo, when set, remembers the CRDs a reused server already has so
	// they are not installed again (Ephemeral.Memo).
	Memo *InstallMemo
}

// InstallMemo remembers which CRD specs a server already has.
type InstallMemo struct {
	mu   sync.Mutex
	done map[string]string
}

// seen reports whether name was installed with this spec, and records it.
func (m *InstallMemo) seen(name, spec string) bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		m.done = map[string]string{}
	}
	if m.done[name] == spec {
		return true
	}
	return false
}

func (m *InstallMemo) record(name, spec string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		m.done = map[string]string{}
	}
	m.done[name] = spec
}

// Rules:
//
//	KW-DRYRUN-001 error   the API server rejects the object
//	KW-DRYRUN-002 error   a CRD does not install or does not become Established
//	KW-DRYRUN-003 error   no API serves the object's kind (CRD missing)
//	KW-DRYRUN-004 info    the object's namespace is created by this change (not dry-run on a real cluster)
//	KW-DRYRUN-005 warning the object's namespace is neither in the cluster nor in the repository
//	KW-DRYRUN-006 error   the API server cannot be reached

func (DryRunCheck) Name() string { return StageDryRun }

func (c DryRunCheck) Check(ctx context.Context, in *Input) []finding.Finding {
	fail := func(err error) []finding.Finding {
		return []finding.Finding{{ID: "KW-DRYRUN-006", Severity: finding.Error, Stage: StageDryRun,
			Message: "server-side dry-run did not run: " + err.Error(), Hint: "check the kubeconfig/context or the --assets binaries"}}
	}
	cfg, err := c.Config(ctx)
	if err != nil {
		return fail(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fail(err)
	}
	ext, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		return fail(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fail(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	r := &dryRunner{c: c, in: in, dyn: dyn, ext: ext, mapper: mapper}

	var crds, namespaces, rest []Object
	for _, o := range in.Objects {
		switch {
		case o.U.GetKind() == "CustomResourceDefinition" && o.U.GroupVersionKind().Group == "apiextensions.k8s.io":
			crds = append(crds, o)
		case o.U.GetKind() == "Namespace" && o.U.GroupVersionKind().Group == "":
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	// Stage 1: CRDs.
	if c.Install {
		r.installCRDs(ctx, crds, neededCRDs(in, rest))
	} else {
		r.applyAll(ctx, crds)
	}
	mapper.Reset()
	// Stage 2: Namespaces.
	defined := map[string]bool{}
	for _, n := range namespaces {
		defined[n.U.GetName()] = true
	}
	if c.Install {
		r.createNamespaces(ctx, namespaces, rest)
	} else {
		r.applyAll(ctx, namespaces)
		rest = r.skipNewNamespaces(ctx, rest, defined)
	}
	// Stage 3: everything else.
	r.applyAll(ctx, rest)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.findings
}

type dryRunner struct {
	c        DryRunCheck
	in       *Input
	dyn      dynamic.Interface
	ext      apiextclient.Interface
	mapper   meta.ResettableRESTMapper
	mu       sync.Mutex
	findings []finding.Finding

	// unserved remembers kinds discovery still lacked after waiting, so
	// only the first object of such a kind waits.
	mapMu    sync.Mutex
	unserved map[schema.GroupVersionKind]bool
}

// mapping resolves a kind to its resource. A CRD that just became
// Established can take a moment to appear in discovery, so a miss is
// retried with a fresh mapper for a few seconds before it counts.
func (r *dryRunner) mapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) {
		return m, err
	}
	r.mapMu.Lock()
	defer r.mapMu.Unlock()
	if r.unserved[gvk] {
		return nil, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		r.mapper.Reset()
		if m, err = r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
			return m, nil
		}
	}
	if r.unserved == nil {
		r.unserved = map[schema.GroupVersionKind]bool{}
	}
	r.unserved[gvk] = true
	return nil, err
}

func (r *dryRunner) report(o Object, id string, sev finding.Severity, msg, hint, field string) {
	f := finding.Finding{ID: id, Severity: sev, Stage: StageDryRun, File: o.File, Line: o.Line, Object: o.Ref(), Message: msg, Hint: hint}
	if field != "" {
		if d, ok := r.in.Sources.Find(o.Root, o.U.GetKind(), o.U.GetNamespace(), o.U.GetName()); ok && d.File == o.File {
			f.Line = d.FieldLine(field)
		}
	}
	r.mu.Lock()
	r.findings = append(r.findings, f)
	r.mu.Unlock()
}

// neededCRDs returns the CRDs (from --crds) that serve kinds the objects use.
func neededCRDs(in *Input, objs []Object) []*apiextensionsv1.CustomResourceDefinition {
	used := map[schema.GroupKind]bool{}
	for _, o := range objs {
		used[o.U.GroupVersionKind().GroupKind()] = true
	}
	seen := map[string]bool{}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, crd := range in.CRDs {
		gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
		if used[gk] && !seen[crd.Name] {
			seen[crd.Name] = true
			out = append(out, crd)
		}
	}
	return out
}

// installCRDs applies the repository's CRD objects and the needed --crds
// CRDs for real, then waits for each to be Established.
func (r *dryRunner) installCRDs(ctx context.Context, objs []Object, extra []*apiextensionsv1.CustomResourceDefinition) {
	type item struct {
		o   Object
		crd *apiextensionsv1.CustomResourceDefinition
	}
	var items []item
	for _, o := range objs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := fromUnstructured(o.U, &crd); err != nil {
			r.report(o, "KW-DRYRUN-002", finding.Error, "not a valid CustomResourceDefinition: "+err.Error(), "", "")
			continue
		}
		items = append(items, item{o, &crd})
	}
	for _, crd := range extra {
		items = append(items, item{Object{U: &unstructured.Unstructured{Object: map[string]any{"kind": "CustomResourceDefinition", "metadata": map[string]any{"name": crd.Name}}}}, crd})
	}
	r.parallel(len(items), func(i int) {
		it := items[i]
		crd := it.crd.DeepCopy()
		crd.APIVersion, crd.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
		crd.ResourceVersion = ""
		crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
		spec, err := json.Marshal(crd.Spec)
		if err != nil {
			r.report(it.o, "KW-DRYRUN-002", finding.Error, err.Error(), "", "")
			return
		}
		if r.c.Memo.seen(crd.Name, string(spec)) {
			return
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
		if err != nil {
			r.report(it.o, "KW-DRYRUN-002", finding.Error, err.Error(), "", "")
			return
		}
		u := &unstructured.Unstructured{Object: m}
		_, err = r.dyn.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")).
			Apply(ctx, crd.Name, u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		if err != nil {
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
			r.report(it.o, "KW-DRYRUN-002", finding.Error, "CRD "+crd.Name+" did not become Established", "check its versions and schema", "")
			return
		}
		r.c.Memo.record(crd.Name, string(spec))
	})
}

// createNamespaces creates every namespace defined or used, for real (the
// ephemeral server only).
func (r *dryRunner) createNamespaces(ctx context.Context, defined, objs []Object) {
	names := map[string]Object{}
	for _, o := range defined {
		names[o.U.GetName()] = o
	}
	for _, o := range objs {
		if ns := o.U.GetNamespace(); ns != "" {
			if _, ok := names[ns]; !ok {
				names[ns] = Object{U: &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}}
			}
		}
	}
	var list []Object
	for _, o := range names {
		list = append(list, o)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].U.GetName() < list[j].U.GetName() })
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	r.parallel(len(list), func(i int) {
		o := list[i]
		_, err := r.dyn.Resource(nsGVR).Apply(ctx, o.U.GetName(), o.U, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		if err != nil && o.File != "" {
			r.reportAPIError(o, "KW-DRYRUN-001", err)
		}
	})
}

// skipNewNamespaces drops objects whose namespace does not exist in the
// cluster: an info when the repository creates it, a warning otherwise.
func (r *dryRunner) skipNewNamespaces(ctx context.Context, objs []Object, defined map[string]bool) []Object {
	exists := map[string]bool{}
	checked := map[string]bool{}
	var keep []Object
	for _, o := range objs {
		ns := o.U.GetNamespace()
		if ns == "" {
			keep = append(keep, o)
			continue
		}
		if !checked[ns] {
			checked[ns] = true
			_, err := r.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, ns, metav1.GetOptions{})
			exists[ns] = err == nil
		}
		switch {
		case exists[ns]:
			keep = append(keep, o)
		case defined[ns]:
			r.report(o, "KW-DRYRUN-004", finding.Info, "namespace "+ns+" is created by this change, so this object cannot be dry-run against the cluster yet", "", "")
		default:
			r.report(o, "KW-DRYRUN-005", finding.Warning, "namespace "+ns+" exists neither in the cluster nor in the repository", "add a Namespace manifest or fix metadata.namespace", "metadata.namespace")
		}
	}
	return keep
}

// applyAll dry-runs objects in parallel.
func (r *dryRunner) applyAll(ctx context.Context, objs []Object) {
	r.parallel(len(objs), func(i int) { r.apply(ctx, objs[i]) })
}

func (r *dryRunner) apply(ctx context.Context, o Object) {
	gvk := o.U.GroupVersionKind()
	m, err := r.mapping(ctx, gvk)
	if err != nil {
		r.report(o, "KW-DRYRUN-003", finding.Error, fmt.Sprintf("the API server does not serve %s %s", gvk.GroupVersion(), gvk.Kind),
			"install the CRD that defines it (--crds DIR) or fix apiVersion/kind", "apiVersion")
		return
	}
	var res dynamic.ResourceInterface = r.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.U.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		res = r.dyn.Resource(m.Resource).Namespace(ns)
	}
	obj := o.U.DeepCopy()
	unstructured.RemoveNestedField(obj.Object, "status")
	_, err = res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		r.reportAPIError(o, "KW-DRYRUN-001", err)
	}
}

// reportAPIError turns an API error into one finding per cause, each at
// the line of the field the server names.
func (r *dryRunner) reportAPIError(o Object, id string, err error) {
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.ErrStatus.Details != nil && len(se.ErrStatus.Details.Causes) > 0 {
		for _, c := range se.ErrStatus.Details.Causes {
			msg := c.Message
			if c.Field != "" {
				msg = c.Field + ": " + msg
			}
			r.report(o, id, finding.Error, "rejected by the API server: "+msg, "fix the field; the server-side dry-run shows the same error", strings.TrimPrefix(c.Field, "."))
		}
		return
	}
	msg := typedPatchPrefix.ReplaceAllString(err.Error(), "")
	field := ""
	if m := leadingField.FindStringSubmatch(msg); m != nil {
		field = m[1]
	}
	r.report(o, id, finding.Error, "rejected by the API server: "+msg, "fix the field; the server-side dry-run shows the same error", field)
}

var (
	// typedPatchPrefix is the server's wrapper around schema errors of a
	// server-side apply; the field path that follows is what matters.
	typedPatchPrefix = regexp.MustCompile(`^failed to create typed patch object \([^)]*\): `)
	leadingField     = regexp.MustCompile(`^\.?([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-/]+|\[[^\]]+\])*): `)
)

func (r *dryRunner) parallel(n int, fn func(i int)) {
	workers := r.c.Workers
	if workers <= 0 {
		workers = 64
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
