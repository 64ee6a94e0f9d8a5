package redact

import "github.com/kubewright/kubewright/internal/finding"

// Findings returns a copy of fs with secrets redacted from what a finding
// quotes (Message, Hint and Object), for everything that publishes
// findings: pull request bodies, comments, check-run annotations, review
// comments and logs. IDs, files and lines are kept. fs is not modified.
func Findings(fs []finding.Finding) []finding.Finding {
	if fs == nil {
		return nil
	}
	out := make([]finding.Finding, len(fs))
	for i, f := range fs {
		f.Message, _ = Text(f.Message)
		f.Hint, _ = Text(f.Hint)
		f.Object, _ = Text(f.Object)
		out[i] = f
	}
	return out
}
