package job

import (
	"context"
	"fmt"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/rules"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/workspace"
)

// ContainerizeOptions are the inputs of one containerize run.
type ContainerizeOptions struct {
	// Author options from the command line; empty fields fall back to the
	// repository's .github/kubewright.yaml, then to defaults.
	Author author.Options
	Force  bool
	DryRun bool
	// Config is the repository's configuration when the caller has read
	// it (a job: once, from the default branch); nil reads
	// .github/kubewright.yaml under the root.
	Config *config.Repo
}

// Plan is what a containerize run found, wrote and assumed.
type Plan struct {
	Name        string                 `json:"name"`
	Services    []analyze.Service      `json:"services"`
	Errors      []analyze.ServiceError `json:"errors,omitempty"`
	Files       []workspace.FileResult `json:"files"`
	Assumptions []string               `json:"assumptions,omitempty"`
	DryRun      bool                   `json:"dryRun,omitempty"`
	// Diff is the unified diff of what was (or would be) written.
	Diff string `json:"-"`
}

// Containerize analyzes the repository at root, authors what is missing
// with the deterministic author and applies it under the write policy.
func Containerize(ctx context.Context, root string, opts ContainerizeOptions) (*Plan, error) {
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = config.LoadRepo(root); err != nil {
			return nil, err
		}
	}
	model, err := analyze.New().Analyze(ctx, root)
	if err != nil {
		return nil, err
	}
	aopts := MergeOptions(cfg, opts.Author)
	draft, err := rules.New().Author(ctx, model, aopts)
	if err != nil {
		return nil, fmt.Errorf("author: %w", err)
	}
	res, err := workspace.Apply(root, draft.Files, workspace.ApplyOptions{
		Force: opts.Force, DryRun: opts.DryRun,
		Policy: workspace.Policy{AllowWorkflows: cfg.AllowWorkflows},
	})
	if err != nil {
		return nil, err
	}
	services := model.Services
	if len(aopts.Services) > 0 {
		services = nil
		for _, s := range model.Services {
			for _, n := range aopts.Services {
				if s.Name == n {
					services = append(services, s)
				}
			}
		}
	}
	assumptions := draft.Assumptions
	for _, f := range res.Files {
		if f.Action == workspace.ActionKeep {
			assumptions = append(assumptions, fmt.Sprintf("%s exists and differs from kubewright's version: kept (use --force to overwrite)", f.Path))
		}
	}
	return &Plan{
		Name: model.Name, Services: services, Errors: model.Errors,
		Files: res.Files, Assumptions: assumptions, DryRun: opts.DryRun, Diff: res.Diff,
	}, nil
}

// MergeOptions lays command-line options over the repository's settings.
func MergeOptions(cfg *config.Repo, flags author.Options) author.Options {
	c := cfg.Containerize
	o := author.Options{
		Services: c.Services, Env: c.Env, Registry: c.Registry, NamespacePrefix: c.NamespacePrefix,
		IngressHost: c.IngressHost, IngressClass: c.IngressClass, Only: c.Only, RepoURL: c.RepoURL, Branch: c.Branch,
	}
	pick := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	pick(&o.Env, flags.Env)
	pick(&o.Registry, flags.Registry)
	pick(&o.NamespacePrefix, flags.NamespacePrefix)
	pick(&o.IngressHost, flags.IngressHost)
	pick(&o.IngressClass, flags.IngressClass)
	pick(&o.RepoURL, flags.RepoURL)
	pick(&o.Branch, flags.Branch)
	if len(flags.Services) > 0 {
		o.Services = flags.Services
	}
	if len(flags.Only) > 0 {
		o.Only = flags.Only
	}
	return o
}
