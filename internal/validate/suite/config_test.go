package suite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubewright/kubewright/internal/config"
)

// TestValidateGivenConfig: Options.Config replaces the directory's
// .github/kubewright.yaml, so a tree cannot switch off the rules it breaks
// when the caller brings the settings (a job: the default branch's).
func TestValidateGivenConfig(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"k8s/miner.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: miner
  namespace: default
spec:
  selector:
    matchLabels: {app: miner}
  template:
    metadata:
      labels: {app: miner}
    spec:
      containers:
        - name: miner
          image: ghcr.io/acme/miner:1.0.0
          securityContext:
            privileged: true
`,
		".github/kubewright.yaml": "validate:\n  rules:\n    KW-POL-003: \"off\"\n",
	}
	for p, content := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		cfg        *config.Repo
		privileged bool // KW-POL-003 reported
	}{
		{"the tree's own settings", nil, false},
		{"given empty settings", &config.Repo{}, true},
		{"given settings that allow it", &config.Repo{Validate: config.Validate{Rules: map[string]string{"KW-POL-003": "off"}}}, false},
		{"given settings that lower it", &config.Repo{Validate: config.Validate{Rules: map[string]string{"KW-POL-003": "warning"}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Validate(context.Background(), dir, Options{Config: tt.cfg})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range rep.Findings {
				found = found || f.ID == "KW-POL-003"
			}
			if found != tt.privileged {
				t.Errorf("KW-POL-003 reported = %v, want %v", found, tt.privileged)
			}
		})
	}
}
