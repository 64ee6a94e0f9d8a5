package publish

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
)

// CommentView is one inline review comment: the findings on one line
// range and, when the fix is mechanical, the edit that resolves them.
type CommentView struct {
	Findings []finding.Finding
	// Suggestion is a ```suggestion block that replaces the commented
	// lines; Patch a unified diff, for a fix GitHub cannot suggest (one
	// that creates a file). At most one is set.
	Suggestion, Patch string
	// FixTitle says what the fix does; FixNote what to check before
	// committing it.
	FixTitle, FixNote string
	// Unfixable says why no fix is offered, when a fixer said so.
	Unfixable string
}

// FindingComment renders an inline comment: each finding with its rule,
// severity, message, hint and the rule's documentation, then the fix.
func FindingComment(c CommentView) string {
	var b strings.Builder
	for i, f := range c.Findings {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s **%s** %s", severityIcon(f.Severity), ruleLink(f.ID), neutral(f.Message))
		if f.Object != "" {
			fmt.Fprintf(&b, " (`%s`)", strings.ReplaceAll(f.Object, "`", "'"))
		}
		b.WriteString("\n")
		if f.Hint != "" {
			fmt.Fprintf(&b, "\n> %s\n", Sentence(f.Hint))
		}
	}
	switch {
	case c.Suggestion != "":
		fmt.Fprintf(&b, "\n**Fix:** %s\n\n%s\n", Sentence(c.FixTitle), strings.TrimRight(c.Suggestion, "\n"))
	case c.Patch != "":
		fmt.Fprintf(&b, "\n**Fix:** %s Apply this patch, or comment `/ai fix`:\n\n```diff\n%s\n```\n", Sentence(c.FixTitle), strings.TrimRight(c.Patch, "\n"))
	case c.Unfixable != "":
		fmt.Fprintf(&b, "\nNo automatic fix: %s\n", Sentence(c.Unfixable))
	}
	if c.FixNote != "" {
		fmt.Fprintf(&b, "\n_Check before committing:_ %s\n", Sentence(c.FixNote))
	}
	return b.String()
}

func severityIcon(s finding.Severity) string {
	switch s {
	case finding.Error:
		return "🔴"
	case finding.Warning:
		return "🟡"
	}
	return "🔵"
}

// ruleLink is the rule ID, linked to its documentation when it is a rule.
func ruleLink(id string) string {
	if u := finding.DocURL(id); u != "" {
		return "[" + id + "](" + u + ")"
	}
	return id
}

// ReviewView is the body of one review.
type ReviewView struct {
	// Head is the reviewed commit; Base the commit compared against.
	Head, Base string
	// Introduced are the findings the pull request adds; Fixed those it
	// resolves; Kept how many it leaves as they were.
	Introduced, Fixed []finding.Finding
	Kept              int
	// Repeated counts introduced findings already commented on by an
	// earlier review and not posted again.
	Repeated int
	// Since is what changed since the previous review of this pull
	// request, nil for the first.
	Since *ReviewSince
	// FluxDiff is the Markdown of what Flux will change ("" when the
	// pull request touches no kustomization root).
	FluxDiff string
	// Risks are the review agent's comments (from the model; never
	// blocking), empty without a model.
	Risks []string
	// Settings says which configuration the review used.
	Settings string
}

// ReviewSince compares with the previous review.
type ReviewSince struct {
	Head string
	// New are findings this push added; Resolved how many comments of
	// earlier reviews were resolved because their finding is gone.
	New      int
	Resolved int
}

// ReviewBody renders a review's body. Comments that cannot go on their
// lines are appended by PostReview.
func ReviewBody(v ReviewView) string {
	var b strings.Builder
	errs := finding.AtLeast(v.Introduced, finding.Error)
	warns := finding.AtLeast(v.Introduced, finding.Warning) - errs
	switch {
	case len(v.Introduced) == 0:
		fmt.Fprintf(&b, "### kubewright review of %.7s\n\n✅ This pull request adds no findings.", v.Head)
	default:
		fmt.Fprintf(&b, "### kubewright review of %.7s\n\n%s This pull request adds: %s, %s", v.Head, severityIcon(worst(v.Introduced)),
			plural(errs, "error"), plural(warns, "warning"))
		if n := len(v.Introduced) - errs - warns; n > 0 {
			fmt.Fprintf(&b, ", %s", plural(n, "note"))
		}
		b.WriteString(".")
	}
	if len(v.Fixed) > 0 {
		fmt.Fprintf(&b, " It resolves %s the base branch had.", plural(len(v.Fixed), "finding"))
	}
	if v.Kept > 0 {
		fmt.Fprintf(&b, " %s already on the base branch %s not repeated here.", upper(plural(v.Kept, "finding")), isAre(v.Kept))
	}
	b.WriteString("\n")
	if v.Since != nil {
		fmt.Fprintf(&b, "\n**Since the review of %.7s:** %s, %s resolved", v.Since.Head, plural(v.Since.New, "new finding"), plural(v.Since.Resolved, "comment"))
		if v.Repeated > 0 {
			fmt.Fprintf(&b, ", %d still open (not posted again)", v.Repeated)
		}
		b.WriteString(".\n")
	}
	if len(v.Fixed) > 0 {
		b.WriteString("\n<details><summary>Resolved by this pull request</summary>\n\n")
		for i, f := range v.Fixed {
			if i == 20 {
				fmt.Fprintf(&b, "- … and %d more\n", len(v.Fixed)-20)
				break
			}
			fmt.Fprintf(&b, "- %s %s\n", ruleLink(f.ID), neutral(f.Message))
		}
		b.WriteString("\n</details>\n")
	}
	if v.FluxDiff != "" {
		b.WriteString("\n" + v.FluxDiff)
	}
	if len(v.Risks) > 0 {
		b.WriteString("\n#### From the review agent (a model; advice, never blocking)\n\n")
		for _, r := range v.Risks {
			fmt.Fprintf(&b, "- %s\n", neutral(Sentence(r)))
		}
	}
	if v.Settings != "" {
		fmt.Fprintf(&b, "\n<sub>%s Comment `/ai fix` to apply the suggested fixes as one commit.</sub>\n", Sentence(v.Settings))
	}
	return b.String()
}

func worst(fs []finding.Finding) finding.Severity {
	switch {
	case finding.AtLeast(fs, finding.Error) > 0:
		return finding.Error
	case finding.AtLeast(fs, finding.Warning) > 0:
		return finding.Warning
	}
	return finding.Info
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
