package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// open migrates the database and builds the River client, its worker and
// the Queue around them.
func open[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], db store, h Handler, locks repoLocks, migrationLock func(context.Context) (func(), error), opts Options) (*Queue, error) {
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: opts.Schema})
	if err != nil {
		return nil, fmt.Errorf("queue migrations: %w", err)
	}
	// Replicas starting together must not migrate at the same time.
	unlock, err := migrationLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue migrations: %w", err)
	}
	_, err = mig.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err == nil {
		err = createTables(ctx, db)
	}
	unlock()
	if err != nil {
		return nil, fmt.Errorf("migrate queue tables: %w", err)
	}
	if err := prune(ctx, db, time.Now()); err != nil {
		return nil, err
	}

	stats := &counters{}
	_, tell := h.(Waiter)
	ln := &line{db: db, log: opts.Logger, stats: stats, tell: tell}
	parked := &parkedSet{ids: map[int64]struct{}{}}
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{h: h, locks: locks, line: ln, parked: parked, log: opts.Logger,
		timeout: opts.JobTimeout, grace: opts.HandlerGrace, fallback: opts.WaitFallback})
	client, err := river.NewClient(driver, &river.Config{
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers: workers,
		Schema:  opts.Schema,
		// Fetch often: a delivery, or a job woken for its turn, should
		// start within a second, and a burst of jobs that only park must
		// not hold back the others (River takes at most a worker's count
		// of jobs per fetch).
		FetchPollInterval: 200 * time.Millisecond,
		FetchCooldown:     20 * time.Millisecond,
		JobTimeout:        opts.JobTimeout,
		// A job whose process died is rescued once it has been running
		// longer than any job may.
		RescueStuckJobsAfter: opts.JobTimeout + opts.HandlerGrace + time.Minute,
		Logger:               slog.New(minLevel{opts.Logger.Handler(), slog.LevelWarn}),
	})
	if err != nil {
		return nil, fmt.Errorf("queue client: %w", err)
	}

	// The park watch finishes the wakes and nudges that met a job still
	// recording its park (see line.go).
	events, unsubscribe := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: 10_000,
		Kinds: []river.EventKind{river.EventKindJobSnoozed, river.EventKindJobCancelled}})
	var unsubOnce sync.Once
	unsub := func() { unsubOnce.Do(unsubscribe) }
	go func() {
		for ev := range events {
			if ev.Job == nil || !parked.take(ev.Job.ID) || ev.Kind != river.EventKindJobSnoozed {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := ln.recheck(ctx, ev.Job.ID); err != nil {
				opts.Logger.Warn("could not wake a parked job; it starts when its fallback ends", "job", ev.Job.ID, "error", err)
			}
			cancel()
		}
	}()

	in := &intake{ln: ln, h: h, fallback: opts.WaitFallback, log: opts.Logger}
	b := newBatcher(func(ctx context.Context, ds []Delivery) ([]bool, error) { return insertMany(ctx, in, client, ds) })
	q := &Queue{db: db, line: ln, stats: stats, log: opts.Logger,
		insert: b.insert,
		cancel: func(ctx context.Context, subject, except string) (int, error) {
			return cancelSubject(ctx, client, ln, subject, except)
		},
		start: client.Start,
		stop: func(ctx context.Context) error {
			b.close()
			err := client.Stop(ctx)
			unsub()
			return err
		},
		unsub: unsub,
	}
	return q, nil
}

// cancelSubject cancels the jobs of one subject; a cancelled job waiting
// in a line leaves it, and the line's first job is woken should it have
// been the one.
func cancelSubject[TTx any](ctx context.Context, client *river.Client[TTx], ln *line, subject, except string) (int, error) {
	ln.stats.lists.Add(1)
	res, err := client.JobList(ctx, river.NewJobListParams().Kinds(deliveryArgs{}.Kind()).TagsAny(subjectTag(subject)).
		States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStatePending).First(100))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range res.Jobs {
		var args deliveryArgs
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil || args.ID == except || args.Subject != subject {
			continue
		}
		if _, err := client.JobCancel(ctx, j.ID); err != nil {
			return n, err
		}
		n++
		repo, waited, err := ln.drop(ctx, j.ID)
		if err == nil && waited {
			_, err = ln.wake(ctx, repo)
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// minLevel passes on only records at or above min (River's own logs:
// its warnings and errors, not its per-job lines, which the worker logs
// with kubewright's fields).
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
