package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerSettings(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(key, []byte("x"), 0o600)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	good := map[string]string{"KUBEWRIGHT_APP_ID": "42", "KUBEWRIGHT_PRIVATE_KEY_FILE": key, "KUBEWRIGHT_WEBHOOK_SECRET": "0123456789abcdef"}
	s, err := ServerDefaults(env(good))
	if err != nil || s.Check() != nil || s.Listen != ":8080" || s.Workers != 4 || s.AppID != 42 {
		t.Fatalf("good settings: %+v %v %v", s, err, s.Check())
	}
	if _, err := ServerDefaults(env(map[string]string{"KUBEWRIGHT_APP_ID": "forty-two"})); err == nil || !strings.Contains(err.Error(), "KUBEWRIGHT_APP_ID") {
		t.Errorf("malformed app id: %v", err)
	}
	s, _ = ServerDefaults(env(map[string]string{"KUBEWRIGHT_DATABASE_URL": "mysql://x"}))
	err = s.Check()
	for _, name := range []string{"KUBEWRIGHT_APP_ID", "KUBEWRIGHT_PRIVATE_KEY_FILE", "KUBEWRIGHT_WEBHOOK_SECRET", "KUBEWRIGHT_DATABASE_URL"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("missing %s not reported: %v", name, err)
		}
	}
}

func TestServerLLMSettings(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(key, []byte("x"), 0o600)
	base := map[string]string{"KUBEWRIGHT_APP_ID": "42", "KUBEWRIGHT_PRIVATE_KEY_FILE": key, "KUBEWRIGHT_WEBHOOK_SECRET": "0123456789abcdef"}
	with := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		}
	}
	s, err := ServerDefaults(with(map[string]string{"KUBEWRIGHT_LLM_MODEL": "gpt-x", "OPENAI_API_KEY": "from-openai", "KUBEWRIGHT_LLM_TOKENS_PER_JOB": "5000"}))
	if err != nil || s.Check() != nil || s.LLMAPIKey != "from-openai" || s.TokensPerJob != 5000 || s.TokensPerDay != 2000000 {
		t.Fatalf("%+v %v %v", s, err, s.Check())
	}
	s, _ = ServerDefaults(with(map[string]string{"KUBEWRIGHT_LLM_MODEL": "gpt-x", "OPENAI_API_KEY": "from-openai", "KUBEWRIGHT_LLM_API_KEY": "ours"}))
	if s.LLMAPIKey != "ours" {
		t.Errorf("KUBEWRIGHT_LLM_API_KEY must win over OPENAI_API_KEY, got %q", s.LLMAPIKey)
	}
	if _, err := ServerDefaults(with(map[string]string{"KUBEWRIGHT_LLM_TOKENS_PER_DAY": "lots"})); err == nil || !strings.Contains(err.Error(), "KUBEWRIGHT_LLM_TOKENS_PER_DAY") {
		t.Errorf("malformed budget: %v", err)
	}
	s, _ = ServerDefaults(with(map[string]string{"KUBEWRIGHT_LLM_MODEL": "gpt-x", "KUBEWRIGHT_LLM_BASE_URL": "ftp://x", "KUBEWRIGHT_LLM_TOKENS_PER_JOB": "0"}))
	err = s.Check()
	for _, name := range []string{"KUBEWRIGHT_LLM_BASE_URL", "KUBEWRIGHT_LLM_TOKENS_PER_JOB"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
}
