package notify

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/diagnose"
)

// shownFindings bounds the findings a diagnosis message lists.
const shownFindings = 8

// Diagnosis is the message for a diagnosis: its summary, the model's
// first root cause when there is one, and the most severe findings with
// where to fix them. Everything from the cluster is escaped.
func Diagnosis(r *diagnose.Report) Message {
	head := "*" + Escape(r.Summary()) + "*"
	var cause string
	if rc := r.RootCause; rc != nil && len(rc.Causes) > 0 {
		c := rc.Causes[0]
		cause = "*Likely root cause* (from the model): " + Escape(c.Cause)
		if c.Finding != "" {
			cause += " (`" + c.Finding + "`)"
		}
		cause += "\n*Fix:* " + Escape(c.Fix)
	}
	var lines []string
	for i, f := range r.Findings {
		if i == shownFindings {
			lines = append(lines, fmt.Sprintf("_and %d more findings_", len(r.Findings)-i))
			break
		}
		l := fmt.Sprintf("• *%s* `%s` %s: %s", f.Severity, f.ID, Escape(f.Object), Escape(f.Message))
		if f.File != "" {
			at := f.File
			if f.Line > 0 {
				at = fmt.Sprintf("%s:%d", f.File, f.Line)
			}
			l += " (`" + Escape(at) + "`)"
		}
		lines = append(lines, l)
	}
	if len(r.Findings) == 0 {
		lines = append(lines, "No finding: nothing the rules know is wrong.")
	}
	findings := strings.Join(lines, "\n")
	note := ""
	if n := len(r.Notes); n > 0 {
		note = fmt.Sprintf("%d notes on what could not be read or traced: run `kubewright diagnose` for them", n)
		if n == 1 {
			note = "1 note on what could not be read or traced: run `kubewright diagnose` for it"
		}
	}

	m := Message{Blocks: []Block{Section(head)}}
	text := []string{head}
	if cause != "" {
		m.Blocks = append(m.Blocks, Section(cause))
		text = append(text, cause)
	}
	m.Blocks = append(m.Blocks, Section(findings))
	text = append(text, findings)
	if note != "" {
		m.Blocks = append(m.Blocks, Context(note))
		text = append(text, "_"+note+"_")
	}
	m.Text = strings.Join(text, "\n\n")
	return m
}
