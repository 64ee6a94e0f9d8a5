package diagnosetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/kubewright/kubewright/internal/validate/build"
)

// A Fixture is one case, a directory (testdata/<case>): repo/ (the repository,
// whose manifest carries the mistake), cluster.yaml (the cluster state
// the mistake causes) and logs/<pod>/<container>[.previous].log (what the
// kubelet stand-in serves). The harness applies the repository's rendered
// objects to the case's namespace, as Flux would, then cluster.yaml.
//
// cluster.yaml holds Kubernetes objects (created in the namespace, with
// ownerReferences' and involvedObjects' uids filled in, and their status
// written through the status subresource) and three test-only documents:
//
//	kind: Diagnose   service: NAME        the service to diagnose
//	kind: Pods       workload: Deployment/NAME (or StatefulSet/NAME)
//	                 names: [...]  node: NODE  status: {PodStatus}
//	                 the Pods its controller would create (with their
//	                 ReplicaSet), written the status a kubelet would write
//	kind: Status     object: KIND/NAME  status: {...}
//	                 the status of an object from the repository
type Fixture struct {
	// Name is the case (the base of Dir); NS the namespace it is set up
	// in; Dir the case's directory; Service the service its Diagnose
	// document names.
	Name, NS, Dir string
	Service       string
	kube          kubernetes.Interface
	dyn           dynamic.Interface
	mapper        meta.RESTMapper
	created       map[string]*unstructured.Unstructured // "Kind/name"
}

// SetUp applies the case in dir to namespace ns of te; it is idempotent
// per Env (a namespace that exists is taken as set up).
func SetUp(t testing.TB, te *Env, dir, ns string) *Fixture {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(te.Config)
	dc := discovery.NewDiscoveryClientForConfigOrDie(te.Config)
	f := &Fixture{Name: filepath.Base(dir), NS: ns, Dir: dir, kube: kube,
		dyn: dynamic.NewForConfigOrDie(te.Config), mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		created: map[string]*unstructured.Unstructured{}}
	ctx := context.Background()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.NS}}, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			f.Service = f.readService(t)
			return f
		}
		t.Fatal(err)
	}
	in, _, err := build.Load(ctx, filepath.Join(f.Dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range in.Objects {
		switch o.U.GetKind() {
		case "Namespace", "CustomResourceDefinition", "GitRepository", "OCIRepository", "HelmRepository":
			continue
		}
		u := o.U.DeepCopy()
		delete(u.Object, "status")
		f.create(t, u)
	}
	docs := f.Docs(t)
	for _, d := range docs {
		switch d["kind"] {
		case "Diagnose":
			f.Service, _ = d["service"].(string)
		case "Pods":
			f.pods(t, d)
		case "Status":
			obj := f.created[d["object"].(string)]
			if obj == nil {
				t.Fatalf("%s: Status of %v, which the case did not create", f.Name, d["object"])
			}
			f.writeStatus(t, obj, d["status"])
		default:
			status := d["status"]
			delete(d, "status")
			u := f.create(t, &unstructured.Unstructured{Object: d})
			if status != nil {
				f.writeStatus(t, u, status)
			}
		}
	}
	f.serveLogs(t, te.Kubelet)
	return f
}

// Docs returns the documents of the case's cluster.yaml.
func (f *Fixture) Docs(t testing.TB) []map[string]any {
	data, err := os.ReadFile(filepath.Join(f.Dir, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s/cluster.yaml: %v", f.Name, err)
		}
		if m != nil {
			out = append(out, normalize(m).(map[string]any))
		}
	}
	return out
}

func (f *Fixture) readService(t testing.TB) string {
	for _, d := range f.Docs(t) {
		if d["kind"] == "Diagnose" {
			s, _ := d["service"].(string)
			return s
		}
	}
	return ""
}

// normalize turns YAML-decoded values into the JSON types unstructured
// objects hold (int64, map[string]any).
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case int:
		return int64(x)
	}
	return v
}

func (f *Fixture) resource(t testing.TB, u *unstructured.Unstructured) dynamic.ResourceInterface {
	gvk := u.GroupVersionKind()
	m, err := f.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s: %s: %v", f.Name, gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		u.SetNamespace(f.NS)
		return f.dyn.Resource(m.Resource).Namespace(f.NS)
	}
	return f.dyn.Resource(m.Resource)
}

// create creates u in the namespace, filling in the uids of its owners
// and, for an Event, of the object it is about.
func (f *Fixture) create(t testing.TB, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	refs := u.GetOwnerReferences()
	for i, r := range refs {
		owner := f.created[r.Kind+"/"+r.Name]
		if owner == nil {
			t.Fatalf("%s: %s/%s is owned by %s/%s, which is not created before it", f.Name, u.GetKind(), u.GetName(), r.Kind, r.Name)
		}
		refs[i].UID = owner.GetUID()
	}
	if len(refs) > 0 {
		u.SetOwnerReferences(refs)
	}
	if u.GetKind() == "Event" {
		_ = unstructured.SetNestedField(u.Object, f.NS, "involvedObject", "namespace")
		kind, _, _ := unstructured.NestedString(u.Object, "involvedObject", "kind")
		name, _, _ := unstructured.NestedString(u.Object, "involvedObject", "name")
		if o := f.created[kind+"/"+name]; o != nil {
			_ = unstructured.SetNestedField(u.Object, string(o.GetUID()), "involvedObject", "uid")
		}
	}
	out, err := f.resource(t, u).Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: create %s/%s: %v", f.Name, u.GetKind(), u.GetName(), err)
	}
	f.created[out.GetKind()+"/"+out.GetName()] = out
	return out
}

