package finding

import (
	"fmt"
	"strings"
)

// DocsURL is where the rule reference is published: docs/rules.md of
// kubewright's repository, one heading per rule.
const DocsURL = "https://github.com/kubewright/kubewright/blob/main/docs/rules.md"

// DocURL links to one rule's entry in the reference ("" for an ID that
// is not a rule).
func DocURL(id string) string {
	if _, ok := LookupRule(id); !ok {
		return ""
	}
	return DocsURL + "#" + strings.ToLower(id)
}

// RulesMarkdown renders the rule reference (docs/rules.md) from Rules, so
// the published list cannot drift from what kubewright reports.
func RulesMarkdown() string {
	var b strings.Builder
	b.WriteString("# kubewright rules\n\n")
	b.WriteString("Every finding kubewright reports has one of these IDs. Change a rule's severity, or turn it off, in `.github/kubewright.yaml`:\n\n")
	b.WriteString("```yaml\nvalidate:\n  rules:\n    KW-POL-010: warning\n    KW-DOCKER-013: off\n```\n\n")
	b.WriteString("This file is generated from `internal/finding/rules.go` (`go test ./internal/finding -update`).\n")
	stage := ""
	for _, r := range Rules {
		if r.Stage != stage {
			stage = r.Stage
			fmt.Fprintf(&b, "\n## Stage `%s`\n", stage)
		}
		fmt.Fprintf(&b, "\n### %s\n\n%s. Default severity: %s.\n", r.ID, upperFirst(r.Title), r.Severity)
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
