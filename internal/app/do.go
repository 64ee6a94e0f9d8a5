package app

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/progress"
)

// SettingError is a missing or malformed setting: the command line's
// usage error (exit 2), with the message naming the setting.
type SettingError struct{ Err error }

func (e *SettingError) Error() string { return e.Err.Error() }

func (e *SettingError) Unwrap() error { return e.Err }

// DoSettings are `kubewright do`'s flags. What they leave empty comes
// from the environment, read here once (Getenv): the model
// (KUBEWRIGHT_LLM_*, OPENAI_API_KEY), KUBEWRIGHT_CRDS and
// KUBEWRIGHT_GOPROXY.
type DoSettings struct {
	// Intent is the request; Root the repository's checkout.
	Intent, Root string
	// LLM are the model flags (base URL, model, key) and the HTTP client
	// (the CLI's call counter); the environment fills in the rest.
	LLM llm.Config
	// Budget bounds the request's tokens (per job and per call).
	Budget llm.Budget
	// MaxAttempts overrides agents.maxAttempts (0: the repository's).
	MaxAttempts int
	// DryRun computes the change and its diff and writes nothing.
	DryRun bool
	// Author options over the repository's containerize settings.
	Author author.Options
	// CRDs, Assets, NoDryRun and GoProxy wire validation
	// (ValidationSettings).
	CRDs     []string
	Assets   string
	NoDryRun bool
	GoProxy  string
	// Progress shows the stages and the model calls; nil: silent.
	Progress *progress.Reporter
	// Warn gets what the user should know before the run (no sandbox for
	// generated Go code); nil: dropped.
	Warn func(msg string)
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
}

// Do wires a free-text request on a checkout, the way serve wires a job:
// the model from flags over the environment, the repository's
// configuration, validation (NewValidation, with the sandbox for
// generated Go code), the token budget; then it walks job.Do. A setting
// that is missing or malformed is a *SettingError.
func Do(ctx context.Context, s DoSettings) (*job.Change, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	lc := overlayLLM(llm.ConfigFromEnv(getenv), s.LLM)
	if err := lc.Check(); err != nil {
		return nil, &SettingError{err}
	}
	client, err := llm.New(lc)
	if err != nil {
		return nil, &SettingError{err}
	}
	cfg, err := config.LoadRepo(s.Root)
	if err != nil {
		return nil, err
	}
	crds, goProxy := s.CRDs, s.GoProxy
	if d := getenv("KUBEWRIGHT_CRDS"); len(crds) == 0 && d != "" {
		crds = []string{d}
	}
	if goProxy == "" {
		goProxy = getenv("KUBEWRIGHT_GOPROXY")
	}
	val, err := NewValidation(ctx, ValidationSettings{
		CRDs: crds, Assets: s.Assets, NoDryRun: s.NoDryRun, Sandbox: true, GoProxy: goProxy, Progress: s.Progress,
	})
	if err != nil {
		return nil, &SettingError{err}
	}
	defer val.Close()
	if err := val.SandboxErr(); err != nil && s.Warn != nil {
		s.Warn(fmt.Sprintf("%v: generated Go code will not be built or tested (install bubblewrap)", err))
	}
	return job.Do(ctx, s.Root, job.DoOptions{
		Intent: s.Intent, Author: s.Author, Config: cfg, MaxAttempts: s.MaxAttempts,
		Model: client, Meter: llm.NewMeter(job.Budget(s.Budget, cfg)),
		Validate: val.ValidateTree, GoCheck: val.GoCheck(), DryRun: s.DryRun,
	})
}

// overlayLLM lays the flags over the environment's model settings.
func overlayLLM(env, flags llm.Config) llm.Config {
	if flags.BaseURL != "" {
		env.BaseURL = flags.BaseURL
	}
	if flags.Model != "" {
		env.Model = flags.Model
	}
	if flags.APIKey != "" {
		env.APIKey = flags.APIKey
	}
	if flags.HTTPClient != nil {
		env.HTTPClient = flags.HTTPClient
	}
	return env
}

// IsSettingError reports whether err is a missing or malformed setting.
func IsSettingError(err error) bool {
	var se *SettingError
	return errors.As(err, &se)
}
