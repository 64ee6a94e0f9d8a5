package diagnose

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kubewright/kubewright/internal/validate/build"
)

// writeRepo writes files into a new repository directory.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const fluxApps = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 5m
  path: ./k8s/web
  prune: true
  targetNamespace: storefront
  sourceRef:
    kind: GitRepository
    name: flux-system
`

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-frontend
  labels:
    app.kubernetes.io/name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.0.0
`

func TestRepoNamespaces(t *testing.T) {
	for _, tt := range []struct {
		name    string
		repo    string
		service string
		want    []string
	}{
		{"namespace in the manifest", filepath.Join("testdata", "crashloop", "repo"), "orders", []string{"shop"}},
		{"namespace of the kustomization", filepath.Join("testdata", "readiness", "repo"), "user-service", []string{"shop"}},
		{"not in the repository", filepath.Join("testdata", "crashloop", "repo"), "payments", []string{}},
		{"no service", filepath.Join("testdata", "crashloop", "repo"), "", nil},
		{"Flux targetNamespace, by label", writeRepo(t, map[string]string{
			"gitops/apps.yaml":             fluxApps,
			"k8s/web/kustomization.yaml":   "resources: [deployment.yaml]\n",
			"k8s/web/deployment.yaml":      webDeployment,
			"k8s/other/kustomization.yaml": "namespace: staging\nresources: [deployment.yaml]\n",
			"k8s/other/deployment.yaml":    webDeployment,
		}), "web", []string{"staging", "storefront"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in, _, err := build.Load(context.Background(), tt.repo)
			if err != nil {
				t.Fatal(err)
			}
			got := RepoNamespaces(in, tt.service)
			if !slices.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Errorf("RepoNamespaces(%s) = %q, want %q", tt.service, got, tt.want)
			}
		})
	}
}
