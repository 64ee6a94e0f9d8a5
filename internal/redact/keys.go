package redact

import (
	"regexp"
	"strings"
)

// --- secret key names -------------------------------------------------

// secretWords are the words that make a key name a secret's.
const secretWords = `password|passwd|passphrase|pwd|secret|token|api_?key|api-key|access_?key|access-key|private_?key|private-key|credential`

// secretWordList is secretWords spelled out, lowercased.
var secretWordList = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "api_key", "api-key",
	"accesskey", "access_key", "access-key", "privatekey", "private_key", "private-key", "credential",
}

// secretHints are cheap substrings every secret key name (and every line
// holding one) contains, lowercased; they spare the regular expressions
// most lines.
var secretHints = []string{"pass", "pwd", "secret", "token", "key", "credential", "auth"}

// hasSecretHint reports whether lowercased text may hold a secret key.
func hasSecretHint(lower string) bool { return containsAny(lower, secretHints) }

// perLine applies f to the lines of s that keep accepts.
func perLine(s string, keep func(line string) bool, f func(string) (string, int)) (string, int) {
	lines := strings.SplitAfter(s, "\n")
	n := 0
	for i, line := range lines {
		if !keep(line) {
			continue
		}
		var k int
		lines[i], k = f(line)
		n += k
	}
	if n == 0 {
		return s, 0
	}
	return strings.Join(lines, ""), n
}

// mayAssign keeps lines with "=" that may name a secret.
func mayAssign(line string) bool {
	return strings.Contains(line, "=") && hasSecretHint(strings.ToLower(line))
}

// notSecretSuffixes end key names that name or point at a secret rather
// than hold one (secretKeyRef, secretName, PASSWORD_FILE, tokenUrl),
// compared lowercased without "_", "-" and ".".
var notSecretSuffixes = []string{
	"ref", "refs", "name", "names", "file", "files", "path", "paths", "dir",
	"generator", "generators", "selector", "providerclass", "store", "url", "uri",
	"endpoint", "type", "ttl", "expiry", "expiration", "expiresin", "lifetime",
	"length", "env", "envvar", "var", "mount", "mountpath",
	"passwordkey", "tokenkey", // the key of a Secret holding it (Bitnami charts)
}

var keySeparators = strings.NewReplacer("_", "", "-", "", ".", "")

// isSecretKey reports whether a key's value is a secret.
func isSecretKey(key string) bool {
	if key == "PWD" || key == "OLDPWD" { // the shell's working directory
		return false
	}
	lower := strings.ToLower(key)
	if lower == "auth" || lower == "_auth" { // docker config.json, .npmrc
		return true
	}
	if !containsAny(lower, secretWordList) {
		return false
	}
	norm := keySeparators.Replace(lower)
	if strings.HasPrefix(norm, "existing") || strings.HasPrefix(norm, "max") || strings.HasPrefix(norm, "min") {
		return false // existingSecret (a Secret's name), maxTokens
	}
	for _, suf := range notSecretSuffixes {
		if strings.HasSuffix(norm, suf) {
			return false
		}
	}
	return true
}

// isReferenceKey reports keys that, in an ExternalSecret or PushSecret,
// name a key of a Secret or of the external store rather than hold a
// value: spec.data[].secretKey, remoteRef.key and remoteRef.property.
func isReferenceKey(key string) bool {
	return key == "secretKey" || key == "key" || key == "property"
}

// callLike matches code that computes a value: os.Getenv("X"),
// env["X"], getpass(); see looksLikeCall.
var callLike = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.:]*)\s*[(\[](.*)[)\]][,;]?$`)

// looksLikeCall tells code (a call or an index whose callee is a
// selector, or whose argument is quoted or empty) from a password that
// happens to hold parentheses.
func looksLikeCall(v string) bool {
	m := callLike.FindStringSubmatch(v)
	return m != nil && (strings.Contains(m[1], ".") || m[2] == "" || strings.ContainsAny(m[2], `"'`))
}

// shellRef is a whole-value reference to a variable: $VAR, ${VAR},
// ${{ secrets.X }}, $(command).
var shellRef = regexp.MustCompile(`^\$(?:[A-Za-z_][A-Za-z0-9_]*|\{.*\}|\(.*\))$`)

// refWithDefault is a shell or compose reference with a default value:
// ${NAME:-default}, ${NAME-default}, ${NAME:=default}, ${NAME=default}.
var refWithDefault = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-=])(.*)\}$`)

// secretPart returns the span of v that holds a secret: all of it, or
// the default of a ${NAME:-default} reference (the reference stays
// readable), or nothing (ok false) when skipValue says v is no secret.
func secretPart(v string) (start, end int, ok bool) {
	if m := refWithDefault.FindStringSubmatchIndex(v); m != nil {
		if m[2] == m[3] || skipValue(v[m[2]:m[3]]) {
			return 0, 0, false
		}
		return m[2], m[3], true
	}
	if skipValue(v) {
		return 0, 0, false
	}
	return 0, len(v), true
}

// skipValue reports whether a value is no secret: empty, already
// redacted, a reference to one, a keyword or code.
func skipValue(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || v == redacted {
		return true
	}
	// A value the placeholder leaves nothing of but punctuation was
	// redacted by an earlier pass ("$[REDACTED]": a gitleaks key after a
	// "$"): redacting it again would not be a fixed point.
	if strings.Contains(v, redacted) && !strings.ContainsFunc(strings.ReplaceAll(v, redacted, ""), isAlnum) {
		return true
	}
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "null", "nil", "none", "undefined", "~":
		return true
	}
	for _, p := range []string{
		"=", "{{", "#{", "%{", "<%", "((", "valueFrom",
		"vault:", "ref+", "op://", "arn:aws:secretsmanager:", "arn:aws:ssm:",
		"process.env", "import.meta.env", "os.environ", "System.getenv", "Environment.",
	} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return shellRef.MatchString(v) || looksLikeCall(v)
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 0x7f
}
