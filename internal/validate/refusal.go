package validate

import (
	"errors"
	"fmt"

	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// LineOf is the line a yamlsafe refusal (a file over its size cap or its
// alias budget, not regular, not valid YAML) points at, or 0. LineOf,
// DetailOf, PlainDetail and HintOf turn refusals into findings.
func LineOf(err error) int {
	var ye *yamlsafe.Error
	if errors.As(err, &ye) {
		return ye.Line
	}
	return 0
}

// DetailOf is the refusal's detail with its line and file, for a finding
// placed elsewhere (on the kustomization that references the file).
func DetailOf(err error) string {
	var ye *yamlsafe.Error
	if errors.As(err, &ye) {
		if ye.Line > 0 {
			return fmt.Sprintf("%s (line %d of %s)", ye.Detail, ye.Line, ye.File)
		}
		return ye.Detail
	}
	return err.Error()
}

// PlainDetail is DetailOf for a finding already on the refused file's line.
func PlainDetail(err error) string {
	var ye *yamlsafe.Error
	if errors.As(err, &ye) {
		return ye.Detail
	}
	return err.Error()
}

// HintOf is the refusal's hint.
func HintOf(err error) string {
	var ye *yamlsafe.Error
	if errors.As(err, &ye) {
		return ye.Hint
	}
	return "fix the file, or keep it out of what the kustomization reads"
}

// HumanBytes writes a size for a message: "1.5 MiB", "12.0 KiB", "300 bytes".
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// QuoteRef quotes a reference for a message, shortened: messages carry
// the reference as written, never more.
func QuoteRef(s string) string {
	const max = 120
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}
