package command

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HelpText renders the Markdown help for prefix from the command table:
// each command with its usage, aliases, summary and where it may be used.
// No line of it starts with the prefix, so posting it never triggers a
// command.
func HelpText(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var b strings.Builder
	b.WriteString("#### kubewright commands\n\n")
	b.WriteString("Start a line of a comment with one of these commands:\n\n")
	for _, s := range Commands() {
		fmt.Fprintf(&b, "- %s", code(s.Usage(prefix)))
		if len(s.Aliases) > 0 {
			aliases := make([]string, len(s.Aliases))
			for i, a := range s.Aliases {
				aliases[i] = code(prefix + " " + a)
			}
			fmt.Fprintf(&b, " (also %s)", strings.Join(aliases, ", "))
		}
		fmt.Fprintf(&b, ": %s _%s._\n", s.Summary, upperFirst(s.Where.String()))
	}
	b.WriteString("\nService names are written as in the repository: lowercase letters, digits and `-`. ")
	b.WriteString("Without any, every detected service is included. ")
	b.WriteString("`--env ENV` (or `--env=ENV`) picks the environment overlay. ")
	b.WriteString("Quotes are not supported: separate words with spaces.\n\n")
	b.WriteString("Only the first command of a comment runs. ")
	b.WriteString("Commands inside code blocks, block quotes and HTML comments are ignored.\n")
	return b.String()
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func (p lineParser) help() Result {
	return Result{Kind: KindReply, Reply: &Reply{
		Reason:  ReasonHelp,
		Text:    HelpText(p.prefix),
		Command: Help,
		Line:    p.line,
		Raw:     p.raw,
	}}
}

func (p lineParser) unknown(word, rest string) Result {
	sugg := suggest(p.table, strings.ToLower(word))
	var b strings.Builder
	fmt.Fprintf(&b, "I don't know the command %s.", echo(word))
	if sugg != "" {
		fmt.Fprintf(&b, " Did you mean %s?", code(p.prefix+" "+string(sugg)))
	}
	b.WriteString("\n\n")
	b.WriteString(HelpText(p.prefix))
	return Result{Kind: KindReply, Reply: &Reply{
		Reason:     ReasonUnknown,
		Text:       b.String(),
		Unknown:    rest,
		Suggestion: sugg,
		Line:       p.line,
		Raw:        p.raw,
	}}
}

func (p lineParser) notAllowed(s Spec) Result {
	msg := fmt.Sprintf("%s works on %s: comment it there.", code(p.prefix+" "+string(s.Name)), s.Where)
	r := p.usage(s, msg)
	r.Reply.Reason = ReasonNotAllowed
	return r
}

// usage is a reply about a known command (s.Name may be empty when the
// command was not read, as for an overlong line).
func (p lineParser) usage(s Spec, problem string) Result {
	var b strings.Builder
	b.WriteString(problem)
	b.WriteString("\n\n")
	if s.Name != "" {
		fmt.Fprintf(&b, "Usage: %s. %s\n\n", code(s.Usage(p.prefix)), s.Summary)
	}
	fmt.Fprintf(&b, "Comment %s to see every command.\n", code(p.prefix+" help"))
	return Result{Kind: KindReply, Reply: &Reply{
		Reason:  ReasonUsage,
		Text:    b.String(),
		Command: s.Name,
		Line:    p.line,
		Raw:     p.raw,
	}}
}

// maxEcho bounds how much of a user's word a reply repeats.
const maxEcho = 40

// echo renders a user's word in a reply: shortened to maxEcho runes with
// an ellipsis, in a code span.
func echo(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) > maxEcho {
		s = string([]rune(s)[:maxEcho]) + "…"
	}
	return code(s)
}

// code renders s as a Markdown code span that s cannot break out of:
// invalid UTF-8 becomes U+FFFD, control characters and line separators
// become spaces, and the backtick fence is longer than any run of
// backticks in s. Inside a code span nothing is formatted and @mentions
// do not notify.
func code(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || s == "" {
		s = " " + s + " "
	}
	return fence + s + fence
}
