package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMistakes holds the messages for the first hour's mistakes to
// goldens under testdata/mistakes/: each names the problem and the fix,
// and never a Go type or an internal package.
func TestMistakes(t *testing.T) {
	crds, err := filepath.Abs(crdsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	withConfig := func(fixture, cfg string) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := t.TempDir()
			copyFixtureTo(t, fixture, dir+"/repo")
			os.MkdirAll(filepath.Join(dir, "repo", ".github"), 0o755)
			if err := os.WriteFile(filepath.Join(dir, "repo", ".github", "kubewright.yaml"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir + "/repo"
		}
	}
	invalid := func(name string) func(*testing.T) string {
		return func(t *testing.T) string {
			dir := t.TempDir() + "/repo"
			copyInvalid(t, name, dir)
			return dir
		}
	}
	empty := func(t *testing.T) string { return t.TempDir() }
	plain := func(fixture string) func(*testing.T) string {
		return func(t *testing.T) string {
			dir := t.TempDir() + "/repo"
			copyFixtureTo(t, fixture, dir)
			return dir
		}
	}
	tests := []struct {
		name  string
		setup func(*testing.T) string
		args  []string // DIR is the directory setup returned
	}{
		{"flag-typo", plain("node-redis"), []string{"containerize", "--regsitry", "ghcr.io/acme", "DIR"}},
		{"command-typo", empty, []string{"contanerize", "DIR"}},
		{"flag-bad-number", empty, []string{"do", "x", "DIR", "--max-tokens", "lots"}},
		{"config-key-typo", withConfig("node-redis", "containerize:\n  regsitry: ghcr.io/acme\n"), []string{"containerize", "DIR"}},
		{"config-list-as-string", withConfig("node-redis", "containerize:\n  only: dockerfile\n"), []string{"containerize", "DIR"}},
		{"rule-id-typo", withConfig("node-redis", "validate:\n  rules:\n    KW-POL-03: off\n"), []string{"validate", "--no-dry-run", "DIR"}},
		{"yaml-off", func(t *testing.T) string {
			dir := invalid("policy-plaintext-password")(t)
			os.MkdirAll(filepath.Join(dir, ".github"), 0o755)
			os.WriteFile(filepath.Join(dir, ".github", "kubewright.yaml"), []byte("validate:\n  rules:\n    KW-POL-020: off\n"), 0o644)
			return dir
		}, []string{"validate", "--no-dry-run", "--crds", crds, "DIR"}},
		{"require-unknown", withConfig("node-redis", "validate:\n  require: [dryrun]\n"), []string{"validate", "--no-dry-run", "DIR"}},
		{"assets-missing", invalid("schema-port-out-of-range"), []string{"validate", "--assets", "/no/such/dir", "DIR"}},
		{"dry-run-required", invalid("schema-port-out-of-range"), []string{"validate", "--require", "dry-run", "--assets", "", "DIR"}},
		{"dry-run-required-but-off", invalid("schema-port-out-of-range"), []string{"validate", "--require", "dry-run", "--no-dry-run", "DIR"}},
		{"containerize-empty", empty, []string{"containerize", "DIR"}},
		{"analyze-empty", empty, []string{"analyze", "DIR"}},
		{"validate-empty", empty, []string{"validate", "--no-dry-run", "DIR"}},
		{"validate-before-containerize", plain("node-redis"), []string{"validate", "--no-dry-run", "DIR"}},
		{"containerize-broken-only", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n\nrequires example.com/y v1.0.0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"containerize", "DIR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			if tt.name == "dry-run-required" {
				t.Setenv("KUBEBUILDER_ASSETS", "")
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "DIR", dir)
			}
			code, out, errOut := runCLI(append(args, "--quiet")...)
			got := fmt.Sprintf("$ kubewright %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tt.args, " "), code,
				out, errOut)
			got = strings.Join(normalize(strings.ReplaceAll(got, crds, "CRDS"), map[string]string{dir: "DIR"}), "\n") + "\n"
			for _, leak := range []string{"Go struct", "strconv.", "json: cannot", "author: ", "llm: ", "*errors.", "%!"} {
				if strings.Contains(got, leak) {
					t.Errorf("the message leaks %q:\n%s", leak, got)
				}
			}
			// YAML's off is the one that is not a mistake any more: the
			// rule is off and the run is clean.
			if code == exitOK != (tt.name == "yaml-off") {
				t.Errorf("exit %d:\n%s", code, got)
			}
			if tt.name == "containerize-empty" {
				if ents, _ := os.ReadDir(dir); len(ents) > 0 {
					t.Errorf("containerize wrote %d entries into an empty directory", len(ents))
				}
			}
			golden := filepath.Join("testdata", "mistakes", tt.name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}

func copyInvalid(t *testing.T, name, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(invalidCase(name))); err != nil {
		t.Fatal(err)
	}
}
