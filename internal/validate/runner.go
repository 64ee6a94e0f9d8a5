package validate

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
)

// Options configure one validation.
type Options struct {
	// CRDDirs are files or directories of CustomResourceDefinitions the
	// custom resources are checked against (in addition to CRDs in the tree).
	CRDDirs []string
	// CRDs are already loaded CRDs (LoadCRDs), for callers that validate
	// many times: parsing the CRD collection costs more than validating.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Checks replaces the offline checks (default DefaultChecks()).
	Checks []Check
	// DryRun is the server-side dry-run stage; nil skips it (reported as
	// skipped, never silently).
	DryRun Check
}

// With returns the options with extra stages after the offline ones (and
// before the dry-run).
func (o Options) With(extra ...Check) Options {
	if len(extra) == 0 {
		return o
	}
	checks := o.Checks
	if checks == nil {
		checks = DefaultChecks()
	}
	o.Checks = append(append([]Check(nil), checks...), extra...)
	return o
}

// DefaultChecks are the offline stages, in the order they report.
func DefaultChecks() []Check {
	return []Check{FluxCheck{}, SchemaCheck{}, DockerfileCheck{}, PolicyCheck{}}
}

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
}

// Validate runs every stage over the repository at dir.
func Validate(ctx context.Context, dir string, opts Options) (*Report, error) {
	start := time.Now()
	in, fs, err := Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	cfg, cerr := config.LoadRepo(in.Dir)
	if cerr != nil {
		fs = append(fs, finding.Finding{ID: "KW-DISCOVER-002", Severity: finding.Error, Stage: StageDiscover, File: config.RepoConfigPath,
			Message: cerr.Error(), Hint: "fix the file; validation ran with default settings"})
	} else {
		in.Config = cfg.Validate
	}
	crdDirs := append([]string(nil), opts.CRDDirs...)
	for _, d := range in.Config.CRDs {
		crdDirs = append(crdDirs, in.Dir+"/"+d)
	}
	in.CRDs = append(in.CRDs, opts.CRDs...)
	if len(crdDirs) > 0 {
		crds, err := LoadCRDs(crdDirs...)
		if err != nil {
			return nil, fmt.Errorf("load CRDs: %w", err)
		}
		in.CRDs = append(in.CRDs, crds...)
	}
	rep := &Report{Roots: len(in.Roots), Objects: len(in.Objects)}
	buildStage := StageResult{Name: StageBuild, Duration: time.Since(start)}
	rep.add(&buildStage, fs)

	checks := opts.Checks
	if checks == nil {
		checks = DefaultChecks()
	}
	if opts.DryRun != nil {
		checks = append(checks, opts.DryRun)
	}
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := time.Now()
		got := c.Check(ctx, in)
		st := StageResult{Name: c.Name(), Duration: time.Since(t)}
		rep.add(&st, applyRules(got, in.Config.Rules))
	}
	if opts.DryRun == nil {
		rep.Stages = append(rep.Stages, StageResult{Name: StageDryRun, Skipped: "no kube-apiserver: pass --ephemeral with KUBEBUILDER_ASSETS/--assets, or --kubeconfig"})
	}
	finding.Sort(rep.Findings)
	return rep, nil
}

func (r *Report) add(st *StageResult, fs []finding.Finding) {
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
	r.Stages = append(r.Stages, *st)
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
