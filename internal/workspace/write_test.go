package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/author"
)

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		workflows bool // the repository allows workflows
		ok        bool
		reason    string // part of the refusal
	}{
		{name: "root Dockerfile", path: "Dockerfile", ok: true},
		{name: "service Dockerfile", path: "svc/Dockerfile", ok: true},
		{name: "nested Dockerfile", path: "cmd/api/Dockerfile", ok: true},
		{name: "dockerignore", path: "svc/.dockerignore", ok: true},
		{name: "k8s", path: "k8s/svc/deployment.yaml", ok: true},
		{name: "gitops", path: "gitops/apps/base/svc/kustomization.yaml", ok: true},
		{name: "empty", path: "", reason: "relative"},
		{name: "absolute", path: "/etc/passwd", reason: "relative"},
		{name: "escape", path: "../outside/Dockerfile", reason: "not a clean path"},
		{name: "escape after clean", path: "k8s/../../x", reason: "not a clean path"},
		{name: "double slash", path: "k8s//x.yaml", reason: "not a clean path"},
		{name: "backslash", path: `k8s\x.yaml`, reason: "relative"},
		{name: "NUL", path: "k8s/x\x00.yaml", reason: "relative"},
		{name: "ordinary source file", path: "main.go", reason: "outside the paths"},
		{name: "service source file", path: "svc/app.py", reason: "outside the paths"},

		// .git in any segment, any letter case, any folded spelling.
		{name: ".git config", path: ".git/config", reason: "inside .git"},
		{name: ".git in a service", path: "svc/.git/hooks/pre-commit", reason: "inside .git"},
		{name: ".GIT upper case", path: "svc/.GIT/config", reason: "inside .git"},
		{name: ".Git mixed case at the top", path: ".Git/hooks/x", reason: "inside .git"},
		{name: ".git as a k8s file", path: "k8s/.git", reason: "inside .git"},
		{name: ".git under gitops", path: "gitops/.gIt/HEAD", reason: "inside .git"},
		{name: "NTFS trailing dot", path: "k8s/.git./config", reason: "inside .git"},
		{name: "NTFS trailing space", path: "k8s/.git /config", reason: "inside .git"},
		{name: "NTFS short name", path: "k8s/GIT~1/config", reason: "inside .git"},
		{name: "HFS ignorable code point", path: "k8s/.g\u200cit/config", reason: "inside .git"},
		{name: ".gitignore is not .git", path: "k8s/.gitignore", ok: true},
		{name: ".github is not .git", path: "k8s/.github/x.yaml", ok: true},

		// .github is closed; only workflows open, and only when allowed.
		{name: "workflow", path: ".github/workflows/ci.yml", reason: "allowWorkflows: true"},
		{name: "workflow allowed", path: ".github/workflows/ci.yml", workflows: true, ok: true},
		{name: "workflow Dockerfile allowed", path: ".github/workflows/Dockerfile", workflows: true, ok: true},
		{name: "workflows directory itself", path: ".github/workflows", workflows: true, reason: "never writes"},
		{name: "workflow in another case", path: ".GitHub/Workflows/ci.yml", workflows: true, reason: "never writes"},
		{name: "workflow in another case, not allowed", path: ".github/Workflows/ci.yml", reason: "never writes"},
		{name: "actions", path: ".github/actions/setup/action.yml", reason: "never writes"},
		{name: "actions with workflows allowed", path: ".github/actions/setup/action.yml", workflows: true, reason: "never writes"},
		{name: "action Dockerfile", path: ".github/actions/build/Dockerfile", workflows: true, reason: "never writes"},
		{name: ".github Dockerfile", path: ".github/Dockerfile", reason: "never writes"},
		{name: ".github Dockerfile with workflows allowed", path: ".github/Dockerfile", workflows: true, reason: "never writes"},
		{name: "kubewright config", path: ".github/kubewright.yaml", reason: "never writes"},
		{name: "kubewright config with workflows allowed", path: ".github/kubewright.yaml", workflows: true, reason: "never writes"},
		{name: "CODEOWNERS", path: ".github/CODEOWNERS", workflows: true, reason: "never writes"},
		{name: "dependabot", path: ".github/dependabot.yml", reason: "never writes"},
		{name: ".github dockerignore", path: ".github/.dockerignore", reason: "never writes"},
		{name: ".GITHUB upper case", path: ".GITHUB/Dockerfile", reason: "never writes"},
		{name: ".github. NTFS", path: ".github./workflows/ci.yml", workflows: true, reason: "never writes"},
		{name: "workflow in .git", path: ".github/workflows/.git/config", workflows: true, reason: "inside .git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Policy{AllowWorkflows: tt.workflows}.Check(tt.path)
			if (err == nil) != tt.ok {
				t.Fatalf("Check(%q) = %v, want ok=%v", tt.path, err, tt.ok)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrPolicy) {
				t.Errorf("Check(%q) error does not wrap ErrPolicy: %v", tt.path, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Check(%q) = %v, want it to say %q", tt.path, err, tt.reason)
			}
		})
	}
}

// TestPolicyDirsNeverWiden: Dirs (service directories, agents.paths) never
// open what Forbidden closes, whatever they name.
func TestPolicyDirsNeverWiden(t *testing.T) {
	pol := Policy{Dirs: []string{".github", ".github/actions", "svc", "svc/.git", ".GIT"}}
	for _, p := range []string{
		".github/Dockerfile", ".github/actions/a/action.yml", ".github/kubewright.yaml", ".github/workflows/ci.yml",
		"svc/.git/config", "svc/.GIT/config", ".GIT/config", "svc/x/.Git/hooks/pre-push",
	} {
		if err := pol.Check(p); !errors.Is(err, ErrPolicy) {
			t.Errorf("Check(%q) with Dirs %v = %v, want a refusal", p, pol.Dirs, err)
		}
		if err := pol.Forbidden(p); !errors.Is(err, ErrPolicy) {
			t.Errorf("Forbidden(%q) = %v, want a refusal", p, err)
		}
	}
	if err := pol.Check("svc/main.go"); err != nil {
		t.Errorf("Check(svc/main.go) = %v", err)
	}
	if err := pol.Forbidden("main.go"); err != nil {
		t.Errorf("Forbidden(main.go) = %v: only Check limits the area", err)
	}
}

