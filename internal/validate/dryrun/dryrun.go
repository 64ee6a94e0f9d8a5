// Package dryrun is the server-side dry-run stage of validation: every
// object is sent to a real kube-apiserver as a server-side apply with
// dryRun=All, staged (CRDs, then Namespaces, then the rest). The server is
// an Ephemeral one (kube-apiserver and etcd on 127.0.0.1, found with
// FindAssets), one per job from a Pool, or a cluster from a kubeconfig;
// nothing changes a real cluster.
package dryrun

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// FieldManager is the server-side apply field manager of every request.
const FieldManager = "kubewright"

// Check sends every object to a kube-apiserver as a server-side apply
// with dryRun=All, staged: CRDs first, then Namespaces, then the rest in
// parallel over one long-lived client.
//
// With Install (the ephemeral server), CRDs are installed and Namespaces
// created for real, since that server is thrown away. Nothing that would
// make the server call out is installed: a CRD converting through a webhook
// is installed with conversion None, and APIServices, webhook
// configurations and admission policies are only dry-run, each with an
// info finding saying so. Without Install (a real cluster from a
// kubeconfig) only dry-run requests are sent: CRDs missing there and
// Namespaces the change creates are reported as such.
type Check struct {
	// Config returns the client config; it may start the server. A Pool's
	// Config serves the job that the context's JobScope marks.
	Config func(ctx context.Context) (*rest.Config, error)
	// Install installs CRDs and creates Namespaces for real.
	Install bool
	// Workers bounds parallel requests (default 64).
	Workers int
	// Memo, when set, remembers the CRDs a reused server already has so
	// they are not installed again (Ephemeral.Memo). A Pool's servers
	// bring their own.
	Memo *InstallMemo
}

// Rules:
//
//	KW-DRYRUN-001 error   the API server rejects the object
//	KW-DRYRUN-002 error   a CRD does not install or does not become Established
//	KW-DRYRUN-003 error   no API serves the object's kind (CRD missing)
//	KW-DRYRUN-004 info    the object's namespace is created by this change (not dry-run on a real cluster)
//	KW-DRYRUN-005 warning the object's namespace is neither in the cluster nor in the repository
//	KW-DRYRUN-006 error   the API server cannot be reached
//	KW-DRYRUN-007 info    a CRD's conversion webhook is not installed (the CRD is, with conversion None)
//	KW-DRYRUN-008 info    an object that makes the API server call out (APIService, webhook configuration) is only dry-run
//	KW-DRYRUN-009 info    an admission policy that would change how later objects are admitted is only dry-run

// Name is StageDryRun.
func (Check) Name() string { return validate.StageDryRun }

