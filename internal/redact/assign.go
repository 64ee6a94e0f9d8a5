package redact

import (
	"regexp"
	"strings"
)

// --- JSON ------------------------------------------------------------------

var (
	// jsonPair is "key": "string value" anywhere (minified JSON too).
	jsonPair = regexp.MustCompile(`"((?:[^"\\\r\n]|\\.){1,200})"(\s*:\s*)"((?:[^"\\\r\n]|\\.)*)"`)
	// jsonSecretKind marks JSON text holding a Kubernetes Secret.
	jsonSecretKind = regexp.MustCompile(`"kind"\s*:\s*"Secret"`)
	// jsonExternalSecretKind marks JSON text holding an ExternalSecret
	// (or a ClusterExternalSecret, a PushSecret).
	jsonExternalSecretKind = regexp.MustCompile(`"kind"\s*:\s*"(?:Cluster)?(?:ExternalSecret|PushSecret)"`)
	jsonSecretData         = regexp.MustCompile(`"(?:data|stringData)"\s*:\s*\{[^{}]*\}`)
	// jsonEnv is {"name": "DB_PASSWORD", "value": "..."}.
	jsonEnv = regexp.MustCompile(`"name"\s*:\s*"([A-Za-z0-9_.\-]+)"\s*,\s*"value"\s*:\s*"((?:[^"\\\r\n]|\\.)*)"`)
)

func redactJSON(s string) (string, int) {
	if !strings.Contains(s, `"`) {
		return s, 0
	}
	n := 0
	if jsonSecretKind.MatchString(s) {
		s = jsonSecretData.ReplaceAllStringFunc(s, func(m string) string {
			var k int
			m, k = replaceGroup(m, jsonPair, 3, func(v string) bool { return v != "" })
			n += k
			return m
		})
	}
	external := jsonExternalSecretKind.MatchString(s)
	var k int
	s, k = replaceSubmatch(s, jsonEnv, func(m []string) (int, bool) {
		return 2, isSecretKey(m[1]) && !skipValue(m[2])
	})
	n += k
	s, k = replaceSubmatch(s, jsonPair, func(m []string) (int, bool) {
		return 3, isSecretKey(m[1]) && !skipValue(m[3]) && !(external && isReferenceKey(m[1]))
	})
	return s, n + k
}

// replaceSubmatch replaces, in every match of re for which pick says so,
// the submatch group pick returns.
func replaceSubmatch(s string, re *regexp.Regexp, pick func(m []string) (group int, ok bool)) (string, int) {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s, 0
	}
	var b strings.Builder
	last, n := 0, 0
	for _, m := range idx {
		sub := make([]string, len(m)/2)
		for g := range sub {
			if m[2*g] >= 0 {
				sub[g] = s[m[2*g]:m[2*g+1]]
			}
		}
		g, ok := pick(sub)
		if !ok || m[2*g] < 0 || sub[g] == redacted {
			continue
		}
		b.WriteString(s[last:m[2*g]])
		b.WriteString(redacted)
		last = m[2*g+1]
		n++
	}
	b.WriteString(s[last:])
	return b.String(), n
}

// --- KEY=value forms ---------------------------------------------------------

var (
	// assignmentLine is "key = value" with white space around "=" (or
	// ":="), starting a line: TOML, HCL, INI, properties, code.
	assignmentLine = regexp.MustCompile(`(?m)^([ \t]*(?:export[ \t]+|set[ \t]+|- +)?)([A-Za-z0-9_.\-]+)([ \t]+(?::=|=)[ \t]*|[ \t]*(?::=|=)[ \t]+)([^\r\n]*)`)
	// inlineAssignment is KEY=value anywhere (env, shell, flags, query
	// strings, connection strings), or key = "quoted" anywhere.
	inlineAssignment = regexp.MustCompile(`(^|[^A-Za-z0-9_.\-])([A-Za-z0-9_.\-]*(?i:` + secretWords + `)[A-Za-z0-9_.\-]*|_auth)(\s*(?::=|=)\s*)(\[REDACTED\]|"(?:[^"\\\r\n]|\\.)*"|'[^'\r\n]*'|\$\{[^{}\s"'\x60]*\}|(?:\[REDACTED\]|[^\s"'\x60;&,\]}<>])+)`)
	// dockerfileEnv is the old "ENV KEY value" form.
	dockerfileEnv = regexp.MustCompile(`(?m)^([ \t]*ENV[ \t]+)([A-Za-z0-9_.\-]+)([ \t]+)([^\s=][^\r\n]*)`)
	netrcPassword = regexp.MustCompile(`(\bpassword[ \t]+)(\S+)`)
)

func redactAssignmentLines(s string) (string, int) {
	return perLine(s, mayAssign, func(line string) (string, int) {
		return replaceValues(line, assignmentLine, func(m []string) (string, bool) {
			if !isSecretKey(m[2]) {
				return m[4], false
			}
			return lineValue(m[4])
		})
	})
}

