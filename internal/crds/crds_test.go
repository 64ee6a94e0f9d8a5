package crds_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubewright/kubewright/internal/crds"
	"github.com/kubewright/kubewright/internal/crds/crdgen"
	"github.com/kubewright/kubewright/internal/validate/dryrun"
)

// sourceDir is the CRD collection the embedded set is made from, as
// `make crds` reads it: $KUBEWRIGHT_CRDS (the Makefile sets it to $(CRDS)),
// else ../shared/crds beside the repository.
func sourceDir() string {
	if d := os.Getenv("KUBEWRIGHT_CRDS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "crds")
}

// TestEmbeddedUpToDate: the committed crds.json.gz is what `make crds`
// makes from the collection today (compared by the digest of the
// uncompressed set, so a different gzip does not matter).
func TestEmbeddedUpToDate(t *testing.T) {
	src := sourceDir()
	if _, err := os.Stat(src); err != nil {
		t.Skipf("no CRD collection at %s (%v): the embedded set is not compared with it; set KUBEWRIGHT_CRDS to check", src, err)
	}
	g, err := crdgen.Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := crds.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != g.Digest() {
		t.Fatalf("internal/crds/%s is out of date with %s (embedded sha256 %s, regenerated %s): run `make crds` and commit the file", crds.File, src, got, g.Digest())
	}
}

// TestCovers: every group the set is made of has CRDs, and every kind
// kubewright writes is served at the version it writes.
func TestCovers(t *testing.T) {
	set, err := crds.Load()
	if err != nil {
		t.Fatal(err)
	}
	byGK := map[schema.GroupKind]*apiextensionsv1.CustomResourceDefinition{}
	groups := map[string]bool{}
	for _, crd := range set {
		byGK[schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}] = crd
		groups[crd.Spec.Group] = true
		for _, v := range crd.Spec.Versions {
			if v.Served && (v.Schema == nil || v.Schema.OpenAPIV3Schema == nil) {
				t.Errorf("%s %s is served without a schema", crd.Name, v.Name)
			}
		}
	}
	for _, g := range crdgen.Groups() {
		if !groups[g] {
			t.Errorf("no CRD of group %s", g)
		}
	}
	kinds, err := crds.Kinds()
	if err != nil || len(kinds) != len(set) || len(byGK) != len(set) {
		t.Errorf("Kinds: %d kinds (%v), %d CRDs, %d distinct group/kinds", len(kinds), err, len(set), len(byGK))
	}
	written := [][2]string{ // apiVersion, kind
		{"source.toolkit.fluxcd.io/v1", "GitRepository"},
		{"source.toolkit.fluxcd.io/v1", "HelmRepository"},
		{"source.toolkit.fluxcd.io/v1", "OCIRepository"},
		{"kustomize.toolkit.fluxcd.io/v1", "Kustomization"},
		{"helm.toolkit.fluxcd.io/v2", "HelmRelease"},
		{"image.toolkit.fluxcd.io/v1", "ImageRepository"},
		{"image.toolkit.fluxcd.io/v1", "ImagePolicy"},
		{"image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation"},
		{"notification.toolkit.fluxcd.io/v1beta3", "Alert"},
		{"notification.toolkit.fluxcd.io/v1beta3", "Provider"},
		{"notification.toolkit.fluxcd.io/v1", "Receiver"},
		{"networking.istio.io/v1", "VirtualService"},
		{"networking.istio.io/v1", "Gateway"},
		{"networking.istio.io/v1", "DestinationRule"},
		{"security.istio.io/v1", "PeerAuthentication"},
		{"security.istio.io/v1", "AuthorizationPolicy"},
		{"postgresql.cnpg.io/v1", "Cluster"},
		{"k8s.mariadb.com/v1alpha1", "MariaDB"},
		{"k8s.mariadb.com/v1alpha1", "Database"},
		{"k8s.mariadb.com/v1alpha1", "User"},
		{"k8s.mariadb.com/v1alpha1", "Grant"},
		{"mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"},
		{"rabbitmq.com/v1beta1", "RabbitmqCluster"},
		{"external-secrets.io/v1", "ExternalSecret"},
		{"external-secrets.io/v1", "ClusterSecretStore"},
		{"external-secrets.io/v1", "SecretStore"},
		{"cert-manager.io/v1", "Certificate"},
		{"cert-manager.io/v1", "ClusterIssuer"},
		{"monitoring.coreos.com/v1", "ServiceMonitor"},
		{"monitoring.coreos.com/v1", "PodMonitor"},
		{"monitoring.coreos.com/v1", "PrometheusRule"},
		{"keda.sh/v1alpha1", "ScaledObject"},
	}
	for _, w := range written {
		gvk := schema.FromAPIVersionAndKind(w[0], w[1])
		crd, ok := byGK[gvk.GroupKind()]
		if !ok {
			t.Errorf("%s %s: no CRD", w[0], w[1])
			continue
		}
		if !slices.ContainsFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool { return v.Name == gvk.Version && v.Served }) {
			t.Errorf("%s %s: CRD %s does not serve %s", w[0], w[1], crd.Name, gvk.Version)
		}
	}
}

