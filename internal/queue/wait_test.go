package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// lineHandler records when each delivery starts and ends, on which
// replica, and every position it is told.
type lineHandler struct {
	replica string
	work    time.Duration
	// gate, when set, holds a delivery until it is closed.
	gate map[string]chan struct{}
	log  *runLog
}

type runLog struct {
	mu      sync.Mutex
	order   []string
	starts  map[string]time.Time
	ends    map[string]time.Time
	where   map[string]string
	told    map[string][]int
	started chan string
	ended   chan string
}

func newRunLog() *runLog {
	return &runLog{starts: map[string]time.Time{}, ends: map[string]time.Time{}, where: map[string]string{},
		told: map[string][]int{}, started: make(chan string, 1000), ended: make(chan string, 1000)}
}

var (
	_ Handler = (*lineHandler)(nil)
	_ Waiter  = (*lineHandler)(nil)
)

func (h *lineHandler) Handle(ctx context.Context, d Delivery) error {
	h.log.mu.Lock()
	h.log.order = append(h.log.order, d.ID)
	h.log.starts[d.ID] = time.Now()
	h.log.where[d.ID] = h.replica
	h.log.mu.Unlock()
	h.log.started <- d.ID
	if g := h.gate[d.ID]; g != nil {
		<-g
	}
	time.Sleep(h.work)
	h.log.mu.Lock()
	h.log.ends[d.ID] = time.Now()
	h.log.mu.Unlock()
	h.log.ended <- d.ID
	return nil
}

func (h *lineHandler) Waiting(_ context.Context, d Delivery, ahead int) {
	h.log.mu.Lock()
	defer h.log.mu.Unlock()
	h.log.told[d.ID] = append(h.log.told[d.ID], ahead)
}

func (l *runLog) waitEnded(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for i := 0; i < n; i++ {
		select {
		case <-l.ended:
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("only %d of %d jobs ended within %s (a parked job was not woken; order so far %v)", i, n, within, l.order)
		}
	}
}

func (l *runLog) waitStarted(t *testing.T, id string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case got := <-l.started:
			if got == id {
				return
			}
		case <-deadline:
			t.Fatalf("%s did not start within %s", id, within)
		}
	}
}

// openGate returns a gate and its idempotent opener; the tests' cleanups
// open it before stopping the queues, which wait for held jobs.
func openGate(t *testing.T) (chan struct{}, func()) {
	g := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(g) }) }
	t.Cleanup(open)
	return g, open
}

// freshSchema is a PostgreSQL schema of the test's own, dropped after it.
func freshSchema(t *testing.T) (url, schema string) {
	t.Helper()
	url = pgURL(t)
	schema = fmt.Sprintf("kw_test_%d", rand.Uint32())
	pool, err := pgxpool.New(context.Background(), url)
	if err == nil {
		err = pool.Ping(context.Background())
	}
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", url, err)
	}
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		pool.Close()
	})
	return url, schema
}

