package llm

import (
	"path"
	"regexp"
	"strings"
)

// redacted replaces every secret.
const redacted = "[REDACTED]"

// Redact replaces secrets in text with "[REDACTED]", keeping the key
// names so the model still sees the structure, and returns how many
// replacements it made. It knows private keys (PEM), provider tokens
// (GitHub, OpenAI-style sk-, AWS access keys, Slack, Google API keys),
// JWTs, Authorization headers, passwords in URLs, connection strings and
// query parameters, the values of keys that name a secret (password,
// token, api_key, ...) in YAML, JSON, env, TOML/HCL/INI/properties and
// Dockerfile ENV forms, and every value of a Kubernetes Secret's data and
// stringData. References stay readable: secretKeyRef, secretName, env var
// names, ${VAR}, {{ ... }}, valueFrom. YAML keeps its indentation, and
// Redact(Redact(s)) == Redact(s).
func Redact(s string) (string, int) {
	total := 0
	for _, pass := range redactPasses {
		var n int
		s, n = pass(s)
		total += n
	}
	return s, total
}

// redactPasses run in order: whole blocks first, so that later passes see
// "[REDACTED]" and leave it alone.
var redactPasses = []func(string) (string, int){
	redactPEM,
	redactTokens,
	redactURLPasswords,
	redactYAML,
	redactJSON,
	redactAssignmentLines,
	redactInlineAssignments,
	redactDockerfileEnv,
}

