// Package redact removes secrets from text before it leaves kubewright:
// prompts for a model, findings, comments, pull request bodies and logs.
// It is a leaf (the standard library, internal/finding and gitleaks), so
// publish, job, llm and the loggers can all use it.
//
// Two rule sets run, in order. The structural rules know where formats
// keep secrets (a Kubernetes Secret's data, "password:" keys, KEY=value,
// URLs with a password, connection strings, PEM blocks, provider tokens)
// and replace only the value, so key names, Secret names and references
// (secretKeyRef, ExternalSecret secretKey and remoteRef.key, ${VAR})
// stay readable. Then gitleaks' maintained detector, with its embedded
// default configuration, finds the provider keys the structural rules do
// not know (Stripe, Twilio, and some two hundred more), and its secret is
// replaced where gitleaks found it.
package redact

import (
	"path"
	"strings"
)

// Placeholder replaces every secret.
const Placeholder = "[REDACTED]"

// redacted is Placeholder, by its old name.
const redacted = Placeholder

// Text replaces secrets in s with "[REDACTED]", keeping the key names so
// a reader (or a model) still sees the structure, and returns how many
// replacements it made. It knows private keys (PEM), provider tokens
// (GitHub, OpenAI-style sk-, AWS access keys, Slack, Google API keys),
// JWTs, Authorization headers, passwords in URLs, connection strings and
// query parameters, the values of keys that name a secret (password,
// token, api_key, ...) in YAML, JSON, env, TOML/HCL/INI/properties and
// Dockerfile ENV forms, and every value of a Kubernetes Secret's data and
// stringData; then gitleaks' default rules. References stay readable:
// secretKeyRef, secretName, an ExternalSecret's secretKey, env var names,
// ${VAR}, {{ ... }}, valueFrom. YAML keeps its indentation, and
// Text(Text(s)) == Text(s).
func Text(s string) (string, int) {
	total := 0
	for _, pass := range passes {
		var n int
		s, n = pass(s)
		total += n
	}
	return s, total
}

// passes run in order: whole blocks first, so that later passes see
// "[REDACTED]" and leave it alone; gitleaks last, for what is left.
var passes = []func(string) (string, int){
	redactPEM,
	redactTokens,
	redactURLPasswords,
	redactYAML,
	redactJSON,
	redactAssignmentLines,
	redactInlineAssignments,
	redactDockerfileEnv,
	redactLeaks,
}

// File redacts one file's content knowing its path: in env files (.env,
// .env.*, *.env) every value is redacted, in .netrc every password;
// everything else, and the comments of those, goes through [Text].
func File(p, content string) (string, int) {
	base := path.Base(strings.ReplaceAll(p, `\`, "/"))
	n := 0
	switch {
	case base == ".env" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env"):
		content, n = redactEnvFile(content)
	case base == ".netrc" || base == "_netrc":
		content, n = replaceGroup(content, netrcPassword, 2, nil)
	}
	content, m := Text(content)
	return content, n + m
}

// Strings redacts each string of ss in place and returns how many
// secrets it replaced.
func Strings(ss []string) int {
	n := 0
	for i, s := range ss {
		var k int
		ss[i], k = Text(s)
		n += k
	}
	return n
}