// Check dry-runs every object of in on the server c.Config returns.
func (c Check) Check(ctx context.Context, in *validate.Input) []finding.Finding {
	// A Pool serves the job the caller marked; a validation outside any
	// job gets a server of its own, stopped when this returns. A plain
	// Ephemeral or a kubeconfig ignores the scope.
	ctx, end := JobScope(ctx)
	defer end()
	fail := func(err error) []finding.Finding {
		return []finding.Finding{{ID: "KW-DRYRUN-006", Severity: finding.Error, Stage: validate.StageDryRun,
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
	memo := c.Memo
	if m := scopeMemo(ctx); m != nil {
		memo = m
	}
	if memo == nil {
		memo = &InstallMemo{}
	}
	// One discovery for the whole validation, fetched on first use: the
	// kinds of this validation's CRDs are mapped from the CRDs themselves,
	// so a kind discovery lacks is unknown at once, never waited for.
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	r := &dryRunner{c: c, in: in, dyn: dyn, ext: ext, mapper: mapper, memo: memo}

	var crds, namespaces, rest []validate.Object
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
		r.installCRDs(ctx, crds, neededCRDs(in, crds, rest))
	} else {
		r.applyAll(ctx, crds)
	}
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
	c        Check
	in       *validate.Input
	dyn      dynamic.Interface
	ext      apiextclient.Interface
	mapper   meta.RESTMapper
	memo     *InstallMemo
	mu       sync.Mutex
	findings []finding.Finding

	// kinds are the kinds this validation's CRDs serve (Install only),
	// written in stage 1 and read after it; stale are kinds an earlier
	// validation on the same server installed that this one does not
	// define, by CRD name.
	kinds map[schema.GroupKind]*crdKind
	stale map[schema.GroupKind]string
}

// mapping resolves an object's kind to its resource, or reports why it
// cannot be sent. Kinds of this validation's CRDs come from the CRDs (the
// first object of each waits, boundedly and for its kind alone, until the
// server serves it); every other kind from the one discovery.
func (r *dryRunner) mapping(ctx context.Context, o validate.Object) (*meta.RESTMapping, bool) {
	gvk := o.U.GroupVersionKind()
	unserved := fmt.Sprintf("the API server does not serve %s %s", gvk.GroupVersion(), gvk.Kind)
	const hint = "install the CRD that defines it (--crds DIR) or fix apiVersion/kind"
	if k, ok := r.kinds[gvk.GroupKind()]; ok {
		m, why := k.mapping(ctx, r.dyn, gvk)
		if why != "" {
			r.report(o, "KW-DRYRUN-003", finding.Error, unserved+": "+why, hint, "apiVersion")
			return nil, false
		}
		return m, true
	}
	if crd, ok := r.stale[gvk.GroupKind()]; ok {
		r.report(o, "KW-DRYRUN-003", finding.Error, unserved+": no CustomResourceDefinition of this change defines it (an earlier validation of this job installed "+crd+")", hint, "apiVersion")
		return nil, false
	}
	m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	switch {
	case meta.IsNoMatchError(err):
		r.report(o, "KW-DRYRUN-003", finding.Error, unserved, hint, "apiVersion")
		return nil, false
	case err != nil:
		r.report(o, "KW-DRYRUN-006", finding.Error, "server-side dry-run did not run: API discovery failed: "+err.Error(), "check the kubeconfig/context or the --assets binaries", "")
		return nil, false
	}
	return m, true
}

func (r *dryRunner) report(o validate.Object, id string, sev finding.Severity, msg, hint, field string) {
	f := finding.Finding{ID: id, Severity: sev, Stage: validate.StageDryRun, File: o.File, Line: o.Line, Object: o.Ref(), Message: msg, Hint: hint}
	if field != "" {
		if d, ok := r.in.Sources.Find(o.Root, o.U.GetKind(), o.U.GetNamespace(), o.U.GetName()); ok && d.File == o.File {
			f.Line = d.FieldLine(field)
		}
	}
	r.mu.Lock()
	r.findings = append(r.findings, f)
	r.mu.Unlock()
}

// createNamespaces creates every namespace defined or used, for real (the
// ephemeral server only).
func (r *dryRunner) createNamespaces(ctx context.Context, defined, objs []validate.Object) {
	names := map[string]validate.Object{}
	for _, o := range defined {
		names[o.U.GetName()] = o
	}
	for _, o := range objs {
		if ns := o.U.GetNamespace(); ns != "" {
			if _, ok := names[ns]; !ok {
				names[ns] = validate.Object{U: &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}}
			}
		}
	}
	var list []validate.Object
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
func (r *dryRunner) skipNewNamespaces(ctx context.Context, objs []validate.Object, defined map[string]bool) []validate.Object {
	exists := map[string]bool{}
	checked := map[string]bool{}
	var keep []validate.Object
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
func (r *dryRunner) applyAll(ctx context.Context, objs []validate.Object) {
	r.parallel(len(objs), func(i int) { r.apply(ctx, objs[i]) })
}

func (r *dryRunner) apply(ctx context.Context, o validate.Object) {
	if r.c.Install {
		r.reportCallOut(o)
	}
	m, ok := r.mapping(ctx, o)
	if !ok {
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
	_, err := res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		r.reportAPIError(o, "KW-DRYRUN-001", err)
	}
}

// reportAPIError turns an API error into one finding per cause, each at
// the line of the field the server names.
func (r *dryRunner) reportAPIError(o validate.Object, id string, err error) {
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
