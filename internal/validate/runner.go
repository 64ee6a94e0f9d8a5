package validate

import (
	"context"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
)

// StageResult summarizes one stage for tables (PR bodies, check runs).
type StageResult struct {
	Name     string        `json:"name"`
	Errors   int           `json:"errors"`
	Warnings int           `json:"warnings"`
	Infos    int           `json:"infos"`
	Skipped  string        `json:"skipped,omitempty"`
	Duration time.Duration `json:"durationNs"`
}

// Report is the outcome of a validation.
type Report struct {
	Findings []finding.Finding `json:"findings"`
	Stages   []StageResult     `json:"stages"`
	Roots    int               `json:"roots"`
	Objects  int               `json:"objects"`
	// Dockerfiles is how many Dockerfiles the dockerfile stage looked at.
	Dockerfiles int `json:"dockerfiles"`
	// Input is what was loaded and rendered (the roots and their
	// objects), for callers that show what a change renders, such as the
	// review's Flux diff. Checks never see a Report.
	Input *Input `json:"-"`
}

// Add appends a stage and its findings, counting them by severity into st.
func (r *Report) Add(st StageResult, fs []finding.Finding) {
	for _, f := range fs {
		switch f.Severity {
		case finding.Error:
			st.Errors++
		case finding.Warning:
			st.Warnings++
		default:
			st.Infos++
		}
	}
	r.Findings = append(r.Findings, fs...)
	r.Stages = append(r.Stages, st)
}

// Run runs checks over a loaded input, one stage each, in order, and adds
// each stage's findings to rep with the repository's rule overrides
// (in.Config.Rules) applied. progress, when not nil, is called as each
// stage starts, and the function it returns when the stage ends. Run stops
// with ctx's error when ctx ends between stages.
func Run(ctx context.Context, in *Input, rep *Report, checks []Check, progress func(stage string) (done func())) error {
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := func() {}
		t := time.Now()
		if progress != nil {
			end = progress(c.Name())
		}
		got := c.Check(ctx, in)
		end()
		rep.Add(StageResult{Name: c.Name(), Duration: time.Since(t)}, applyRules(got, in.Config.Rules))
	}
	return nil
}

// applyRules applies per-repository severity overrides: "off" drops a
// rule's findings, a severity replaces the default.
func applyRules(fs []finding.Finding, rules map[string]string) []finding.Finding {
	if len(rules) == 0 {
		return fs
	}
	out := fs[:0]
	for _, f := range fs {
		if sev, ok := rules[f.ID]; ok {
			if sev == "off" {
				continue
			}
			f.Severity = finding.Severity(sev)
		}
		out = append(out, f)
	}
	return out
}
