package job

import (
	"context"
	"log/slog"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/command"
)

// handler runs one authorized command: it composes the pipeline's steps
// and writes to GitHub only through pub.
type handler func(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) error

// commands is the job's side of the command table: for each command of
// internal/command that runs something, the file of this package that
// runs it. Help never reaches a job (it is a reply). Adding a command is
// one entry in command's table, one file here, and one line below.
func (r *Runner) commands() map[command.Name]handler {
	return map[command.Name]handler{
		command.Containerize: r.containerize, // containerize.go
		command.Plan:         r.plan,         // containerize.go or operate.go (a comment, no pull request)
		command.Scale:        r.operate,      // operate.go
		command.Image:        r.operate,      // operate.go
		command.Autoscale:    r.operate,      // operate.go
		command.Resources:    r.operate,      // operate.go
		command.Rollback:     r.operate,      // operate.go
		command.Diagnose:     r.diagnose,     // diagnose.go
		command.Validate: func(ctx context.Context, _ *slog.Logger, gh *github.Client, pub Publisher, q task) error {
			return r.validatePR(ctx, gh, pub, q) // validate.go
		},
		command.Review: r.reviewPR, // review.go
		command.Fix:    r.fixPR,    // fix.go
		command.Cancel: func(ctx context.Context, _ *slog.Logger, _ *github.Client, pub Publisher, q task) error {
			return r.cancelJobs(ctx, pub, q) // job.go
		},
	}
}

// plan answers `/ai plan`: containerize's plan, or a Day-2 operation's.
func (r *Runner) plan(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) error {
	if q.cmd.Op != "" {
		return r.operate(ctx, log, gh, pub, q)
	}
	return r.containerize(ctx, log, gh, pub, q)
}

// runsJob: the request starts work worth a queue position (not a reply,
// not a cancel, not a command this version lacks).
func (r *Runner) runsJob(cmd *command.Command, intent string, onPR bool) bool {
	if intent != "" {
		return r.agents != nil && !onPR
	}
	if cmd == nil || cmd.Name == command.Cancel {
		return false
	}
	_, ok := r.commands()[cmd.Name]
	return ok
}
