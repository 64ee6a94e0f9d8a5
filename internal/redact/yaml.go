package redact

import (
	"regexp"
	"strings"
)

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
	a, b, ok := secretPart(v[start:end])
	if !ok {
		return 0, 0, false
	}
	return off + start + a, off + start + b, true
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

var (
	secretKind = regexp.MustCompile(`^ *(?:- +)?kind: *["']?Secret["']? *(?:#.*)?\r?\n?$`)
	// externalSecretKind marks the External Secrets Operator's kinds,
	// whose secretKey names a key of the Secret they create.
	externalSecretKind = regexp.MustCompile(`^ *(?:- +)?kind: *["']?(?:Cluster)?(?:ExternalSecret|PushSecret)["']? *(?:#.*)?\r?\n?$`)
)

// redactYAMLDocument redacts one document's lines in place.
func redactYAMLDocument(lines []string) int {
	isSecret, isExternal := false, false
	for _, line := range lines {
		if strings.Contains(line, "Secret") {
			isSecret = isSecret || secretKind.MatchString(line)
			isExternal = isExternal || externalSecretKind.MatchString(line)
		}
	}
	n := 0
	for i := 0; i < len(lines); i++ {
		l := parseYAMLLine(lines[i])
		if !l.ok {
			continue
		}
		switch {
		case isExternal && isReferenceKey(l.key):
			// A key name in the target Secret (secretKey: db-password),
			// not a value: it stays, so the model sees the wiring.
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