// backends open queues on each driver: every call of open on one backend
// is one more replica (PostgreSQL) or a reopening of the same file (SQLite).
var backends = []struct {
	name  string
	setup func(t *testing.T) func(h Handler, opts Options) *Queue
}{
	{"sqlite", func(t *testing.T) func(h Handler, opts Options) *Queue {
		path := filepath.Join(t.TempDir(), "q.db")
		return func(h Handler, opts Options) *Queue {
			q, err := OpenSQLite(context.Background(), path, h, opts)
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
	}},
	{"postgres", func(t *testing.T) func(h Handler, opts Options) *Queue {
		url, schema := freshSchema(t)
		return func(h Handler, opts Options) *Queue {
			opts.Schema = schema
			q, err := OpenPostgres(context.Background(), url, h, opts)
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
	}},
}

// longFallback is far beyond any test: a job that starts at all was woken.
const longFallback = 10 * time.Minute

// TestParkedJobsWokenInOrder: jobs of one repository run one after the
// other, in order, each starting as soon as the previous one ended
// although the fallback is minutes; the waiting costs no work while
// nothing moves, and each job is told its position a few times, not once
// per poll.
func TestParkedJobsWokenInOrder(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			open := be.setup(t)
			log := newRunLog()
			gate, release := openGate(t)
			h := &lineHandler{work: 200 * time.Millisecond, log: log, gate: map[string]chan struct{}{"delivery-0": gate}}
			logs := &logBuffer{}
			q := open(h, Options{Workers: 4, WaitFallback: longFallback, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			defer func() {
				if t.Failed() {
					t.Logf("queue log:\n%s", logs.String())
				}
			}()
			const n = 8
			// Half before the start, fetched together; half while the first runs.
			for i := 0; i < n/2; i++ {
				if _, err := q.Enqueue(ctx, delivery(i, "acme/shop")); err != nil {
					t.Fatal(err)
				}
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { release(); stop(t, q) })
			log.waitStarted(t, "delivery-0", 10*time.Second)
			for i := n / 2; i < n; i++ {
				if _, err := q.Enqueue(ctx, delivery(i, "acme/shop")); err != nil {
					t.Fatal(err)
				}
			}
			// Every other job parks; then nothing moves while the first
			// runs, and nothing may be spent on waiting.
			for deadline := time.Now().Add(10 * time.Second); q.stats.parks.Load() < n-1; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("only %d of %d jobs parked", q.stats.parks.Load(), n-1)
				}
			}
			// Those fetched with delivery-0 look again after siblingFallback
			// to learn their place; then the lines are settled.
			time.Sleep(siblingFallback + 500*time.Millisecond)
			before := q.stats.lineQueries.Load()
			time.Sleep(time.Second)
			if idle := q.stats.lineQueries.Load() - before; idle != 0 {
				t.Errorf("%d queries of the waiting line in an idle second: waiting jobs poll", idle)
			}
			release()
			log.waitEnded(t, n, 30*time.Second)

			log.mu.Lock()
			defer log.mu.Unlock()
			for i, id := range log.order {
				if want := fmt.Sprintf("delivery-%d", i); id != want {
					t.Fatalf("run order %v, want delivery-0 ... delivery-%d", log.order, n-1)
				}
			}
			for i := 1; i < n; i++ {
				prev, cur := fmt.Sprintf("delivery-%d", i-1), fmt.Sprintf("delivery-%d", i)
				if log.starts[cur].Before(log.ends[prev]) {
					t.Errorf("%s started before %s ended", cur, prev)
				}
				if gap := log.starts[cur].Sub(log.ends[prev]); gap > 1500*time.Millisecond {
					t.Errorf("%s started %s after %s ended: not woken, waited for a poll", cur, gap, prev)
				}
			}
			calls := 0
			for i := 1; i < n; i++ {
				id := fmt.Sprintf("delivery-%d", i)
				told := log.told[id]
				calls += len(told)
				// Told as it moves up: last near the front (a nudged job
				// fetched after it became first just starts).
				if len(told) == 0 || told[len(told)-1] > 2 && !nudgedThenStarted(logs.String(), id) {
					t.Errorf("%s was told %v, want a last position of 1 or 2", id, told)
				}
				for k := 1; k < len(told); k++ {
					if told[k] == told[k-1] {
						t.Errorf("%s was told %v: the same position twice", id, told)
					}
				}
			}
			// A job parks (and is told) O(log n) times in a line of n, and
			// each park or run costs a bounded number of queries.
			parks, queries := q.stats.parks.Load(), q.stats.lineQueries.Load()
			t.Logf("%d jobs: %d Waiting calls, %d parks, %d wakes, %d nudges, %d waiting-line queries", n, calls, parks, q.stats.wakes.Load(), q.stats.nudges.Load(), queries)
			if limit := (n - 1) * (bits.Len(n) + 3); calls > limit || int(parks) > limit {
				t.Errorf("%d Waiting calls, %d parks for %d waiting jobs, want at most %d", calls, parks, n-1, limit)
			}
			if queries > 15*(parks+n) {
				t.Errorf("%d waiting-line queries for %d parks and %d runs, want at most 15 each", queries, parks, n)
			}
			if l := q.stats.lists.Load(); l != 0 {
				t.Errorf("%d JobList calls, want none for waiting", l)
			}
		})
	}
}

