package publish

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/finding"
)

var update = flag.Bool("update", false, "rewrite golden files")

func polyglotOutcome(t *testing.T, withErrors bool) PR {
	t.Helper()
	m, err := analyze.New().Analyze(context.Background(), filepath.Join("..", "..", "testdata", "repos", "polyglot-shop"))
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Stages: []Stage{
		{Name: "build"}, {Name: "flux"}, {Name: "schema"}, {Name: "dockerfile"}, {Name: "policy", Warnings: 1}, {Name: "dryrun"},
	}, Findings: []finding.Finding{{ID: "KW-POL-030", Severity: finding.Warning, Stage: "policy", File: "k8s/x.yaml", Line: 3, Message: "namespace x has no NetworkPolicy"}}}
	if withErrors {
		rep.Stages[5].Errors = 1
		rep.Findings = append(rep.Findings, finding.Finding{ID: "KW-DRYRUN-001", Severity: finding.Error, Stage: "dryrun", File: "k8s/y.yaml", Line: 9, Message: "rejected"})
	}
	return PR{
		Issue: 42, Branch: "kubewright/containerize-42", Services: services(m.Services),
		Files: []FileChange{
			{Path: "order-service/Dockerfile", Action: ActionCreate},
			{Path: "k8s/kustomization.yaml", Action: ActionCreate},
			{Path: "k8s/existing.yaml", Action: ActionKeep},
		},
		Assumptions: []string{"images are pushed to ghcr.io/polyglot-shop/<service>"},
		Report:      rep,
	}
}

// services is the fixture's analysis as the job hands it to publish.
func services(in []analyze.Service) []Service {
	var out []Service
	for _, s := range in {
		v := Service{Name: s.Name, Path: s.Path, Language: s.Language, LanguageVersion: s.LanguageVersion,
			BuildTool: s.BuildTool, Port: s.Port, HealthPath: s.HealthPath, Calls: s.Calls}
		for _, b := range s.Backing {
			v.Backing = append(v.Backing, Store{Kind: b.Kind, Shared: b.Kind == analyze.BackingRabbitMQ || b.Kind == analyze.BackingKafka})
		}
		out = append(out, v)
	}
	return out
}

func TestPRBodyGolden(t *testing.T) {
	got := PRBody(polyglotOutcome(t, false))
	golden := filepath.Join("testdata", "pr-body.md")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("PR body differs from %s (run with -update and read the diff):\n%s", golden, got)
	}
}

func TestPRBodyShape(t *testing.T) {
	body := PRBody(polyglotOutcome(t, true))
	for _, want := range []string{
		"[!WARNING]", "Requested in #42.", "| `order-service` | `order-service` | go 1.22 | go | 8082 |",
		"```mermaid", "order_service --> user_service", "rabbitmq[(rabbitmq)]",
		"| dryrun | ❌ fail | 1 | 0 |", "`KW-DRYRUN-001` `k8s/y.yaml:9`", "git switch kubewright/containerize-42",
		"- `k8s/existing.yaml`",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q", want)
		}
	}
	o := polyglotOutcome(t, false)
	o.Closes = true
	if !strings.Contains(PRBody(o), "Closes #42.") {
		t.Error("Closes #N missing when configured")
	}
	if len(body) > 65536 {
		t.Errorf("body is %d characters, over GitHub's limit", len(body))
	}
}

// An operation's pull request is a draft for the errors the change adds;
// the default branch's own errors are listed, and said to be its own.
func TestOperationBodyBanner(t *testing.T) {
	own := finding.Finding{ID: "KW-POL-001", Severity: finding.Error, Stage: "policy", File: "k8s/web/deployment.yaml", Line: 19, Message: `container "web" may run as root`}
	for _, tc := range []struct {
		name      string
		report    *Report
		want, not string
	}{
		{"adds errors", &Report{Findings: []finding.Finding{own}, Compared: true, Added: 1}, "> [!WARNING]\n> Validation found errors this change adds", "[!NOTE]"},
		{"the branch's own errors", &Report{Findings: []finding.Finding{own}, Compared: true}, "> [!NOTE]\n> This change adds no validation error. The default branch already has the 1 error listed below", "[!WARNING]"},
		{"not compared with the base", &Report{Findings: []finding.Finding{own}}, "> [!WARNING]\n> Validation found errors", "[!NOTE]"},
		{"clean", &Report{Compared: true}, "kubewright planned `scale web 3`", "[!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := OperationBody(Operation{Command: "scale web 3", Summary: "web: 2 → 3 replicas", Report: tc.report})
			if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
				t.Errorf("want %q and not %q in:\n%s", tc.want, tc.not, got)
			}
		})
	}
}
