package redact

import (
	"regexp"
	"strings"
)

// --- whole blocks and tokens ------------------------------------------

var (
	pemBlock = regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----`)
	// pemOpen is a private key cut off before its END line: the BEGIN
	// line and the base64 or header lines after it.
	pemOpen = regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?:(?:\\r)?(?:\\n|\r?\n)[ \t]*(?:[A-Za-z0-9+/=]{16,}|(?:Proc-Type|DEK-Info|Comment|Version):[^\r\n\\]*))*`)
)

func redactPEM(s string) (string, int) {
	if !strings.Contains(s, "PRIVATE KEY") {
		return s, 0
	}
	n := 0
	s = pemBlock.ReplaceAllStringFunc(s, func(string) string {
		n++
		return redacted
	})
	idx := pemOpen.FindAllStringIndex(s, -1)
	if idx == nil {
		return s, n
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		b.WriteString(s[last:m[0]])
		b.WriteString(redacted)
		last = m[1] + pemLastLine(s[m[1]:])
		n++
	}
	b.WriteString(s[last:])
	return b.String(), n
}

// pemLastLine returns the length of the short last base64 line of a key
// cut off after its full lines (a line break, indentation and base64
// characters up to the end of a line), or 0.
func pemLastLine(rest string) int {
	i := 0
	switch {
	case strings.HasPrefix(rest, `\n`):
		i = 2
	case strings.HasPrefix(rest, "\r\n"):
		i = 2
	case strings.HasPrefix(rest, "\n"):
		i = 1
	default:
		return 0
	}
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	j := i
	for j < len(rest) && isBase64Byte(rest[j]) {
		j++
	}
	if j == i {
		return 0
	}
	if j < len(rest) && !strings.ContainsRune("\r\n\\", rune(rest[j])) {
		return 0
	}
	return j
}

func isBase64Byte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// tokenRule finds a token; group is the submatch replaced (0: all), and
// valid, when set, confirms a match.
type tokenRule struct {
	// hints are substrings one of which every match contains (lowercased
	// when fold is set); the expression runs only when one is present.
	hints []string
	fold  bool
	re    *regexp.Regexp
	group int
	valid func(string) bool
}

var tokenRules = []tokenRule{
	// GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens.
	{hints: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})\b`)},
	// OpenAI-style keys (also Anthropic, DeepSeek, ...); a digit tells a
	// key from kebab-case words.
	{hints: []string{"sk-"}, re: regexp.MustCompile(`\bsk-[A-Za-z0-9_\-]{20,}`), valid: hasDigit},
	{hints: []string{"AKIA", "ASIA"}, re: regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)},
	{hints: []string{"xox"}, re: regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9\-]{10,}`)},
	{hints: []string{"hooks.slack.com"}, re: regexp.MustCompile(`(https://hooks\.slack\.com/services/)([A-Za-z0-9_/]+)`), group: 2},
	{hints: []string{"AIza"}, re: regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}`)},
	{hints: []string{"eyJ"}, re: regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*`)},
	// Authorization headers; "Bearer" anywhere (curl -H, logs).
	{hints: []string{"bearer"}, fold: true, re: regexp.MustCompile(`(?i)(\bbearer[ \t]+)([A-Za-z0-9._~+/\-]{8,}=*)`), group: 2,
		valid: func(t string) bool { return hasDigit(t) || len(t) >= 32 }},
	{hints: []string{"authorization"}, fold: true, re: regexp.MustCompile(`(?i)(\bauthorization["']?[ \t]*[:=][ \t]*["']?(?:bearer|token|basic|digest)[ \t]+)([A-Za-z0-9._~+/\-]+=*)`), group: 2},
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

func redactTokens(s string) (string, int) {
	n := 0
	lower := ""
	for _, r := range tokenRules {
		text := s
		if r.fold {
			if lower == "" {
				lower = strings.ToLower(s)
			}
			text = lower
		}
		if !containsAny(text, r.hints) {
			continue
		}
		var k int
		s, k = replaceGroup(s, r.re, r.group, r.valid)
		if k > 0 {
			lower = ""
		}
		n += k
	}
	return s, n
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// replaceGroup replaces submatch group of every match of re in s with
// "[REDACTED]" when valid (if set) accepts it and it is not already
// "[REDACTED]".
func replaceGroup(s string, re *regexp.Regexp, group int, valid func(string) bool) (string, int) {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s, 0
	}
	var b strings.Builder
	last, n := 0, 0
	for _, m := range idx {
		start, end := m[2*group], m[2*group+1]
		if start < 0 {
			continue
		}
		v := s[start:end]
		if v == redacted || (valid != nil && !valid(v)) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(redacted)
		last = end
		n++
	}
	b.WriteString(s[last:])
	return b.String(), n
}

// urlPassword is the password of a URL's userinfo (postgres, mysql, amqp,
// redis, mongodb+srv, https, ...). It may contain "@": the last one
// before the host ends it.
var urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@"'\x60<>\[\]]*:)([^\s/"'\x60<>]+)@`)

func redactURLPasswords(s string) (string, int) {
	keep := func(line string) bool { return strings.Contains(line, "://") && strings.Contains(line, "@") }
	return perLine(s, keep, func(line string) (string, int) {
		return replaceGroup(line, urlPassword, 2, func(v string) bool { return !skipValue(v) })
	})
}
