package llm

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
)

// Sanitize prepares untrusted user text (issue bodies, comments, logs) for
// a prompt. It removes what a person reading the text on GitHub does not
// see but a model does: HTML comments (<!-- ... -->, also unterminated),
// zero-width and other invisible format characters (U+200B..U+200F,
// U+2060..U+2064, U+FEFF, U+00AD and the rest of Unicode category Cf),
// bidi controls (U+202A..U+202E, U+2066..U+2069), Unicode tag characters
// (U+E0000..U+E007F), and C0/C1 controls other than \n and \t. Line ends
// (\r\n, a lone \r, U+2028, U+2029) become \n, invalid UTF-8 becomes
// U+FFFD, and the result is trimmed. Sanitize is idempotent.
func Sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\r' || r == '\u2028' || r == '\u2029':
			b.WriteByte('\n')
		case forbiddenRune(r):
		default:
			b.WriteRune(r)
		}
	}
	s = b.String()
	// Removing one comment can join the halves of another
	// ("<!<!-- -->-- x -->"), so repeat until none is left.
	for {
		i := strings.Index(s, "<!--")
		if i < 0 {
			break
		}
		end := len(s)
		if j := strings.Index(s[i+4:], "-->"); j >= 0 {
			end = i + 4 + j + 3
		}
		s = s[:i] + s[end:]
	}
	return strings.TrimSpace(s)
}

// forbiddenRune reports whether Sanitize removes r.
func forbiddenRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || (r >= 0x7f && r <= 0x9f): // C0, DEL, C1
		return true
	case r >= 0xE0000 && r <= 0xE007F: // tags, assigned or not
		return true
	}
	// Cf covers the zero-width characters, joiners, the soft hyphen, the
	// byte order mark, word joiners and invisible operators, and every
	// bidi embedding, override and isolate.
	return unicode.Is(unicode.Cf, r)
}

// Fence wraps untrusted content as data for a prompt, between a header
// line naming the label and a closing line, e.g.
//
//	<<<DATA label="issue" id="1f3a9c02">>>
//	...content...
//	<<<END DATA id="1f3a9c02">>>
//
// The id is derived from the label and the content, so rendered prompts
// are reproducible, and is chosen so that it does not occur in the
// content: the content cannot close the fence early or forge its id. The
// label keeps only the characters [a-zA-Z0-9._/-] ("data" if none
// remain). The content is kept verbatim; sanitize or redact it first.
func Fence(label, content string) string {
	label = fenceLabel(label)
	id := fenceID(label, content)
	var b strings.Builder
	b.Grow(len(content) + 2*len(id) + len(label) + 48)
	b.WriteString(`<<<DATA label="`)
	b.WriteString(label)
	b.WriteString(`" id="`)
	b.WriteString(id)
	b.WriteString("\">>>\n")
	b.WriteString(content)
	b.WriteString("\n")
	b.WriteString(fenceEnd(id))
	return b.String()
}

func fenceEnd(id string) string { return `<<<END DATA id="` + id + `">>>` }

func fenceLabel(label string) string {
	label = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '_', r == '/', r == '-':
			return r
		}
		return -1
	}, label)
	if label == "" {
		return "data"
	}
	return label
}

// fenceID is the first 8 hex digits of sha256(label, content), longer or
// rehashed while the content contains it.
func fenceID(label, content string) string {
	for round := 0; ; round++ {
		seed := label + "\x00" + content
		if round > 0 {
			seed = strconv.Itoa(round) + "\x00" + seed
		}
		sum := sha256.Sum256([]byte(seed))
		if id := freeID(hex.EncodeToString(sum[:]), content); id != "" {
			return id
		}
	}
}

// freeID returns the shortest of the 8-, 16-, 32- and 64-digit prefixes
// of digest that does not occur in content, or "" if all do.
func freeID(digest, content string) string {
	for _, n := range []int{8, 16, 32, 64} {
		if id := digest[:n]; !strings.Contains(content, id) {
			return id
		}
	}
	return ""
}
