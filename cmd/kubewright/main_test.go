package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// copyFixture copies a fixture repository into a temporary directory.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-R", filepath.Join("..", "..", "testdata", "repos", name), dst).CombinedOutput(); err != nil {
		t.Fatalf("copy fixture: %v: %s", err, out)
	}
	return dst
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	dir := copyFixture(t, "node-redis")
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"version", []string{"version"}, exitOK, "kubewright", ""},
		{"analyze text", []string{"analyze", dir}, exitOK, "visit-counter", ""},
		{"unknown flag", []string{"analyze", "--nope", dir}, exitUsage, "", "unknown flag"},
		{"missing path", []string{"analyze", filepath.Join(dir, "missing")}, exitUsage, "", "repository path"},
		{"bad format", []string{"analyze", "--format", "yaml", dir}, exitUsage, "", "use text or json"},
		{"bad only", []string{"containerize", "--only", "helm", dir}, exitUsage, "", "use dockerfile, k8s or gitops"},
		{"unknown service", []string{"containerize", "--services", "nope", dir}, exitFail, "", `unknown service "nope"`},
		{"too many args", []string{"analyze", dir, dir}, exitUsage, "", "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					code, out, errOut, tt.code, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func TestContainerizeFlow(t *testing.T) {
	dir := copyFixture(t, "node-redis")

	// --dry-run prints a diff and writes nothing.
	code, out, errOut := runCLI("containerize", "--dry-run", dir)
	if code != exitOK {
		t.Fatalf("dry run exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "+++ b/Dockerfile") || !strings.Contains(out, "dry run: nothing written") {
		t.Errorf("dry run output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err == nil {
		t.Fatal("dry run wrote a Dockerfile")
	}

	// A real run writes; JSON plan lists the files.
	code, out, errOut = runCLI("containerize", "--format", "json", "--registry", "ghcr.io/acme", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var plan struct {
		Services []struct{ Name string }
		Files    []struct{ Path, Action string }
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("plan is not JSON: %v\n%s", err, out)
	}
	if len(plan.Services) != 1 || plan.Services[0].Name != "visit-counter" || len(plan.Files) == 0 {
		t.Fatalf("plan: %+v", plan)
	}
	for _, f := range plan.Files {
		if f.Action != "create" {
			t.Errorf("%s: %s, want create", f.Path, f.Action)
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path))); err != nil {
			t.Errorf("%s not written: %v", f.Path, err)
		}
	}

	// A hand edit of a generated file is kept on the next run, and the run
	// is otherwise a no-op.
	df := filepath.Join(dir, "Dockerfile")
	generated, _ := os.ReadFile(df)
	edited := string(generated) + "LABEL team=visits\n"
	if err := os.WriteFile(df, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI("containerize", "--registry", "ghcr.io/acme", dir)
	if code != exitOK || !strings.Contains(out, "keep   Dockerfile") || !strings.Contains(out, "0 created, 0 updated, 1 kept") {
		t.Errorf("second run:\n%s", out)
	}
	if b, _ := os.ReadFile(df); string(b) != edited {
		t.Error("hand-edited Dockerfile overwritten")
	}

	// --force overwrites it.
	code, out, _ = runCLI("containerize", "--force", "--registry", "ghcr.io/acme", dir)
	if code != exitOK || !strings.Contains(out, "update Dockerfile") {
		t.Errorf("forced run:\n%s", out)
	}

	// A hand-written Dockerfile (no kubewright header) is respected even
	// with --force, and the plan says so.
	if err := os.WriteFile(df, []byte("FROM node:20-bookworm-slim\nUSER 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI("containerize", "--force", "--registry", "ghcr.io/acme", dir)
	if code != exitOK || strings.Contains(out, "update Dockerfile") || strings.Contains(out, "same   Dockerfile") || !strings.Contains(out, "visit-counter keeps its existing Dockerfile") {
		t.Errorf("hand-written Dockerfile run:\n%s", out)
	}
	if b, _ := os.ReadFile(df); string(b) != "FROM node:20-bookworm-slim\nUSER 1000\n" {
		t.Error("hand-written Dockerfile overwritten")
	}
}

func TestContainerizeOnlyAndConfig(t *testing.T) {
	dir := copyFixture(t, "python-fastapi")
	os.MkdirAll(filepath.Join(dir, ".github"), 0o755)
	cfg := "containerize:\n  registry: registry.example.com/notes\n  only: [dockerfile, k8s]\n"
	if err := os.WriteFile(filepath.Join(dir, ".github", "kubewright.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("containerize", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "create gitops/") {
		t.Errorf("config only: [dockerfile, k8s] still wrote gitops/:\n%s", out)
	}
	dep, err := os.ReadFile(filepath.Join(dir, "k8s", "notes-api", "deployment.yaml"))
	if err != nil || !strings.Contains(string(dep), "image: registry.example.com/notes/notes-api:") {
		t.Errorf("registry from config not used: %v\n%s", err, dep)
	}
	// A flag overrides the config.
	code, out, _ = runCLI("containerize", "--only", "gitops", dir)
	if code != exitOK || !strings.Contains(out, "gitops/apps/base/notes-api/deployment.yaml") {
		t.Errorf("--only gitops:\n%s", out)
	}

	// A malformed config is a clear error naming the file.
	os.WriteFile(filepath.Join(dir, ".github", "kubewright.yaml"), []byte("containerize:\n  regsitry: x\n"), 0o644)
	code, _, errOut = runCLI("containerize", dir)
	if code != exitFail || !strings.Contains(errOut, ".github/kubewright.yaml") || !strings.Contains(errOut, "regsitry") {
		t.Errorf("bad config: exit %d, %s", code, errOut)
	}
}
