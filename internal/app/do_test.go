package app

import (
	"context"
	"strings"
	"testing"
)

// TestDoSettings: the environment is read through Getenv only, and a
// missing or malformed setting is a *SettingError naming it, before any
// model call or validation.
func TestDoSettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	tests := []struct {
		name string
		s    DoSettings
		want string // part of the error
	}{
		{"no model", DoSettings{Intent: "x", Root: t.TempDir(), Getenv: env(nil)}, "KUBEWRIGHT_LLM_MODEL"},
		{"go proxy from the environment", DoSettings{Intent: "x", Root: t.TempDir(), NoDryRun: true,
			Getenv: env(map[string]string{"KUBEWRIGHT_LLM_MODEL": "m", "KUBEWRIGHT_LLM_BASE_URL": "http://127.0.0.1:1/v1", "KUBEWRIGHT_GOPROXY": "direct"})}, "--go-proxy"},
		{"CRDs from the environment", DoSettings{Intent: "x", Root: t.TempDir(), NoDryRun: true,
			Getenv: env(map[string]string{"KUBEWRIGHT_LLM_MODEL": "m", "KUBEWRIGHT_LLM_BASE_URL": "http://127.0.0.1:1/v1", "KUBEWRIGHT_CRDS": "/nonexistent/crds"})}, "--crds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Do(context.Background(), tt.s)
			if !IsSettingError(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a setting error naming %s", err, tt.want)
			}
		})
	}
}
