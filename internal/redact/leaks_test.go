package redact

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Keys of kinds only gitleaks' rules know, assembled from pieces so that
// secret scanners do not flag this file; none of them is real.
var (
	stripeKey   = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
	twilioKey   = "SK" + "2c8e4f1a9b7d3e6f" + "0a1b2c3d4e5f6a7b"
	gitlabToken = "glpat-" + "x7Kq2LmN9pR4sT6vW8yZ"
	shopifyKey  = "shpat_" + "4f2a9c1e8b7d6a5f" + "3e2d1c0b9a8f7e6d"
	npmToken    = "npm_" + "a1B2c3D4e5F6g7H8i9J0" + "k1L2m3N4o5P6q7R8"
)

// structuralOnly runs every pass but gitleaks'.
func structuralOnly(s string) (string, int) {
	total := 0
	for _, pass := range passes[:len(passes)-1] {
		var n int
		s, n = pass(s)
		total += n
	}
	return s, total
}

func TestLeakRulesLoad(t *testing.T) {
	r, err := loadLeakRules()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.det.Config.Rules); n < 150 {
		t.Errorf("%d gitleaks rules, want the default set (over 200)", n)
	}
	if r.everywhere {
		t.Error("a default rule has no keywords: every text is scanned whole (correct, but slower); check gitleaks' release notes")
	}
}

// TestLeaks: secrets only gitleaks knows are replaced exactly where they
// are, whatever surrounds them, and nothing else changes.
func TestLeaks(t *testing.T) {
	filler := strings.Repeat("replicas: 3 # keep three\n", 100)
	cases := []struct {
		name, in, want string
		n              int
	}{
		{"Stripe key in prose", "charge with " + stripeKey + " today", "charge with [REDACTED] today", 1},
		{"Twilio key in prose", "the Twilio key " + twilioKey + " is in the vault", "the Twilio key [REDACTED] is in the vault", 1},
		{"GitLab token", "GITLAB=" + gitlabToken + "\n", "GITLAB=[REDACTED]\n", 1},
		{"Shopify token", `{"shop": "` + shopifyKey + `"}`, `{"shop": "[REDACTED]"}`, 1},
		{"npm token", "//registry/:x " + npmToken + "\n", "//registry/:x [REDACTED]\n", 1},
		{"after multi-byte text", "Schlüssel für Zahlungen – " + stripeKey + " – bitte drehen", "Schlüssel für Zahlungen – [REDACTED] – bitte drehen", 1},
		{"deep in a long text", filler + "notes:\n  billing: " + stripeKey + "\n" + filler, filler + "notes:\n  billing: [REDACTED]\n" + filler, 1},
		{"CRLF", "a: 1\r\nb: " + stripeKey + "\r\nc: 2\r\n", "a: 1\r\nb: [REDACTED]\r\nc: 2\r\n", 1},
		{"at the very end", "x\n" + twilioKey, "x\n[REDACTED]", 1},
		{"at the very start", stripeKey + " first", "[REDACTED] first", 1},
		{"two on a line", stripeKey + " and " + twilioKey, "[REDACTED] and [REDACTED]", 2},
		{"the same twice", stripeKey + "\n" + stripeKey + "\n", "[REDACTED]\n[REDACTED]\n", 2},
		{"markdown code span", "- **error** `KW-POL-020` `k8s/a.yaml:3`: env var STRIPE of web has a literal value `" + stripeKey + "`",
			"- **error** `KW-POL-020` `k8s/a.yaml:3`: env var STRIPE of web has a literal value `[REDACTED]`", 1},
		{"in a model summary", "I set STRIPE_KEY to " + stripeKey + " in k8s/payments/deployment.yaml as you asked.",
			"I set STRIPE_KEY to [REDACTED] in k8s/payments/deployment.yaml as you asked.", 1},
		{"after a $, as a reference would be", "API_KEY=$" + stripeKey + "\n", "API_KEY=$[REDACTED]\n", 1},
		{"gitleaks:allow does not allow", "x: " + stripeKey + " # gitleaks:allow\n", "x: [REDACTED] # gitleaks:allow\n", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "Stripe") || strings.HasPrefix(tc.name, "Twilio") {
				if got, _ := structuralOnly(tc.in); got != tc.in {
					t.Fatalf("the structural rules already find it; pick a kind only gitleaks knows: %q", got)
				}
			}
			got, n := Text(tc.in)
			if got != tc.want || n != tc.n {
				t.Errorf("Text(%q)\n got %q (%d)\nwant %q (%d)", tc.in, got, n, tc.want, tc.n)
			}
			if again, m := Text(got); again != got || m != 0 {
				t.Errorf("not a fixed point: %q then %q (%d)", got, again, m)
			}
		})
	}
}

