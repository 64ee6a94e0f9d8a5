package diagnose

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// shippedRole is the read-only role deploy/base ships for diagnose.
var shippedRole = filepath.Join("..", "..", "deploy", "base", "rbac-read.yaml")

// readOnlyVerbs are all the role may grant.
var readOnlyVerbs = []string{"get", "list", "watch"}

// beyondReads are what the role may grant besides Reads(), with the
// reason: none is read today.
var beyondReads = map[Resource]string{
	{Group: "events.k8s.io", Resource: "events"}: "the same events as core/v1 through the newer API, for a diagnose that moves to it",
}

func loadShippedRole(t *testing.T) (*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	t.Helper()
	data, err := os.ReadFile(shippedRole)
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	var binding *rbacv1.ClusterRoleBinding
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: %v", shippedRole, err)
		}
		switch meta.Kind {
		case "ClusterRole":
			role = &rbacv1.ClusterRole{}
			if err := yaml.UnmarshalStrict(doc, role); err != nil {
				t.Fatalf("%s: %v", shippedRole, err)
			}
		case "ClusterRoleBinding":
			binding = &rbacv1.ClusterRoleBinding{}
			if err := yaml.UnmarshalStrict(doc, binding); err != nil {
				t.Fatalf("%s: %v", shippedRole, err)
			}
		default:
			t.Fatalf("%s: unexpected %s", shippedRole, meta.Kind)
		}
	}
	if role == nil || binding == nil {
		t.Fatalf("%s: want a ClusterRole and a ClusterRoleBinding", shippedRole)
	}
	return role, binding
}

// grants lists what a role grants, resource by resource, with its verbs.
func grants(t *testing.T, role *rbacv1.ClusterRole) map[Resource][]string {
	t.Helper()
	out := map[Resource][]string{}
	for i, r := range role.Rules {
		if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Errorf("rule %d: nonResourceURLs or resourceNames: the role grants by resource only", i)
		}
		for _, v := range r.Verbs {
			if !slices.Contains(readOnlyVerbs, v) {
				t.Errorf("rule %d grants %q: only get, list and watch", i, v)
			}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if g == "*" || res == "*" || strings.HasSuffix(res, "/*") {
					t.Errorf("rule %d grants a wildcard (%q, %q)", i, g, res)
				}
				k := Resource{Group: g, Resource: res}
				out[k] = append(out[k], r.Verbs...)
			}
		}
	}
	return out
}

// The shipped role grants get, list and watch only; everything a
// diagnosis reads (get and list, get for logs); and nothing else but what
// beyondReads names.
func TestDiagnoseShippedRoleIsReadOnly(t *testing.T) {
	role, binding := loadShippedRole(t)
	g := grants(t, role)
	for _, r := range Reads() {
		verbs := g[r]
		want := []string{"get", "list"}
		if strings.Contains(r.Resource, "/") {
			want = []string{"get"}
		}
		for _, v := range want {
			if !slices.Contains(verbs, v) {
				t.Errorf("%s: the role does not grant %s (it grants %q)", r, v, verbs)
			}
		}
	}
	for r := range g {
		if !slices.Contains(Reads(), r) && beyondReads[r] == "" {
			t.Errorf("the role grants %s, which a diagnosis does not read", r)
		}
	}
	if binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != role.Name ||
		len(binding.Subjects) != 1 || binding.Subjects[0].Kind != "ServiceAccount" || binding.Subjects[0].Name != "kubewright" {
		t.Errorf("the binding %+v does not give %s to the kubewright ServiceAccount", binding, role.Name)
	}
}

// The check above can fail: a role that writes, or misses a read, or
// grants more, is caught.
func TestDiagnoseRoleCheckCatches(t *testing.T) {
	role, _ := loadShippedRole(t)
	bad := role.DeepCopy()
	bad.Rules = append(bad.Rules, rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"}, Verbs: []string{"patch"}})
	bad.Rules[0].Resources = slices.DeleteFunc(slices.Clone(bad.Rules[0].Resources), func(s string) bool { return s == "nodes" })
	inner := &testing.T{}
	g := grants(inner, bad)
	if !inner.Failed() {
		t.Error("a patch verb passed the check")
	}
	if slices.Contains(g[Resource{"", "nodes"}], "list") {
		t.Error("nodes still granted after removing them")
	}
	if _, ok := g[Resource{"apps", "deployments/scale"}]; !ok || slices.Contains(Reads(), Resource{"apps", "deployments/scale"}) {
		t.Error("deployments/scale is not seen as granted beyond Reads")
	}
}

// requestResource is the RBAC resource of an API request path, "" for
// discovery and other non-resource paths.
func requestResource(p string) (Resource, bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	var r Resource
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		segs = segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		r.Group, segs = segs[1], segs[3:]
	default:
		return Resource{}, false
	}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		segs = segs[2:]
	}
	switch len(segs) {
	case 1, 2:
		r.Resource = segs[0]
	case 3:
		r.Resource = segs[0] + "/" + segs[2]
	default:
		return Resource{}, false
	}
	return r, true
}

// Reads is what diagnoses read: every resource requested while diagnosing
// the cases is in it, and every one of it is requested by some case.
func TestDiagnoseReadsAreTheRequests(t *testing.T) {
	te := sharedEnv(t)
	seen := map[Resource]bool{}
	for _, name := range []string{"crashloop", "fluxkustomization", "pvc"} {
		_, _, ctr := diagnoseCase(t, te, name)
		for _, req := range ctr.Requests() {
			_, rest, _ := strings.Cut(req, " ")
			p, _, _ := strings.Cut(rest, "?")
			r, ok := requestResource(p)
			if !ok {
				continue
			}
			if !slices.Contains(Reads(), r) {
				t.Errorf("%s: %s requests %s, which Reads does not list", name, req, r)
			}
			seen[r] = true
		}
	}
	for _, r := range Reads() {
		if !seen[r] {
			t.Errorf("Reads lists %s, which no diagnosis requested", r)
		}
	}
}

// A diagnosis as the kubewright ServiceAccount, bound to the shipped
// role, reads everything it reads as the administrator: no note says
// anything was forbidden, and the findings are the same.
func TestDiagnoseAsShippedRole(t *testing.T) {
	te := sharedEnv(t)
	ctx := context.Background()
	kube := kubernetes.NewForConfigOrDie(te.Config)
	role, binding := loadShippedRole(t)
	sa := binding.Subjects[0]
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sa.Namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.Name}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, name := range []string{"crashloop", "fluxkustomization"} {
		f, admin, _ := diagnoseCase(t, te, name)
		cfg := rest.CopyConfig(te.Config)
		cfg.Impersonate.UserName = "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
		cl, err := NewCluster(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Diagnose(ctx, cl, f.NS, f.Service, filepath.Join(f.Dir, "repo"), WithFluxNamespace(""), WithNow(func() time.Time { return testNow }))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, n := range r.Notes {
			if strings.Contains(n, "forbidden") {
				t.Errorf("%s: as the shipped role: %s", name, n)
			}
		}
		if got, want := ids(r.Findings), ids(admin.Findings); !slices.Equal(got, want) {
			t.Errorf("%s: as the shipped role %q, as the administrator %q", name, got, want)
		}
	}
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+" "+f.Object)
	}
	return out
}
