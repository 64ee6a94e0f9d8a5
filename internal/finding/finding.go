// Package finding is the one type every check reports with, and its
// renderings: CLI text, JSON and SARIF. Check runs and review comments
// render the same values.
package finding

import (
	"fmt"
	"sort"
)

// Severity of a finding.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Rank orders severities: error > warning > info.
func (s Severity) Rank() int {
	switch s {
	case Error:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// ParseSeverity accepts error, warning and info.
func ParseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case Error, Warning, Info:
		return Severity(s), nil
	}
	return "", fmt.Errorf("severity %q: use error, warning or info", s)
}

// Finding is one problem a person can act on.
type Finding struct {
	// ID is stable across releases (KW-FLUX-003) so it can be configured,
	// suppressed and searched for.
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Stage names the check that found it: discover, build, flux, schema,
	// dryrun, dockerfile, policy.
	Stage string `json:"stage"`
	// File and Line point at the source the person edits (repository
	// relative, slash-separated), not at rendered output.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Object is "Kind/namespace/name" (or "Kind/name" when cluster-scoped).
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if loc == "" {
		loc = "(repository)"
	}
	s := fmt.Sprintf("%s: %s %s: %s", loc, f.Severity, f.ID, f.Message)
	if f.Object != "" {
		s += " [" + f.Object + "]"
	}
	return s
}

// ObjectRef formats the Object field.
func ObjectRef(kind, namespace, name string) string {
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}

// Sort orders findings by file, line, ID and message, so output is stable.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Message < b.Message
	})
}

// AtLeast counts findings at or above min.
func AtLeast(fs []Finding, min Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity.Rank() >= min.Rank() {
			n++
		}
	}
	return n
}
