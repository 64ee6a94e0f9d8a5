package command

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Parse reads a comment body and returns what to do about it.
//
// The body is read line by line (LF, CRLF or CR) with a small Markdown block
// scanner, just enough to know which lines GitHub renders as plain text:
//
//   - fenced code blocks open with three or more ``` or ~~~ (info strings
//     allowed) indented at most three spaces, close with a run of the same
//     character at least as long, and run to the end of the body when not
//     closed;
//   - a line indented four or more columns (a tab counts to the next
//     multiple of four) is indented code, or the continuation of a
//     paragraph; it is never a command;
//   - a line starting with '>' is a block quote (nested quotes and quoted
//     email replies included), and so are the non-blank lines right under
//     a quoted paragraph line, which GitHub renders inside the quote
//     ("lazy" lines); a blank line ends the quote;
//   - `<!--` outside code opens an HTML comment that lasts until `-->`,
//     across lines, or to the end of the body. This is stricter than
//     CommonMark, which would show an unclosed `<!--` in the middle of a
//     paragraph as text: a command hidden by mistake is cheaper than one
//     run by mistake. On a command line, the parts inside comments are
//     dropped (`/ai plan <!-- note -->` is `/ai plan`).
//
// Other HTML (such as <details>) is not interpreted: a command in it is
// visible on GitHub and is recognized.
//
// The first line that starts with the prefix decides the result; any
// later command line is ignored, even when the first one only earns a
// usage reply. Parse never fails: bad input is a Reply or ignored.
func Parse(body string, opts Options) Result {
	prefix := opts.prefix()
	if ValidatePrefix(prefix) != nil {
		return Result{}
	}
	body = capBody(body)
	var st scanState
	lineNo := 0
	for len(body) > 0 || lineNo == 0 {
		lineNo++
		var line string
		line, body = nextLine(body)
		if text, ok := st.next(line); ok {
			if r, ok := parseLine(text, line, lineNo, prefix, opts.context()); ok {
				return r
			}
		}
	}
	return Result{}
}

// nextLine splits the first line off body. Lines end with LF, CRLF or a
// lone CR, as in CommonMark.
func nextLine(body string) (line, rest string) {
	i := strings.IndexAny(body, "\r\n")
	if i < 0 {
		return body, ""
	}
	if body[i] == '\r' && i+1 < len(body) && body[i+1] == '\n' {
		return body[:i], body[i+2:]
	}
	return body[:i], body[i+1:]
}

// capBody keeps the first MaxBodyBytes of body, without a line cut short.
func capBody(body string) string {
	if len(body) <= MaxBodyBytes {
		return body
	}
	if c := body[MaxBodyBytes]; c == '\n' || c == '\r' {
		return body[:MaxBodyBytes] // the last line is whole
	}
	cut := body[:MaxBodyBytes]
	if i := strings.LastIndexAny(cut, "\r\n"); i >= 0 {
		return cut[:i]
	}
	return ""
}

// fence is an open fenced code block.
type fence struct {
	char byte // '`' or '~'; 0 when no fence is open
	n    int  // length of the opening run
}

// scanState is the Markdown block state between lines.
type scanState struct {
	comment    bool  // inside an HTML comment
	fence      fence // top-level fenced code block
	quoteFence fence // fenced code block inside a block quote
	lazy       bool  // the previous line was a quoted paragraph line
}

// next advances over one line. When the line is plain paragraph text
// outside code, quotes and comments it returns the visible text (HTML
// comments removed) and true.
func (st *scanState) next(line string) (string, bool) {
	if st.comment {
		if isBlank(line) {
			st.lazy = false
		}
		_, st.comment = stripComments(line, true)
		return "", false
	}
	if st.fence.char != 0 {
		if closesFence(line, st.fence) {
			st.fence = fence{}
		}
		return "", false
	}
	if isBlank(line) {
		st.lazy = false
		st.quoteFence = fence{}
		return "", false
	}
	col, rest := indent(line)
	if col >= 4 {
		// Indented code, or a paragraph's continuation: either way not
		// a command, and code cannot open a comment.
		return "", false
	}
	if rest[0] == '>' {
		st.quoteLine(unquote(rest))
		return "", false
	}
	// Not a quote line: a fence opened inside the quote ended with it.
	st.quoteFence = fence{}
	if f, ok := opensFence(line); ok {
		st.fence = f
		st.lazy = false
		return "", false
	}
	if st.lazy {
		_, st.comment = stripComments(line, false)
		return "", false
	}
	var text string
	text, st.comment = stripComments(line, false)
	return text, true
}

