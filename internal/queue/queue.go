// Package queue is kubewright's durable job queue: River on SQLite for a
// single replica (the embedded default) or on PostgreSQL for several. A
// webhook delivery becomes one job, at most once per delivery ID; jobs for
// the same repository run one at a time and in order, different
// repositories in parallel up to the worker count. A job whose repository
// is busy waits in the repository's line without polling: the job that
// releases the repository wakes the next one (see line.go).
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/kubewright/kubewright/internal/request"
)

// Delivery is one unit of work: a webhook delivery (or a CLI/Action
// request) for one repository.
type Delivery struct {
	// ID is unique per delivery (X-GitHub-Delivery); a second Enqueue with
	// the same ID is a duplicate and runs nothing.
	ID           string `json:"id" river:"unique"`
	Event        string `json:"event"`
	Installation int64  `json:"installation"`
	Repo         string `json:"repo"`
	// Subject is "owner/name#number" when the delivery is about one issue
	// or pull request; CancelSubject finds jobs by it.
	Subject string `json:"subject,omitempty"`
	// Request is what the delivery asks for, parsed once at intake; the
	// queue stores it and never looks inside.
	Request request.Request `json:"request"`
}

// NewDelivery is the delivery of a request, its routing fields filled
// from it.
func NewDelivery(req request.Request) Delivery {
	return Delivery{ID: req.Delivery, Event: req.Event, Installation: req.Installation,
		Repo: req.Repo.FullName(), Subject: req.Subject(), Request: req}
}

// Handler runs a delivery. Returning an error marks the attempt failed and
// River retries with backoff; wrap with Permanent to stop retrying.
type Handler interface {
	Handle(ctx context.Context, d Delivery) error
}

// Serializer is optionally implemented by a Handler to say that a delivery
// must not wait for the other jobs of its repository (a cancel must reach
// the job it cancels, which holds the repository). Exclusive is also asked
// at intake, for deliveries whose repository has jobs waiting: it must be
// quick and must not block.
type Serializer interface {
	Exclusive(d Delivery) bool
}

// Waiter is optionally implemented by a Handler to learn that a delivery
// waits for its repository, and how many jobs of that repository are ahead
// of it (running or queued before it). It is called when the delivery
// starts waiting and again when its position changed enough to say so
// (into the last three places, or to half what it was last told), never
// twice in a row with the same position and never by polling; a delivery
// arriving behind 64 or more waiting ones is first told when it moves up
// within 64 of the front. It may run on any replica.
type Waiter interface {
	Waiting(ctx context.Context, d Delivery, ahead int)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, d Delivery) error

func (f HandlerFunc) Handle(ctx context.Context, d Delivery) error { return f(ctx, d) }

// Permanent marks an error that retrying cannot fix.
func Permanent(err error) error { return river.JobCancel(err) }

// RetryAfter asks for the next attempt no sooner than d (Retry-After,
// X-RateLimit-Reset, or a follow-up that reads the cluster again later),
// without counting the attempt against the budget and without holding a
// worker meanwhile.
func RetryAfter(d time.Duration) error { return river.JobSnooze(d) }

type deliveryArgs struct {
	Delivery
}

func (deliveryArgs) Kind() string { return "kubewright.delivery" }

// subjectTag is the River tag of a subject (tags allow only word
// characters and dashes).
func subjectTag(subject string) string {
	h := fnv.New64a()
	h.Write([]byte(subject))
	return fmt.Sprintf("subject-%016x", h.Sum64())
}