// TestPostgresWakeAcrossReplicas: a job parked on one replica is woken by
// the other replica's job releasing the repository.
func TestPostgresWakeAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	url, schema := freshSchema(t)
	log := newRunLog()
	gate, release := openGate(t)
	opts := Options{Workers: 1, Schema: schema, WaitFallback: longFallback}
	a, err := OpenPostgres(ctx, url, &lineHandler{replica: "a", log: log, gate: map[string]chan struct{}{"delivery-1": gate}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenPostgres(ctx, url, &lineHandler{replica: "b", log: log}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release(); a.Close() })
	if _, err := a.Enqueue(ctx, delivery(1, "acme/shop")); err != nil {
		t.Fatal(err)
	}
	log.waitStarted(t, "delivery-1", 10*time.Second)
	// a's only worker is busy: b takes the next job and parks it.
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release(); stop(t, b) })
	if _, err := b.Enqueue(ctx, delivery(2, "acme/shop")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); b.stats.parks.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("replica b never parked delivery-2")
		}
	}
	time.Sleep(300 * time.Millisecond)
	// a fetches nothing more once stopping: only b can run delivery-2,
	// woken by a when delivery-1 ends.
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- a.Stop(ctx)
	}()
	time.Sleep(300 * time.Millisecond)
	release()
	log.waitEnded(t, 2, 20*time.Second)
	if err := <-stopped; err != nil {
		t.Errorf("stop replica a: %v", err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if log.where["delivery-1"] != "a" || log.where["delivery-2"] != "b" {
		t.Fatalf("ran on %v, want delivery-1 on a and delivery-2 on b", log.where)
	}
	if gap := log.starts["delivery-2"].Sub(log.ends["delivery-1"]); gap < 0 || gap > 1500*time.Millisecond {
		t.Errorf("delivery-2 started %s after delivery-1 ended on the other replica, want within a second", gap)
	}
	if w := a.stats.wakes.Load(); w != 1 {
		t.Errorf("replica a woke %d jobs, want 1", w)
	}
}

// TestCancelParkedJob: a parked job can be cancelled; it never runs, the
// job behind it moves up (and is told so), and runs when the holder ends.
func TestCancelParkedJob(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			log := newRunLog()
			gate, release := openGate(t)
			q := be.setup(t)(&lineHandler{log: log, gate: map[string]chan struct{}{"hold": gate}}, Options{Workers: 3, WaitFallback: longFallback})
			mk := func(id, subject string) Delivery {
				return Delivery{ID: id, Event: "issue_comment", Repo: "acme/shop", Subject: subject}
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { release(); stop(t, q) })
			if _, err := q.Enqueue(ctx, mk("hold", "acme/shop#1")); err != nil {
				t.Fatal(err)
			}
			log.waitStarted(t, "hold", 10*time.Second)
			for i, d := range []Delivery{mk("cancelled", "acme/shop#2"), mk("behind", "acme/shop#3")} {
				if _, err := q.Enqueue(ctx, d); err != nil {
					t.Fatal(err)
				}
				for deadline := time.Now().Add(10 * time.Second); q.stats.parks.Load() < int64(i+1); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%s did not park", d.ID)
					}
				}
			}
			time.Sleep(300 * time.Millisecond)
			if n, err := q.CancelSubject(ctx, "acme/shop#2", ""); err != nil || n != 1 {
				t.Fatalf("cancel the parked job: %d %v", n, err)
			}
			// The job behind moves up to first in line.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				log.mu.Lock()
				told := append([]int(nil), log.told["behind"]...)
				log.mu.Unlock()
				if len(told) == 2 && told[0] == 2 && told[1] == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the job behind the cancelled one was told %v, want [2 1]", told)
				}
			}
			release()
			log.waitEnded(t, 2, 20*time.Second)
			time.Sleep(500 * time.Millisecond) // the cancelled job would show by now
			log.mu.Lock()
			defer log.mu.Unlock()
			if fmt.Sprint(log.order) != "[hold behind]" {
				t.Errorf("ran %v, want [hold behind]", log.order)
			}
			if gap := log.starts["behind"].Sub(log.ends["hold"]); gap > 1500*time.Millisecond {
				t.Errorf("the job behind started %s after the holder ended", gap)
			}
		})
	}
}

// TestExclusiveFalseNeverWaits: a non-exclusive delivery (a cancel) runs
// while its repository is held, and is never told it waits.
func TestExclusiveFalseNeverWaits(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			log := newRunLog()
			gate, release := openGate(t)
			h := &cancelAware{lineHandler{log: log, gate: map[string]chan struct{}{"delivery-1": gate}}}
			q := be.setup(t)(h, Options{Workers: 2, WaitFallback: longFallback})
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { release(); stop(t, q) })
			q.Enqueue(ctx, delivery(1, "acme/shop"))
			log.waitStarted(t, "delivery-1", 10*time.Second)
			cancel := delivery(2, "acme/shop")
			cancel.Event = "cancel"
			q.Enqueue(ctx, cancel)
			log.waitStarted(t, "delivery-2", 5*time.Second)
			release()
			log.waitEnded(t, 2, 10*time.Second)
			log.mu.Lock()
			defer log.mu.Unlock()
			if len(log.told) != 0 || q.stats.parks.Load() != 0 {
				t.Errorf("told %v, %d parks: a non-exclusive delivery waited", log.told, q.stats.parks.Load())
			}
		})
	}
}

type cancelAware struct{ lineHandler }

func (c *cancelAware) Exclusive(d Delivery) bool { return d.Event != "cancel" }

var _ Serializer = (*cancelAware)(nil)