// quoteLine tracks what a quoted line's content does to the state.
func (st *scanState) quoteLine(content string) {
	st.lazy = false
	if st.quoteFence.char != 0 {
		if closesFence(content, st.quoteFence) {
			st.quoteFence = fence{}
		}
		return
	}
	if isBlank(content) {
		return
	}
	if f, ok := opensFence(content); ok {
		st.quoteFence = f
		return
	}
	col, rest := indent(content)
	if col >= 4 {
		return
	}
	_, st.comment = stripComments(content, false)
	// A paragraph continues lazily on the next lines; an HTML block
	// (a line starting with "<!--") does not.
	st.lazy = !strings.HasPrefix(rest, "<!--")
}

// unquote strips the block quote markers ('>' and one optional space,
// nested, each after at most three spaces) from the start of s.
func unquote(s string) string {
	for {
		col, rest := indent(s)
		if col >= 4 || rest == "" || rest[0] != '>' {
			return s
		}
		s = rest[1:]
		if s != "" && (s[0] == ' ' || s[0] == '\t') {
			s = s[1:]
		}
	}
}

// indent returns the indentation width of s in columns (tabs to the next
// multiple of four) and s without it.
func indent(s string) (int, string) {
	col := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ':
			col++
		case '\t':
			col += 4 - col%4
		default:
			return col, s[i:]
		}
	}
	return col, ""
}

func isBlank(s string) bool {
	return strings.Trim(s, " \t") == ""
}

// opensFence reports whether line opens a fenced code block.
func opensFence(line string) (fence, bool) {
	col, rest := indent(line)
	if col >= 4 || rest == "" || (rest[0] != '`' && rest[0] != '~') {
		return fence{}, false
	}
	c := rest[0]
	n := 0
	for n < len(rest) && rest[n] == c {
		n++
	}
	if n < 3 {
		return fence{}, false
	}
	if c == '`' && strings.IndexByte(rest[n:], '`') >= 0 {
		// A backtick in the info string makes it inline code, not a fence.
		return fence{}, false
	}
	return fence{char: c, n: n}, true
}

// closesFence reports whether line closes the open fence f.
func closesFence(line string, f fence) bool {
	col, rest := indent(line)
	if col >= 4 {
		return false
	}
	n := 0
	for n < len(rest) && rest[n] == f.char {
		n++
	}
	return n >= f.n && isBlank(rest[n:])
}

// stripComments removes HTML comments from s, given whether s starts
// inside one. It returns the visible text (the pieces outside comments,
// joined by a space) and whether a comment is still open at the end.
func stripComments(s string, open bool) (string, bool) {
	var pieces []string
	for {
		if open {
			i := strings.Index(s, "-->")
			if i < 0 {
				return strings.Join(pieces, " "), true
			}
			s = s[i+3:]
			open = false
			continue
		}
		i := strings.Index(s, "<!--")
		if i < 0 {
			pieces = append(pieces, s)
			return strings.Join(pieces, " "), false
		}
		pieces = append(pieces, s[:i])
		s = s[i+4:]
		// "<!-->" and "<!--->" are complete (empty) comments.
		switch {
		case strings.HasPrefix(s, ">"):
			s = s[1:]
		case strings.HasPrefix(s, "->"):
			s = s[2:]
		default:
			open = true
		}
	}
}