func (deliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: 8,
		// Unique by delivery ID across every state River keeps, so a
		// redelivery after completion is still a duplicate while the job
		// row exists (River prunes finished jobs after 24 hours).
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
			rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// Options configure a queue.
type Options struct {
	// Workers bounds concurrent jobs (default 4).
	Workers int
	// Schema is the PostgreSQL schema holding River's tables and
	// kubewright's own (default public).
	Schema string
	// WaitFallback is how long the first job waiting for a busy repository
	// sleeps before it looks again should its wake-up be lost (a replica
	// died between releasing the repository and waking it); the n-th
	// sleeps n times as long, up to 30 times, as does a delivery parked at
	// intake (default 2 minutes). Jobs are woken as soon as the repository
	// is free: this is no poll interval.
	WaitFallback time.Duration
	// JobTimeout bounds one job; its context ends then (default 15
	// minutes: a containerize of a large repository with validation fits
	// well inside).
	JobTimeout time.Duration
	// HandlerGrace is how long a handler may run on after its context ended
	// (timeout or cancel) before the queue abandons it: the repository,
	// its lock and the worker are freed and the job is cancelled, not
	// retried (default 30 seconds).
	HandlerGrace time.Duration
	// Logger receives a line per job start, end, failure (with the attempt
	// and whether it will be retried), rate-limit snooze, cancel, timeout
	// and wait, with delivery, event, installation, repo and job fields;
	// never a payload. River's own warnings go there too. Default: none.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.WaitFallback <= 0 {
		o.WaitFallback = 2 * time.Minute
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 15 * time.Minute
	}
	if o.HandlerGrace <= 0 {
		o.HandlerGrace = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Queue is a started or startable durable queue.
type Queue struct {
	db    store
	line  *line
	stats *counters
	log   *slog.Logger

	insert func(ctx context.Context, d Delivery) (bool, error)
	cancel func(ctx context.Context, subject, except string) (int, error)
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	ping   func(ctx context.Context) error
	close  func()
	unsub  func()

	// background work while started: the park watch and the pruning.
	bgStop context.CancelFunc
	bgDone sync.WaitGroup
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// migrates River's tables. SQLite allows one writer, so this is for a
// single replica; repository serialization is in-process.
func OpenSQLite(ctx context.Context, path string, h Handler, opts Options) (*Queue, error) {
	opts = opts.withDefaults()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("open queue database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	// SQLite serializes writers itself (one replica, busy_timeout).
	noLock := func(context.Context) (func(), error) { return func() {}, nil }
	st := newSQLiteStore(db)
	q, err := open(ctx, riversqlite.New(db), st, h, newLocalLocks(), noLock, opts)
	if err != nil {
		st.close()
		db.Close()
		return nil, fmt.Errorf("queue database %s: %w", path, err)
	}
	q.ping = db.PingContext
	q.close = func() {
		st.close()
		db.Close()
	}
	return q, nil
}

// OpenPostgres connects to url, migrates River's tables in opts.Schema and
// serializes repositories across every replica with advisory locks.
func OpenPostgres(ctx context.Context, url string, h Handler, opts Options) (*Queue, error) {
	opts = opts.withDefaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if opts.Schema != "" && !schemaName.MatchString(opts.Schema) {
		return nil, fmt.Errorf("schema %q: use letters, digits and underscores, starting with a letter", opts.Schema)
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	// Repository locks hold a connection each for a job's duration, in a
	// pool of their own; River and the waiting lines need a few besides
	// one per worker, unless the URL sizes the pool itself.
	lockCfg := cfg.Copy()
	lockCfg.MaxConns = int32(opts.Workers + 1)
	lockCfg.MinConns = 0
	if !strings.Contains(url, "pool_max_conns") && cfg.MaxConns < int32(opts.Workers+4) {
		cfg.MaxConns = int32(opts.Workers + 4)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if opts.Schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgIdent(opts.Schema)); err != nil {
			pool.Close()
			return nil, fmt.Errorf("create schema %s: %w", opts.Schema, err)
		}
	}
	lockPool, err := pgxpool.NewWithConfig(ctx, lockCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	q, err := open(ctx, riverpgxv5.New(pool), pgStore{pool}, h, &advisoryLocks{pool: lockPool}, pgMigrationLock(pool), opts)
	if err != nil {
		lockPool.Close()
		pool.Close()
		return nil, err
	}
	q.ping = pool.Ping
	q.close = func() {
		lockPool.Close()
		pool.Close()
	}
	return q, nil
}

var errClosed = errors.New("queue is stopped")

// Enqueue stores a delivery durably. duplicate is true when a job for the
// same delivery ID already exists; nothing new is queued then.
func (q *Queue) Enqueue(ctx context.Context, d Delivery) (duplicate bool, err error) {
	if d.ID == "" {
		return false, errors.New("enqueue: delivery has no ID")
	}
	dup, err := q.insert(ctx, d)
	if err != nil {
		return false, fmt.Errorf("enqueue delivery %s: %w", d.ID, err)
	}
	return dup, nil
}

// CancelSubject cancels the queued, waiting and running jobs of one issue
// or pull request ("owner/name#number"), except the delivery except (the
// cancel itself), and reports how many it cancelled. Running jobs see
// their context cancelled.
func (q *Queue) CancelSubject(ctx context.Context, subject, except string) (int, error) {
	if subject == "" {
		return 0, errors.New("cancel: no subject")
	}
	return q.cancel(ctx, subject, except)
}

// Start begins working jobs until Stop; the first job of every waiting
// line is woken, since no job of this process holds a repository yet.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.start(ctx); err != nil {
		return err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	q.bgStop = stop
	q.bgDone.Add(1)
	go func() {
		defer q.bgDone.Done()
		if err := q.line.wakeAll(bg); err != nil && bg.Err() == nil {
			q.log.Warn("could not wake the waiting jobs; they start when their fallback ends", "error", err)
		}
		for t := time.NewTicker(time.Hour); ; {
			select {
			case <-bg.Done():
				t.Stop()
				return
			case now := <-t.C:
				if err := prune(bg, q.db, now); err != nil && bg.Err() == nil {
					q.log.Warn("queue maintenance", "error", err)
				}
			}
		}
	}()
	return nil
}

// Stop waits for running jobs to finish (bounded by ctx) and stops.
func (q *Queue) Stop(ctx context.Context) error {
	if q.bgStop != nil {
		q.bgStop()
		q.bgDone.Wait()
	}
	return q.stop(ctx)
}

// Ping reports whether the database answers (for /readyz).
func (q *Queue) Ping(ctx context.Context) error { return q.ping(ctx) }

// Close releases the database; call after Stop.
func (q *Queue) Close() {
	q.unsub()
	q.close()
}
