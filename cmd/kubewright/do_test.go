package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

func TestDo(t *testing.T) {
	root := copyFixture(t, "node-redis")
	// The deterministic draft's Deployment, with two replicas more.
	draftDir := copyFixture(t, "node-redis")
	if code, _, errOut := runCLI("containerize", draftDir); code != exitOK {
		t.Fatalf("containerize: %s", errOut)
	}
	const dep = "k8s/visit-counter/deployment.yaml"
	d, err := os.ReadFile(filepath.Join(draftDir, dep))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(d), "  revisionHistoryLimit:", "  minReadySeconds: 10\n  revisionHistoryLimit:", 1)
	if edited == string(d) {
		t.Fatalf("no revisionHistoryLimit in the draft Deployment:\n%s", d)
	}
	reply := func() []llmtest.Reply {
		return []llmtest.Reply{
			{Proposal: &llm.Proposal{Summary: "Wait 10s before a pod counts as ready.", Edits: []llm.Edit{{Path: dep, Action: llm.ActionReplace, Content: edited}}}},
			{Proposal: &llm.Proposal{Summary: "Looks fine.", Edits: []llm.Edit{}}},
		}
	}
	srv := llmtest.NewServer(t, append(reply(), reply()...)...)
	t.Setenv("KUBEWRIGHT_LLM_BASE_URL", srv.URL())
	t.Setenv("KUBEWRIGHT_LLM_MODEL", "test-model")
	t.Setenv("KUBEWRIGHT_LLM_API_KEY", "test-key")

	code, out, errOut := runCLI("do", "make visit-counter wait 10 seconds before it counts as ready", root, "--dry-run", "--no-dry-run")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "+  minReadySeconds: 10") || !strings.Contains(out, "Outcome: valid") || !strings.Contains(out, "nothing written") {
		t.Fatalf("dry run output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(root, dep)); err == nil {
		t.Fatal("--dry-run wrote files")
	}

	code, out, errOut = runCLI("do", "make visit-counter wait 10 seconds before it counts as ready", root, "--no-dry-run")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	got, err := os.ReadFile(filepath.Join(root, dep))
	if err != nil || string(got) != edited {
		t.Fatalf("written Deployment (%v):\n%s", err, got)
	}
	if _, err := os.Stat(filepath.Join(root, "Dockerfile")); err != nil {
		t.Errorf("the draft's other files were not written: %v", err)
	}
}

func TestDoNeedsAModel(t *testing.T) {
	t.Setenv("KUBEWRIGHT_LLM_MODEL", "")
	code, _, errOut := runCLI("do", "anything", t.TempDir())
	if code != exitUsage || !strings.Contains(errOut, "KUBEWRIGHT_LLM_MODEL") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
