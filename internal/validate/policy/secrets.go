package policy

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// Heuristics for plaintext secrets (KW-POL-020, -021, -022). Messages name
// the key and the reason, never the value.

// policySecretWords mark a variable or key name as holding a secret.
var policySecretWords = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL", "ACCESS_KEY"}

// policyNotSecretSuffixes mark a name as describing a secret rather than
// holding it (TOKEN_URL, PASSWORD_FILE, SECRET_NAME, TOKEN_TTL).
var policyNotSecretSuffixes = []string{"_FILE", "_PATH", "_DIR", "_NAME", "_REF", "_URL", "_URI", "_ENDPOINT", "_ISSUER", "_AUDIENCE",
	"_HEADER", "_TYPE", "_TTL", "_EXPIRY", "_EXPIRES", "_EXPIRATION", "_LIFETIME", "_TIMEOUT", "_LENGTH", "_ENABLED", "_REQUIRED"}

// policyConnWords mark a name as a connection string, DSN or URL.
var policyConnWords = []string{"URL", "URI", "DSN", "CONN", "DATABASE", "DB"}

var (
	// scheme://user:pass@ with a non-empty password.
	policyURLCred = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:([^/\s@]+)@`)
	// user:pass@host without a scheme (a MySQL DSN).
	policyBareCred = regexp.MustCompile(`^[^\s:/@]+:([^\s@/]+)@`)
	// Password=...; in a key/value connection string.
	policyKVCred   = regexp.MustCompile(`(?i)(?:^|[;\s])(?:password|pwd)\s*=\s*([^;\s]+)`)
	policyPEM      = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)
	policyAWSKey   = regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`)
	policyVarRef   = regexp.MustCompile(`^\s*(?:\$\([A-Za-z_][A-Za-z0-9_.\-]*\)|\$\{[^}]*\}|\{\{[^}]*\}\}|<[^>]*>)\s*$`)
	policySetting  = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z0-9_.\-]+)\s*[=:]\s*(.*?)\s*$`)
	policyCamelCut = regexp.MustCompile(`([a-z0-9])([A-Z])`)
)

// policyNormName turns dbPassword, db-password and db.password into
// DB_PASSWORD.
func policyNormName(name string) string {
	name = policyCamelCut.ReplaceAllString(name, "${1}_${2}")
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, name))
}

// policySecretName reports whether a name says it holds a secret.
func policySecretName(name string) bool {
	n := policyNormName(name)
	for _, s := range policyNotSecretSuffixes {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	for _, w := range policySecretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func policyConnName(name string) bool {
	for _, part := range strings.Split(policyNormName(name), "_") {
		for _, w := range policyConnWords {
			if part == w || strings.HasPrefix(part, "CONNECTION") {
				return true
			}
		}
	}
	return false
}

// policyIsRef reports whether a value only refers to another variable
// ($(VAR), ${VAR}, {{ .x }}, <placeholder>), so it holds no secret itself.
func policyIsRef(v string) bool { return policyVarRef.MatchString(v) }

// policySecretValue names what secret a literal name=value looks like, or "".
func policySecretValue(name, value string) string {
	if strings.TrimSpace(value) == "" || policyIsRef(value) {
		return ""
	}
	if policySecretName(name) {
		return "a secret (by its name)"
	}
	if why := policyCredential(value); why != "" {
		return why
	}
	if policyConnName(name) {
		if m := policyBareCred.FindStringSubmatch(strings.TrimSpace(value)); m != nil && !policyIsRef(m[1]) {
			return "a connection string with a password (user:password@)"
		}
	}
	return ""
}

// policyCredential names the credential a value contains, or "".
func policyCredential(v string) string {
	for _, m := range policyURLCred.FindAllStringSubmatch(v, -1) {
		if !policyIsRef(m[1]) {
			return "a URL with a password (scheme://user:password@)"
		}
	}
	for _, m := range policyKVCred.FindAllStringSubmatch(v, -1) {
		if !policyIsRef(m[1]) {
			return "a connection string with a password (Password=...)"
		}
	}
	if policyPEM.MatchString(v) {
		return "a private key"
	}
	if policyAWSKey.MatchString(v) {
		return "an AWS access key ID"
	}
	return ""
}

// policyFileSecret finds a secret setting inside a multi-line value (a
// properties, .env or YAML file kept in a ConfigMap) and names its key.
func policyFileSecret(v string) string {
	for _, line := range strings.Split(v, "\n") {
		m := policySetting.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		val := strings.Trim(m[2], `"'`)
		if val == "" || policyIsRef(val) || !policySecretName(m[1]) {
			continue
		}
		return fmt.Sprintf("a file with a secret setting (%s)", m[1])
	}
	return ""
}

func (p *policyRun) checkConfigMap(o validate.Object) {
	data, _ := policyField(o.U.Object, "data")
	m, _ := data.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	loc := p.locate(o)
	for _, k := range keys {
		v, _ := m[k].(string)
		if strings.TrimSpace(v) == "" {
			continue
		}
		why := policySecretValue(k, v)
		if why == "" && strings.Contains(v, "\n") {
			why = policyFileSecret(v)
		}
		if why == "" {
			continue
		}
		f, l := loc.keyLine("data", k)
		p.add("KW-POL-021", finding.Error, o, f, l, fmt.Sprintf("ConfigMap key %s has a value that looks like %s; ConfigMaps are neither encrypted nor access-restricted like Secrets", k, why),
			"move the value into a Secret (an ExternalSecret, or SOPS) and reference it with secretKeyRef or envFrom.secretRef; keep only non-secret settings here; rotate the exposed credential")
	}
}

func (p *policyRun) checkSecret(o validate.Object) {
	// A SOPS-encrypted Secret carries a top-level sops block; Flux
	// decrypts it in the cluster.
	if _, ok := o.U.Object["sops"]; ok {
		return
	}
	loc := p.locate(o)
	for _, field := range []string{"data", "stringData"} {
		raw, _ := policyField(o.U.Object, field)
		m, _ := raw.(map[string]any)
		var keys []string
		for k, v := range m {
			if s, _ := v.(string); s != "" && !strings.HasPrefix(s, "ENC[") {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			continue
		}
		sort.Strings(keys)
		f, l := loc.at(field)
		p.add("KW-POL-022", finding.Error, o, f, l,
			fmt.Sprintf("Secret %s commits %d value(s) (%s) to the repository in %s; base64 is an encoding, not encryption", o.U.GetName(), len(keys), strings.Join(keys, ", "), field),
			"do not commit Secret values: use an ExternalSecret (external-secrets.io) or encrypt the file with SOPS, and rotate the exposed values")
	}
}
