// Package publish is the only code that talks to GitHub's write API: pull
// requests, check runs, comments, the status comment and reactions
// (Publisher). It renders what those carry from plain data (view.go) the
// job gives it. Everything rendered from findings, analysis errors,
// assumptions and model answers is redacted (internal/redact) first, and
// every text is redacted again on its way out: a finding or a model that
// quotes a secret never publishes it.
package publish

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
)

// Outcome is what one containerize job produced, for the PR body.
type Outcome struct {
	Issue    int
	Closes   bool
	Branch   string
	Services []Service
	// NotAnalyzed are the analysis errors of projects that were skipped.
	NotAnalyzed []string
	Files       []FileChange
	Assumptions []string
	Report      *Report
}

// maxFindings caps the findings listed in a body (GitHub bodies are
// limited to 65,536 characters).
const maxFindings = 50

// PRBody renders the pull request description.
func PRBody(o Outcome) string {
	var b strings.Builder
	if o.Report != nil && finding.AtLeast(o.Report.Findings, finding.Error) > 0 {
		b.WriteString("> [!WARNING]\n> Validation found errors: this pull request is a draft until they are fixed. They are listed below.\n\n")
	}
	b.WriteString("kubewright analyzed this repository and wrote what was missing to build and deploy it. ")
	if o.Issue > 0 {
		if o.Closes {
			fmt.Fprintf(&b, "Closes #%d.", o.Issue)
		} else {
			fmt.Fprintf(&b, "Requested in #%d.", o.Issue)
		}
	}
	b.WriteString("\n\n## Services detected\n\n")
	b.WriteString("| Service | Path | Language | Build | Port | Health | Backing services |\n|---|---|---|---|---|---|---|\n")
	for _, s := range o.Services {
		port := "—"
		if s.Port > 0 {
			port = fmt.Sprint(s.Port)
		}
		var backing []string
		for _, k := range s.Backing {
			backing = append(backing, k.Kind)
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s %s | %s | %s | %s | %s |\n", s.Name, s.Path, s.Language, s.LanguageVersion, s.BuildTool, port, dashIfEmpty(s.HealthPath), dashIfEmpty(strings.Join(backing, ", ")))
	}
	if len(o.NotAnalyzed) > 0 {
		b.WriteString("\nNot analyzed:\n\n")
		for _, e := range o.NotAnalyzed {
			fmt.Fprintf(&b, "- `%s`\n", secretFree(e))
		}
	}
	if d := Mermaid(o.Services); d != "" {
		b.WriteString("\n```mermaid\n" + d + "```\n")
	}

	b.WriteString("\n## Files\n\n")
	var written, kept []string
	for _, f := range o.Files {
		switch f.Action {
		case ActionCreate, ActionUpdate:
			written = append(written, fmt.Sprintf("- `%s` (%s)", f.Path, f.Action))
		case ActionKeep:
			kept = append(kept, fmt.Sprintf("- `%s`", f.Path))
		}
	}
	fmt.Fprintf(&b, "<details><summary>%d files written</summary>\n\n%s\n\n</details>\n", len(written), strings.Join(written, "\n"))
	if len(kept) > 0 {
		fmt.Fprintf(&b, "\nKept as they are (they exist and differ):\n\n%s\n", strings.Join(kept, "\n"))
	}

	if len(o.Assumptions) > 0 {
		b.WriteString("\n## Assumptions\n\n")
		for _, a := range o.Assumptions {
			fmt.Fprintf(&b, "- %s\n", secretFree(a))
		}
	}

	var fs []finding.Finding
	if o.Report != nil {
		fs = o.Report.Findings
	}
	writeTail(&b, tail{
		report: o.Report, findings: fs, branch: o.Branch,
		try:   "kubewright validate .            # the same checks, locally\nkubectl apply -k k8s/ --dry-run=server\n",
		after: "\nWith Flux: `flux bootstrap` with `--path=gitops/clusters/<env>` reconciles `gitops/`.\n",
	})
	return b.String()
}

// ValidationTable renders stage x result with counts.
func ValidationTable(r *Report) string {
	var b strings.Builder
	b.WriteString("| Stage | Result | Errors | Warnings |\n|---|---|---|---|\n")
	for _, s := range r.Stages {
		result := "✅ pass"
		switch {
		case s.Skipped != "":
			result = "⏭️ skipped"
		case s.Errors > 0:
			result = "❌ fail"
		case s.Warnings > 0:
			result = "⚠️ warnings"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d |\n", s.Name, result, s.Errors, s.Warnings)
	}
	return b.String()
}

// Mermaid draws services, their backing stores and their calls.
func Mermaid(svcs []Service) string {
	if len(svcs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	stores := map[string]bool{}
	for _, s := range svcs {
		fmt.Fprintf(&b, "  %s[\"%s<br/>%s :%d\"]\n", nodeID(s.Name), s.Name, s.Language, s.Port)
	}
	for _, s := range svcs {
		for _, c := range s.Calls {
			fmt.Fprintf(&b, "  %s --> %s\n", nodeID(s.Name), nodeID(c))
		}
		for _, k := range s.Backing {
			id := nodeID(s.Name + "-" + k.Kind)
			if k.Shared {
				id = nodeID(k.Kind) // one shared broker
			}
			if !stores[id] {
				stores[id] = true
				fmt.Fprintf(&b, "  %s[(%s)]\n", id, k.Kind)
			}
			fmt.Fprintf(&b, "  %s --> %s\n", nodeID(s.Name), id)
		}
	}
	return b.String()
}

func nodeID(s string) string { return strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(s) }

func location(f finding.Finding) string {
	if f.File == "" {
		return "(repository)"
	}
	if f.Line > 0 {
		return fmt.Sprintf("`%s:%d`", f.File, f.Line)
	}
	return "`" + f.File + "`"
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
