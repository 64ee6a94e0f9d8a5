// Package prompts holds the agents' prompt templates (*.md in this folder,
// embedded) and renders them. Everything that comes from a repository, an
// issue, a comment or a cluster reaches a template only through Data and
// is fenced there as data; the templates never interpolate it bare.
//
// Each agent is one file, <agent>.md, written in Go text/template syntax
// and defining two templates: {{define "system"}} and {{define "user"}},
// the two chat messages. Files whose name starts with "_" hold partials
// shared by every agent ({{template "contract"}}, "rules", "context", ...)
// and are not agents. Every agent's file is parsed together with the
// partials into its own template set, so the names never clash. Template
// functions: fence (llm.Fence), sanitize (llm.Sanitize), join and
// findings (the compact finding list).
package prompts

// File is one file shown to the model.
type File struct {
	Path    string
	Content string
}

// Finding is one validator finding fed back to the repair agent.
type Finding struct {
	ID       string
	Severity string
	File     string
	Line     int
	Message  string
	Hint     string
}

// Data is what every agent receives. Callers redact secrets before they
// fill it; Render fences and sanitizes.
type Data struct {
	// Intent is the user's request (free text from a comment or the CLI).
	Intent string
	// Issue is the title and body of the issue the request came from, if any.
	Issue string
	// Model is the analyzer's SystemModel as indented JSON.
	Model string
	// Conventions summarizes the repository's existing conventions
	// (namespaces, registry, labels, layout) as short lines.
	Conventions []string
	// Draft are the deterministic author's files: the starting point.
	Draft []File
	// Files are relevant existing repository files, most relevant first,
	// already bounded by the caller.
	Files []File
	// Findings are the validator's findings on the current attempt
	// (repair), in order.
	Findings []Finding
	// Attempt is the 1-based attempt number (repair), MaxAttempts its bound.
	Attempt, MaxAttempts int
	// Allowed lists the path rules edits must follow (write policy), as
	// short lines; the code enforces them whatever the model answers.
	Allowed []string
	// Diff is the change under review (review agent).
	Diff string
}