func TestApply(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		fp := filepath.Join(root, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(fp), 0o755)
		if err := os.WriteFile(fp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("svc/Dockerfile", "FROM hand-written\n")
	write("k8s/same.yaml", "same\n")
	files := []author.File{
		{Path: "svc/Dockerfile", Content: []byte("FROM generated\n")},
		{Path: "k8s/same.yaml", Content: []byte("same\n")},
		{Path: "k8s/new/x.yaml", Content: []byte("new\n")},
	}

	// Dry run: actions and diff, nothing written.
	res, err := Apply(root, files, ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"svc/Dockerfile": ActionKeep, "k8s/same.yaml": ActionUnchanged, "k8s/new/x.yaml": ActionCreate}
	for _, f := range res.Files {
		if want[f.Path] != f.Action {
			t.Errorf("dry run %s: %s, want %s", f.Path, f.Action, want[f.Path])
		}
	}
	if !strings.Contains(res.Diff, "+++ b/k8s/new/x.yaml") || strings.Contains(res.Diff, "svc/Dockerfile") {
		t.Errorf("diff:\n%s", res.Diff)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s/new/x.yaml")); err == nil {
		t.Error("dry run wrote a file")
	}

	// Real run keeps the hand-written Dockerfile.
	if _, err := Apply(root, files, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "svc/Dockerfile")); string(b) != "FROM hand-written\n" {
		t.Errorf("existing Dockerfile overwritten without --force: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "k8s/new/x.yaml")); string(b) != "new\n" {
		t.Errorf("new file: %q", b)
	}

	// Force overwrites it.
	res, err = Apply(root, files, ApplyOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "svc/Dockerfile")); string(b) != "FROM generated\n" {
		t.Errorf("--force did not overwrite: %q", b)
	}
	if !strings.Contains(res.Diff, "-FROM hand-written") {
		t.Errorf("update diff:\n%s", res.Diff)
	}
}

func TestApplyRefusesWholeDraft(t *testing.T) {
	root := t.TempDir()
	files := []author.File{
		{Path: "k8s/ok.yaml", Content: []byte("ok\n")},
		{Path: "../escape/Dockerfile", Content: []byte("x")},
	}
	if _, err := Apply(root, files, ApplyOptions{}); !errors.Is(err, ErrPolicy) {
		t.Fatalf("err = %v, want a policy error", err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s/ok.yaml")); err == nil {
		t.Error("a refused draft still wrote files")
	}
}

func TestApplyRefusesSymlink(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "k8s")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	_, err := Apply(root, []author.File{{Path: "k8s/x.yaml", Content: []byte("x")}}, ApplyOptions{})
	if !errors.Is(err, ErrPolicy) {
		t.Fatalf("err = %v, want a policy error", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Error("wrote through a symlink")
	}
}

func TestApplySizeCap(t *testing.T) {
	_, err := Apply(t.TempDir(), []author.File{{Path: "k8s/big.yaml", Content: make([]byte, 2<<20)}}, ApplyOptions{})
	if !errors.Is(err, ErrPolicy) {
		t.Fatalf("err = %v, want a policy error", err)
	}
}

func TestPolicyDirs(t *testing.T) {
	pol := Policy{Dirs: []string{"order-service", "services/inventory"}}
	tests := []struct {
		path string
		ok   bool
	}{
		{"order-service/main.go", true},
		{"order-service/internal/db/db.go", true},
		{"services/inventory/go.mod", true},
		{"order-service-2/main.go", false}, // a prefix of a name is not the directory
		{"order-service", false},
		{"order-service/../secrets.txt", false},
		{"order-service/.git/config", false},
		{"user-service/pom.xml", false},
		{".github/workflows/x.yml", false},
	}
	for _, tt := range tests {
		if err := pol.Check(tt.path); (err == nil) != tt.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
}

func TestApplyDeleteAndTotalCap(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "k8s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "k8s", "old.yaml"), []byte("kind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []author.File{{Path: "k8s/old.yaml", Delete: true}, {Path: "k8s/missing.yaml", Delete: true}, {Path: "k8s/new.yaml", Content: []byte("kind: Service\n")}}
	dry, err := Apply(root, files, ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s", "old.yaml")); err != nil {
		t.Fatalf("a dry run deleted the file: %v", err)
	}
	if !strings.Contains(dry.Diff, "+++ /dev/null") || len(dry.Files) != 2 || dry.Files[0].Action != ActionDelete {
		t.Fatalf("dry run: %+v\n%s", dry.Files, dry.Diff)
	}
	if _, err := Apply(root, files, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s", "old.yaml")); !os.IsNotExist(err) {
		t.Fatalf("old.yaml still there: %v", err)
	}
	big := []author.File{{Path: "k8s/a.yaml", Content: make([]byte, 600)}, {Path: "k8s/b.yaml", Content: make([]byte, 600)}}
	if _, err := Apply(root, big, ApplyOptions{Policy: Policy{MaxTotalBytes: 1000}}); !errors.Is(err, ErrPolicy) {
		t.Fatalf("over the total cap: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s", "a.yaml")); !os.IsNotExist(err) {
		t.Fatal("a refused change wrote a file")
	}
}
