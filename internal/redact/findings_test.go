package redact

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
)

func TestFindings(t *testing.T) {
	in := []finding.Finding{
		{ID: "KW-POL-020", Severity: finding.Error, Stage: "policy", File: "k8s/pay/deployment.yaml", Line: 31, Object: "Deployment/pay/pay",
			Message: "env var STRIPE_KEY of pay has a literal value " + stripeKey, Hint: "move it (" + twilioKey + ") to a Secret"},
		{ID: "KW-POL-021", Severity: finding.Error, Stage: "policy", File: "k8s/cm.yaml", Line: 4,
			Message: "ConfigMap key SMTP_PASSWORD has a value that looks like a password: SMTP_PASSWORD=hunter2"},
		{ID: "KW-POL-030", Severity: finding.Warning, Stage: "policy", File: "k8s/ns.yaml", Message: "namespace pay has no NetworkPolicy"},
	}
	orig := append([]finding.Finding(nil), in...)
	got := Findings(in)
	want := []finding.Finding{
		{ID: "KW-POL-020", Severity: finding.Error, Stage: "policy", File: "k8s/pay/deployment.yaml", Line: 31, Object: "Deployment/pay/pay",
			Message: "env var STRIPE_KEY of pay has a literal value [REDACTED]", Hint: "move it ([REDACTED]) to a Secret"},
		{ID: "KW-POL-021", Severity: finding.Error, Stage: "policy", File: "k8s/cm.yaml", Line: 4,
			Message: "ConfigMap key SMTP_PASSWORD has a value that looks like a password: SMTP_PASSWORD=[REDACTED]"},
		orig[2],
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Findings:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(in, orig) {
		t.Error("Findings modified its argument")
	}
	if Findings(nil) != nil {
		t.Error("Findings(nil) is not nil")
	}
}

func TestStrings(t *testing.T) {
	ss := []string{"risk: " + stripeKey + " is committed", "no secret here"}
	if n := Strings(ss); n != 1 || strings.Contains(ss[0], stripeKey) || ss[1] != "no secret here" {
		t.Errorf("Strings: %d %q", n, ss)
	}
}
