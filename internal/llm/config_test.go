package llm_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

func TestAzure(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Proposal: sample()})
	cfg := llm.Config{
		APIType: llm.APITypeAzure,
		BaseURL: strings.TrimSuffix(srv.URL(), "/v1"),
		Model:   "gpt-4.1-deploy",
		APIKey:  "azure-key",
	}
	c, _ := newClient(t, cfg)
	if _, _, err := c.Propose(context.Background(), request()); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Path != "/openai/deployments/gpt-4.1-deploy/chat/completions" || r.Query != "api-version="+llm.DefaultAzureAPIVersion {
		t.Errorf("path %s?%s", r.Path, r.Query)
	}
	if r.Header.Get("Api-Key") != "azure-key" || r.Header.Get("Authorization") != "" {
		t.Errorf("api-key %q authorization %q", r.Header.Get("Api-Key"), r.Header.Get("Authorization"))
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"KUBEWRIGHT_LLM_BASE_URL":        " http://127.0.0.1:11434/v1 ",
		"KUBEWRIGHT_LLM_MODEL":           "qwen2.5-coder",
		"OPENAI_API_KEY":                 "fallback",
		"KUBEWRIGHT_LLM_RESPONSE_FORMAT": "JSON_Object",
		"KUBEWRIGHT_LLM_API_TYPE":        "openai",
		"KUBEWRIGHT_LLM_TIMEOUT":         "90s",
	}
	cfg := llm.ConfigFromEnv(func(k string) string { return env[k] })
	want := llm.Config{BaseURL: "http://127.0.0.1:11434/v1", Model: "qwen2.5-coder", APIKey: "fallback",
		ResponseFormat: "json_object", APIType: "openai", Timeout: 90 * time.Second}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ConfigFromEnv = %v, want %v", cfg, want)
	}
	if err := cfg.Check(); err != nil || !cfg.Enabled() {
		t.Errorf("Check = %v, Enabled = %v", err, cfg.Enabled())
	}
	env["KUBEWRIGHT_LLM_API_KEY"] = "primary"
	if got := llm.ConfigFromEnv(func(k string) string { return env[k] }).APIKey; got != "primary" {
		t.Errorf("APIKey = %q, want KUBEWRIGHT_LLM_API_KEY first", got)
	}
	if (llm.Config{}).Enabled() {
		t.Error("empty config is enabled")
	}
}

func TestConfigCheck(t *testing.T) {
	ok := llm.Config{Model: "gpt-4.1", APIKey: "k"}
	tests := []struct {
		name string
		env  map[string]string
		cfg  *llm.Config
		want []string
	}{
		{name: "ok", cfg: &ok},
		{name: "local server needs no key", cfg: &llm.Config{Model: "m", BaseURL: "http://127.0.0.1:8000/v1"}},
		{name: "no model", cfg: &llm.Config{APIKey: "k"}, want: []string{"set KUBEWRIGHT_LLM_MODEL"}},
		{name: "no key for OpenAI", cfg: &llm.Config{Model: "m"}, want: []string{"set KUBEWRIGHT_LLM_API_KEY (or OPENAI_API_KEY)"}},
		{name: "ftp URL", cfg: &llm.Config{Model: "m", BaseURL: "ftp://x/v1"}, want: []string{"KUBEWRIGHT_LLM_BASE_URL \"ftp://x/v1\" is not an http(s) URL"}},
		{name: "URL credentials not shown", cfg: &llm.Config{Model: "m", BaseURL: "gopher://u:secretpw@h/"}, want: []string{"xxxxx"}},
		{name: "bad format", cfg: &llm.Config{Model: "m", APIKey: "k", ResponseFormat: "yaml"}, want: []string{"set KUBEWRIGHT_LLM_RESPONSE_FORMAT to auto, json_schema, json_object or none"}},
		{name: "bad API type", cfg: &llm.Config{Model: "m", APIKey: "k", APIType: "bedrock"}, want: []string{"set KUBEWRIGHT_LLM_API_TYPE to openai or azure"}},
		{name: "Azure without endpoint", cfg: &llm.Config{Model: "m", APIKey: "k", APIType: "azure"}, want: []string{"set KUBEWRIGHT_LLM_BASE_URL to https://RESOURCE.openai.azure.com"}},
		{name: "bad timeout", env: map[string]string{"KUBEWRIGHT_LLM_MODEL": "m", "KUBEWRIGHT_LLM_API_KEY": "k", "KUBEWRIGHT_LLM_TIMEOUT": "soon"},
			want: []string{`KUBEWRIGHT_LLM_TIMEOUT "soon" is not a positive duration`}},
		{name: "all at once", env: map[string]string{"KUBEWRIGHT_LLM_TIMEOUT": "-1s", "KUBEWRIGHT_LLM_RESPONSE_FORMAT": "x"},
			want: []string{"KUBEWRIGHT_LLM_MODEL", "KUBEWRIGHT_LLM_TIMEOUT", "KUBEWRIGHT_LLM_RESPONSE_FORMAT", "KUBEWRIGHT_LLM_API_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg llm.Config
			if tt.cfg != nil {
				cfg = *tt.cfg
			} else {
				cfg = llm.ConfigFromEnv(func(k string) string { return tt.env[k] })
			}
			err := cfg.Check()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				if _, err := llm.New(cfg); err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check = nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check = %v, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("Check shows URL credentials: %v", err)
			}
			if _, nerr := llm.New(cfg); nerr == nil {
				t.Error("New accepted what Check rejects")
			}
		})
	}
}
