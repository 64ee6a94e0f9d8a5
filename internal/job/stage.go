package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/workspace"
	"unicode"
	"unicode/utf8"
)

// Timeouts bound each stage of a job; a stage that overruns fails the job
// with a named reason instead of holding the worker and the repository.
// Zero fields take the defaults (DefaultTimeouts).
type Timeouts struct {
	// Clone: the token and the clone.
	Clone time.Duration
	// Author: analysis, the deterministic author and writing the files.
	Author time.Duration
	// Agents: a free-text request's whole agent run, its model calls and
	// validations included.
	Agents time.Duration
	// Model: one model call (the client's own retries included).
	Model time.Duration
	// Validate: one validation of the tree.
	Validate time.Duration
	// Push: the commit and the push.
	Push time.Duration
	// GitHub: one GitHub API request.
	GitHub time.Duration
	// Job: the whole job (the queue's own timeout should not be shorter);
	// also the age past which a workspace left by a dead process is swept.
	Job time.Duration
}

// DefaultTimeouts fit a large monorepo on a busy machine inside the
// queue's 15-minute job timeout.
var DefaultTimeouts = Timeouts{
	Clone: 2 * time.Minute, Author: 2 * time.Minute, Agents: 10 * time.Minute, Model: 3 * time.Minute,
	Validate: 5 * time.Minute, Push: 2 * time.Minute, GitHub: 30 * time.Second, Job: 15 * time.Minute,
}

// WithTimeouts sets the stage deadlines; zero fields keep the defaults.
func WithTimeouts(t Timeouts) Option {
	return func(r *Runner) {
		d := DefaultTimeouts
		for _, f := range []struct {
			dst *time.Duration
			v   time.Duration
		}{{&d.Clone, t.Clone}, {&d.Author, t.Author}, {&d.Agents, t.Agents}, {&d.Model, t.Model},
			{&d.Validate, t.Validate}, {&d.Push, t.Push}, {&d.GitHub, t.GitHub}, {&d.Job, t.Job}} {
			if f.v > 0 {
				*f.dst = f.v
			}
		}
		r.timeouts = d
	}
}

// stage is a step of a job: its deadline, its failure reasons and how
// users read it.
type stage string

const (
	stageConfig   stage = "config"
	stageClone    stage = "clone"
	stageAuthor   stage = "author"
	stageAgents   stage = "agents"
	stageModel    stage = "model"
	stageValidate stage = "validate"
	stagePush     stage = "push"
	stageGitHub   stage = "github"
	stageJob      stage = "job"
)

var stages = map[stage]struct {
	failed, timedOut, words string
	// deterministic: the same input fails the same way, so retrying
	// cannot help.
	deterministic bool
}{
	stageConfig:   {"ConfigInvalid", "ConfigTimedOut", "reading .github/kubewright.yaml", true},
	stageClone:    {"CloneFailed", "CloneTimedOut", "cloning the repository", false},
	stageAuthor:   {"AuthorFailed", "AuthorTimedOut", "analysis and authoring", true},
	stageAgents:   {"AgentsFailed", "AgentsTimedOut", "the agents", true},
	stageModel:    {"ModelFailed", "ModelTimedOut", "a model call", false},
	stageValidate: {"ValidationFailed", "ValidationTimedOut", "validation", true},
	stagePush:     {"PushFailed", "PushTimedOut", "the commit and push", false},
	stageGitHub:   {"GitHubFailed", "GitHubTimedOut", "a GitHub API request", false},
	stageJob:      {"JobFailed", "JobTimedOut", "the job", true},
}

func (t Timeouts) of(s stage) time.Duration {
	switch s {
	case stageClone:
		return t.Clone
	case stageAuthor:
		return t.Author
	case stageAgents:
		return t.Agents
	case stageModel:
		return t.Model
	case stageValidate:
		return t.Validate
	case stagePush:
		return t.Push
	case stageGitHub, stageConfig:
		return t.GitHub
	}
	return t.Job
}

// stageError is a stage's failure: its own error, or its deadline.
type stageError struct {
	stage stage
	// limit is the deadline the stage overran; 0 when it failed by itself.
	limit time.Duration
	err   error
}

