package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

const testCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.acme.example.com
spec:
  group: acme.example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object}
`

// TestLoadCRDsOperatorPaths: operator directories load as before; a path
// that is a device fails at once with a message instead of reading
// forever.
func TestLoadCRDsOperatorPaths(t *testing.T) {
	crds, err := LoadCRDs(validatetest.CRDDir(t))
	if err != nil || len(crds) < 10 {
		t.Fatalf("LoadCRDs(shared CRDs) = %d CRDs, %v", len(crds), err)
	}
	start := time.Now()
	if _, err := LoadCRDs("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadCRDs(/dev/zero) = %v, want a refusal", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("LoadCRDs(/dev/zero) took %s", d)
	}
}

// TestLoadRepoCRDs: paths from a repository's configuration go through
// yamlsafe; what cannot be read is a finding, the rest loads.
func TestLoadRepoCRDs(t *testing.T) {
	outside := t.TempDir()
	validatetest.WriteTree(t, outside, map[string]string{"crd.yaml": testCRD})
	dir := t.TempDir()
	validatetest.WriteTree(t, dir, map[string]string{
		"crds/widget.yaml":    testCRD,
		"crds/.hidden/x.yaml": "not: [valid",
		"crds/README.md":      "# CRDs\n",
		"bomb/crd.yaml":       validatetest.AliasBomb,
		"one.yaml":            testCRD,
	})
	if err := os.Symlink(filepath.Join(outside, "crd.yaml"), filepath.Join(dir, "out.yaml")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		paths    []string
		wantCRDs int
		wantFile string // of the one finding, "" for none
	}{
		{name: "directory", paths: []string{"crds"}, wantCRDs: 1},
		{name: "file", paths: []string{"one.yaml"}, wantCRDs: 1},
		{name: "device by ..", paths: []string{"../../../../dev/zero", "one.yaml"}, wantCRDs: 1, wantFile: ".github/kubewright.yaml"},
		{name: "absolute", paths: []string{"/etc"}, wantFile: ".github/kubewright.yaml"},
		{name: "symlink out", paths: []string{"out.yaml"}, wantFile: ".github/kubewright.yaml"},
		{name: "missing", paths: []string{"nope"}, wantFile: ".github/kubewright.yaml"},
		{name: "anchor bomb", paths: []string{"bomb"}, wantFile: "bomb/crd.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crds, fs := LoadRepoCRDs(dir, tt.paths...)
			if len(crds) != tt.wantCRDs {
				t.Errorf("%d CRDs, want %d", len(crds), tt.wantCRDs)
			}
			switch {
			case tt.wantFile == "" && len(fs) != 0:
				t.Errorf("findings %v, want none", fs)
			case tt.wantFile != "" && (len(fs) != 1 || fs[0].ID != "KW-DISCOVER-005" || fs[0].File != tt.wantFile || fs[0].Hint == ""):
				t.Errorf("findings %v, want one KW-DISCOVER-005 on %s", fs, tt.wantFile)
			}
		})
	}
}

// BenchmarkLoadCRDsShared loads the operator CRD collection (5.4 MB): the
// cost of the yamlsafe check shows here.
func BenchmarkLoadCRDsShared(b *testing.B) {
	dir := validatetest.CRDDir(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadCRDs(dir); err != nil {
			b.Fatal(err)
		}
	}
}
