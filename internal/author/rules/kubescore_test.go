package rules

import (
	"context"
	"testing"

	"github.com/kubewright/kubewright/internal/author/rules/kubescore"
)

// TestKubeScoreNoCritical runs kube-score over the k8s/ and gitops/ trees
// generated for every fixture repository and fails on any CRITICAL
// finding. It needs the kube-score binary `make test` installs; without it
// the test fails (never skips) and says so.
func TestKubeScoreNoCritical(t *testing.T) {
	bin, err := kubescore.Binary(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, fx := range fixtureNames(t) {
		t.Run(fx, func(t *testing.T) {
			_, d := draftFor(t, fx, fixtureOptions)
			files := map[string][]byte{}
			for _, f := range d.Files {
				files[f.Path] = f.Content
			}
			findings, err := kubescore.Score(context.Background(), bin, files)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range findings {
				if f.OperatorPods {
					t.Logf("kube-score cannot see operator-created pods: %s", f)
					continue
				}
				t.Errorf("kube-score CRITICAL: %s", f)
			}
		})
	}
}

// TestKubeScoreCatches holds the harness to the findings it must report:
// manifests with known mistakes give exactly those CRITICALs, and a policy
// that selects nothing is not excused as operator pods.
func TestKubeScoreCatches(t *testing.T) {
	bin, err := kubescore.Binary(".")
	if err != nil {
		t.Fatal(err)
	}
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app.kubernetes.io/name: web}}
  template:
    metadata: {labels: {app.kubernetes.io/name: web}}
    spec:
      securityContext: {runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true}
      containers:
      - name: web
        image: ghcr.io/acme/web:1.0.0
        imagePullPolicy: IfNotPresent
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
        resources:
          requests: {cpu: 10m, memory: 16Mi, ephemeral-storage: 16Mi}
          limits: {cpu: 100m, memory: 64Mi, ephemeral-storage: 64Mi}
`
	const policies = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: web}}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: rabbitmq, namespace: shop}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: rabbitmq}}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: typo, namespace: shop}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: wbe}}
  policyTypes: [Ingress]
---
apiVersion: rabbitmq.com/v1beta1
kind: RabbitmqCluster
metadata: {name: rabbitmq, namespace: shop}
spec: {replicas: 1}
`
	got, err := kubescore.Score(context.Background(), bin, map[string][]byte{
		"k8s/web/deployment.yaml":    []byte(deployment),
		"k8s/web/policies.yaml":      []byte(policies),
		"k8s/web/kustomization.yaml": []byte("resources: [deployment.yaml]\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"Deployment shop/web container-image-pull-policy false":              true,
		"Deployment shop/web container-security-context-user-group-id false": true,
		"Deployment shop/web deployment-has-poddisruptionbudget false":       true,
		"NetworkPolicy shop/rabbitmq networkpolicy-targets-pod true":         true,
		"NetworkPolicy shop/typo networkpolicy-targets-pod false":            true,
	}
	seen := map[string]bool{}
	for _, f := range got {
		key := f.Object + " " + f.Check + " " + map[bool]string{true: "true", false: "false"}[f.OperatorPods]
		if !want[key] {
			t.Errorf("unexpected finding %s", f)
		}
		seen[key] = true
		if f.File != "k8s/web/deployment.yaml" && f.File != "k8s/web/policies.yaml" {
			t.Errorf("finding names file %q", f.File)
		}
	}
	for k, w := range want {
		if w && !seen[k] {
			t.Errorf("missing finding %s", k)
		}
	}
}
