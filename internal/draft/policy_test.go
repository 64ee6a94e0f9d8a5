package draft

import (
	"errors"
	"path"
	"strings"
	"testing"
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

// TestPolicyImageWorkflow: containerize.ci opens exactly the image
// workflow, in exactly its spelling, and nothing else under .github/.
func TestPolicyImageWorkflow(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		pol    Policy
		reason string // part of the refusal; "" when allowed
	}{
		{name: "image workflow with ci", path: ImageWorkflowPath, pol: Policy{ImageWorkflow: true}},
		{name: "image workflow with workflows allowed", path: ImageWorkflowPath, pol: Policy{AllowWorkflows: true}},
		{name: "image workflow without ci", path: ImageWorkflowPath, reason: "set containerize.ci: github-actions"},
		{name: "other workflow with ci", path: ".github/workflows/ci.yml", pol: Policy{ImageWorkflow: true}, reason: "allowWorkflows: true"},
		{name: ".yaml spelling", path: ".github/workflows/kubewright-images.yaml", pol: Policy{ImageWorkflow: true}, reason: "allowWorkflows: true"},
		{name: "upper case name", path: ".github/workflows/Kubewright-Images.yml", pol: Policy{ImageWorkflow: true}, reason: "allowWorkflows: true"},
		{name: "nested under the name", path: ".github/workflows/kubewright-images.yml/x", pol: Policy{ImageWorkflow: true}, reason: "allowWorkflows: true"},
		{name: "folded .github", path: ".GitHub/workflows/kubewright-images.yml", pol: Policy{ImageWorkflow: true}, reason: "never writes"},
		{name: "NTFS trailing dot", path: ".github./workflows/kubewright-images.yml", pol: Policy{ImageWorkflow: true}, reason: "never writes"},
		{name: "upper-case workflows", path: ".github/Workflows/kubewright-images.yml", pol: Policy{ImageWorkflow: true}, reason: "never writes"},
		{name: "actions with ci", path: ".github/actions/kubewright-images.yml", pol: Policy{ImageWorkflow: true}, reason: "never writes"},
		{name: "settings with ci", path: ".github/kubewright.yaml", pol: Policy{ImageWorkflow: true}, reason: "never writes"},
		{name: "unclean spelling", path: ".github/workflows/../workflows/kubewright-images.yml", pol: Policy{ImageWorkflow: true}, reason: "not a clean path"},
		{name: "other files unchanged", path: "k8s/a.yaml", pol: Policy{ImageWorkflow: true}},
		{name: "sources still closed", path: "main.go", pol: Policy{ImageWorkflow: true}, reason: "outside the paths"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.pol.Check(tt.path)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want it allowed", tt.path, err)
				}
				return
			}
			if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Check(%q) = %v, want a policy refusal saying %q", tt.path, err, tt.reason)
			}
		})
	}
}

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

// FuzzPolicyCheck: whatever path a model or a draft names, an accepted one
// stays inside the repository, has no .git segment and is not under
// .github/ (workflows aside, when allowed, and the image workflow alone
// with containerize.ci).
func FuzzPolicyCheck(f *testing.F) {
	for _, p := range []string{"k8s/a.yaml", "../x", "svc/.git/config", ".github/workflows/ci.yml", "k8s/.g\u200cit/x", "svc/Dockerfile", "/etc/passwd", `k8s\x`} {
		f.Add(p, false, false)
		f.Add(p, true, false)
		f.Add(p, false, true)
	}
	f.Add(ImageWorkflowPath, false, true)
	f.Fuzz(func(t *testing.T, p string, workflows, imageWorkflow bool) {
		pol := Policy{AllowWorkflows: workflows, ImageWorkflow: imageWorkflow, Dirs: []string{"svc"}}
		if err := pol.Check(p); err != nil {
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("Check(%q) = %v, not a policy error", p, err)
			}
			return
		}
		if path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("Check accepted %q, which leaves the repository", p)
		}
		for _, seg := range strings.Split(p, "/") {
			if isGitDir(seg) {
				t.Fatalf("Check accepted %q, inside .git", p)
			}
		}
		if isDotGitHub(strings.Split(p, "/")[0]) && !(workflows && strings.HasPrefix(p, ".github/workflows/")) && !(imageWorkflow && p == ImageWorkflowPath) {
			t.Fatalf("Check accepted %q under .github/", p)
		}
	})
}
