package publish

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// defuse makes review text inert where GitHub would act on it: outside
// code, an @mention gets a zero-width space after its @ (no one is
// pinged) and "<!--" is escaped (nothing is hidden, nothing poses as
// kubewright's marker). Fenced code blocks and inline code spans are left
// as written, so a ```suggestion applies exactly what it shows. open is
// the fence that closes a block the text left open ("" when none).
func defuse(text string) (out, open string) {
	lines := strings.Split(text, "\n")
	fence := "" // the open block's fence: its character repeated, at least 3
	for i, l := range lines {
		body := strings.TrimLeft(l, " ")
		indent := len(l) - len(body)
		if fence != "" {
			if indent < 4 && strings.HasPrefix(body, fence) && strings.Trim(body, fence[:1]+" \t") == "" {
				fence = ""
			}
			continue
		}
		if f := fenceOf(body); f != "" && indent < 4 {
			fence = f
			continue
		}
		lines[i] = defuseLine(l)
	}
	return strings.Join(lines, "\n"), fence
}

// fenceOf returns the fence a line opens (``` or ~~~, or longer), or "".
// A backtick fence's info string may not contain a backtick.
func fenceOf(line string) string {
	for _, c := range []string{"`", "~"} {
		n := len(line) - len(strings.TrimLeft(line, c))
		if n >= 3 {
			if c == "`" && strings.Contains(line[n:], "`") {
				return ""
			}
			return strings.Repeat(c, n)
		}
	}
	return ""
}

// defuseLine defuses one line outside fenced blocks, skipping inline code
// spans (a run of backticks up to the next run of the same length).
func defuseLine(l string) string {
	var b strings.Builder
	for i := 0; i < len(l); {
		if l[i] == '`' {
			n := 1
			for i+n < len(l) && l[i+n] == '`' {
				n++
			}
			run := l[i : i+n]
			if end := closingRun(l[i+n:], n); end >= 0 {
				b.WriteString(l[i : i+n+end+n])
				i += n + end + n
				continue
			}
			b.WriteString(run)
			i += n
			continue
		}
		switch {
		case l[i] == '@' && mentionAt(l, i):
			b.WriteString("@\u200b")
			i++
		case strings.HasPrefix(l[i:], "<!--"):
			b.WriteString("&lt;!--")
			i += 4
		default:
			b.WriteByte(l[i])
			i++
		}
	}
	return b.String()
}

// closingRun finds a run of exactly n backticks in s; -1 if none.
func closingRun(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		if j-i == n {
			return i
		}
		i = j
	}
	return -1
}

// mentionAt tells whether the @ at i starts a mention as GitHub links
// one: not preceded by a word character, followed by a login or team
// character.
func mentionAt(l string, i int) bool {
	if i+1 >= len(l) {
		return false
	}
	next, _ := utf8.DecodeRuneInString(l[i+1:])
	if !unicode.IsLetter(next) && !unicode.IsDigit(next) {
		return false
	}
	if i == 0 {
		return true
	}
	prev, _ := utf8.DecodeLastRuneInString(l[:i])
	return !unicode.IsLetter(prev) && !unicode.IsDigit(prev) && prev != '_' && prev != '`'
}
