package build

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A kustomize Component is no root of its own: kustomize cannot build it
// alone (its generator merges into the including kustomization's
// ConfigMap), so it is built, and checked, inside each overlay that lists
// it, and loading the repository reports nothing about it.
func TestLoadComponent(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"deploy/base/kustomization.yaml": kustHead + "resources: [configmap.yaml]\n",
		"deploy/base/configmap.yaml":     configMap,
		"deploy/components/debug/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n" +
			"configMapGenerator:\n  - name: web-config\n    namespace: shop\n    behavior: merge\n    literals: [LOG_LEVEL=debug]\n" +
			"generatorOptions:\n  disableNameSuffixHash: true\n",
		"deploy/overlays/dev/kustomization.yaml": kustHead + "resources: [../../base]\ncomponents: [../../components/debug]\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in, fs, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Errorf("finding: %s", f)
	}
	var roots []string
	for _, r := range in.Roots {
		roots = append(roots, r.Dir)
	}
	if len(roots) != 2 || roots[0] != "deploy/base" || roots[1] != "deploy/overlays/dev" {
		t.Errorf("roots %v, want the base and the overlay, not the component", roots)
	}
	objs := in.RootObjects["deploy/overlays/dev"]
	if len(objs) != 1 || objs[0].U.Object["data"].(map[string]any)["LOG_LEVEL"] != "debug" {
		t.Errorf("the overlay's objects %v lack the component's merge", objs)
	}
}
