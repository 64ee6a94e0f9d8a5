package publish

import "github.com/kubewright/kubewright/internal/finding"

// The types below are what publish renders: plain data the job fills in
// from analysis, the workspace, validation and the agents. publish
// imports none of those packages (data flows one way); findings are one
// type everywhere, so they come as they are.

// Report is a validation as publish shows it: a row per stage and the
// findings.
type Report struct {
	Stages   []Stage
	Findings []finding.Finding
	// Compared: the change was validated against its base too, and Added
	// counts the errors it adds. The check run then concludes from those
	// alone; the base's own errors stay annotations.
	Compared bool
	Added    int
}

// blocking is how many errors of the report are the change's to fix.
func (r *Report) blocking() int {
	if r == nil {
		return 0
	}
	if r.Compared {
		return r.Added
	}
	return finding.AtLeast(r.Findings, finding.Error)
}

// Stage is one validation stage's counts, or why it was skipped.
type Stage struct {
	Name     string
	Errors   int
	Warnings int
	Skipped  string
}

// Service is one analyzed service, for the services table and the diagram.
type Service struct {
	Name, Path                string
	Language, LanguageVersion string
	BuildTool                 string
	Port                      int
	HealthPath                string
	Backing                   []Store
	Calls                     []string // names of the services it calls
}

// Store is a backing service. A Shared one (a message broker) is drawn
// once for every service that uses it; the others once per service.
type Store struct {
	Kind   string
	Shared bool
}

// FileChange is what happened to one file of a change.
type FileChange struct {
	Path   string
	Action string // one of the Action* constants
}

// File actions, the workspace's words for them.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionKeep   = "keep"
	ActionDelete = "delete"
)