// parseLine turns a visible text line into a result when it starts with
// the prefix. line is the original line, lineNo its 1-based number.
func parseLine(text, line string, lineNo int, prefix string, ctx Place) (Result, bool) {
	// The prefix must start the line itself, not follow a comment
	// ("<!-- x --> /ai plan" is not a command).
	_, text = indent(text) // at most three columns, or it would be code
	_, start := indent(line)
	if !hasPrefixFold(text, prefix) || !hasPrefixFold(start, prefix) {
		return Result{}, false
	}
	after := text[len(prefix):]
	if after != "" && after[0] != ' ' && after[0] != '\t' {
		return Result{}, false // "/aix" is someone else's
	}
	p := lineParser{
		table:  Commands(),
		prefix: prefix,
		ctx:    ctx,
		line:   lineNo,
		raw:    shorten(strings.TrimSpace(line), MaxLineBytes),
	}
	if len(line) > MaxLineBytes {
		return p.usage(Spec{}, fmt.Sprintf("The command line is longer than %d bytes; write the command on a shorter line.", MaxLineBytes)), true
	}
	return p.parse(after), true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// lineParser parses the words after the prefix on one command line.
type lineParser struct {
	table  []Spec
	prefix string
	ctx    Place
	line   int
	raw    string
}

func (p lineParser) parse(after string) Result {
	words := strings.Fields(after)
	if len(words) == 0 {
		return p.help()
	}
	spec, ok := lookup(p.table, strings.ToLower(words[0]))
	if !ok {
		return p.unknown(words[0], strings.TrimSpace(after))
	}
	if spec.Name == Help {
		// Extra words ("/ai help plan") still get the full help: it is
		// short, and refusing to help is unfriendly.
		return p.help()
	}
	if spec.Where&p.ctx == 0 {
		return p.notAllowed(spec)
	}
	cmd := &Command{Name: spec.Name, Line: p.line, Raw: p.raw}
	args := words[1:]
	for _, a := range args {
		if strings.ContainsAny(a, "\"'`\u2018\u2019\u201c\u201d") {
			return p.usage(spec, fmt.Sprintf("Quotes are not supported (in %s): write service names and values as plain words separated by spaces.", echo(a)))
		}
	}
	if spec.Name == Plan && len(args) > 0 {
		if op, ok := lookup(p.table, strings.ToLower(args[0])); ok && op.Args.Plannable {
			if op.Where&p.ctx == 0 {
				return p.notAllowed(op)
			}
			return p.words(op, &Command{Name: Plan, Op: op.Name, Line: p.line, Raw: p.raw}, args[1:])
		}
	}
	if spec.Args.Words != "" {
		return p.words(spec, cmd, args)
	}
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			name, value, hasValue := strings.Cut(a, "=")
			if name != "--env" || !spec.Args.Env {
				return p.usage(spec, fmt.Sprintf("Unknown flag %s.", echo(name)))
			}
			if cmd.Env != "" {
				return p.usage(spec, "`--env` is given more than once; give it once.")
			}
			if !hasValue {
				if i+1 == len(args) || strings.HasPrefix(args[i+1], "-") {
					return p.usage(spec, "`--env` needs a value, like `--env staging`.")
				}
				i++
				value = args[i]
			}
			if value == "" {
				return p.usage(spec, "`--env` needs a value, like `--env=staging`.")
			}
			if !isDNSLabel(value) {
				return p.usage(spec, fmt.Sprintf("%s is not a valid environment name: %s", echo(value), labelRule))
			}
			cmd.Env = value
			continue
		}
		if !spec.Args.Services {
			return p.usage(spec, fmt.Sprintf("%s takes no arguments, but got %s.", code(p.prefix+" "+string(spec.Name)), echo(a)))
		}
		if !isDNSLabel(a) {
			return p.usage(spec, fmt.Sprintf("%s is not a valid service name: %s", echo(a), labelRule))
		}
		if !seen[a] {
			seen[a] = true
			cmd.Args = append(cmd.Args, a)
		}
	}
	return Result{Kind: KindCommand, Command: cmd}
}

// words keeps the arguments of a command whose spec has ArgSpec.Words
// for the package that carries it out to parse.
func (p lineParser) words(spec Spec, cmd *Command, args []string) Result {
	if len(args) == 0 {
		return p.usage(spec, fmt.Sprintf("%s needs its arguments: %s.", code(p.prefix+" "+string(spec.Name)), code(spec.Usage(p.prefix))))
	}
	if len(args) > MaxWords {
		return p.usage(spec, fmt.Sprintf("At most %d words follow %s.", MaxWords, code(p.prefix+" "+string(spec.Name))))
	}
	cmd.Words = append([]string(nil), args...)
	return Result{Kind: KindCommand, Command: cmd}
}

const labelRule = "use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters."

// isDNSLabel reports whether s is a DNS-1123 label, the form of
// Kubernetes names: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// shorten cuts s to at most n bytes without splitting a rune.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for i := len(s) - 1; i >= 0 && i >= len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:]) {
				s = s[:i]
			}
			break
		}
	}
	return s
}
