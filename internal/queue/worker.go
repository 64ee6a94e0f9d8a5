package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/kubewright/kubewright/internal/redact"
)

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	h        Handler
	locks    repoLocks
	line     *line
	parked   *parkedSet
	log      *slog.Logger
	timeout  time.Duration
	grace    time.Duration
	fallback time.Duration
}

// Timeout bounds one job (Options.JobTimeout).
func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration { return w.timeout }

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	d := job.Args.Delivery
	log := w.log.With("delivery", d.ID, "event", d.Event, "installation", d.Installation, "repo", d.Repo, "job", job.ID)
	w.parked.take(job.ID)
	if exclusive(w.h, d) {
		release, park, err := w.acquire(ctx, job, log)
		if err != nil {
			w.report(ctx, log, job, 0, err)
			return err
		}
		if release == nil {
			return river.JobSnooze(park)
		}
		defer release()
	}
	log.Info("job started", "attempt", job.Attempt, "max_attempts", job.MaxAttempts)
	start := time.Now()
	err := w.run(ctx, d, log)
	w.report(ctx, log, job, time.Since(start), err)
	return err
}

// exclusive reports whether a delivery holds its repository (a cancel
// must not wait for the job it cancels).
func exclusive(h Handler, d Delivery) bool {
	if d.Repo == "" {
		return false
	}
	if s, ok := h.(Serializer); ok {
		return s.Exclusive(d)
	}
	return true
}

// wasParked reports whether a job was parked before (River counts the
// snoozes in the job's metadata; intake marks the jobs it parks), so it
// may be in its repository's line.
func wasParked(metadata []byte) bool {
	var m struct {
		Snoozes int  `json:"snoozes"`
		Parked  bool `json:"kubewright_parked"`
	}
	return json.Unmarshal(metadata, &m) != nil || m.Snoozes > 0 || m.Parked
}

// acquire takes the job's repository, or parks the job in the
// repository's line: it returns the release, or the snooze after which a
// parked job looks again should its wake-up be lost.
func (w *deliveryWorker) acquire(ctx context.Context, job *river.Job[deliveryArgs], log *slog.Logger) (func(), time.Duration, error) {
	id, repo := job.ID, job.Args.Repo
	head, siblings, err := w.line.claim(ctx, repo, id)
	if err != nil {
		return nil, 0, err
	}
	if !wasParked(job.Metadata) {
		// A job never parked is not in line, and the line's order is
		// settled at the lock (holding). Jobs fetched together go oldest
		// first: a younger one waits in line without touching the lock
		// (only briefly should the oldest not need the repository: a
		// cancel, or a job already over).
		head = 0
		if siblings > 0 {
			// Its place is known once the older ones decided: it is told
			// when it looks again, or by the first nudge.
			if _, err := w.line.join(ctx, repo, id); err != nil {
				return nil, 0, err
			}
			w.line.stats.parks.Add(1)
			w.parked.add(id)
			log.Debug("job lets older ones of its repository fetched with it go first", "older", siblings)
			return nil, siblingFallback, nil
		}
	}
	// A job woken from its line lets an older job that is running and
	// not in line decide first: it holds the repository, or is about to
	// take it.
	if head == id && wasParked(job.Metadata) {
		n, err := w.line.undecided(ctx, repo, id)
		if err != nil {
			return nil, 0, err
		}
		if n > 0 {
			head = -1 // not ours yet: join the line below and park
		}
	}
	// A job in line behind older ones waits without touching the lock,
	// which belongs to the first of the line.
	if head == 0 || head >= id {
		unlock, ok, err := w.locks.tryLock(ctx, repo)
		if err != nil {
			return nil, 0, fmt.Errorf("lock repository %s: %w", repo, err)
		}
		if ok {
			return w.holding(ctx, job, unlock, log)
		}
	}
	reported, err := w.line.join(ctx, repo, id)
	if err != nil {
		return nil, 0, err
	}
	// Look once more now that the job is in line: the holder may have
	// released the repository, and woken nobody, before it joined.
	if head, _, err = w.line.head(ctx, repo); err != nil {
		return nil, 0, err
	}
	if head == id {
		unlock, ok, err := w.locks.tryLock(ctx, repo)
		if err != nil {
			return nil, 0, fmt.Errorf("lock repository %s: %w", repo, err)
		}
		if ok {
			return w.holding(ctx, job, unlock, log)
		}
	}
	return nil, w.park(ctx, job, reported, log), nil
}

// siblingFallback is how long a job that let older ones fetched with it
// go first sleeps unless woken: they decide within milliseconds, then it
// looks once more (no longer fetched with them) and parks behind them,
// told its place, or takes the repository should they not need it.
const siblingFallback = 100 * time.Millisecond

