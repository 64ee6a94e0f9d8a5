package job

import (
	"context"
	"errors"
	"log/slog"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/validate/gocheck"
)

// The local walks: what the CLI runs on a checkout, through the same
// steps a job takes, without GitHub.

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
	// NeedServices refuses a repository without services before anything
	// is written (no Flux or operator scaffolding for nothing): the error
	// is a *NoServicesError carrying the analysis.
	NeedServices bool
}

// NoServicesError is Containerize's refusal of a repository in which
// analysis found no service (ContainerizeOptions.NeedServices).
type NoServicesError struct {
	Root  string
	Model *analyze.SystemModel
}

func (e *NoServicesError) Error() string { return "no services found in " + e.Root }

// Plan is what a containerize run found, wrote and assumed.
type Plan struct {
	Name        string                 `json:"name"`
	Services    []analyze.Service      `json:"services"`
	Errors      []analyze.ServiceError `json:"errors,omitempty"`
	Files       []draft.FileResult     `json:"files"`
	Assumptions []string               `json:"assumptions,omitempty"`
	DryRun      bool                   `json:"dryRun,omitempty"`
	// Diff is the unified diff of what was (or would be) written.
	Diff string `json:"-"`
}

// Containerize analyzes the repository at root, authors what is missing
// with the deterministic author and applies it under the write policy:
// the pipeline's analyze and author steps, without validation or a model
// (`kubewright containerize`, `/ai plan`).
func Containerize(ctx context.Context, root string, opts ContainerizeOptions) (*Plan, error) {
	cfg, err := localConfig(root, opts.Config)
	if err != nil {
		return nil, err
	}
	model, err := analyze.New().Analyze(ctx, root)
	if err != nil {
		return nil, err
	}
	if opts.NeedServices && len(model.Services) == 0 {
		return nil, &NoServicesError{Root: root, Model: model}
	}
	plan, _, err := draftInto(ctx, model, root, cfg, MergeOptions(cfg, opts.Author), opts.Force, opts.DryRun)
	return plan, err
}

// DoOptions are the inputs of a local free-text request (`kubewright do`).
type DoOptions struct {
	// Intent is the request in the user's words.
	Intent string
	// Issue is background text for the model (untrusted), if any.
	Issue string
	// Author options from the command line, over the repository's.
	Author author.Options
	// Config is the repository's configuration (nil: read
	// .github/kubewright.yaml under the root).
	Config *config.Repo
	// MaxAttempts overrides agents.maxAttempts (0: the configured bound).
	MaxAttempts int
	// Model is required.
	Model agent.Proposer
	// Meter accounts tokens against the budgets (nil: counted, not
	// limited).
	Meter *llm.Meter
	// Validate is required.
	Validate TreeValidator
	// GoCheck builds, vets and tests generated Go modules; its Modules
	// are filled in per attempt.
	GoCheck gocheck.Check
	// DryRun computes the change and its diff and writes nothing.
	DryRun bool
	Log    *slog.Logger
}

// Do carries out a free-text request on the repository at root: the
// pipeline's free-text walk. The change is written to root when the
// model's change passed validation, and also when attempts ran out (so
// the user can finish it); a request that yields nothing writes nothing.
func Do(ctx context.Context, root string, opts DoOptions) (*Change, error) {
	if opts.Model == nil || opts.Validate == nil {
		return nil, errors.New("job: Do needs a model and a validator")
	}
	cfg, err := localConfig(root, opts.Config)
	if err != nil {
		return nil, err
	}
	w := &walk{cfg: cfg, validate: opts.Validate, model: opts.Model, meter: opts.Meter, goCheck: opts.GoCheck,
		attempts: cfg.Agents.Attempts(), log: opts.Log}
	if opts.MaxAttempts > 0 {
		w.attempts = opts.MaxAttempts
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	return w.do(ctx, root, opts.Intent, opts.Issue, opts.Author, opts.DryRun)
}

// localConfig is cfg, or the repository's own .github/kubewright.yaml.
func localConfig(root string, cfg *config.Repo) (*config.Repo, error) {
	if cfg != nil {
		return cfg, nil
	}
	return config.LoadRepo(root)
}

// MergeOptions lays command-line options over the repository's settings.
func MergeOptions(cfg *config.Repo, flags author.Options) author.Options {
	c := cfg.Containerize
	o := author.Options{
		Services: c.Services, Env: c.Env, Registry: c.Registry, NamespacePrefix: c.NamespacePrefix,
		IngressHost: c.IngressHost, IngressClass: c.IngressClass, Only: c.Only, RepoURL: c.RepoURL, Branch: c.Branch,
		ImageCI: c.ImageCI(),
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
