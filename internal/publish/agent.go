package publish

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/redact"
)

// RunOutcome is how an agent run ended.
type RunOutcome string

// Agent run outcomes.
const (
	RunValid   RunOutcome = "valid"   // the change passed validation
	RunFailing RunOutcome = "failing" // attempts ran out with errors left: a draft
	RunStopped RunOutcome = "stopped" // a budget or the provider stopped it; Reason says which
	RunNothing RunOutcome = "nothing" // no usable change; Reason says why
)

// AgentRun is what one `/ai <free text>` run did, for its pull request
// body or its reply. Intent, Reason, Summary, Assumptions and Risks are
// the requester's or the model's words: they are redacted and lose their
// @mentions when rendered.
type AgentRun struct {
	Outcome     RunOutcome
	Intent      string
	Reason      string
	Summary     string
	Attempts    []Attempt
	Assumptions []string
	Risks       []string
	// Report is the validation of the change; NewFindings are the
	// findings the change added.
	Report      *Report
	NewFindings []finding.Finding
	// Calls, tokens and the secrets redacted from the prompts.
	Calls                          int
	PromptTokens, CompletionTokens int
	Redactions                     int
}

// Attempt is one round of edits and validation.
type Attempt struct {
	N     int
	Agent string
	// Review marks the review round: it repairs nothing and its findings
	// are not listed.
	Review   bool
	Summary  string
	Changed  []string
	Refused  []Refusal
	Findings []finding.Finding
	// Tokens of the attempt's model calls.
	PromptTokens, CompletionTokens int
}

// Refusal is an edit the write policy refused.
type Refusal struct{ Path, Action, Reason string }

// AgentPR is the pull request of an agent job.
type AgentPR struct {
	Issue  int
	Closes bool
	Branch string
	Run    *AgentRun
	Files  []FileChange
}

// AgentPRBody renders the pull request description of an agent job: the
// request, what changed, the attempt log, and the validation.
func AgentPRBody(o AgentPR) string {
	r := o.Run
	var b strings.Builder
	switch r.Outcome {
	case RunFailing:
		fmt.Fprintf(&b, "> [!WARNING]\n> Validation still fails after %d attempts: this pull request is a draft. The remaining findings are listed below.\n\n", repairRounds(r))
	case RunStopped:
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
		case ActionCreate, ActionUpdate, ActionDelete:
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
	writeTail(&b, tail{
		report: r.Report, findings: r.NewFindings, intro: "Findings this change adds:\n\n", neutral: true, branch: o.Branch,
		footer: fmt.Sprintf("\n<sub>%d model calls, %d prompt and %d completion tokens; %d secrets redacted from the prompts. The model only proposed file contents; kubewright applied them under its write policy and validated them.</sub>\n",
			r.Calls, r.PromptTokens, r.CompletionTokens, r.Redactions),
		try: "kubewright validate .\n",
	})
	return b.String()
}

// AttemptLog is the table of attempts with, per attempt, the findings that
// fed the next one.
func AttemptLog(r *AgentRun) string {
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
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %d | %d | %d + %d |\n", a.N, a.Agent, len(a.Changed), len(a.Refused), errs, warns, a.PromptTokens, a.CompletionTokens)
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
		if len(a.Findings) > 0 && !a.Review {
			b.WriteString("\nValidation after this attempt:\n\n")
			writeFindings(&b, a.Findings, true)
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// AgentComment is the reply when an agent job proposes nothing.
func AgentComment(r *AgentRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kubewright did not open a pull request for:\n\n> %s\n\n%s\n", quote(r.Intent), Sentence(r.Reason))
	if len(r.Attempts) > 0 {
		b.WriteString("\n" + AttemptLog(r))
	}
	return b.String()
}

func repairRounds(r *AgentRun) int {
	n := 0
	for _, a := range r.Attempts {
		if !a.Review {
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
