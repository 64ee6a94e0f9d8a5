package publish

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
)

// many is n error findings whose messages mention someone and open an
// HTML comment: what neutral text must defuse in model-made changes.
func many(n int, stage string) []finding.Finding {
	var fs []finding.Finding
	for i := range n {
		fs = append(fs, finding.Finding{ID: fmt.Sprintf("KW-X-%03d", i), Severity: finding.Error, Stage: stage, File: "k8s/a.yaml", Line: i + 1,
			Message: fmt.Sprintf("problem %d for @octocat <!-- x", i)})
	}
	return fs
}

func richReport() *Report {
	return &Report{
		Stages:   []Stage{{Name: "build"}, {Name: "schema", Skipped: "no CRDs"}, {Name: "policy", Warnings: 2}, {Name: "dryrun", Errors: 60}},
		Findings: append(many(60, "dryrun"), finding.Finding{ID: "KW-POL-1", Severity: finding.Warning, Message: "no file"}),
	}
}

func agentRun(outcome RunOutcome) *AgentRun {
	return &AgentRun{
		Outcome: outcome, Intent: "add a  redis\ncache for @bob",
		Summary: "Added redis. <!-- hidden", Risks: []string{"memory @ops"},
		Attempts: []Attempt{
			{N: 1, Agent: "deployment-orchestrator", Summary: "first", Changed: []string{"k8s/r.yaml"}, Refused: []Refusal{{Path: ".git/x", Action: "create", Reason: "policy"}},
				Findings: many(3, "dryrun"), PromptTokens: 100, CompletionTokens: 20},
			{N: 2, Agent: "deployment-orchestrator", PromptTokens: 5, CompletionTokens: 1},
			{N: 3, Agent: "review", Review: true, Summary: "looks ok", Findings: many(2, "policy"), PromptTokens: 7, CompletionTokens: 3},
		},
		NewFindings: many(52, "dryrun"), Calls: 3, PromptTokens: 112, CompletionTokens: 24, Redactions: 2,
	}
}

var agentFiles = []FileChange{{Path: "k8s/r.yaml", Action: ActionCreate}, {Path: "k8s/old.yaml", Action: ActionDelete}, {Path: "k8s/k.yaml", Action: ActionKeep}}

// agentPR is the pull request of a free-text request with run.
func agentPR(run *AgentRun, rep *Report) PR {
	return PR{Issue: 7, Branch: "kubewright/ai-7", Run: run, Files: agentFiles, Assumptions: []string{"redis 7"}, Report: rep}
}

// TestBodiesGolden: every body and reply, in each of its shapes, byte for
// byte. Every pull request body is PRBody's: containerize, containerize
// with the repair agent's attempts, and free-text requests.
func TestBodiesGolden(t *testing.T) {
	withErrors := polyglotOutcome(t, false)
	withErrors.Closes, withErrors.Report = true, richReport()
	withErrors.NotAnalyzed = []string{"pay/pom.xml:3: bad pom"}
	withErrors.Files = []FileChange{{Path: "a/Dockerfile", Action: ActionUpdate}, {Path: "k8s/x.yaml", Action: "unchanged"}}
	withErrors.Assumptions = []string{"x @y"}

	stopped := agentRun(RunStopped)
	stopped.Reason, stopped.NewFindings = "stopped at the token budget: 100 of 100", nil
	nothing := agentRun(RunNothing)
	nothing.Reason = "the model proposed no change kubewright could apply"
	failing := agentPR(agentRun(RunFailing), richReport())
	failing.Closes = true
	valid := agentPR(agentRun(RunValid), nil)
	valid.Issue, valid.Branch = 0, ""

	// A containerize whose draft the repair agent fixed on its second
	// attempt, then reviewed.
	repaired := polyglotOutcome(t, false)
	fixed := many(1, "schema")
	repaired.Run = &AgentRun{Outcome: RunValid, Summary: "Reviewed: the draft's Deployment @ops", Risks: []string{"check the port"},
		Attempts: []Attempt{
			{N: 1, Agent: "repair", Summary: "KW-X-000 k8s/a.yaml: first try", Changed: []string{"k8s/a.yaml"}, Findings: fixed, PromptTokens: 50, CompletionTokens: 9},
			{N: 2, Agent: "repair", Summary: "KW-X-000 k8s/a.yaml: fixed the field", Changed: []string{"k8s/a.yaml"}, PromptTokens: 60, CompletionTokens: 8},
			{N: 3, Agent: "review", Review: true, Summary: "Reviewed.", PromptTokens: 70, CompletionTokens: 5},
		}, Calls: 3, PromptTokens: 180, CompletionTokens: 22}
	repaired.Files = append(repaired.Files, FileChange{Path: "k8s/a.yaml", Action: ActionCreate})
	repaired.Assumptions = append(repaired.Assumptions, "the model assumed @ops owns it")

	for name, got := range map[string]string{
		"pr-body.md":               PRBody(polyglotOutcome(t, false)),
		"pr-body-errors.md":        PRBody(withErrors),
		"pr-body-repaired.md":      PRBody(repaired),
		"agent-pr-body-failing.md": PRBody(failing),
		"agent-pr-body-stopped.md": PRBody(agentPR(stopped, richReport())),
		"agent-pr-body-valid.md":   PRBody(valid),
		"agent-comment.md":         AgentComment(nothing),
	} {
		t.Run(name, func(t *testing.T) {
			golden := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (run with -update and read the diff):\n%s", name, golden, got)
			}
		})
	}
}
