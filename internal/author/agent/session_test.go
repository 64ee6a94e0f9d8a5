package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

// tree writes files under a new directory and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		abs := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(abs, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// snapshot is every file under root and its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func session(t *testing.T, dir string, in agent.Input, script ...llmtest.Reply) (*agent.Session, *llmtest.Server) {
	t.Helper()
	srv := llmtest.NewServer(t, script...)
	cfg := srv.Config()
	cfg.MaxRetries = -1
	client, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in.Repo, in.Dir = dir, dir
	if in.Model == nil {
		in.Model = &analyze.SystemModel{Services: []analyze.Service{{Name: "api", Path: "api", Language: analyze.LangGo}}}
	}
	return agent.NewSession(client, in), srv
}

func reply(summary string, edits ...llm.Edit) llmtest.Reply {
	return llmtest.Reply{Proposal: &llm.Proposal{Summary: summary, Edits: edits, Assumptions: []string{"a"}, Risks: []string{}}}
}

// TestSessionOnlyProposes: each call returns what the model proposed,
// checked against the write policy, and writes nothing: the working copy
// is byte for byte what it was.
func TestSessionOnlyProposes(t *testing.T) {
	dir := tree(t, map[string]string{
		"api/main.go":             "package main\n",
		"k8s/api/deployment.yaml": "kind: Deployment\n",
	})
	before := snapshot(t, dir)
	sess, srv := session(t, dir, agent.Input{Intent: "give api a ConfigMap", Agent: agent.AgentDeployment, Settings: agent.Settings{MaxAttempts: 3}},
		reply("A ConfigMap.",
			llm.Edit{Path: "k8s/api/configmap.yaml", Action: llm.ActionCreate, Content: "kind: ConfigMap\n"},
			llm.Edit{Path: "k8s/api/missing.yaml", Action: llm.ActionReplace, Content: "x\n"},
			llm.Edit{Path: "k8s/api/deployment.yaml", Action: llm.ActionDelete},
			llm.Edit{Path: "api/main.go", Action: llm.ActionCreate, Content: "package main\n"},
			llm.Edit{Path: "README.md", Action: llm.ActionReplace, Content: "# pwned\n"},
		),
		reply("Fixed the ConfigMap.", llm.Edit{Path: "api/main.go", Action: llm.ActionReplace, Content: "package main // fixed\n"}),
		reply("Reviewed.", llm.Edit{Path: "k8s/api/x.yaml", Action: llm.ActionCreate, Content: "x\n"}),
	)
	ctx := context.Background()

	first := sess.Edit(ctx)
	if !first.Answered || first.Err != nil || first.Agent != agent.AgentDeployment || first.Summary != "A ConfigMap." {
		t.Fatalf("first edit %+v", first)
	}
	var got []string
	for _, f := range first.Files {
		got = append(got, f.Path+"|"+string(f.Content)+"|"+f.Part+"|"+map[bool]string{true: "delete"}[f.Delete])
	}
	want := []string{
		"k8s/api/configmap.yaml|kind: ConfigMap\n|k8s|",
		"k8s/api/deployment.yaml||k8s|delete",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("accepted %q\nwant %q", got, want)
	}
	refused := map[string]string{}
	for _, r := range first.Refused {
		refused[r.Path+" "+r.Action] = r.Reason
	}
	for k, reason := range map[string]string{
		"k8s/api/missing.yaml replace": "does not exist",
		"api/main.go create":           "already exists",
		"README.md replace":            "outside the paths",
	} {
		if !strings.Contains(refused[k], reason) {
			t.Errorf("%s: refusal %q, want one saying %q", k, refused[k], reason)
		}
	}

	findings := []finding.Finding{{ID: "KW-SCHEMA-001", Severity: finding.Error, File: "k8s/api/deployment.yaml", Line: 3, Message: "unknown field spec.replica"}}
	repair := sess.Repair(ctx, 2, findings, []string{"api/main.go"})
	if !repair.Answered || repair.Agent != agent.AgentRepair || len(repair.Files) != 1 || repair.Files[0].Path != "api/main.go" {
		t.Fatalf("repair %+v", repair)
	}
	prompt := srv.Requests()[1].Messages[1].Content
	for _, s := range []string{"k8s/api/deployment.yaml:3 KW-SCHEMA-001", "repair attempt 2 of 3", "package main\n"} {
		if !strings.Contains(prompt, s) {
			t.Errorf("the repair prompt lacks %q", s)
		}
	}

	review := sess.Review(ctx, []draft.File{{Path: "api/main.go", Content: []byte("package main // fixed\n")}}, nil)
	if !review.Answered || len(review.Files) != 0 || len(review.Refused) != 1 || !strings.Contains(review.Refused[0].Reason, "may not edit") {
		t.Errorf("review %+v: its edits must all be refused", review)
	}
	if !strings.Contains(srv.Requests()[2].Messages[1].Content, "--- api/main.go") {
		t.Error("the review prompt lacks the change")
	}
	if after := snapshot(t, dir); !reflect.DeepEqual(after, before) {
		t.Errorf("the session wrote to the working copy:\n%v\nwas\n%v", after, before)
	}
	if sess.Meter().Total().Total() == 0 || len(sess.Meter().Calls()) != 3 {
		t.Errorf("meter %+v over %d calls", sess.Meter().Total(), len(sess.Meter().Calls()))
	}
}

// TestSessionNewService: service-codegen may claim one new service
// directory; the session's policy then includes it, and no other.
func TestSessionNewService(t *testing.T) {
	dir := tree(t, map[string]string{"services/order-service/main.go": "package main\n"})
	m := &analyze.SystemModel{Services: []analyze.Service{{Name: "order-service", Path: "services/order-service", Language: analyze.LangGo}}}
	sess, _ := session(t, dir, agent.Input{Intent: "add an inventory service", Model: m, Agent: agent.AgentServiceCodegen, NewService: "inventory"},
		reply("Adds inventory-service.",
			llm.Edit{Path: "services/inventory-service/main.go", Action: llm.ActionCreate, Content: "package main\n"},
			llm.Edit{Path: "services/other/main.go", Action: llm.ActionCreate, Content: "package main\n"},
		))
	p := sess.Edit(context.Background())
	if len(p.Files) != 1 || len(p.Refused) != 1 || p.Refused[0].Path != "services/other/main.go" {
		t.Fatalf("accepted %v, refused %+v", p.Changed(), p.Refused)
	}
	if sess.Created() != "services/inventory-service" {
		t.Errorf("created %q", sess.Created())
	}
	if err := sess.Policy().Check("services/inventory-service/go.mod"); err != nil {
		t.Errorf("the new service is outside the session's policy: %v", err)
	}
	if err := sess.Policy().Check("services/other/go.mod"); !errors.Is(err, draft.ErrPolicy) {
		t.Errorf("a second new directory is inside the policy: %v", err)
	}
}

// TestSessionBudget: a call the budget refuses is no answer, and says so.
func TestSessionBudget(t *testing.T) {
	dir := tree(t, map[string]string{"k8s/a.yaml": "kind: ConfigMap\n"})
	sess, srv := session(t, dir, agent.Input{Intent: "x", Agent: agent.AgentDeployment, Meter: llm.NewMeter(llm.Budget{PerJob: 10})})
	p := sess.Edit(context.Background())
	if p.Answered || !errors.Is(p.Err, llm.ErrBudget) || len(srv.Requests()) != 0 {
		t.Errorf("answered %v, err %v, %d requests", p.Answered, p.Err, len(srv.Requests()))
	}
}
