package publish

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/redact"
)

// tail is the end every pull request body shares: the validation table,
// the findings under it, a footer, and how to try the branch.
type tail struct {
	report *Report // nil: no validation section
	// findings are listed under the table, after intro.
	findings []finding.Finding
	intro    string
	// neutral: finding messages lose their @mentions (model-written
	// changes); otherwise they are published as validation wrote them.
	neutral bool
	footer  string // between the validation and "Try it"
	branch  string // fetched and switched to, when set
	try     string // the commands after the switch, one per line
	after   string // after the commands' block
}

// writeTail renders the shared end of a pull request body.
func writeTail(b *strings.Builder, t tail) {
	if t.report != nil {
		b.WriteString("\n## Validation\n\n")
		b.WriteString(ValidationTable(t.report))
		if len(t.findings) > 0 {
			b.WriteString("\n" + t.intro)
			writeFindings(b, t.findings, t.neutral)
		}
	}
	b.WriteString(t.footer)
	b.WriteString("\n## Try it\n\n```sh\n")
	if t.branch != "" {
		fmt.Fprintf(b, "git fetch origin %s && git switch %s\n", t.branch, t.branch)
	}
	b.WriteString(t.try)
	b.WriteString("```\n")
	b.WriteString(t.after)
}

// writeFindings lists findings, redacted, at most maxFindings of them.
func writeFindings(b *strings.Builder, fs []finding.Finding, neutralize bool) {
	for i, f := range redact.Findings(fs[:min(len(fs), maxFindings+1)]) {
		if i == maxFindings {
			fmt.Fprintf(b, "- … and %d more (see the check run)\n", len(fs)-maxFindings)
			return
		}
		msg := f.Message
		if neutralize {
			msg = neutral(msg)
		}
		fmt.Fprintf(b, "- **%s** `%s` %s: %s\n", f.Severity, f.ID, location(f), msg)
	}
}
