package publish

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
)

// Operation is a Day-2 operation (scale, image, autoscale, resources,
// rollback) as publish renders it: the plan reply of `/ai plan ...` and
// the body of the operation's pull request.
type Operation struct {
	Issue  int
	Closes bool
	Branch string
	// Command is the canonical command ("scale order-service 5"); Intent
	// the free-text request the model mapped to it, "" for a command.
	Command string
	Intent  string
	Summary string
	Changes []OpChange
	// Notes are decisions for the reviewer (a PodDisruptionBudget lowered,
	// an ImagePolicy pinned); Warnings risks the change leaves open.
	Notes    []string
	Warnings []string
	// Undo is the rollback path after the merge.
	Undo string
	// Evidence are the observed figures an operation used (right-sizing
	// from metrics), one line each.
	Evidence []string
	// State is the service in the cluster before the change, nil when no
	// cluster is configured.
	State *ClusterState
	// Diff is the unified diff of the change.
	Diff   string
	Report *Report
	// ModelSummary and ModelRisks are what a model said about the change
	// (a diagnosis fix the repair agent wrote): shown quoted, as the
	// model's, neutralized.
	ModelSummary string
	ModelRisks   []string
	// Diagnosis is the Markdown of the diagnosis the change fixes
	// (`/ai diagnose SERVICE --fix`), "" otherwise.
	Diagnosis string
	// Also are the operations carried out after this one in the same
	// pull request (a free-text request that meant several), each with
	// its own changes, risks and diff.
	Also []Operation
}

// OpChange is one edited field.
type OpChange struct {
	File     string
	Line     int
	Object   string
	Field    string
	From, To string
	Why      string
}

// ClusterState is what a read-only look at the cluster found.
type ClusterState struct {
	// Context names the cluster and namespace read.
	Context string
	// Lines describe the workloads, one per line (replicas, image,
	// autoscaler, restarts).
	Lines []string
	// Findings are the diagnosis of the service's failing parts.
	Findings []finding.Finding
	// Notes say what could not be read.
	Notes []string
}

// maxDiff caps the diff quoted in a reply or body.
const maxDiff = 40000

// OperationPlan renders the answer to `/ai plan <operation>`: the
// change, its evidence and risks, and the diff; nothing is written.
func OperationPlan(o Operation, prefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### kubewright plan: `%s`\n\n%s\n\n", codeSafe(o.Command), secretFree(o.Summary))
	writeOperation(&b, o)
	writeDiff(&b, o.Diff, true)
	fmt.Fprintf(&b, "\nNothing was written. Comment `%s %s` to open the pull request.\n", prefix, codeSafe(o.Command))
	return b.String()
}

// OperationBody renders the pull request of an operation.
func OperationBody(o Operation) string {
	var b strings.Builder
	if o.Report.blocking() > 0 {
		b.WriteString("> [!WARNING]\n> Validation found errors this change adds: this pull request is a draft until they are fixed. They are listed below.\n\n")
	} else if n := finding.AtLeast(reportFindings(o.Report), finding.Error); n > 0 && o.Report.Compared {
		fmt.Fprintf(&b, "> [!NOTE]\n> This change adds no validation error. The default branch already has the %s listed below; they are not this change's to fix.\n\n", plural(n, "error"))
	}
	fmt.Fprintf(&b, "kubewright planned `%s`", codeSafe(o.Command))
	if o.Intent != "" {
		fmt.Fprintf(&b, " for the request\n\n> %s\n\n", quote(o.Intent))
	} else {
		b.WriteString(". ")
	}
	if o.Issue > 0 {
		if o.Closes {
			fmt.Fprintf(&b, "Closes #%d. ", o.Issue)
		} else {
			fmt.Fprintf(&b, "Requested in #%d. ", o.Issue)
		}
	}
	b.WriteString("Flux applies it after the merge; nothing was changed in the cluster.\n\n")
	if o.Diagnosis != "" {
		fmt.Fprintf(&b, "<details open><summary>Diagnosis</summary>\n\n%s\n</details>\n\n", secretFree(o.Diagnosis))
	}
	fmt.Fprintf(&b, "## Proposed change\n\n%s\n\n", secretFree(o.Summary))
	if o.ModelSummary != "" {
		fmt.Fprintf(&b, "> 🤖 The repair agent (model): %s\n\n", quote(o.ModelSummary))
	}
	writeOperation(&b, o)
	writeDiff(&b, o.Diff, false)
	for _, a := range o.Also {
		fmt.Fprintf(&b, "\n## Then: `%s`\n\n%s\n\n", codeSafe(a.Command), secretFree(a.Summary))
		writeOperation(&b, a)
		writeDiff(&b, a.Diff, false)
	}
	writeTail(&b, tail{
		report: o.Report, findings: reportFindings(o.Report), branch: o.Branch,
		try:   "kubewright validate .            # the same checks, locally\n",
		after: "",
	})
	return b.String()
}

