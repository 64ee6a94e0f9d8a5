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
	// Config is the repository's configuration as the caller read it (a
	// job reads it once, from the default branch). When set, Validate uses
	// it and ignores any .github/kubewright.yaml in the directory, so a
	// pull request cannot switch off the rules that gate it.
	Config *config.Repo
	// BuildTimeout bounds each kustomize root's build (default
	// DefaultBuildTimeout); a root that overruns becomes a finding.
	BuildTimeout time.Duration
	// Progress, when set, is called as each stage starts; the function
	// it returns is called when the stage ends (the CLI's progress line).
	Progress func(stage string) (done func())
}

// progress starts a stage on the Progress hook, if any.
func (o Options) progress(stage string) func() {
	if o.Progress == nil {
		return func() {}
	}
	return o.Progress(stage)
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
	// Dockerfiles is how many Dockerfiles the dockerfile stage looked at.
	Dockerfiles int `json:"dockerfiles"`
}

// Validate runs every stage over the repository at dir.
func Validate(ctx context.Context, dir string, opts Options) (*Report, error) {
	start := time.Now()
	endBuild := opts.progress(StageBuild)
	in, fs, err := LoadWith(ctx, dir, LoadOptions{BuildTimeout: opts.BuildTimeout})
	endBuild()
	if err != nil {
		return nil, err
	}
	cfg, cerr := opts.Config, error(nil)
	if cfg == nil {
		cfg, cerr = config.LoadRepo(in.Dir)
	}
	if cerr != nil {
		fs = append(fs, finding.Finding{ID: "KW-DISCOVER-002", Severity: finding.Error, Stage: StageDiscover, File: config.RepoConfigPath,
			Message: cerr.Error(), Hint: "fix the file; validation ran with default settings"})
	} else {
		in.Config = cfg.Validate
	}
	in.CRDs = append(in.CRDs, opts.CRDs...)
	if len(opts.CRDDirs) > 0 {
		crds, err := LoadCRDs(opts.CRDDirs...)
		if err != nil {
			return nil, fmt.Errorf("load CRDs: %w", err)
		}
		in.CRDs = append(in.CRDs, crds...)
	}
	// Paths from the repository's configuration are untrusted: bounded
	// reads, and findings rather than a failed validation.
	repoCRDs, crdFs := LoadRepoCRDs(in.Dir, in.Config.CRDs...)
	in.CRDs = append(in.CRDs, repoCRDs...)
	fs = append(fs, crdFs...)
	rep := &Report{Roots: len(in.Roots), Objects: len(in.Objects)}
	for _, f := range in.Files {
		if dockerIsDockerfile(f) {
			rep.Dockerfiles++
		}
	}
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
		t, end := time.Now(), opts.progress(c.Name())
		got := c.Check(ctx, in)
		end()
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
