package publish

import (
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/finding"
)

// Secrets of kinds only gitleaks' rules know (internal/redact), and one
// the structural rules know, assembled from pieces so that secret
// scanners do not flag this file; none of them is real.
var (
	stripeKey = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
	twilioKey = "SK" + "2c8e4f1a9b7d3e6f" + "0a1b2c3d4e5f6a7b"
	ghToken   = "ghp_" + strings.Repeat("Ab1", 12)
)

// TestPublishedTextIsRedacted: a finding, an analysis error, an
// assumption or a model answer that quotes a secret publishes
// "[REDACTED]" in its place, in every body and comment.
func TestPublishedTextIsRedacted(t *testing.T) {
	quoting := func(where string) []finding.Finding {
		return []finding.Finding{
			{ID: "KW-POL-020", Severity: finding.Error, Stage: "policy", File: "k8s/pay/deployment.yaml", Line: 31,
				Message: "env var STRIPE_KEY of container pay has a literal value " + stripeKey + " (" + where + ")",
				Hint:    "move " + twilioKey + " to a Secret"},
		}
	}
	rep := &Report{Stages: []Stage{{Name: "policy", Errors: 1}}, Findings: quoting("report")}

	o := polyglotOutcome(t, false)
	o.Report = rep
	o.Assumptions = append(o.Assumptions, "the Twilio key "+twilioKey+" stays in the vault")
	o.NotAnalyzed = append(o.NotAnalyzed, analyze.ServiceError{Path: "pay", File: "pay/.npmrc", Line: 2, Message: "bad line //registry/:_authToken=" + ghToken}.Error())

	res := &AgentRun{
		Outcome: RunFailing, Intent: "add payments; the Stripe key is " + stripeKey,
		Reason:  "the model said " + stripeKey + " is needed",
		Summary: "I added the Stripe key " + stripeKey + " to the Deployment.",
		Risks:   []string{"STRIPE_KEY=" + stripeKey + " is committed in plain text"},
		Attempts: []Attempt{{
			N: 1, Agent: "deployment-orchestrator", Summary: "wrote " + stripeKey, Changed: []string{"k8s/pay/deployment.yaml"},
			Refused:  []Refusal{{Path: "k8s/pay/.env", Action: "create", Reason: "holds " + twilioKey}},
			Findings: quoting("attempt"),
		}},
		NewFindings: quoting("new"),
	}
	agentPR := PR{Issue: 7, Branch: "kubewright/ai-7", Run: res, Report: rep, Assumptions: []string{"Twilio: " + twilioKey}}
	repaired := o
	repaired.Run = &AgentRun{Outcome: RunValid, Summary: res.Summary, Risks: res.Risks, Attempts: res.Attempts}

	bodies := map[string]string{
		"PRBody":       PRBody(o),
		"AgentPRBody":  PRBody(agentPR),
		"RepairedBody": PRBody(repaired),
		"AgentComment": AgentComment(res),
		"AttemptLog":   AttemptLog(res),
	}
	for name, body := range bodies {
		for _, secret := range []string{stripeKey, twilioKey, ghToken} {
			if strings.Contains(body, secret) {
				t.Errorf("%s publishes %s:\n%s", name, secret, body)
			}
		}
		if !strings.Contains(body, "[REDACTED]") {
			t.Errorf("%s has no [REDACTED] where the secrets were:\n%s", name, body)
		}
	}
	// What surrounds a secret is published as it was.
	for name, want := range map[string]string{
		"PRBody":       "env var STRIPE_KEY of container pay has a literal value [REDACTED] (report)",
		"AgentPRBody":  "I added the Stripe key [REDACTED] to the Deployment.",
		"RepairedBody": "- refused create `k8s/pay/.env`: holds [REDACTED]",
		"AgentComment": "The model said [REDACTED] is needed.",
		"AttemptLog":   "- refused create `k8s/pay/.env`: holds [REDACTED]",
	} {
		if !strings.Contains(bodies[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, bodies[name])
		}
	}
	if rep.Findings[0].Message != quoting("report")[0].Message {
		t.Error("rendering changed the caller's findings")
	}
}
