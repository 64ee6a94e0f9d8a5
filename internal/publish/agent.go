package publish

import (
	"fmt"
	"regexp"
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

// AgentRun is what the model did in one walk, for a pull request body
// (PR.Run) or the reply when nothing is proposed: a free-text request
// (Intent set) or the repair of a containerize draft (Intent empty).
// Intent, Reason, Summary and Risks are the requester's or the model's
// words: they are redacted and lose their @mentions when rendered.
type AgentRun struct {
	Outcome  RunOutcome
	Intent   string
	Reason   string
	Summary  string
	Attempts []Attempt
	Risks    []string
	// NewFindings are the findings the change added.
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
	s = strings.NewReplacer("@", "@\u200b", "<!--", "&lt;!--").Replace(strings.TrimSpace(secretFree(s)))
	return issueRef.ReplaceAllString(s, "#\u200b$1")
}

// issueRef is a #123 reference, which GitHub links (and "fixes #123"
// acts on).
var issueRef = regexp.MustCompile(`#([0-9])`)

// ModelQuote renders a model's one-paragraph summary for a comment: ": "
// and the summary in one line, marked as the model's, redacted, with
// mentions neutralized; "." when there is none.
func ModelQuote(summary string) string {
	if q := quote(summary); q != "" {
		return ":\n\n> 🤖 " + q
	}
	return "."
}

// ModelRisks renders the risks a model noted, one line each,
// as the model's (at most 10), or "".
func ModelRisks(risks []string) string {
	var b strings.Builder
	for i, r := range risks {
		if i == 10 {
			break
		}
		if q := quote(r); q != "" {
			fmt.Fprintf(&b, "\n- 🤖 risk: %s", q)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\n\nThe model noted:\n" + b.String()
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
