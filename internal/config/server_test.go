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

func TestServerMetricsListen(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(key, []byte("x"), 0o600)
	tests := []struct {
		name   string
		env    map[string]string
		want   string // MetricsListen
		errHas string // "" when Check passes
	}{
		{name: "default: /metrics on the webhook listener", want: ""},
		{name: "own address", env: map[string]string{"KUBEWRIGHT_METRICS_LISTEN": "127.0.0.1:9090"}, want: "127.0.0.1:9090"},
		{name: "port only", env: map[string]string{"KUBEWRIGHT_METRICS_LISTEN": ":9090"}, want: ":9090"},
		{name: "no port", env: map[string]string{"KUBEWRIGHT_METRICS_LISTEN": "9090"}, want: "9090", errHas: "KUBEWRIGHT_METRICS_LISTEN \"9090\": want host:port"},
		{name: "the webhook's own address", env: map[string]string{"KUBEWRIGHT_METRICS_LISTEN": ":8080"}, want: ":8080", errHas: "is the webhook's address"},
		{name: "both on a free port", env: map[string]string{"KUBEWRIGHT_LISTEN": ":0", "KUBEWRIGHT_METRICS_LISTEN": ":0"}, want: ":0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"KUBEWRIGHT_APP_ID": "42", "KUBEWRIGHT_PRIVATE_KEY_FILE": key, "KUBEWRIGHT_WEBHOOK_SECRET": "0123456789abcdef"}
			for k, v := range tc.env {
				env[k] = v
			}
			s, err := ServerDefaults(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if s.MetricsListen != tc.want {
				t.Errorf("MetricsListen = %q, want %q", s.MetricsListen, tc.want)
			}
			err = s.Check()
			switch {
			case tc.errHas == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("Check = %v, want it to say %q", err, tc.errHas)
			}
		})
	}
}