// writeStatus writes status through the status subresource, as the
// controller or kubelet owning the object would.
func (f *Fixture) writeStatus(t testing.TB, u *unstructured.Unstructured, status any) {
	t.Helper()
	ri := f.resource(t, u)
	cur, err := ri.Get(context.Background(), u.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Object["status"] = status
	out, err := ri.UpdateStatus(context.Background(), cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("%s: status of %s/%s: %v", f.Name, u.GetKind(), u.GetName(), err)
	}
	f.created[out.GetKind()+"/"+out.GetName()] = out
}

// pods creates the Pods a workload's controller would (through a
// ReplicaSet for a Deployment; with claims for a StatefulSet's
// volumeClaimTemplates), bound to node, and writes their status.
func (f *Fixture) pods(t testing.TB, d map[string]any) {
	t.Helper()
	ctx := context.Background()
	workload, _ := d["workload"].(string)
	w := f.created[workload]
	if w == nil {
		t.Fatalf("%s: Pods of %s, which the repository does not define", f.Name, workload)
	}
	var names []string
	for _, n := range d["names"].([]any) {
		names = append(names, n.(string))
	}
	node, _ := d["node"].(string)
	var status corev1.PodStatus
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(d["status"].(map[string]any), &status); err != nil {
		t.Fatalf("%s: Pods status: %v", f.Name, err)
	}
	var tmpl corev1.PodTemplateSpec
	var owner metav1.OwnerReference
	var claims []corev1.PersistentVolumeClaim
	truth := true
	switch w.GetKind() {
	case "Deployment":
		var dep appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(w.Object, &dep); err != nil {
			t.Fatal(err)
		}
		hash := strings.SplitN(strings.TrimPrefix(names[0], dep.Name+"-"), "-", 2)[0]
		tmpl = *dep.Spec.Template.DeepCopy()
		tmpl.Labels = merge(tmpl.Labels, map[string]string{"pod-template-hash": hash})
		rsName := dep.Name + "-" + hash
		rs := f.created["ReplicaSet/"+rsName]
		if rs == nil {
			replicas := int32(len(names))
			sel := dep.Spec.Selector.DeepCopy()
			sel.MatchLabels = merge(sel.MatchLabels, map[string]string{"pod-template-hash": hash})
			obj := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: rsName, Namespace: f.NS, Labels: tmpl.Labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: &truth}}},
				Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: sel, Template: tmpl}}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: m}
			u.SetAPIVersion("apps/v1")
			u.SetKind("ReplicaSet")
			rs = f.create(t, u)
		}
		owner = metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rsName, UID: rs.GetUID(), Controller: &truth}
	case "StatefulSet":
		var sts appsv1.StatefulSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(w.Object, &sts); err != nil {
			t.Fatal(err)
		}
		tmpl = *sts.Spec.Template.DeepCopy()
		owner = metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: sts.Name, UID: sts.UID, Controller: &truth}
		claims = sts.Spec.VolumeClaimTemplates
	default:
		t.Fatalf("%s: Pods of a %s", f.Name, w.GetKind())
	}
	for i, n := range names {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: f.NS, Labels: tmpl.Labels, OwnerReferences: []metav1.OwnerReference{owner}},
			Spec: *tmpl.Spec.DeepCopy()}
		p.Spec.NodeName = node
		for _, c := range claims {
			claim := fmt.Sprintf("%s-%s-%d", c.Name, owner.Name, i)
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: c.Name,
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
			pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: f.NS, Labels: tmpl.Labels}, Spec: *c.Spec.DeepCopy()}
			got, err := f.kube.CoreV1().PersistentVolumeClaims(f.NS).Create(ctx, pvc, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got.Status.Phase = corev1.ClaimPending
			if _, err := f.kube.CoreV1().PersistentVolumeClaims(f.NS).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			f.created["PersistentVolumeClaim/"+claim] = &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": claim, "uid": string(got.UID)}}}
		}
		got, err := f.kube.CoreV1().Pods(f.NS).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: create pod %s: %v", f.Name, n, err)
		}
		got.Status = *status.DeepCopy()
		for _, list := range [][]corev1.ContainerStatus{got.Status.InitContainerStatuses, got.Status.ContainerStatuses} {
			for j := range list {
				if list[j].Image == "" {
					list[j].Image = imageOf(got, list[j].Name)
				}
			}
		}
		if _, err := f.kube.CoreV1().Pods(f.NS).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("%s: status of pod %s: %v", f.Name, n, err)
		}
		f.created["Pod/"+n] = &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": n, "uid": string(got.UID)}}}
	}
}

func imageOf(p *corev1.Pod, container string) string {
	for _, c := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
		if c.Name == container {
			return c.Image
		}
	}
	return ""
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// serveLogs has the kubelet stand-in serve logs/<pod>/<container>.log
// (and .previous.log).
func (f *Fixture) serveLogs(t testing.TB, k *Kubelet) {
	root := filepath.Join(f.Dir, "logs")
	pods, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		files, err := os.ReadDir(filepath.Join(root, p.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(filepath.Join(root, p.Name(), file.Name()))
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimSuffix(file.Name(), ".log")
			container, previous := strings.CutSuffix(name, ".previous")
			k.SetLog(f.NS, p.Name(), container, previous, string(data))
		}
	}
}

// Expect returns the IDs the case's Diagnose document expects.
func (f *Fixture) Expect(t testing.TB) []string {
	t.Helper()
	for _, d := range f.Docs(t) {
		if d["kind"] != "Diagnose" {
			continue
		}
		var out []string
		for _, id := range d["expect"].([]any) {
			out = append(out, id.(string))
		}
		return out
	}
	t.Fatalf("%s: no Diagnose document in cluster.yaml", f.Name)
	return nil
}
