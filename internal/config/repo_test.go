package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRepo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(*testing.T, *Repo)
	}{
		{name: "empty", in: ""},
		{name: "full", in: "containerize:\n  env: staging\n  registry: ghcr.io/acme\n  services: [a, b]\n  only: [k8s]\nallowWorkflows: true\n",
			check: func(t *testing.T, r *Repo) {
				if r.Containerize.Env != "staging" || r.Containerize.Registry != "ghcr.io/acme" || len(r.Containerize.Services) != 2 || !r.AllowWorkflows {
					t.Errorf("parsed %+v", r)
				}
			}},
		{name: "unknown key", in: "containerize:\n  regsitry: x\n", wantErr: `unknown field "regsitry"`},
		{name: "bad yaml", in: "containerize:\n  env: [\n", wantErr: ".github/kubewright.yaml:"},
		{name: "bad only", in: "containerize:\n  only: [helm]\n", wantErr: `"helm"`},
		{name: "wrong type", in: "containerize:\n  services: web\n", wantErr: "kubewright.yaml"},
		{name: "agents", in: "agents:\n  maxAttempts: 5\n  paths: [libs/shared]\n  servicesDir: services\n  tokensPerJob: 50000\n",
			check: func(t *testing.T, r *Repo) {
				if r.Agents.Attempts() != 5 || r.Agents.Paths[0] != "libs/shared" || r.Agents.ServicesDir != "services" || r.Agents.TokensPerJob != 50000 {
					t.Errorf("parsed %+v", r.Agents)
				}
			}},
		{name: "agents default attempts", in: "agents: {}\n", check: func(t *testing.T, r *Repo) {
			if r.Agents.Attempts() != DefaultMaxAttempts {
				t.Errorf("attempts %d", r.Agents.Attempts())
			}
		}},
		{name: "agents too many attempts", in: "agents:\n  maxAttempts: 50\n", wantErr: "agents.maxAttempts is 50 (use 1 to 10"},
		{name: "agents negative budget", in: "agents:\n  tokensPerJob: -1\n", wantErr: "agents.tokensPerJob"},
		{name: "agents path escapes", in: "agents:\n  paths: [../other]\n", wantErr: `"../other" must be a clean path`},
		{name: "agents absolute path", in: "agents:\n  paths: [/etc]\n", wantErr: "relative"},
		{name: "agents workflows path", in: "agents:\n  paths: [.github/workflows]\n", wantErr: "allowWorkflows"},
		{name: "agents misspelt", in: "agents:\n  maxAttempt: 2\n", wantErr: "agents.{maxAttempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRepo(RepoConfigPath, []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestLoadRepoMissing(t *testing.T) {
	r, err := LoadRepo(t.TempDir())
	if err != nil || r == nil {
		t.Fatalf("missing file: %v %v", r, err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".github"), 0o755)
	os.WriteFile(filepath.Join(dir, RepoConfigPath), []byte("containerize: {env: dev}\n"), 0o644)
	r, err = LoadRepo(dir)
	if err != nil || r.Containerize.Env != "dev" {
		t.Fatalf("load: %+v %v", r, err)
	}
}

func FuzzParseRepo(f *testing.F) {
	f.Add([]byte("containerize:\n  env: staging\n"))
	f.Add([]byte("allowWorkflows: true\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRepo("x.yaml", data)
		if err == nil && r == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "x.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
