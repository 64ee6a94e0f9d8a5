package diagnose

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
)

// Formats Write accepts.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

// Write renders r in format (text, json or markdown; Markdown without
// links).
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatText, "":
		return r.WriteText(w)
	case FormatJSON:
		return r.WriteJSON(w)
	case FormatMarkdown:
		_, err := io.WriteString(w, r.Markdown(nil))
		return err
	}
	return fmt.Errorf("format %q: use text, json or markdown", format)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	out := *r
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Summary is the report's one-line headline: what was diagnosed and how
// many findings of each severity.
func (r *Report) Summary() string {
	what := "namespace " + r.Namespace
	if r.Service != "" {
		what = r.Service + " in namespace " + r.Namespace
	}
	fs := r.plain()
	e, w, i := count(fs, finding.Error), count(fs, finding.Warning), count(fs, finding.Info)
	s := fmt.Sprintf("Diagnosis of %s: %s, %s", what, plural(e, "error"), plural(w, "warning"))
	if i > 0 {
		s += ", " + plural(i, "note")
	}
	return s + fmt.Sprintf(" (%d of %d Pods failing)", r.Stats.FailingPods, r.Stats.Pods)
}

// WriteText writes the report for a terminal: the summary, each finding
// with where it is in the repository, its evidence and hint, then the
// notes.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString(r.Summary() + "\n")
	if rc := r.RootCause; rc != nil {
		b.WriteString("\nLikely root cause (from the model, ranked; check it against the findings):\n")
		for _, c := range rc.Causes {
			fmt.Fprintf(&b, "  %d. %s", c.Rank, c.Cause)
			if c.Finding != "" {
				fmt.Fprintf(&b, " [%s]", c.Finding)
			}
			b.WriteString("\n")
			for _, e := range c.Evidence {
				fmt.Fprintf(&b, "     evidence: %s\n", e)
			}
			fmt.Fprintf(&b, "     fix: %s\n", c.Fix)
		}
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%s %s %s\n  %s\n", f.Severity, f.ID, f.Object, f.Message)
		if where := f.where(); where != "" {
			fmt.Fprintf(&b, "  at %s\n", where)
		}
		if len(f.Evidence) > 0 {
			b.WriteString("  evidence:\n")
			for _, e := range f.Evidence {
				fmt.Fprintf(&b, "    %s\n", e)
			}
		}
		if f.Hint != "" {
			fmt.Fprintf(&b, "  hint: %s\n", f.Hint)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// where is "file:line (field)", "file:line", or "" when the object is not
// from the repository.
func (f Finding) where() string {
	if f.File == "" {
		return ""
	}
	s := f.File
	if f.Line > 0 {
		s = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if f.Field != "" {
		s += " (" + f.Field + ")"
	}
	return s
}

// Markdown renders the report for an issue comment or a job page: the
// summary, a findings table, then each finding's hint and evidence. link
// turns a file and line into a URL (nil, or "" from it: the location is
// shown as code). Text from the cluster is escaped or fenced, so it
// cannot add links, images, mentions or markup.
func (r *Report) Markdown(link func(file string, line int) string) string {
	var b strings.Builder
	title := "namespace `" + r.Namespace + "`"
	if r.Service != "" {
		title = "`" + mdCode(r.Service) + "` in `" + r.Namespace + "`"
	}
	fmt.Fprintf(&b, "### Diagnosis of %s\n\n", title)
	fs := r.plain()
	fmt.Fprintf(&b, "**%s, %s** · %d of %d Pods failing\n", plural(count(fs, finding.Error), "error"), plural(count(fs, finding.Warning), "warning"), r.Stats.FailingPods, r.Stats.Pods)
	if rc := r.RootCause; rc != nil {
		b.WriteString("\n**Likely root cause** (from the model, ranked; check it against the findings)\n\n")
		for _, c := range rc.Causes {
			fmt.Fprintf(&b, "%d. %s", c.Rank, mdEscape(c.Cause))
			if c.Finding != "" {
				fmt.Fprintf(&b, " (%s)", c.Finding)
			}
			fmt.Fprintf(&b, "\n   **Fix:** %s\n", mdEscape(c.Fix))
			if len(c.Evidence) > 0 {
				b.WriteString("\n" + indent(fenced(strings.Join(c.Evidence, "\n")), "   "))
			}
		}
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n| Severity | Rule | Object | Where | Finding |\n|---|---|---|---|---|\n")
		for _, f := range r.Findings {
			rule := f.ID
			if u := finding.DocURL(f.ID); u != "" {
				rule = "[" + f.ID + "](" + u + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s |\n", f.Severity, rule, mdCode(f.Object), mdWhere(f, link), mdEscape(f.Message))
		}
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "\n<details><summary>%s %s</summary>\n\n", f.ID, mdEscape(f.Object))
			if f.Hint != "" {
				fmt.Fprintf(&b, "**Hint:** %s\n\n", mdEscape(f.Hint))
			}
			if f.Field != "" {
				fmt.Fprintf(&b, "Field: `%s`\n\n", mdCode(f.Field))
			}
			if len(f.Evidence) > 0 {
				b.WriteString(fenced(strings.Join(f.Evidence, "\n")))
			}
			b.WriteString("</details>\n")
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n**Notes**\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", mdEscape(n))
		}
	}
	return b.String()
}

func mdWhere(f Finding, link func(string, int) string) string {
	if f.File == "" {
		return "—"
	}
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if link != nil {
		if u := link(f.File, f.Line); u != "" {
			return "[`" + mdCode(loc) + "`](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(u) + ")"
		}
	}
	return "`" + mdCode(loc) + "`"
}

// mdEscape makes cluster text inert in Markdown: markup characters are
// escaped, an @ cannot mention anyone, and the text stays on one line
// (a table cell).
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '!', '#', '~', '(', ')':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '@':
			b.WriteString("@\u200b")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode makes s safe inside a single-backtick code span in a table.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s)
}

// indent puts prefix before every line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

// fenced puts text in a code block whose fence no line of it can close.
func fenced(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + "text\n" + text + "\n" + fence + "\n"
}

func (r *Report) plain() []finding.Finding {
	out := make([]finding.Finding, len(r.Findings))
	for i, f := range r.Findings {
		out[i] = f.Finding
	}
	return out
}

func count(fs []finding.Finding, s finding.Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity == s {
			n++
		}
	}
	return n
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
