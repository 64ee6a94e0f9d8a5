package llm

import (
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/redact"
)

// The redaction core lives in internal/redact (tested there); Redact and
// RedactFile are what prompts go through, so the fuzz target stays here
// and drives the whole core through them.

// Test secrets are assembled from pieces so that secret scanners do not
// flag this file; none of them is real.
var (
	ghToken = "ghp_" + strings.Repeat("Ab1", 12)
	jwt     = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	pemKey  = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n-----END RSA " + "PRIVATE KEY-----"
	// A Stripe live key only gitleaks' rules know.
	stripeKey = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
)

func TestRedactIsTheCore(t *testing.T) {
	for _, in := range []string{"password: hunter2\n", "key " + stripeKey + " here", "GITHUB_TOKEN=" + ghToken} {
		got, n := Redact(in)
		want, m := redact.Text(in)
		if got != want || n != m || n == 0 {
			t.Errorf("Redact(%q) = %q (%d), redact.Text = %q (%d)", in, got, n, want, m)
		}
	}
	got, n := RedactFile(".env", "A=1\n")
	if want, m := redact.File(".env", "A=1\n"); got != want || n != m || n != 1 {
		t.Errorf("RedactFile = %q (%d), redact.File = %q (%d)", got, n, want, m)
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"", "password: hunter2", "DB_PASSWORD=x", `{"token":"a\"b"}`, "postgres://u:p@h", "kind: Secret\ndata:\n  a: b\n",
		"key: |\n  x\n", "- name: API_TOKEN\n  value: v\n", "Authorization: Bearer " + jwt, pemKey, ghToken,
		"-----BEGIN " + "PRIVATE KEY-----\n", stripeKey, "api_key = " + stripeKey + "\n", "token=[REDACTED]]", "a=b;password='x", "ENV TOKEN a b",
		"password: [REDACTED] x", "secret: &a !b c", "data:\n\t- x", "export SECRET=\"multi\nline\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, n := Redact(s)
		if n < 0 || (n == 0 && got != s) {
			t.Errorf("Redact(%q) = %q with count %d", s, got, n)
		}
		if again, m := Redact(got); again != got || m != 0 {
			t.Errorf("Redact is not idempotent on %q:\n once %q\ntwice %q (%d)", s, got, again, m)
		}
		fgot, _ := RedactFile(".env", s)
		if again, m := RedactFile(".env", fgot); again != fgot || m != 0 {
			t.Errorf("RedactFile(.env) is not idempotent on %q:\n once %q\ntwice %q (%d)", s, fgot, again, m)
		}
	})
}