// lineValue redacts a value that runs to the end of its line: inside its
// quotes, or up to a comment (" #", " //", " ;").
func lineValue(v string) (string, bool) {
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		j := closingQuote(v, v[0], v[0] == '"')
		if j < 0 {
			return v, false
		}
		a, b, ok := secretPart(v[1:j])
		if !ok {
			return v, false
		}
		return v[:1+a] + redacted + v[1+b:], true
	}
	end := len(v)
	for _, c := range []string{" #", "\t#", " //", " ;"} {
		if i := strings.Index(v[:end], c); i >= 0 {
			end = i
		}
	}
	for end > 0 && strings.ContainsRune(" \t,;", rune(v[end-1])) {
		end--
	}
	a, b, ok := secretPart(v[:end])
	if !ok {
		return v, false
	}
	return v[:a] + redacted + v[b:], true
}

func redactInlineAssignments(s string) (string, int) {
	return perLine(s, mayAssign, func(line string) (string, int) {
		return replaceValues(line, inlineAssignment, inlineValue)
	})
}

// inlineValue decides the value of an inline KEY=value match.
func inlineValue(m []string) (string, bool) {
	v := m[4]
	if !isSecretKey(m[2]) || v == redacted {
		return v, false
	}
	if v[0] == '"' || v[0] == '\'' {
		a, b, ok := secretPart(v[1 : len(v)-1])
		if !ok {
			return v, false
		}
		return v[:1+a] + redacted + v[1+b:], true
	}
	// Unquoted after " = " is code or prose, not an assignment.
	if strings.ContainsAny(m[3], " \t\r\n") {
		return v, false
	}
	a, b, ok := secretPart(v)
	if !ok {
		return v, false
	}
	return v[:a] + redacted + v[b:], true
}

func redactDockerfileEnv(s string) (string, int) {
	keep := func(line string) bool {
		return strings.Contains(line, "ENV") && hasSecretHint(strings.ToLower(line))
	}
	return perLine(s, keep, func(line string) (string, int) {
		return replaceValues(line, dockerfileEnv, func(m []string) (string, bool) {
			if !isSecretKey(m[2]) {
				return m[4], false
			}
			return lineValue(m[4])
		})
	})
}

// replaceValues rewrites the last submatch of every match of re with what
// value returns, counting the changes.
func replaceValues(s string, re *regexp.Regexp, value func(m []string) (string, bool)) (string, int) {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s, 0
	}
	var b strings.Builder
	last, n := 0, 0
	for _, m := range idx {
		sub := make([]string, len(m)/2)
		for g := range sub {
			if m[2*g] >= 0 {
				sub[g] = s[m[2*g]:m[2*g+1]]
			}
		}
		v, ok := value(sub)
		g := len(sub) - 1
		if !ok || m[2*g] < 0 {
			continue
		}
		b.WriteString(s[last:m[2*g]])
		b.WriteString(v)
		last = m[2*g+1]
		n++
	}
	b.WriteString(s[last:])
	return b.String(), n
}

// --- env files ---------------------------------------------------------------

var envLine = regexp.MustCompile(`^([ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.\-]*[ \t]*=[ \t]*)(.*?)(\r?\n?)$`)

// redactEnvFile redacts every value of a dotenv file; a quoted value may
// span lines.
func redactEnvFile(s string) (string, int) {
	lines := strings.SplitAfter(s, "\n")
	n := 0
	for i := 0; i < len(lines); i++ {
		m := envLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		prefix, v, eol := m[1], m[2], m[3]
		if v == "" || v == redacted {
			continue
		}
		if q := v[0]; q == '"' || q == '\'' || q == '`' {
			if j := closingQuote(v, q, q == '"'); j >= 0 {
				if v[1:j] == "" || v[1:j] == redacted {
					continue
				}
				lines[i] = prefix + v[:1] + redacted + v[j:] + eol
				n++
				continue
			}
			// The value goes on until a line holding the closing quote.
			for k := i + 1; k < len(lines); k++ {
				body := strings.TrimRight(lines[k], "\r\n")
				if j := closingQuote(string(q)+body, q, q == '"'); j >= 0 {
					lines[i] = prefix + v[:1] + redacted + body[j-1:] + lines[k][len(body):]
					for x := i + 1; x <= k; x++ {
						lines[x] = ""
					}
					n++
					i = k
					break
				}
			}
			if lines[i] == prefix+v+eol && v[1:] != redacted { // never closed: redact this line's part
				lines[i] = prefix + v[:1] + redacted + eol
				n++
			}
			continue
		}
		end := len(v)
		for _, c := range []string{" #", "\t#"} {
			if j := strings.Index(v[:end], c); j >= 0 {
				end = j
			}
		}
		val := strings.TrimRight(v[:end], " \t")
		if val == "" || val == redacted {
			continue
		}
		lines[i] = prefix + redacted + v[len(val):] + eol
		n++
	}
	if n == 0 {
		return s, 0
	}
	return strings.Join(lines, ""), n
}
