package app

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// helmRelease has a misspelt field (spec.timout) that the embedded
// HelmRelease schema reports, and a Widget no embedded CRD defines.
const helmRelease = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: apps
spec:
  interval: 5m
  timout: 1m
  chart:
    spec:
      chart: podinfo
      sourceRef:
        kind: HelmRepository
        name: podinfo
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: apps
`

// looseHelmReleaseCRD is a HelmRelease CRD (the embedded one's name)
// whose spec keeps any field: with it, spec.timout is no error.
const looseHelmReleaseCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: helmreleases.helm.toolkit.fluxcd.io
spec:
  group: helm.toolkit.fluxcd.io
  names: {kind: HelmRelease, plural: helmreleases, listKind: HelmReleaseList, singular: helmrelease}
  scope: Namespaced
  versions:
  - name: v2
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// TestEmbeddedCRDs: with no --crds, custom resources are checked against
// the CRDs kubewright carries; a CRD given with --crds, or listed in the
// repository's validate.crds, replaces the embedded one; kinds none of
// them defines still get KW-SCHEMA-010.
func TestEmbeddedCRDs(t *testing.T) {
	write := func(t *testing.T, dir, rel, body string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tree := func(t *testing.T, repoCRDs bool) string {
		dir := t.TempDir()
		write(t, dir, "k8s/release.yaml", helmRelease)
		if repoCRDs {
			write(t, dir, "crds/helmrelease.yaml", looseHelmReleaseCRD)
			write(t, dir, ".github/kubewright.yaml", "validate:\n  crds: [crds]\n")
		}
		return dir
	}
	flagDir := t.TempDir()
	write(t, flagDir, "helmrelease.yaml", looseHelmReleaseCRD)
	tests := []struct {
		name     string
		crds     []string
		repoCRDs bool
		want     []string // rule IDs, sorted
	}{
		{"embedded", nil, false, []string{"KW-SCHEMA-010", "KW-SCHEMA-013"}},
		{"--crds replaces", []string{flagDir}, false, []string{"KW-SCHEMA-010"}},
		{"validate.crds replaces", nil, true, []string{"KW-SCHEMA-010"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewValidation(context.Background(), ValidationSettings{CRDs: tt.crds, NoDryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			rep, err := v.ValidateTree(context.Background(), tree(t, tt.repoCRDs))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, f := range rep.Findings {
				if f.Stage == "schema" || f.Stage == "discover" {
					ids = append(ids, f.ID)
					if f.ID == "KW-SCHEMA-010" && !strings.Contains(f.Message, "example.com/Widget") {
						t.Errorf("KW-SCHEMA-010 for a carried kind: %s", f)
					}
				}
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tt.want) {
				t.Errorf("schema findings %v, want %v\n%v", ids, tt.want, rep.Findings)
			}
		})
	}
}