// TestStructureKept: key names, Secret names and references stay; only
// values go (issue 12). An ExternalSecret holds no value at all.
func TestStructureKept(t *testing.T) {
	keep := []struct{ name, in string }{
		{"ExternalSecret", `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: orders-db-credentials
  namespace: orders
spec:
  refreshInterval: 1h
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target:
    name: orders-db-credentials
  data:
    - secretKey: db-password
      remoteRef:
        key: prod/orders/db
        property: password
    - secretKey: api-token
      remoteRef: {key: prod/orders/api, property: token}
  dataFrom:
    - extract:
        key: prod/orders/shared
`},
		{"ExternalSecret as JSON", `{"apiVersion":"external-secrets.io/v1","kind":"ExternalSecret","spec":{"data":[{"secretKey":"db-password","remoteRef":{"key":"prod/orders/db","property":"password"}}]}}`},
		{"ClusterExternalSecret", "kind: ClusterExternalSecret\nspec:\n  externalSecretSpec:\n    data:\n      - secretKey: stripe-api-key\n        remoteRef: {key: payments/stripe}\n"},
		{"Secret references", "env:\n  - name: STRIPE_API_KEY\n    valueFrom:\n      secretKeyRef: {name: payments-stripe, key: stripe-api-key}\nenvFrom:\n  - secretRef: {name: orders-db-credentials}\n"},
		{"references without defaults", "spring.datasource.password=${DB_PASSWORD}\nPASSWORD: ${DB_PASSWORD}\nurl: postgres://app:${DB_PASSWORD}@db/app\n"},
	}
	for _, tc := range keep {
		t.Run(tc.name, func(t *testing.T) {
			if got, n := Text(tc.in); got != tc.in || n != 0 {
				t.Errorf("Text changed (%d)\n%s\nto\n%s", n, tc.in, got)
			}
		})
	}
	// A reference keeps its name; only its default value goes.
	for in, want := range map[string]string{
		"Password=${POSTGRES_PASSWORD:-changeme};":      "Password=${POSTGRES_PASSWORD:-[REDACTED]};",
		"DB_PASSWORD: ${MARIADB_PASSWORD:-changeme}\n":  "DB_PASSWORD: ${MARIADB_PASSWORD:-[REDACTED]}\n",
		"export TOKEN=\"${TOKEN:=abc123}\"":             "export TOKEN=\"${TOKEN:=[REDACTED]}\"",
		"password = ${DB_PASSWORD-hunter2} # default\n": "password = ${DB_PASSWORD-[REDACTED]} # default\n",
	} {
		if got, _ := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGeneratedFilesKept: what kubewright's deterministic author writes
// holds references, never values, so redaction leaves every file of the
// containerize goldens byte for byte as it is: no false positives from
// either rule set.
func TestGeneratedFilesKept(t *testing.T) {
	root := filepath.Join("..", "author", "rules", "testdata", "containerize")
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if got, n := File(p, string(data)); n != 0 || got != string(data) {
			t.Errorf("%s: %d redactions in a generated file", p, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d golden files under %s", files, root)
	}
}

// TestLeaksConcurrent: one rule set serves every goroutine.
func TestLeaksConcurrent(t *testing.T) {
	done := make(chan string)
	for i := range 8 {
		go func() {
			got, _ := Text(fmt.Sprintf("job %d uses %s", i, stripeKey))
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; strings.Contains(got, stripeKey) {
			t.Errorf("kept: %s", got)
		}
	}
}

// BenchmarkRedactPrompt redacts a 200 KB prompt: the repository's files
// and the draft, as the agents send them, with a few secrets in it.
// structural is the rules before gitleaks; gitleaks-whole is gitleaks'
// detector over the whole text, the way gitleaks scans a file;
// gitleaks-prefiltered is what Text runs: only the lines near a rule
// keyword; all is Text.
func BenchmarkRedactPrompt(b *testing.B) {
	prompt := benchPrompt(b, 200<<10)
	b.Run("structural", func(b *testing.B) {
		b.SetBytes(int64(len(prompt)))
		for b.Loop() {
			structuralOnly(prompt)
		}
	})
	r := leaks()
	b.Run("gitleaks-whole", func(b *testing.B) {
		b.SetBytes(int64(len(prompt)))
		for b.Loop() {
			r.det.DetectString(prompt)
		}
	})
	b.Run("gitleaks-prefiltered", func(b *testing.B) {
		b.SetBytes(int64(len(prompt)))
		for b.Loop() {
			redactLeaks(prompt)
		}
	})
	b.Run("all", func(b *testing.B) {
		b.SetBytes(int64(len(prompt)))
		for b.Loop() {
			Text(prompt)
		}
	})
}

// benchPrompt concatenates the fixture repositories' files and the
// containerize goldens, as a prompt does, to size bytes.
func benchPrompt(b *testing.B, size int) string {
	b.Helper()
	var sb strings.Builder
	for sb.Len() < size {
		for _, root := range []string{filepath.Join("..", "..", "testdata", "repos"), filepath.Join("..", "author", "rules", "testdata", "containerize")} {
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || sb.Len() >= size {
					return err
				}
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				fmt.Fprintf(&sb, "\n<file path=%q>\n%s</file>\n", p, data)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		fmt.Fprintf(&sb, "billing: %s\ntwilio: %s\n", stripeKey, twilioKey)
	}
	return sb.String()[:size]
}

// BenchmarkLoadLeakRules is the one-time cost of the first Text call:
// reading gitleaks' embedded configuration and compiling its rules.
func BenchmarkLoadLeakRules(b *testing.B) {
	for b.Loop() {
		if _, err := loadLeakRules(); err != nil {
			b.Fatal(err)
		}
	}
}
