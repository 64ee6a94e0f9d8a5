package llm

import "github.com/kubewright/kubewright/internal/redact"

// Redact replaces secrets in text with "[REDACTED]" and returns how many
// replacements it made; see [redact.Text], which it is.
func Redact(s string) (string, int) { return redact.Text(s) }

// RedactFile redacts one file's content knowing its path; see
// [redact.File], which it is.
func RedactFile(p, content string) (string, int) { return redact.File(p, content) }
