package job

import (
	"reflect"
	"testing"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/validate"
)

// TestViews: what the job hands publish says what analysis, the
// draft, validation and the agents said.
func TestViews(t *testing.T) {
	for d, pub := range map[string]string{
		draft.ActionCreate: publish.ActionCreate, draft.ActionUpdate: publish.ActionUpdate,
		draft.ActionKeep: publish.ActionKeep, draft.ActionDelete: publish.ActionDelete,
	} {
		if d != pub {
			t.Errorf("draft action %q is %q in publish", d, pub)
		}
	}

	fs := []finding.Finding{{ID: "KW-POL-020", Severity: finding.Error, File: "k8s/a.yaml", Line: 3, Message: "m"}}
	rep := &validate.Report{Findings: fs, Stages: []validate.StageResult{{Name: "policy", Errors: 1, Warnings: 2, Infos: 3}, {Name: "dryrun", Skipped: "no server"}}, Roots: 1}
	wantRep := &publish.Report{Findings: fs, Stages: []publish.Stage{{Name: "policy", Errors: 1, Warnings: 2}, {Name: "dryrun", Skipped: "no server"}}}
	if got := ReportView(rep); !reflect.DeepEqual(got, wantRep) {
		t.Errorf("reportView = %+v", got)
	}
	if ReportView(nil) != nil {
		t.Error("no report became a report")
	}

	svcs := []analyze.Service{{Name: "api", Path: "api", Language: "go", LanguageVersion: "1.22", BuildTool: "go", Port: 8080, HealthPath: "/healthz",
		Calls: []string{"db-api"}, Backing: []analyze.Backing{{Kind: analyze.BackingRabbitMQ}, {Kind: analyze.BackingKafka}, {Kind: analyze.BackingPostgres}}}}
	wantSvcs := []publish.Service{{Name: "api", Path: "api", Language: "go", LanguageVersion: "1.22", BuildTool: "go", Port: 8080, HealthPath: "/healthz",
		Calls: []string{"db-api"}, Backing: []publish.Store{{Kind: analyze.BackingRabbitMQ, Shared: true}, {Kind: analyze.BackingKafka, Shared: true}, {Kind: analyze.BackingPostgres}}}}
	if got := servicesView(svcs); !reflect.DeepEqual(got, wantSvcs) {
		t.Errorf("servicesView = %+v", got)
	}

	files := []draft.FileResult{{Path: "k8s/a.yaml", Action: draft.ActionCreate, Service: "api", Part: "k8s"}}
	if got := filesView(files); !reflect.DeepEqual(got, []publish.FileChange{{Path: "k8s/a.yaml", Action: publish.ActionCreate}}) {
		t.Errorf("filesView = %+v", got)
	}

	res := &AgentRun{
		Outcome: Failing, Intent: "add a cache", Agent: agent.AgentDeployment, Reason: "r", Summary: "s",
		Assumptions: []string{"a"}, Risks: []string{"k"}, Report: rep, NewFindings: fs,
		Attempts: []Attempt{
			{N: 1, Agent: agent.AgentDeployment, Summary: "one", Changed: []string{"k8s/a.yaml"}, Refused: []agent.Refusal{{Path: ".git/x", Action: "create", Reason: "no"}},
				Findings: fs, Usage: llm.Usage{PromptTokens: 10, CompletionTokens: 2}},
			{N: 2, Agent: agent.AgentReview, Usage: llm.Usage{PromptTokens: 3, CompletionTokens: 1}},
		},
		Calls: make([]llm.Call, 2), Usage: llm.Usage{PromptTokens: 13, CompletionTokens: 3}, Redactions: 4,
	}
	want := &publish.AgentRun{
		Outcome: publish.RunFailing, Intent: "add a cache", Reason: "r", Summary: "s", Risks: []string{"k"},
		NewFindings: fs, Calls: 2, PromptTokens: 13, CompletionTokens: 3, Redactions: 4,
		Attempts: []publish.Attempt{
			{N: 1, Agent: agent.AgentDeployment, Summary: "one", Changed: []string{"k8s/a.yaml"}, Refused: []publish.Refusal{{Path: ".git/x", Action: "create", Reason: "no"}},
				Findings: fs, PromptTokens: 10, CompletionTokens: 2},
			{N: 2, Agent: agent.AgentReview, Review: true, PromptTokens: 3, CompletionTokens: 1},
		},
	}
	if got := runView(res); !reflect.DeepEqual(got, want) {
		t.Errorf("runView =\n%+v\nwant\n%+v", got, want)
	}
	if runView(nil) != nil {
		t.Error("no model run became a run")
	}
	for in, out := range map[Outcome]publish.RunOutcome{
		Valid: publish.RunValid, Failing: publish.RunFailing, Stopped: publish.RunStopped, Nothing: publish.RunNothing,
	} {
		if got := outcomeView(in); got != out {
			t.Errorf("outcome %s became %s", in, got)
		}
	}
}
