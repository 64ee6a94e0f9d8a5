// Package queue is kubewright's durable job queue: River on SQLite for a
// single replica (the embedded default) or on PostgreSQL for several. A
// webhook delivery becomes one job, at most once per delivery ID; jobs for
// the same repository run one at a time, different repositories in
// parallel up to the worker count.
package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
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
	Subject string          `json:"subject,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

// Handler runs a delivery. Returning an error marks the attempt failed and
// River retries with backoff; wrap with Permanent to stop retrying.
type Handler interface {
	Handle(ctx context.Context, d Delivery) error
}

// Serializer is optionally implemented by a Handler to say that a delivery
// must not wait for the other jobs of its repository (a cancel must reach
// the job it cancels, which holds the repository).
type Serializer interface {
	Exclusive(d Delivery) bool
}

// Waiter is optionally implemented by a Handler to learn that a delivery
// waits for its repository, and how many jobs of that repository are ahead
// of it (running or queued before it).
type Waiter interface {
	Waiting(ctx context.Context, d Delivery, ahead int)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, d Delivery) error

func (f HandlerFunc) Handle(ctx context.Context, d Delivery) error { return f(ctx, d) }

// Permanent marks an error that retrying cannot fix.
func Permanent(err error) error { return river.JobCancel(err) }

// RetryAfter asks for the next attempt no sooner than d (Retry-After,
// X-RateLimit-Reset), without counting the attempt against the budget.
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

// repoTag is the River tag of a repository's jobs.
func repoTag(repo string) string {
	h := fnv.New64a()
	h.Write([]byte(repo))
	return fmt.Sprintf("repo-%016x", h.Sum64())
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
	// Schema is the PostgreSQL schema holding River's tables (default public).
	Schema string
	// LockRetry is how long a job waits before trying again when its
	// repository is busy (default 2s).
	LockRetry time.Duration
}

// Queue is a started or startable durable queue.
type Queue struct {
	insert func(ctx context.Context, d Delivery) (bool, error)
	cancel func(ctx context.Context, subject, except string) (int, error)
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	ping   func(ctx context.Context) error
	close  func()
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// migrates River's tables. SQLite allows one writer, so this is for a
// single replica; repository serialization is in-process.
func OpenSQLite(ctx context.Context, path string, h Handler, opts Options) (*Queue, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("open queue database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	// SQLite serializes writers itself (one replica, busy_timeout).
	noLock := func(context.Context) (func(), error) { return func() {}, nil }
	q, err := open(ctx, riversqlite.New(db), h, newLocalLocks(), noLock, opts)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("queue database %s: %w", path, err)
	}
	q.ping = db.PingContext
	q.close = func() { db.Close() }
	return q, nil
}

// OpenPostgres connects to url, migrates River's tables in opts.Schema and
// serializes repositories across every replica with advisory locks.
func OpenPostgres(ctx context.Context, url string, h Handler, opts Options) (*Queue, error) {
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
	q, err := open(ctx, riverpgxv5.New(pool), h, &advisoryLocks{pool: pool}, pgMigrationLock(pool), opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	q.ping = pool.Ping
	q.close = pool.Close
	return q, nil
}

func open[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], h Handler, locks repoLocks, migrationLock func(context.Context) (func(), error), opts Options) (*Queue, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.LockRetry <= 0 {
		opts.LockRetry = 2 * time.Second
	}
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
	unlock()
	if err != nil {
		return nil, fmt.Errorf("migrate queue tables: %w", err)
	}
	workers := river.NewWorkers()
	w := &deliveryWorker{h: h, locks: locks, retry: opts.LockRetry}
	river.AddWorker(workers, w)
	client, err := river.NewClient(driver, &river.Config{
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers: workers,
		Schema:  opts.Schema,
		// Fetch often: a delivery should start within a second.
		FetchPollInterval: 200 * time.Millisecond,
		// A job whose process died is rescued once it has been running
		// longer than any job may (the worker's 15 minute timeout).
		RescueStuckJobsAfter: 16 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("queue client: %w", err)
	}
	insertMany := func(ctx context.Context, ds []Delivery) ([]bool, error) {
		// Insert in delivery-ID order: replicas inserting overlapping
		// batches then take the unique-key locks in one order (no deadlock).
		order := make([]int, len(ds))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return ds[order[a]].ID < ds[order[b]].ID })
		sorted := make([]Delivery, len(ds))
		for i, j := range order {
			sorted[i] = ds[j]
		}
		params := make([]river.InsertManyParams, len(ds))
		for i, d := range sorted {
			params[i] = river.InsertManyParams{Args: deliveryArgs{d}}
			opts := deliveryArgs{}.InsertOpts()
			if d.Repo != "" {
				opts.Tags = append(opts.Tags, repoTag(d.Repo))
			}
			if d.Subject != "" {
				opts.Tags = append(opts.Tags, subjectTag(d.Subject))
			}
			params[i].InsertOpts = &opts
		}
		res, err := client.InsertMany(ctx, params)
		for attempt := 1; err != nil && isDeadlock(err) && attempt < 4; attempt++ {
			// Ordering makes deadlocks between replicas unlikely; should
			// PostgreSQL still pick this batch as the victim, retry it.
			time.Sleep(time.Duration(attempt*10) * time.Millisecond)
			res, err = client.InsertMany(ctx, params)
		}
		if err != nil {
			return nil, err
		}
		dups := make([]bool, len(res))
		for i, r := range res {
			dups[order[i]] = r.UniqueSkippedAsDuplicate
		}
		return dups, nil
	}
	// ahead counts the jobs of a repository running, or queued before id.
	w.ahead = func(ctx context.Context, repo string, id int64) (int, error) {
		res, err := client.JobList(ctx, river.NewJobListParams().Kinds(deliveryArgs{}.Kind()).TagsAny(repoTag(repo)).
			States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled).First(1000))
		if err != nil {
			return 0, err
		}
		n := 0
		for _, j := range res.Jobs {
			if j.ID != id && (j.State == rivertype.JobStateRunning || j.ID < id) {
				n++
			}
		}
		return n, nil
	}
	b := newBatcher(insertMany)
	return &Queue{
		insert: b.insert,
		cancel: func(ctx context.Context, subject, except string) (int, error) {
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
			}
			return n, nil
		},
		start: client.Start,
		stop: func(ctx context.Context) error {
			b.close()
			return client.Stop(ctx)
		},
	}, nil
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

// CancelSubject cancels the queued and running jobs of one issue or pull
// request ("owner/name#number"), except the delivery except (the cancel
// itself), and reports how many it cancelled. Running jobs see their
// context cancelled.
func (q *Queue) CancelSubject(ctx context.Context, subject, except string) (int, error) {
	if subject == "" {
		return 0, errors.New("cancel: no subject")
	}
	return q.cancel(ctx, subject, except)
}

// Start begins working jobs until Stop.
func (q *Queue) Start(ctx context.Context) error { return q.start(ctx) }

// Stop waits for running jobs to finish (bounded by ctx) and stops.
func (q *Queue) Stop(ctx context.Context) error { return q.stop(ctx) }

// Ping reports whether the database answers (for /readyz).
func (q *Queue) Ping(ctx context.Context) error { return q.ping(ctx) }

// Close releases the database; call after Stop.
func (q *Queue) Close() { q.close() }

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	h     Handler
	locks repoLocks
	retry time.Duration
	ahead func(ctx context.Context, repo string, id int64) (int, error)
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	d := job.Args.Delivery
	exclusive := true
	if s, ok := w.h.(Serializer); ok {
		exclusive = s.Exclusive(d)
	}
	if d.Repo != "" && exclusive {
		unlock, ok, err := w.locks.tryLock(ctx, d.Repo)
		if err != nil {
			return err
		}
		if !ok {
			// Another job of this repository runs: come back later
			// without spending an attempt, telling the handler where
			// the delivery stands.
			if wt, isWaiter := w.h.(Waiter); isWaiter && w.ahead != nil {
				if n, err := w.ahead(ctx, d.Repo, job.ID); err == nil {
					wt.Waiting(ctx, d, n)
				}
			}
			return river.JobSnooze(w.retry)
		}
		defer unlock()
	}
	return w.h.Handle(ctx, d)
}

// Timeout bounds one job; a containerize of a large repository with
// validation fits well inside.
func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration { return 15 * time.Minute }

// repoLocks serializes jobs per repository.
type repoLocks interface {
	tryLock(ctx context.Context, repo string) (unlock func(), ok bool, err error)
}

// localLocks serialize within one process (SQLite: one replica).
type localLocks struct {
	mu   sync.Mutex
	busy map[string]bool
}

func newLocalLocks() *localLocks { return &localLocks{busy: map[string]bool{}} }

func (l *localLocks) tryLock(_ context.Context, repo string) (func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[repo] {
		return nil, false, nil
	}
	l.busy[repo] = true
	return func() {
		l.mu.Lock()
		delete(l.busy, repo)
		l.mu.Unlock()
	}, true, nil
}

// advisoryLocks serialize across replicas with PostgreSQL session advisory
// locks, held on a dedicated connection for the job's duration.
type advisoryLocks struct{ pool *pgxpool.Pool }

func (a *advisoryLocks) tryLock(ctx context.Context, repo string) (func(), bool, error) {
	conn, err := a.pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	key := lockKey(repo)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		// Unlock with a fresh context: the job's may be cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			conn.Conn().Close(ctx) // closing the session releases the lock
		}
		conn.Release()
	}, true, nil
}

// lockKey maps a repository to an advisory lock key in kubewright's own
// key space (the high bits), so other users of advisory locks do not collide.
func lockKey(repo string) int64 {
	h := fnv.New64a()
	h.Write([]byte("kubewright/repo/" + repo))
	return int64(h.Sum64() >> 1)
}

// pgMigrationLock holds a session advisory lock in kubewright's key space
// while one replica migrates.
func pgMigrationLock(pool *pgxpool.Pool) func(context.Context) (func(), error) {
	return func(ctx context.Context) (func(), error) {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		key := lockKey("kubewright/migrations")
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
			conn.Release()
			return nil, err
		}
		return func() {
			conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key)
			conn.Release()
		}, nil
	}
}

// isDeadlock reports PostgreSQL's deadlock_detected.
func isDeadlock(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "40P01"
}

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func pgIdent(s string) string { return `"` + s + `"` }