// TestLoadShared: the set is decoded once; each caller gets its own
// slice of the shared CRDs.
func TestLoadShared(t *testing.T) {
	a, err := crds.Load()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := crds.Load()
	if len(a) == 0 || len(a) != len(b) || a[0] != b[0] {
		t.Fatalf("two loads: %d and %d CRDs, first shared: %v", len(a), len(b), len(a) > 0 && a[0] == b[0])
	}
	first := a[0]
	a[0] = nil
	if c, _ := crds.Load(); c[0] != first {
		t.Error("changing a caller's slice changed the set")
	}
}

// TestExcept: a given CRD replaces the embedded one of its name, or of
// its group and kind under another name.
func TestExcept(t *testing.T) {
	all, err := crds.Load()
	if err != nil {
		t.Fatal(err)
	}
	named := func(name, group, kind string) *apiextensionsv1.CustomResourceDefinition {
		c := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
		c.Spec.Group, c.Spec.Names.Kind = group, kind
		return c
	}
	tests := []struct {
		name   string
		others []*apiextensionsv1.CustomResourceDefinition
		gone   []string
	}{
		{"none", nil, nil},
		{"same name", []*apiextensionsv1.CustomResourceDefinition{named("helmreleases.helm.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "HelmRelease")}, []string{"helmreleases.helm.toolkit.fluxcd.io"}},
		{"same kind, other name", []*apiextensionsv1.CustomResourceDefinition{named("hr.helm.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "HelmRelease")}, []string{"helmreleases.helm.toolkit.fluxcd.io"}},
		{"unrelated", []*apiextensionsv1.CustomResourceDefinition{named("widgets.example.com", "example.com", "Widget"), nil}, nil},
		{"two", []*apiextensionsv1.CustomResourceDefinition{named("clusters.postgresql.cnpg.io", "postgresql.cnpg.io", "Cluster"), named("x.keda.sh", "keda.sh", "ScaledObject")}, []string{"clusters.postgresql.cnpg.io", "scaledobjects.keda.sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := crds.Except(tt.others)
			if err != nil {
				t.Fatal(err)
			}
			var gone []string
			for _, c := range all {
				if !slices.Contains(got, c) {
					gone = append(gone, c.Name)
				}
			}
			if len(got) != len(all)-len(tt.gone) || !slices.Equal(gone, tt.gone) {
				t.Errorf("left out %v, want %v", gone, tt.gone)
			}
		})
	}
}

// TestEmbeddedInstall: every embedded CRD, descriptions dropped, installs
// on the throwaway kube-apiserver and becomes Established, as the dry-run
// installs them.
func TestEmbeddedInstall(t *testing.T) {
	assets, err := dryrun.FindAssets("")
	if err != nil {
		t.Fatalf("%v: run `make test`, which builds them into .cache/kube-assets", err)
	}
	eph := dryrun.NewEphemeral(assets)
	defer eph.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, err := eph.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	set, err := crds.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range set {
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd.DeepCopy(), metav1.CreateOptions{}); err != nil {
			t.Errorf("install %s: %v", crd.Name, err)
		}
	}
	for _, crd := range set {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
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
			t.Errorf("%s did not become Established: %v", crd.Name, err)
		}
	}
}

// BenchmarkDecode is the first Load of a process: gunzip and decode the
// whole set.
func BenchmarkDecode(b *testing.B) {
	z := crds.Compressed()
	b.SetBytes(int64(len(z)))
	for b.Loop() {
		if _, err := crds.Decode(z); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad is every later Load: the cached set, cloned.
func BenchmarkLoad(b *testing.B) {
	if _, err := crds.Load(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := crds.Load(); err != nil {
			b.Fatal(err)
		}
	}
}