// RedactFile redacts one file's content knowing its path: in env files
// (.env, .env.*, *.env) every value is redacted, in .netrc every
// password; everything else, and the comments of those, goes through
// [Redact].
func RedactFile(p, content string) (string, int) {
	base := path.Base(strings.ReplaceAll(p, `\`, "/"))
	n := 0
	switch {
	case base == ".env" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env"):
		content, n = redactEnvFile(content)
	case base == ".netrc" || base == "_netrc":
		content, n = replaceGroup(content, netrcPassword, 2, nil)
	}
	content, m := Redact(content)
	return content, n + m
}

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

// skipValue reports whether a value is no secret: empty, already
// redacted, a reference to one, a keyword or code.
func skipValue(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || v == redacted {
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

// --- YAML, line by line -------------------------------------------------

// yamlLine is one line read as "[indent][- ]key: value".
type yamlLine struct {
	indent int    // spaces before the key or the dash
	dash   bool   // a sequence item
	keyCol int    // column of the key
	key    string // unquoted
	value  string // after ": ", without the line end; may hold a comment
	valAt  int    // byte offset of value in the line
	ok     bool
}

func parseYAMLLine(line string) yamlLine {
	body := strings.TrimRight(line, "\r\n")
	l := yamlLine{}
	i := 0
	for i < len(body) && body[i] == ' ' {
		i++
	}
	l.indent = i
	if strings.HasPrefix(body[i:], "- ") {
		l.dash = true
		i += 2
		for i < len(body) && body[i] == ' ' {
			i++
		}
	}
	l.keyCol = i
	if i >= len(body) {
		return l
	}
	end := i
	switch q := body[i]; q {
	case '"', '\'':
		j := strings.IndexByte(body[i+1:], q)
		if j < 0 {
			return l
		}
		l.key = body[i+1 : i+1+j]
		end = i + 2 + j
	default:
		for end < len(body) && isKeyByte(body[end]) {
			end++
		}
		if end == i {
			return l
		}
		l.key = body[i:end]
	}
	j := end
	for j < len(body) && body[j] == ' ' {
		j++
	}
	if j >= len(body) || body[j] != ':' {
		return l
	}
	j++
	if j < len(body) && body[j] != ' ' && body[j] != '\t' {
		return l // "key:value" is no YAML mapping
	}
	for j < len(body) && (body[j] == ' ' || body[j] == '\t') {
		j++
	}
	l.value = strings.TrimRight(body[j:], " \t")
	l.valAt = j
	l.ok = true
	return l
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == '/'
}

// isBlockIndicator reports whether a YAML value starts a block scalar
// ("|", ">-", "|2+", optionally followed by a comment).
func isBlockIndicator(v string) bool {
	if v == "" || (v[0] != '|' && v[0] != '>') {
		return false
	}
	rest := strings.TrimLeft(v[1:], "+-0123456789")
	rest = strings.TrimSpace(rest)
	return rest == "" || rest[0] == '#'
}

// scalarSpan returns the byte span of a YAML (or similar) scalar value's
// secret part: inside quotes, or a plain value without its comment and
// trailing "," or ";". ok is false for block scalars, flow collections,
// aliases and values that skipValue rejects.
func scalarSpan(v string) (start, end int, ok bool) {
	off := 0
	// An anchor or a tag precedes the value.
	for len(v) > 0 && (v[0] == '&' || v[0] == '!') {
		sp := strings.IndexAny(v, " \t")
		if sp < 0 {
			return 0, 0, false
		}
		k := sp
		for k < len(v) && (v[k] == ' ' || v[k] == '\t') {
			k++
		}
		off += k
		v = v[k:]
	}
	if v == "" {
		return 0, 0, false
	}
	switch v[0] {
	case '"':
		j := closingQuote(v, '"', true)
		if j < 0 {
			return 0, 0, false
		}
		start, end = 1, j
	case '\'':
		j := closingQuote(v, '\'', false)
		if j < 0 {
			return 0, 0, false
		}
		start, end = 1, j
	case '|', '>', '{', '[', '*', '#':
		return 0, 0, false
	default:
		end = len(v)
		if c := strings.Index(v, " #"); c >= 0 {
			end = c
		}
		if c := strings.Index(v[:end], "\t#"); c >= 0 {
			end = c
		}
		for end > 0 && strings.ContainsRune(" \t,;", rune(v[end-1])) {
			end--
		}
	}
	if skipValue(v[start:end]) {
		return 0, 0, false
	}
	return off + start, off + end, true
}

// closingQuote returns the index of the quote closing v[0], or -1.
// Backslash escapes apply in double quotes; ” is an escaped quote in
// single quotes.
func closingQuote(v string, q byte, backslash bool) int {
	for i := 1; i < len(v); i++ {
		switch {
		case backslash && v[i] == '\\':
			i++
		case v[i] == q:
			if !backslash && i+1 < len(v) && v[i+1] == q {
				i++
				continue
			}
			return i
		}
	}
	return -1
}

// redactScalarLine redacts the value of one parsed line.
func redactScalarLine(line string, l yamlLine) (string, bool) {
	start, end, ok := scalarSpan(l.value)
	if !ok {
		return line, false
	}
	return line[:l.valAt+start] + redacted + line[l.valAt+end:], true
}

// redactYAML redacts what needs the structure of YAML: values of secret
// keys (also block scalars), every value of a Kubernetes Secret's data
// and stringData, and the value of an env var whose name is a secret's
// ("- name: DB_PASSWORD" / "value: ..."). It works on any text whose
// lines look like "key: value" (HTTP headers, properties with colons).
func redactYAML(s string) (string, int) {
	if !strings.Contains(s, ":") {
		return s, 0
	}
	lines := strings.SplitAfter(s, "\n")
	n := 0
	docStart := 0
	for docStart < len(lines) {
		docEnd := docStart + 1
		for docEnd < len(lines) && !isDocumentStart(lines[docEnd]) {
			docEnd++
		}
		n += redactYAMLDocument(lines[docStart:docEnd])
		docStart = docEnd
	}
	if n == 0 {
		return s, 0
	}
	return strings.Join(lines, ""), n
}

func isDocumentStart(line string) bool {
	t := strings.TrimRight(line, "\r\n")
	return t == "---" || strings.HasPrefix(t, "--- ") || t == "..."
}

var secretKind = regexp.MustCompile(`^ *(?:- +)?kind: *["']?Secret["']? *(?:#.*)?\r?\n?$`)

// redactYAMLDocument redacts one document's lines in place.
func redactYAMLDocument(lines []string) int {
	isSecret := false
	for _, line := range lines {
		if strings.Contains(line, "Secret") && secretKind.MatchString(line) {
			isSecret = true
			break
		}
	}
	n := 0
	for i := 0; i < len(lines); i++ {
		l := parseYAMLLine(lines[i])
		if !l.ok {
			continue
		}
		switch {
		case isSecret && (l.key == "data" || l.key == "stringData") && l.value == "":
			end := blockEnd(lines, i+1, l.keyCol)
			n += redactAllValues(lines[i+1 : end])
			i = end - 1
		case isSecretKey(l.key) && isBlockIndicator(l.value):
			end := blockEnd(lines, i+1, l.keyCol)
			n += redactBlock(lines[i+1 : end])
			i = end - 1
		case isSecretKey(l.key):
			var ok bool
			if lines[i], ok = redactScalarLine(lines[i], l); ok {
				n++
			}
		case l.dash && (l.key == "name" || l.key == "value"):
			n += redactEnvItem(lines, i, l)
		}
	}
	return n
}

// indentOf counts the leading spaces of a line; blank reports a line of
// only white space.
func indentOf(line string) (indent int, blank bool) {
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	return indent, strings.TrimSpace(line) == ""
}

// blockEnd returns the index after the last line, from start on, that
// is indented deeper than col (blank lines inside count, trailing ones
// do not).
func blockEnd(lines []string, start, col int) int {
	end := start
	for i := start; i < len(lines); i++ {
		ind, blank := indentOf(lines[i])
		if blank {
			continue
		}
		if ind <= col {
			break
		}
		end = i + 1
	}
	return end
}

// redactBlock replaces a block scalar's lines with one "[REDACTED]" line
// at the block's indentation.
func redactBlock(block []string) int {
	first := -1
	for i, line := range block {
		if _, blank := indentOf(line); !blank {
			first = i
			break
		}
	}
	if first < 0 {
		return 0
	}
	ind, _ := indentOf(block[first])
	if len(block) == first+1 && strings.TrimSpace(block[first]) == redacted {
		return 0
	}
	eol := "\n"
	if strings.HasSuffix(block[first], "\r\n") {
		eol = "\r\n"
	}
	if !strings.HasSuffix(block[len(block)-1], "\n") {
		eol = ""
	}
	block[0] = strings.Repeat(" ", ind) + redacted + eol
	for i := 1; i < len(block); i++ {
		block[i] = ""
	}
	return 1
}

// redactAllValues redacts every value of a mapping (a Secret's data):
// each key at the mapping's indentation, block scalars included.
func redactAllValues(lines []string) int {
	col := -1
	n := 0
	for i := 0; i < len(lines); i++ {
		ind, blank := indentOf(lines[i])
		if blank {
			continue
		}
		if col < 0 {
			col = ind
		}
		if ind != col {
			continue
		}
		l := parseYAMLLine(lines[i])
		if !l.ok || l.dash {
			continue
		}
		if isBlockIndicator(l.value) {
			end := blockEnd(lines, i+1, l.keyCol)
			n += redactBlock(lines[i+1 : end])
			i = end - 1
			continue
		}
		var ok bool
		if lines[i], ok = redactScalarLine(lines[i], l); ok {
			n++
		}
	}
	return n
}

// redactEnvItem redacts the value of a sequence item (starting at line
// i) that has "name: <secret key>" and "value: ..." (a container's env).
func redactEnvItem(lines []string, i int, first yamlLine) int {
	end := blockEnd(lines, i+1, first.indent)
	type sib struct {
		at int
		l  yamlLine
	}
	sibs := []sib{{i, first}}
	for j := i + 1; j < end; j++ {
		if l := parseYAMLLine(lines[j]); l.ok && !l.dash && l.keyCol == first.keyCol {
			sibs = append(sibs, sib{j, l})
		}
	}
	secret := false
	for _, s := range sibs {
		if s.l.key == "name" {
			if a, b, ok := scalarSpan(s.l.value); ok && isSecretKey(s.l.value[a:b]) {
				secret = true
			}
		}
	}
	if !secret {
		return 0
	}
	n := 0
	for _, s := range sibs {
		if s.l.key != "value" {
			continue
		}
		if isBlockIndicator(s.l.value) {
			bend := blockEnd(lines, s.at+1, s.l.keyCol)
			n += redactBlock(lines[s.at+1 : bend])
			continue
		}
		var ok bool
		if lines[s.at], ok = redactScalarLine(lines[s.at], s.l); ok {
			n++
		}
	}
	return n
}

// --- JSON ------------------------------------------------------------------

var (
	// jsonPair is "key": "string value" anywhere (minified JSON too).
	jsonPair = regexp.MustCompile(`"((?:[^"\\\r\n]|\\.){1,200})"(\s*:\s*)"((?:[^"\\\r\n]|\\.)*)"`)
	// jsonSecretKind marks JSON text holding a Kubernetes Secret.
	jsonSecretKind = regexp.MustCompile(`"kind"\s*:\s*"Secret"`)
	jsonSecretData = regexp.MustCompile(`"(?:data|stringData)"\s*:\s*\{[^{}]*\}`)
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
	var k int
	s, k = replaceSubmatch(s, jsonEnv, func(m []string) (int, bool) {
		return 2, isSecretKey(m[1]) && !skipValue(m[2])
	})
	n += k
	s, k = replaceSubmatch(s, jsonPair, func(m []string) (int, bool) {
		return 3, isSecretKey(m[1]) && !skipValue(m[3])
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
	inlineAssignment = regexp.MustCompile(`(^|[^A-Za-z0-9_.\-])([A-Za-z0-9_.\-]*(?i:` + secretWords + `)[A-Za-z0-9_.\-]*|_auth)(\s*(?::=|=)\s*)(\[REDACTED\]|"(?:[^"\\\r\n]|\\.)*"|'[^'\r\n]*'|[^\s"'\x60;&,\]}<>]+)`)
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
		if j < 0 || skipValue(v[1:j]) {
			return v, false
		}
		return v[:1] + redacted + v[j:], true
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
	if skipValue(v[:end]) {
		return v, false
	}
	return redacted + v[end:], true
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
		if skipValue(v[1 : len(v)-1]) {
			return v, false
		}
		return v[:1] + redacted + v[len(v)-1:], true
	}
	// Unquoted after " = " is code or prose, not an assignment.
	if strings.ContainsAny(m[3], " \t\r\n") || skipValue(v) {
		return v, false
	}
	return redacted, true
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
