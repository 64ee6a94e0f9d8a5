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

// PR is what a pull request's description shows: the request, the
// analysis, the files, the assumptions, the model's attempts when a model
// took part, and the validation. One renderer serves every command.
type PR struct {
	Issue  int
	Closes bool
	Branch string
	// Services and NotAnalyzed are the analysis (containerize): the
	// services table, the diagram and the projects that were skipped.
	Services    []Service
	NotAnalyzed []string
	Files       []FileChange
	Assumptions []string
	Report      *Report
	// Run is the model's part, nil when no model took part: a free-text
	// request (Run.Intent set) or the repair of a draft that did not
	// validate (Run.Intent empty).
	Run *AgentRun
}

// maxFindings caps the findings listed in a body (GitHub bodies are
// limited to 65,536 characters).
const maxFindings = 50

// PRBody renders the pull request description.
func PRBody(p PR) string {
	var b strings.Builder
	r := p.Run
	free := r != nil && r.Intent != "" // a free-text request, not a containerize
	// Text a model may have written loses its @mentions; the
	// deterministic author's is only redacted.
	clean := secretFree
	if r != nil {
		clean = neutral
	}
	errs := p.Report != nil && finding.AtLeast(p.Report.Findings, finding.Error) > 0
	switch {
	case r != nil && r.Outcome == RunFailing:
		fmt.Fprintf(&b, "> [!WARNING]\n> Validation still fails after %d attempts: this pull request is a draft. The remaining findings are listed below.\n\n", repairRounds(r))
	case r != nil && r.Outcome == RunStopped:
		fmt.Fprintf(&b, "> [!WARNING]\n> %s.\n\n", neutral(r.Reason))
		if !free && errs {
			b.WriteString("> [!WARNING]\n> Validation found errors: this pull request is a draft until they are fixed. They are listed below.\n\n")
		}
	case !free && errs:
		b.WriteString("> [!WARNING]\n> Validation found errors: this pull request is a draft until they are fixed. They are listed below.\n\n")
	}
	if free {
		b.WriteString("kubewright's agents carried out this request")
		if p.Issue > 0 {
			if p.Closes {
				fmt.Fprintf(&b, " (closes #%d)", p.Issue)
			} else {
				fmt.Fprintf(&b, " from #%d", p.Issue)
			}
		}
		fmt.Fprintf(&b, ", starting from kubewright's deterministic draft:\n\n> %s\n\n", quote(r.Intent))
	} else {
		b.WriteString("kubewright analyzed this repository and wrote what was missing to build and deploy it. ")
		if p.Issue > 0 {
			if p.Closes {
				fmt.Fprintf(&b, "Closes #%d.", p.Issue)
			} else {
				fmt.Fprintf(&b, "Requested in #%d.", p.Issue)
			}
		}
		if r != nil {
			b.WriteString(" The draft did not pass validation, so kubewright's repair agent edited it; its attempts are listed below.")
		}
		b.WriteString("\n\n")
	}
	if r != nil && r.Summary != "" {
		b.WriteString("## Summary\n\n" + neutral(r.Summary) + "\n\n")
	}
	if !free {
		writeServices(&b, p)
	}
	writeFiles(&b, p.Files)
	if r != nil && len(r.Attempts) > 0 {
		b.WriteString("\n## Attempts\n\n")
		b.WriteString(AttemptLog(r))
	}
	if len(p.Assumptions) > 0 {
		b.WriteString("\n## Assumptions\n\n")
		for _, a := range p.Assumptions {
			fmt.Fprintf(&b, "- %s\n", clean(a))
		}
	}
	if r != nil && len(r.Risks) > 0 {
		b.WriteString("\n## Risks to review\n\n")
		for _, a := range r.Risks {
			fmt.Fprintf(&b, "- %s\n", neutral(a))
		}
	}
	t := tail{
		report: p.Report, neutral: r != nil, branch: p.Branch,
		try:   "kubewright validate .            # the same checks, locally\nkubectl apply -k k8s/ --dry-run=server\n",
		after: "\nWith Flux: `flux bootstrap` with `--path=gitops/clusters/<env>` reconciles `gitops/`.\n",
	}
	switch {
	case free:
		t.findings, t.intro = r.NewFindings, "Findings this change adds:\n\n"
	case p.Report != nil:
		t.findings = p.Report.Findings
	}
	if r != nil {
		t.footer = fmt.Sprintf("\n<sub>%d model calls, %d prompt and %d completion tokens; %d secrets redacted from the prompts. The model only proposed file contents; kubewright applied them under its write policy and validated them.</sub>\n",
			r.Calls, r.PromptTokens, r.CompletionTokens, r.Redactions)
	}
	writeTail(&b, t)
	return b.String()
}

// writeServices renders the analysis: the services table, the projects
// that were not analyzed and the diagram.
func writeServices(b *strings.Builder, p PR) {
	b.WriteString("## Services detected\n\n")
	b.WriteString("| Service | Path | Language | Build | Port | Health | Backing services |\n|---|---|---|---|---|---|---|\n")
	for _, s := range p.Services {
		port := "—"
		if s.Port > 0 {
			port = fmt.Sprint(s.Port)
		}
		var backing []string
		for _, k := range s.Backing {
			backing = append(backing, k.Kind)
		}
		fmt.Fprintf(b, "| `%s` | `%s` | %s %s | %s | %s | %s | %s |\n", s.Name, s.Path, s.Language, s.LanguageVersion, s.BuildTool, port, dashIfEmpty(s.HealthPath), dashIfEmpty(strings.Join(backing, ", ")))
	}
	if len(p.NotAnalyzed) > 0 {
		b.WriteString("\nNot analyzed:\n\n")
		for _, e := range p.NotAnalyzed {
			fmt.Fprintf(b, "- `%s`\n", secretFree(e))
		}
	}
	if d := Mermaid(p.Services); d != "" {
		b.WriteString("\n```mermaid\n" + d + "```\n")
	}
	b.WriteString("\n")
}

// writeFiles lists what the change writes and deletes, and the existing
// files it kept as they are.
func writeFiles(b *strings.Builder, files []FileChange) {
	b.WriteString("## Files\n\n")
	var written, kept []string
	deleted := 0
	for _, f := range files {
		switch f.Action {
		case ActionCreate, ActionUpdate, ActionDelete:
			written = append(written, fmt.Sprintf("- `%s` (%s)", f.Path, f.Action))
			if f.Action == ActionDelete {
				deleted++
			}
		case ActionKeep:
			kept = append(kept, fmt.Sprintf("- `%s`", f.Path))
		}
	}
	what := fmt.Sprintf("%d files written", len(written)-deleted)
	if deleted > 0 {
		what += fmt.Sprintf(", %d deleted", deleted)
	}
	fmt.Fprintf(b, "<details><summary>%s</summary>\n\n%s\n\n</details>\n", what, strings.Join(written, "\n"))
	if len(kept) > 0 {
		fmt.Fprintf(b, "\nKept as they are (they exist and differ):\n\n%s\n", strings.Join(kept, "\n"))
	}
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
