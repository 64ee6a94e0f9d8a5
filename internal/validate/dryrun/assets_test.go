package dryrun

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubewright/kubewright/internal/validate"
)

// assetDir makes a directory with the named files (mode 0755, or 0644
// for names ending in "-"), so each case of TestFindAssets has the
// binaries it needs.
func assetDir(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		mode := os.FileMode(0o755)
		if name, ok := strings.CutSuffix(f, "-"); ok {
			f, mode = name, 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFindAssets: --assets, then KUBEBUILDER_ASSETS, then where `make
// install` put them; a directory the user named must hold them (it is
// never passed over), and none found names `make install`.
func TestFindAssets(t *testing.T) {
	good := assetDir(t, "kube-apiserver", "etcd")
	installed := assetDir(t, "kube-apiserver", "etcd")
	noEtcd := assetDir(t, "kube-apiserver")
	notExec := assetDir(t, "kube-apiserver", "etcd-")
	tests := []struct {
		name                 string
		flag, env, installed string
		want                 string // the directory found
		err                  string // or the error
	}{
		{"flag", good, installed, installed, good, ""},
		{"env", "", good, installed, good, ""},
		{"installed", "", "", installed, installed, ""},
		{"flag without etcd", noEtcd, "", installed, "", noEtcd + " has no executable etcd (build them with `make testenv`)"},
		{"env not executable", "", notExec, installed, "", notExec + " has no executable etcd"},
		{"installed empty", "", "", noEtcd, "", "none in " + noEtcd + ", and neither --assets nor KUBEBUILDER_ASSETS is set: run `make install`"},
		{"no executable path", "", "", "", "", "none beside the kubewright binary, and neither --assets nor KUBEBUILDER_ASSETS is set: run `make install`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findAssets(tt.flag, tt.env, tt.installed)
			if tt.err != "" {
				if !errors.Is(err, ErrNoAssets) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want ErrNoAssets containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestInstalledAssetsDir: the directory is ../lib/kubewright/assets from
// the running binary's own directory, as the Makefile's install target
// lays it out.
func TestInstalledAssetsDir(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("no executable path here: %v", err)
	}
	exe, _ = filepath.EvalSymlinks(exe)
	want := filepath.Join(filepath.Dir(filepath.Dir(exe)), "lib", "kubewright", "assets")
	if got := InstalledAssetsDir(); got != want {
		t.Errorf("InstalledAssetsDir() = %s, want %s", got, want)
	}
}

// TestNeededCRDs: of the given CRDs only those of kinds in use are
// installed, the first of one name or group/kind wins (--crds and the
// repository's before the embedded ones), and kinds the tree's own CRD
// objects define are left to them.
func TestNeededCRDs(t *testing.T) {
	crd := func(name, group, kind string) *apiextensionsv1.CustomResourceDefinition {
		c := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
		c.Spec.Group, c.Spec.Names.Kind = group, kind
		return c
	}
	obj := func(apiVersion, kind string) validate.Object {
		return validate.Object{U: &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": "x"}}}}
	}
	treeCRD := validate.Object{U: &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": map[string]any{"name": "mine.example.com"},
		"spec": map[string]any{"group": "example.com", "names": map[string]any{"kind": "Widget"}}}}}
	given := crd("helmreleases.helm.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "HelmRelease")
	otherName := crd("hr.helm.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "HelmRelease")
	in := &validate.Input{CRDs: []*apiextensionsv1.CustomResourceDefinition{
		given,
		crd("widgets.example.com", "example.com", "Widget"), // the tree defines Widget under another name
		crd("unused.example.com", "example.com", "Unused"),
		otherName,
		crd("helmreleases.helm.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "HelmRelease"), // embedded, same name
		crd("kustomizations.kustomize.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "Kustomization"),
	}}
	objs := []validate.Object{obj("helm.toolkit.fluxcd.io/v2", "HelmRelease"), obj("example.com/v1", "Widget"), obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization")}
	got := neededCRDs(in, []validate.Object{treeCRD}, objs)
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
	}
	if len(got) != 2 || got[0] != given || names[1] != "kustomizations.kustomize.toolkit.fluxcd.io" {
		t.Errorf("needed %v, want the given HelmRelease CRD and the Kustomization CRD", names)
	}
}

// TestEphemeralUsesItsAssets: the server starts from the directory it was
// given, whatever KUBEBUILDER_ASSETS and envtest's TEST_ASSET_* say (envtest
// alone would prefer them, and take an empty KUBEBUILDER_ASSETS for $PATH).
func TestEphemeralUsesItsAssets(t *testing.T) {
	assets, err := FindAssets("")
	if err != nil {
		t.Fatalf("%v: run `make test`, which builds them into .cache/kube-assets", err)
	}
	for name, env := range map[string]map[string]string{
		"empty variable":  {AssetsEnv: ""},
		"other directory": {AssetsEnv: t.TempDir(), "TEST_ASSET_ETCD": filepath.Join(t.TempDir(), "etcd"), "TEST_ASSET_KUBE_APISERVER": "/nonexistent"},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range env {
				t.Setenv(k, v)
			}
			e := NewEphemeral(assets)
			defer e.Stop()
			if _, err := e.Config(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
