// Package suite validates a directory with the default stages: it loads
// the directory (build), adds the repository's settings and CRDs, runs the
// offline stages (flux, schema, dockerfile, policy), any extra ones (the Go
// check) and the server-side dry-run when one is given, and returns one
// Report. internal/app wires it for serve and the CLI.
package suite

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/build"
	"github.com/kubewright/kubewright/internal/validate/dockerfile"
	"github.com/kubewright/kubewright/internal/validate/flux"
	"github.com/kubewright/kubewright/internal/validate/policy"
	"github.com/kubewright/kubewright/internal/validate/schema"
)

// Options configure one validation.
type Options struct {
	// CRDDirs are files or directories of CustomResourceDefinitions the
	// custom resources are checked against (in addition to CRDs in the tree).
	CRDDirs []string
	// CRDs are already loaded CRDs (schema.LoadCRDs), for callers that
	// validate many times: parsing the CRD collection costs more than
	// validating.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// BuiltinCRDs are the CRDs kubewright carries (internal/crds): they
	// come after every other CRD (the tree's, CRDs, CRDDirs, the
	// repository's validate.crds), so they serve only the kinds none of
	// those define.
	BuiltinCRDs []*apiextensionsv1.CustomResourceDefinition
	// Checks replaces the offline checks (default DefaultChecks()).
	Checks []validate.Check
	// DryRun is the server-side dry-run stage; nil skips it (reported as
	// skipped, never silently).
	DryRun validate.Check
	// DryRunSkipped says why DryRun is nil and what to do, on the skipped
	// stage (default: no kube-apiserver).
	DryRunSkipped string
	// Config is the repository's configuration as the caller read it (a
	// job reads it once, from the default branch). When set, Validate uses
	// it and ignores any .github/kubewright.yaml in the directory, so a
	// pull request cannot switch off the rules that gate it.
	Config *config.Repo
	// BuildTimeout bounds each kustomize root's build (default
	// build.DefaultBuildTimeout); a root that overruns becomes a finding.
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
func (o Options) With(extra ...validate.Check) Options {
	if len(extra) == 0 {
		return o
	}
	checks := o.Checks
	if checks == nil {
		checks = DefaultChecks()
	}
	o.Checks = append(append([]validate.Check(nil), checks...), extra...)
	return o
}

// DefaultChecks are the offline stages, in the order they report.
func DefaultChecks() []validate.Check {
	return []validate.Check{flux.Check{}, schema.Check{}, dockerfile.Check{}, policy.Check{}}
}

// Validate runs every stage over the repository at dir.
func Validate(ctx context.Context, dir string, opts Options) (*validate.Report, error) {
	start := time.Now()
	endBuild := opts.progress(validate.StageBuild)
	in, fs, err := build.LoadWith(ctx, dir, build.LoadOptions{BuildTimeout: opts.BuildTimeout})
	endBuild()
	if err != nil {
		return nil, err
	}
	cfg, cerr := opts.Config, error(nil)
	if cfg == nil {
		cfg, cerr = config.LoadRepo(in.Dir)
	}
	if cerr != nil {
		fs = append(fs, finding.Finding{ID: "KW-DISCOVER-002", Severity: finding.Error, Stage: validate.StageDiscover, File: config.RepoConfigPath,
			Message: cerr.Error(), Hint: "fix the file; validation ran with default settings"})
	} else {
		in.Config = cfg.Validate
	}
	in.CRDs = append(in.CRDs, opts.CRDs...)
	if len(opts.CRDDirs) > 0 {
		crds, err := schema.LoadCRDs(opts.CRDDirs...)
		if err != nil {
			return nil, fmt.Errorf("load CRDs: %w", err)
		}
		in.CRDs = append(in.CRDs, crds...)
	}
	// Paths from the repository's configuration are untrusted: bounded
	// reads, and findings rather than a failed validation.
	repoCRDs, crdFs := schema.LoadRepoCRDs(in.Dir, in.Config.CRDs...)
	in.CRDs = append(in.CRDs, repoCRDs...)
	in.CRDs = append(in.CRDs, opts.BuiltinCRDs...)
	fs = append(fs, crdFs...)
	rep := &validate.Report{Roots: len(in.Roots), Objects: len(in.Objects), Input: in}
	for _, f := range in.Files {
		if dockerfile.IsDockerfile(f) {
			rep.Dockerfiles++
		}
	}
	rep.Add(validate.StageResult{Name: validate.StageBuild, Duration: time.Since(start)}, fs)

	checks := opts.Checks
	if checks == nil {
		checks = DefaultChecks()
	}
	if opts.DryRun != nil {
		checks = append(checks, opts.DryRun)
	}
	if err := validate.Run(ctx, in, rep, checks, opts.Progress); err != nil {
		return nil, err
	}
	if opts.DryRun == nil {
		why := opts.DryRunSkipped
		if why == "" {
			why = "no kube-apiserver: pass --ephemeral with KUBEBUILDER_ASSETS/--assets, or --kubeconfig"
		}
		rep.Stages = append(rep.Stages, validate.StageResult{Name: validate.StageDryRun, Skipped: why})
	}
	finding.Sort(rep.Findings)
	return rep, nil
}