func reportFindings(r *Report) []finding.Finding {
	if r == nil {
		return nil
	}
	return r.Findings
}

// writeOperation renders the state, the changes, the evidence and the
// risk assessment.
func writeOperation(b *strings.Builder, o Operation) {
	if s := o.State; s != nil {
		fmt.Fprintf(b, "## Current state\n\n_%s, read-only._\n\n", secretFree(s.Context))
		for _, l := range s.Lines {
			fmt.Fprintf(b, "- %s\n", secretFree(l))
		}
		if len(s.Findings) > 0 {
			b.WriteString("\nWhat is failing now:\n\n")
			writeFindings(b, s.Findings, false)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(b, "- _%s_\n", secretFree(n))
		}
		b.WriteString("\n")
	}
	if len(o.Changes) > 0 {
		b.WriteString("| File | Object | Field | Before | After |\n|---|---|---|---|---|\n")
		for _, c := range o.Changes {
			loc := c.File
			if c.Line > 0 {
				loc = fmt.Sprintf("%s:%d", c.File, c.Line)
			}
			fmt.Fprintf(b, "| `%s` | `%s` | `%s` | %s | %s |\n", codeSafe(loc), codeSafe(c.Object), codeSafe(c.Field), cell(c.From), cell(c.To))
		}
		b.WriteString("\n")
	}
	if len(o.Evidence) > 0 {
		b.WriteString("## Evidence\n\n")
		for _, e := range o.Evidence {
			fmt.Fprintf(b, "- %s\n", secretFree(e))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Risk\n\n")
	for _, w := range o.Warnings {
		fmt.Fprintf(b, "- ⚠️ %s\n", secretFree(w))
	}
	for _, n := range o.Notes {
		fmt.Fprintf(b, "- %s\n", secretFree(n))
	}
	for _, r := range o.ModelRisks {
		fmt.Fprintf(b, "- 🤖 %s\n", quote(r))
	}
	if len(o.Warnings) == 0 && len(o.Notes) == 0 && len(o.ModelRisks) == 0 {
		b.WriteString("- No capacity, disruption-budget or automation conflict found in the repository.\n")
	}
	if o.Undo != "" {
		fmt.Fprintf(b, "- Rollback path: %s\n", secretFree(o.Undo))
	}
	b.WriteString("\n")
}

// DiffBlock is a unified diff for a comment: redacted, cut at the cap a
// body allows, fenced so that nothing in it renders as Markdown.
func DiffBlock(diff string) string {
	diff = secretFree(diff)
	if len(diff) > maxDiff {
		diff = diff[:maxDiff] + "\n… (truncated)\n"
	}
	return "```diff\n" + strings.ReplaceAll(diff, "```", "ʼʼʼ") + "```\n"
}

// writeDiff quotes the diff, shortened, folded in a pull request body.
func writeDiff(b *strings.Builder, diff string, open bool) {
	if diff == "" {
		return
	}
	attr := ""
	if open {
		attr = " open"
	}
	fmt.Fprintf(b, "<details%s><summary>Diff</summary>\n\n%s\n</details>\n", attr, DiffBlock(diff))
}

// cell is a table cell: a value in code, or a dash.
func cell(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + codeSafe(s) + "`"
}

// codeSafe keeps text inside a code span or table cell.
func codeSafe(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(secretFree(s))
}
