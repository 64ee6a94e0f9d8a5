package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/riverqueue/river/rivertype"

	"github.com/kubewright/kubewright/internal/workspace"
)

// settle tells the requester how a job that failed ended: a permanent
// failure finishes the status comment with its named reason, a failure
// that will be retried says so in the status comment it already has, a
// rate limit (snooze) touches nothing. It returns err, with the job's own
// deadline named when that is what ended it.
func (r *Runner) settle(ctx context.Context, pub Publisher, q task, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(cerr, context.DeadlineExceeded) {
			return err // cancelled (`/ai cancel`, shutdown): nothing to say
		}
		err = &stageError{stage: stageJob, limit: r.timeouts.Job, err: err}
	}
	// The job's context may be over: posting the outcome gets its own.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeouts.GitHub)
	defer cancel()
	var snooze *rivertype.JobSnoozeError
	var perm *rivertype.JobCancelError
	switch out := classify(err); {
	case errors.As(out, &snooze):
	case errors.As(out, &perm):
		if perr := r.finishStatus(pctx, pub, q, "❌ kubewright stopped: "+publicReason(err, r.timeouts)+"."); perr != nil {
			r.log.Warn("status comment", "delivery", q.delivery, "error", r.clean(perr.Error()))
		}
	case r.hasStatus(pctx, q.delivery):
		if perr := r.setStatus(pctx, pub, q, "⚠️ This attempt failed: "+publicReason(err, r.timeouts)+". kubewright will try again.", running); perr != nil {
			r.log.Warn("status comment", "delivery", q.delivery, "error", r.clean(perr.Error()))
		}
	}
	return err
}

// publicReason says why a job failed in words fit for a public comment:
// the stage and its deadline, the configuration's own error, or GitHub's
// status code; never an internal error's text.
func publicReason(err error, t Timeouts) string {
	se := describe(err, t)
	switch {
	case se != nil && se.limit > 0:
		return se.message()
	case se != nil && se.stage == stageConfig:
		return se.message()
	case errors.Is(err, workspace.ErrTooLarge):
		for e := err; e != nil; e = errors.Unwrap(e) {
			if errors.Unwrap(e) == workspace.ErrTooLarge {
				return e.Error()
			}
		}
		return workspace.ErrTooLarge.Error()
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return fmt.Sprintf("GitHub answered HTTP %d", er.Response.StatusCode)
	}
	if se != nil {
		return fmt.Sprintf("%s failed (%s; the server log has the details)", upperFirst(stages[se.stage].words), se.Reason())
	}
	return "an internal error (the server log has the details)"
}

// logFailure logs a failed job with its stage, named reason and what the
// queue will do: retry, snooze until a rate limit resets, or give up.
func (r *Runner) logFailure(log *slog.Logger, err, out error) {
	st, reason := "github", "GitHubFailed"
	if se := describe(err, r.timeouts); se != nil {
		st, reason = string(se.stage), se.Reason()
	} else if !errors.As(err, new(*github.ErrorResponse)) && !errors.As(err, new(*github.RateLimitError)) && !errors.As(err, new(*github.AbuseRateLimitError)) {
		st, reason = "job", "JobFailed"
	}
	var snooze *rivertype.JobSnoozeError
	var perm *rivertype.JobCancelError
	attrs := []any{"stage", st, "reason", reason}
	switch {
	case errors.As(out, &snooze):
		attrs = append(attrs, "decision", "snooze", "retry_in", snooze.Duration.Round(time.Second).String())
	case errors.As(out, &perm):
		attrs = append(attrs, "decision", "permanent")
	case errors.Is(err, context.Canceled):
		attrs = append(attrs, "decision", "cancelled")
	default:
		attrs = append(attrs, "decision", "retry")
	}
	attrs = append(attrs, "error", r.clean(err.Error()))
	log.Warn("job failed", attrs...)
}