// holding checks, with the repository locked, that no older job waits for
// it (FIFO: an older job may have joined the line since this one looked),
// and returns the release that hands the repository to the next job.
func (w *deliveryWorker) holding(ctx context.Context, job *river.Job[deliveryArgs], unlock func(), log *slog.Logger) (func(), time.Duration, error) {
	id, repo := job.ID, job.Args.Repo
	head, waiting, err := w.line.head(ctx, repo)
	if err != nil {
		unlock()
		return nil, 0, err
	}
	if waiting && head < id {
		reported, err := w.line.join(ctx, repo, id)
		unlock()
		if err == nil {
			err = w.yielded(ctx, repo)
		}
		if err != nil {
			return nil, 0, err
		}
		return nil, w.park(ctx, job, reported, log), nil
	}
	if waiting && head == id {
		if err := w.line.leave(ctx, id); err != nil {
			unlock()
			return nil, 0, err
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unlock()
			// The job's context may be over; the hand-over must still happen.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			waiting, err := w.line.wake(ctx, repo)
			if err != nil {
				log.Warn("could not wake the next job of the repository; it starts when its fallback ends", "error", err, "fallback", w.fallback)
			}
			if waiting {
				if err := w.line.nudge(ctx, repo); err != nil {
					log.Warn("could not tell waiting jobs their new position", "error", err)
				}
			}
		})
	}, 0, nil
}

// yielded hands a repository released unused to the first of its line;
// the jobs behind, told they wait behind a holder too, move up.
func (w *deliveryWorker) yielded(ctx context.Context, repo string) error {
	if _, err := w.line.wake(ctx, repo); err != nil {
		return err
	}
	return w.line.nudge(ctx, repo)
}

// park parks a job in line behind the repository's holder, and returns
// how long it sleeps unless woken: the fallback times its position, so
// only the first of a line looks again soon, up to 30 fallbacks.
func (w *deliveryWorker) park(ctx context.Context, job *river.Job[deliveryArgs], reported int, log *slog.Logger) time.Duration {
	ahead, err := w.line.ahead(ctx, job.Args.Repo, job.ID)
	if err != nil {
		log.Warn("could not count the jobs ahead", "error", err)
		ahead = max(reported, 1)
	}
	w.tell(ctx, job, reported, ahead, log)
	return w.fallback * time.Duration(min(ahead, 30))
}

// tell records a park and tells the handler where the job stands when
// that changed.
func (w *deliveryWorker) tell(ctx context.Context, job *river.Job[deliveryArgs], reported, ahead int, log *slog.Logger) {
	d := job.Args.Delivery
	w.line.stats.parks.Add(1)
	if ahead != reported {
		log.Info("job waits for its repository", "ahead", ahead)
		if wt, ok := w.h.(Waiter); ok {
			wt.Waiting(ctx, d, ahead)
		}
		if err := w.line.told(ctx, job.ID, ahead); err != nil {
			log.Warn("could not record the position told", "error", err)
		}
	} else {
		log.Debug("job waits for its repository", "ahead", ahead)
	}
	w.parked.add(job.ID)
}

// run calls the handler. A handler that ignores its context (timeout or
// cancel) past the grace period is abandoned: its goroutine cannot be
// stopped, but the worker, the repository and its lock connection are
// freed, and the job is cancelled rather than retried, so one delivery
// never runs twice at once.
func (w *deliveryWorker) run(ctx context.Context, d Delivery, log *slog.Logger) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("job panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				done <- fmt.Errorf("handler panicked: %v", r)
			}
		}()
		done <- w.h.Handle(ctx, d)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	grace := time.NewTimer(w.grace)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
		cause := context.Cause(ctx)
		log.Error("job abandoned: its handler kept running after its context ended; repository released", "cause", cause, "grace", w.grace)
		return river.JobCancel(fmt.Errorf("handler still running %s after its context ended (%v): abandoned, not retried", w.grace, cause))
	}
}

// report logs how an attempt ended.
func (w *deliveryWorker) report(ctx context.Context, log *slog.Logger, job *river.Job[deliveryArgs], took time.Duration, err error) {
	var snooze *rivertype.JobSnoozeError
	var cancel *rivertype.JobCancelError
	retry := job.Attempt < job.MaxAttempts
	attempt := []any{"attempt", job.Attempt, "max_attempts", job.MaxAttempts}
	// A handler's error may quote what GitHub or a repository said: it is
	// redacted like every other logged text.
	var errText string
	if err != nil {
		errText, _ = redact.Text(err.Error())
	}
	switch {
	case err == nil:
		log.Info("job done", "duration", took)
	case errors.As(err, &snooze):
		log.Info("job snoozed", "delay", snooze.Duration, "duration", took)
	case errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely):
		log.Info("job cancelled", "error", errText, "duration", took)
	case errors.As(err, &cancel):
		log.Warn("job failed permanently, will not retry", append([]any{"error", errText, "duration", took}, attempt...)...)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && retry:
		log.Warn("job timed out, will retry", append([]any{"error", errText, "timeout", w.timeout}, attempt...)...)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		log.Error("job timed out, giving up", append([]any{"error", errText, "timeout", w.timeout}, attempt...)...)
	case retry:
		log.Warn("job failed, will retry", append([]any{"error", errText, "duration", took}, attempt...)...)
	default:
		log.Error("job failed, giving up", append([]any{"error", errText, "duration", took}, attempt...)...)
	}
}