func (e *stageError) Error() string {
	if e.limit > 0 {
		return fmt.Sprintf("%s: %s did not finish in %s: %v", e.stage, stages[e.stage].words, e.limit, e.err)
	}
	return fmt.Sprintf("%s: %v", e.stage, e.err)
}

func (e *stageError) Unwrap() error { return e.err }

// Reason is the named reason ("ValidationTimedOut").
func (e *stageError) Reason() string {
	switch {
	case e.limit > 0:
		return stages[e.stage].timedOut
	case errors.Is(e.err, workspace.ErrTooLarge):
		return "RepositoryTooLarge"
	case errors.Is(e.err, llm.ErrBudget):
		return reasonBudget
	}
	return stages[e.stage].failed
}

// permanent: retrying the job cannot help.
func (e *stageError) permanent() bool {
	return (e.limit > 0 && stages[e.stage].deterministic) || errors.Is(e.err, workspace.ErrTooLarge) || e.stage == stageConfig
}

// message is the failure in words fit for a public comment.
func (e *stageError) message() string {
	if e.limit > 0 {
		return fmt.Sprintf("%s did not finish in %s", upperFirst(stages[e.stage].words), e.limit)
	}
	return safe(e.err)
}

// describe finds the stage failure behind err: the first stage that
// overran its deadline, else the innermost stage that failed; a GitHub
// request that hit the client's timeout is the github stage's overrun.
func describe(err error, t Timeouts) *stageError {
	var found *stageError
	for e := err; e != nil; {
		if se, ok := e.(*stageError); ok {
			if se.limit > 0 {
				return se
			}
			found = se
		}
		if u, ok := e.(*url.Error); ok && u.Timeout() {
			return &stageError{stage: stageGitHub, limit: t.GitHub, err: err}
		}
		switch x := e.(type) {
		case interface{ Unwrap() error }:
			e = x.Unwrap()
		case interface{ Unwrap() []error }:
			// A joined error: follow its first branch.
			if errs := x.Unwrap(); len(errs) > 0 {
				e = errs[0]
			} else {
				e = nil
			}
		default:
			e = nil
		}
	}
	return found
}

// abandonAfter is how long a stage past its deadline has to return
// before it is abandoned (a stage that ignores its context).
const abandonAfter = 5 * time.Second

// runStage runs fn under the stage's deadline. A stage that ignores its
// context is abandoned shortly after the deadline, so the worker and the
// repository lock are freed; a panic is returned as an error.
func runStage[T any](ctx context.Context, r *Runner, s stage, fn func(context.Context) (T, error)) (T, error) {
	log, start := loggerFrom(ctx, r.log), time.Now()
	limit := r.timeouts.of(s)
	sctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				log.Error("stage panicked", "stage", s, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- result{err: fmt.Errorf("internal error in %s (see the server log)", stages[s].words)}
			}
		}()
		v, err := fn(sctx)
		done <- result{v, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-sctx.Done():
		select {
		case res = <-done:
		case <-time.After(abandonAfter):
			log.Warn("stage ignored its deadline and was abandoned", "stage", s, "limit", limit)
			res.err = sctx.Err()
		}
	}
	if res.err == nil {
		log.Info("stage done", "stage", s, "duration", time.Since(start).Round(time.Millisecond))
		return res.v, nil
	}
	se := &stageError{stage: s, err: res.err}
	if ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		se.limit = limit
	}
	return res.v, se
}

// timedProposer bounds each model call. An overrun comes back as a plain
// error naming the deadline (not a context error, which the agents would
// report as a cancellation).
type timedProposer struct {
	p     agent.Proposer
	limit time.Duration
}

func (t timedProposer) Propose(ctx context.Context, req llm.Request) (*llm.Proposal, llm.Usage, error) {
	cctx, cancel := context.WithTimeout(ctx, t.limit)
	defer cancel()
	prop, u, err := t.p.Propose(cctx, req)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return prop, u, fmt.Errorf("%s did not finish in %s", stages[stageModel].words, t.limit)
	}
	return prop, u, err
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// logKey carries the job's logger (delivery, installation, repo fields)
// in its context, so every stage logs with them.
type logKey struct{}

func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, l)
}

func loggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}
