package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/llm"
)

// TestGateCheck: the model's edits pass the write policy in code. .git in
// any case and segment, and everything under .github/ but allowed
// workflows, are refused even inside service directories, agents.paths
// and a new service directory.
func TestGateCheck(t *testing.T) {
	root := t.TempDir()
	for p, content := range map[string]string{
		"order-service/main.go":     "package main\n",
		"k8s/order-service/svc.yml": "kind: Service\n",
		".github/workflows/ci.yml":  "on: push\n",
	} {
		abs := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(abs, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := draft.NewStage(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	create := func(p string) llm.Edit { return llm.Edit{Path: p, Action: llm.ActionCreate, Content: "x\n"} }
	replace := func(p string) llm.Edit { return llm.Edit{Path: p, Action: llm.ActionReplace, Content: "x\n"} }
	tests := []struct {
		name       string
		edit       llm.Edit
		workflows  bool     // allowWorkflows in the repository's configuration
		dirs       []string // agents.paths
		newService bool
		reason     string // "" accepted, else part of the refusal
	}{
		{name: "k8s file", edit: create("k8s/order-service/hpa.yaml")},
		{name: "service source", edit: replace("order-service/main.go")},
		{name: "new service", edit: create("inventory/main.go"), newService: true},
		{name: "agents path", edit: create("libs/shared/x.go"), dirs: []string{"libs/shared"}},
		{name: "outside", edit: create("README.md"), reason: "outside the paths"},

		{name: ".git in a service", edit: create("order-service/.git/config"), reason: "inside .git"},
		{name: ".GIT in a service", edit: create("order-service/.GIT/config"), reason: "inside .git"},
		{name: "svc/.GIT/config", edit: create("svc/.GIT/config"), dirs: []string{"svc"}, reason: "inside .git"},
		{name: ".Git at the top", edit: create(".Git/hooks/x"), newService: true, reason: "inside .git"},
		{name: ".git in a new service", edit: create("inventory/.git/hooks/pre-commit"), newService: true, reason: "inside .git"},
		{name: ".git in k8s", edit: create("k8s/.git/HEAD"), reason: "inside .git"},
		{name: ".git as an agents path", edit: create(".git/config"), dirs: []string{".git"}, reason: "inside .git"},
		{name: "NTFS .git.", edit: create("order-service/.git./config"), reason: "inside .git"},

		{name: "workflow", edit: replace(".github/workflows/ci.yml"), reason: "allowWorkflows: true"},
		{name: "workflow allowed", edit: replace(".github/workflows/ci.yml"), workflows: true},
		{name: "actions", edit: create(".github/actions/setup/action.yml"), workflows: true, reason: "never writes"},
		{name: "actions as an agents path", edit: create(".github/actions/setup/action.yml"), dirs: []string{".github/actions"}, workflows: true, reason: "never writes"},
		{name: ".github Dockerfile", edit: create(".github/Dockerfile"), reason: "never writes"},
		{name: ".github Dockerfile, workflows allowed", edit: create(".github/Dockerfile"), workflows: true, reason: "never writes"},
		{name: "kubewright config", edit: create(".github/kubewright.yaml"), workflows: true, reason: "never writes"},
		{name: ".github as a new service", edit: create(".github/main.go"), newService: true, reason: "never writes"},
		{name: ".GitHub case", edit: create(".GitHub/workflows/x.yml"), workflows: true, reason: "never writes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gate{policy: draft.Policy{AllowWorkflows: tt.workflows, Dirs: append([]string{"order-service"}, tt.dirs...)}, newService: tt.newService, repo: st.Root(), dir: st.Dir()}
			got := g.check(tt.edit)
			if tt.reason == "" {
				if got != "" {
					t.Fatalf("check(%s) refused: %s", tt.edit.Path, got)
				}
				return
			}
			if !strings.Contains(got, tt.reason) {
				t.Fatalf("check(%s) = %q, want a refusal saying %q", tt.edit.Path, got, tt.reason)
			}
			if g.created != "" {
				t.Errorf("a refused edit claimed the new service directory %q", g.created)
			}
		})
	}
}

// TestGateAcceptInOrder: a proposal's edits are checked as if each
// accepted one had been applied: a file deleted earlier in the proposal
// no longer exists, one created earlier does.
func TestGateAcceptInOrder(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "k8s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "k8s", "a.yaml"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &gate{repo: root, dir: root}
	files, refused := g.accept([]llm.Edit{
		{Path: "k8s/a.yaml", Action: llm.ActionDelete},
		{Path: "k8s/a.yaml", Action: llm.ActionReplace, Content: "b\n"},
		{Path: "k8s/b.yaml", Action: llm.ActionCreate, Content: "b\n"},
		{Path: "k8s/b.yaml", Action: llm.ActionCreate, Content: "c\n"},
		{Path: "k8s/b.yaml", Action: llm.ActionReplace, Content: "d\n"},
	})
	var got []string
	for _, f := range files {
		got = append(got, fmt.Sprintf("%s %q %v", f.Path, f.Content, f.Delete))
	}
	want := []string{`k8s/a.yaml "" true`, `k8s/b.yaml "b\n" false`, `k8s/b.yaml "d\n" false`}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("accepted %q, want %q", got, want)
	}
	if len(refused) != 2 || !strings.Contains(refused[0].Reason, "does not exist") || !strings.Contains(refused[1].Reason, "already exists") {
		t.Errorf("refused %+v", refused)
	}
	if g.written != 4 {
		t.Errorf("written %d bytes, want the 4 accepted", g.written)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "k8s", "a.yaml")); string(b) != "a\n" {
		t.Error("the gate wrote to the working copy")
	}
}