// TestBurstParksAtIntake: deliveries for a repository whose line already
// waits are parked as they are inserted: River never fetches them before
// their turn (only the first of the line, to tell them their place), and
// a delivery for another repository starts at once.
func TestBurstParksAtIntake(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			log := newRunLog()
			gate, release := openGate(t)
			q := be.setup(t)(&lineHandler{log: log, gate: map[string]chan struct{}{"hold": gate}}, Options{Workers: 4, WaitFallback: longFallback})
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { release(); stop(t, q) })
			mk := func(id, repo string) Delivery {
				return Delivery{ID: id, Event: "issue_comment", Repo: repo}
			}
			if _, err := q.Enqueue(ctx, mk("hold", "acme/a")); err != nil {
				t.Fatal(err)
			}
			log.waitStarted(t, "hold", 10*time.Second)
			if _, err := q.Enqueue(ctx, mk("first-waiting", "acme/a")); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); q.stats.parks.Load() == 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the first waiting job did not park")
				}
			}
			const burst = 100
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < burst; i += 8 {
						if _, err := q.Enqueue(ctx, mk(fmt.Sprintf("burst-%d", i), "acme/a")); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			start := time.Now()
			if _, err := q.Enqueue(ctx, mk("other", "acme/b")); err != nil {
				t.Fatal(err)
			}
			log.waitStarted(t, "other", 5*time.Second)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the other repository's job started %s after it was enqueued", took)
			}
			time.Sleep(time.Second) // the nudged ones park again
			var fetched, inLine int
			if err := q.db.queryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'repo' = 'acme/a' AND attempted_at IS NOT NULL`).Scan(&fetched); err != nil {
				t.Fatal(err)
			}
			if err := q.db.queryRow(ctx, `SELECT count(*) FROM kubewright_wait WHERE repo = 'acme/a'`).Scan(&inLine); err != nil {
				t.Fatal(err)
			}
			if inLine != burst+1 {
				t.Errorf("%d jobs in line, want %d", inLine, burst+1)
			}
			// The holder, the first waiting, and the first of the line told
			// their place; the rest were never fetched.
			if fetched > 2+nudgeDepth {
				t.Errorf("%d of the burst's jobs were fetched, want at most %d", fetched, 2+nudgeDepth)
			}
			log.mu.Lock()
			told := len(log.told)
			log.mu.Unlock()
			if told < nudgeDepth/2 || told > 1+nudgeDepth {
				t.Errorf("%d jobs told their place, want the first of the line (up to %d)", told, 1+nudgeDepth)
			}
		})
	}
}

// TestStartWakesParkedJobs: jobs parked by a process that is gone (its
// wake-ups lost) start when the next queue starts, not after their
// fallback.
func TestStartWakesParkedJobs(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			open := be.setup(t)
			log := newRunLog()
			first := open(&lineHandler{log: log}, Options{})
			if _, err := first.Enqueue(ctx, delivery(1, "acme/shop")); err != nil {
				t.Fatal(err)
			}
			// As the gone process left it: parked for hours, in line.
			var id int64
			if err := first.db.queryRow(ctx, `SELECT id FROM river_job WHERE args->>'id' = 'delivery-1'`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			far := time.Now().Add(3 * time.Hour).UTC()
			farSQL := far.Format("2006-01-02 15:04:05.000")
			if be.name == "postgres" {
				farSQL = far.Format(time.RFC3339Nano)
			}
			if _, err := first.db.exec(ctx, `UPDATE river_job SET state = 'scheduled', scheduled_at = $2 WHERE id = $1`, id, farSQL); err != nil {
				t.Fatal(err)
			}
			if _, err := first.line.join(ctx, "acme/shop", id); err != nil {
				t.Fatal(err)
			}
			first.Close()

			q := open(&lineHandler{log: log}, Options{WaitFallback: longFallback})
			start := time.Now()
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stop(t, q) })
			log.waitEnded(t, 1, 10*time.Second)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("the parked job started %s after the queue did", took)
			}
		})
	}
}

// nudgedThenStarted reports whether the job of delivery id was nudged
// after it was last told its position and then started without parking
// again. On a loaded machine a nudged job may look at the line only once
// the job before it has ended: it is first then and just starts, so its
// last position told stays the earlier one.
func nudgedThenStarted(logText, id string) bool {
	type entry struct {
		Msg      string  `json:"msg"`
		Level    string  `json:"level"`
		Delivery string  `json:"delivery"`
		Job      int64   `json:"job"`
		Jobs     []int64 `json:"jobs"`
	}
	job, nudged := int64(0), false
	for _, line := range strings.Split(logText, "\n") {
		var e entry
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		if e.Delivery == id && e.Job != 0 {
			job = e.Job
		}
		switch {
		case e.Delivery == id && e.Msg == "job waits for its repository" && e.Level == "INFO":
			nudged = false
		case e.Msg == "nudged waiting jobs whose position changed" && job != 0 && slices.Contains(e.Jobs, job):
			nudged = true
		case e.Delivery == id && e.Msg == "job started":
			return nudged
		}
	}
	return false
}
