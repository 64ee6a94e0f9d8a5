package fix

import (
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// Text helpers of the YAML editor: positions on one line of YAML.

func trimEOL(l string) string { return strings.TrimRight(l, "\r\n") }

// byteCol converts a 1-based column in characters to a byte offset.
func byteCol(body string, col int) (int, bool) {
	i := 0
	for n := 1; n < col; n++ {
		if i >= len(body) {
			return 0, false
		}
		_, w := utf8.DecodeRuneInString(body[i:])
		i += w
	}
	return i, i <= len(body)
}

// commentStart returns where a "#" comment starts in body at or after
// from (outside quotes, after a blank), or len(body), trimmed of the
// blanks before it.
func commentStart(body string, from int) int {
	var quote byte
	for i := from; i < len(body); i++ {
		c := body[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			if quote == '\'' && i+1 < len(body) && body[i+1] == '\'' {
				i++
				continue
			}
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			if i == from || body[i-1] == ' ' || body[i-1] == '[' || body[i-1] == '{' || body[i-1] == ',' {
				quote = c
			}
		case c == '#' && (i == 0 || body[i-1] == ' ' || body[i-1] == '\t'):
			return len(strings.TrimRight(body[:i], " \t"))
		}
	}
	return len(strings.TrimRight(body, " \t"))
}

// scalarEnd returns the end of the one-line scalar starting at start, or
// -1 when it does not end on the line.
func scalarEnd(body string, start int, style yaml.Style) int {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(body); i++ {
			switch body[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	case style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(body); i++ {
			if body[i] == '\'' {
				if i+1 < len(body) && body[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
		return -1
	}
	return commentStart(body, start)
}

// flowEnd returns the end of the flow collection starting at start, or -1
// when it does not close on the line.
func flowEnd(body string, start int) int {
	depth := 0
	var quote byte
	for i := start; i < len(body); i++ {
		c := body[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			if quote == '\'' && i+1 < len(body) && body[i+1] == '\'' {
				i++
				continue
			}
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}
