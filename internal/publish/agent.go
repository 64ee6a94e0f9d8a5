package publish

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/redact"
	"github.com/kubewright/kubewright/internal/workspace"
)

// AgentOutcome is what one `/ai <free text>` job produced.
type AgentOutcome struct {
	Issue  int
	Closes bool
	Branch string
	Result *agent.Result
	Files  []workspace.FileResult
}

// AgentPRBody renders the pull request description of an agent job: the
// request, what changed, the attempt log, and the validation.
func AgentPRBody(o AgentOutcome) string {
	r := o.Result
	var b strings.Builder
	switch r.Outcome {
	case agent.Failing:
		fmt.Fprintf(&b, "> [!WARNING]\n> Validation still fails after %d attempts: this pull request is a draft. The remaining findings are listed below.\n\n", repairRounds(r))
	case agent.Stopped:
		fmt.Fprintf(&b, "> [!WARNING]\n> %s.\n\n", neutral(r.Reason))
	}
	b.WriteString("kubewright's agents carried out this request")
	if o.Issue > 0 {
		if o.Closes {
			fmt.Fprintf(&b, " (closes #%d)", o.Issue)
		} else {
			fmt.Fprintf(&b, " from #%d", o.Issue)
		}
	}
	fmt.Fprintf(&b, ", starting from kubewright's deterministic draft:\n\n> %s\n\n", quote(r.Intent))
	if r.Summary != "" {
		b.WriteString("## Summary\n\n" + neutral(r.Summary) + "\n")
	}

	b.WriteString("\n## Files\n\n")
	for _, f := range o.Files {
		switch f.Action {
		case workspace.ActionCreate, workspace.ActionUpdate, workspace.ActionDelete:
			fmt.Fprintf(&b, "- `%s` (%s)\n", f.Path, f.Action)
		}
	}

	b.WriteString("\n## Attempts\n\n")
	b.WriteString(AttemptLog(r))

	if len(r.Assumptions) > 0 {
		b.WriteString("\n## Assumptions\n\n")
		for _, a := range r.Assumptions {
			fmt.Fprintf(&b, "- %s\n", neutral(a))
		}
	}
	if len(r.Risks) > 0 {
		b.WriteString("\n## Risks to review\n\n")
		for _, a := range r.Risks {
			fmt.Fprintf(&b, "- %s\n", neutral(a))
		}
	}
	if r.Report != nil {
		b.WriteString("\n## Validation\n\n")
		b.WriteString(ValidationTable(r.Report))
		if len(r.NewFindings) > 0 {
			b.WriteString("\nFindings this change adds:\n\n")
			writeFindings(&b, r.NewFindings)
		}
	}
	fmt.Fprintf(&b, "\n<sub>%d model calls, %d prompt and %d completion tokens; %d secrets redacted from the prompts. The model only proposed file contents; kubewright applied them under its write policy and validated them.</sub>\n",
		len(r.Calls), r.Usage.PromptTokens, r.Usage.CompletionTokens, r.Redactions)
	b.WriteString("\n## Try it\n\n```sh\n")
	if o.Branch != "" {
		fmt.Fprintf(&b, "git fetch origin %s && git switch %s\n", o.Branch, o.Branch)
	}
	b.WriteString("kubewright validate .\n```\n")
	return b.String()
}

// AttemptLog is the table of attempts with, per attempt, the findings that
// fed the next one.
func AttemptLog(r *agent.Result) string {
	var b strings.Builder
	b.WriteString("| # | Agent | Files changed | Edits refused | New errors | New warnings | Tokens (prompt + completion) |\n|---|---|---|---|---|---|---|\n")
	for _, a := range r.Attempts {
		errs, warns := 0, 0
		for _, f := range a.Findings {
			switch f.Severity {
			case finding.Error:
				errs++
			case finding.Warning:
				warns++
			}
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %d | %d | %d + %d |\n", a.N, a.Agent, len(a.Changed), len(a.Refused), errs, warns, a.Usage.PromptTokens, a.Usage.CompletionTokens)
	}
	for _, a := range r.Attempts {
		if len(a.Changed)+len(a.Refused)+len(a.Findings) == 0 && a.Summary == "" {
			continue
		}
		fmt.Fprintf(&b, "\n<details><summary>Attempt %d (%s)</summary>\n\n", a.N, a.Agent)
		if a.Summary != "" {
			fmt.Fprintf(&b, "%s\n\n", neutral(a.Summary))
		}
		for _, p := range a.Changed {
			fmt.Fprintf(&b, "- changed `%s`\n", p)
		}
		for _, x := range a.Refused {
			fmt.Fprintf(&b, "- refused %s `%s`: %s\n", neutral(x.Action), secretFree(x.Path), neutral(x.Reason))
		}
		if len(a.Findings) > 0 && a.Agent != agent.AgentReview {
			b.WriteString("\nValidation after this attempt:\n\n")
			writeFindings(&b, a.Findings)
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// AgentComment is the reply when an agent job proposes nothing.
func AgentComment(r *agent.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kubewright did not open a pull request for:\n\n> %s\n\n%s\n", quote(r.Intent), Sentence(r.Reason))
	if len(r.Attempts) > 0 {
		b.WriteString("\n" + AttemptLog(r))
	}
	return b.String()
}

func writeFindings(b *strings.Builder, fs []finding.Finding) {
	for i, f := range redact.Findings(fs[:min(len(fs), maxFindings+1)]) {
		if i == maxFindings {
			fmt.Fprintf(b, "- … and %d more (see the check run)\n", len(fs)-maxFindings)
			return
		}
		fmt.Fprintf(b, "- **%s** `%s` %s: %s\n", f.Severity, f.ID, location(f), neutral(f.Message))
	}
}

func repairRounds(r *agent.Result) int {
	n := 0
	for _, a := range r.Attempts {
		if a.Agent != agent.AgentReview {
			n++
		}
	}
	return n
}

// neutral makes model or user text safe to post: secrets it quotes are
// redacted, and @mentions and #references lose their effect so it
// cannot ping people or close issues.
func neutral(s string) string {
	return strings.NewReplacer("@", "@\u200b", "<!--", "&lt;!--").Replace(strings.TrimSpace(secretFree(s)))
}

// secretFree redacts secrets from text about to be published.
func secretFree(s string) string {
	out, _ := redact.Text(s)
	return out
}

// quote renders a one-line request for a blockquote.
func quote(s string) string {
	s = strings.Join(strings.Fields(neutral(s)), " ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// Sentence renders a reason as a sentence for a comment.
func Sentence(s string) string {
	s = upper(neutral(s))
	if s != "" && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
