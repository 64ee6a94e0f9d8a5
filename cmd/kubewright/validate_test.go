package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func crdsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBEWRIGHT_CRDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "crds")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("CRDs: %v (set KUBEWRIGHT_CRDS)", err)
	}
	return dir
}

func invalidCase(name string) string { return filepath.Join("..", "..", "testdata", "invalid", name) }

func TestValidateCLI(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd")
	}
	crds := crdsDir(t)
	clean := copyFixture(t, "node-redis")
	if code, _, errOut := runCLI("containerize", clean); code != exitOK {
		t.Fatalf("containerize: %s", errOut)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"clean ephemeral", []string{"validate", "--crds", crds, clean}, exitOK, "0 errors, 0 warnings", "dryrun     pass"},
		{"finding fails", []string{"validate", "--no-dry-run", "--crds", crds, invalidCase("policy-plaintext-password")}, exitFail, "KW-POL-020", "1 findings at or above error"},
		{"dry-run finds the port", []string{"validate", "--crds", crds, invalidCase("schema-port-out-of-range")}, exitFail, "k8s/deployment.yaml\n  26: error KW-DRYRUN-001", ""},
		{"warning gate", []string{"validate", "--no-dry-run", "--fail-on", "warning", "--crds", crds, clean}, exitOK, "", ""},
		{"bad format", []string{"validate", "--format", "xml", clean}, exitUsage, "", "use text, json or sarif"},
		{"bad fail-on", []string{"validate", "--fail-on", "info", clean}, exitUsage, "", "use error or warning"},
		{"both modes", []string{"validate", "--ephemeral", "--kubeconfig", "x", clean}, exitUsage, "", "exclude each other"},
		{"missing kubeconfig", []string{"validate", "--kubeconfig", filepath.Join(t.TempDir(), "nope"), clean}, exitUsage, "", "kubeconfig"},
		{"no assets", []string{"validate", "--ephemeral", "--assets", t.TempDir(), clean}, exitUsage, "", "make testenv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d, stdout containing %q, stderr containing %q", code, out, errOut, tt.code, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func TestValidateFormats(t *testing.T) {
	crds := crdsDir(t)
	dir := invalidCase("flux-path-missing")
	code, out, _ := runCLI("validate", "--no-dry-run", "--format", "json", "--crds", crds, dir)
	var fs []struct {
		ID, File string
		Line     int
	}
	if code != exitFail || json.Unmarshal([]byte(out), &fs) != nil || len(fs) != 1 || fs[0].ID != "KW-FLUX-001" || fs[0].File != "apps.yaml" || fs[0].Line != 8 {
		t.Errorf("json: exit %d %s", code, out)
	}
	code, out, _ = runCLI("validate", "--no-dry-run", "--format", "sarif", "--crds", crds, dir)
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	if code != exitFail || json.Unmarshal([]byte(out), &log) != nil || log.Version != "2.1.0" || len(log.Runs[0].Results) != 1 || log.Runs[0].Results[0].RuleID != "KW-FLUX-001" {
		t.Errorf("sarif: exit %d %s", code, out)
	}
}
