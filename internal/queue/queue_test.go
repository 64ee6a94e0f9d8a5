package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// recorder is a Handler that counts runs per delivery and checks that no
// two jobs of one repository ever overlap.
type recorder struct {
	mu       sync.Mutex
	runs     map[string]int
	active   map[string]int
	overlap  []string
	parallel int32
	maxPar   int32
	work     time.Duration
	done     chan string
	fail     func(d Delivery) error
}

var _ Handler = (*recorder)(nil)

func newRecorder(work time.Duration) *recorder {
	return &recorder{runs: map[string]int{}, active: map[string]int{}, work: work, done: make(chan string, 10000)}
}

func (r *recorder) Handle(ctx context.Context, d Delivery) error {
	r.mu.Lock()
	r.runs[d.ID]++
	r.active[d.Repo]++
	if r.active[d.Repo] > 1 {
		r.overlap = append(r.overlap, d.Repo)
	}
	r.mu.Unlock()
	n := atomic.AddInt32(&r.parallel, 1)
	for {
		m := atomic.LoadInt32(&r.maxPar)
		if n <= m || atomic.CompareAndSwapInt32(&r.maxPar, m, n) {
			break
		}
	}
	time.Sleep(r.work)
	atomic.AddInt32(&r.parallel, -1)
	r.mu.Lock()
	r.active[d.Repo]--
	r.mu.Unlock()
	var err error
	if r.fail != nil {
		err = r.fail(d)
	}
	r.done <- d.ID
	return err
}

func (r *recorder) wait(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for i := 0; i < n; i++ {
		select {
		case <-r.done:
		case <-deadline:
			t.Fatalf("only %d of %d jobs ran within %s", i, n, within)
		}
	}
}

func delivery(i int, repo string) Delivery {
	return Delivery{ID: fmt.Sprintf("delivery-%d", i), Event: "issue_comment", Installation: 1, Repo: repo}
}

func stop(t *testing.T, q *Queue) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
	q.Close()
}

func TestSQLiteDuplicateDeliveryRunsOnce(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder(0)
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true, true} {
		dup, err := q.Enqueue(ctx, delivery(1, "acme/shop"))
		if err != nil || dup != want {
			t.Fatalf("enqueue %d: dup=%v err=%v, want dup=%v", i, dup, err, want)
		}
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, 1, 10*time.Second)
	// A redelivery after the job completed is still a duplicate.
	if dup, err := q.Enqueue(ctx, delivery(1, "acme/shop")); err != nil || !dup {
		t.Fatalf("redelivery after completion: dup=%v err=%v", dup, err)
	}
	time.Sleep(500 * time.Millisecond)
	stop(t, q)
	if rec.runs["delivery-1"] != 1 {
		t.Errorf("ran %d times, want 1", rec.runs["delivery-1"])
	}
}

// TestSQLiteSurvivesRestart: a delivery acknowledged by one process runs
// in the next one.
func TestSQLiteSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	first, err := OpenSQLite(ctx, path, HandlerFunc(func(context.Context, Delivery) error {
		t.Error("the first process never starts working")
		return nil
	}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Enqueue(ctx, delivery(7, "acme/shop")); err != nil {
		t.Fatal(err)
	}
	first.Close() // the process dies after acknowledging

	rec := newRecorder(0)
	second, err := OpenSQLite(ctx, path, rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, 1, 10*time.Second)
	stop(t, second)
	if rec.runs["delivery-7"] != 1 {
		t.Errorf("runs = %v", rec.runs)
	}
}

func TestSQLiteSerializesPerRepository(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder(150 * time.Millisecond)
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), rec, Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if _, err := q.Enqueue(ctx, delivery(i, []string{"acme/a", "acme/b"}[i%2])); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, 8, 30*time.Second)
	stop(t, q)
	if len(rec.overlap) > 0 {
		t.Errorf("jobs of one repository overlapped: %v", rec.overlap)
	}
	if rec.maxPar < 2 {
		t.Errorf("different repositories never ran in parallel (max %d)", rec.maxPar)
	}
	for id, n := range rec.runs {
		if n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
	}
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder(0)
	rec.fail = func(Delivery) error { return Permanent(errors.New("repository archived")) }
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Enqueue(ctx, delivery(1, "acme/shop"))
	q.Start(ctx)
	rec.wait(t, 1, 10*time.Second)
	time.Sleep(2 * time.Second)
	stop(t, q)
	if rec.runs["delivery-1"] != 1 {
		t.Errorf("permanent failure ran %d times", rec.runs["delivery-1"])
	}
}

// pgURL is the PostgreSQL every machine of this project runs.
func pgURL(t *testing.T) string {
	if u := os.Getenv("KUBEWRIGHT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// TestPostgresReplicasRunEachDeliveryOnce: two queues share one database
// (two replicas); a burst of deliveries, each sent to both, runs exactly
// once, one job per repository at a time.
func TestPostgresReplicasRunEachDeliveryOnce(t *testing.T) {
	ctx := context.Background()
	url := pgURL(t)
	schema := fmt.Sprintf("kw_test_%d", rand.Uint32())
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", url, err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", url, err)
	}
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		pool.Close()
	})
	rec := newRecorder(20 * time.Millisecond)
	opts := Options{Workers: 4, Schema: schema}
	a, err := OpenPostgres(ctx, url, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenPostgres(ctx, url, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []*Queue{a, b} {
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const n = 60
	var wg sync.WaitGroup
	dups := int32(0)
	for i := 0; i < n; i++ {
		for _, q := range []*Queue{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dup, err := q.Enqueue(ctx, delivery(i, fmt.Sprintf("acme/r%d", i%5)))
				if err != nil {
					t.Error(err)
				}
				if dup {
					atomic.AddInt32(&dups, 1)
				}
			}()
		}
	}
	wg.Wait()
	rec.wait(t, n, 60*time.Second)
	time.Sleep(300 * time.Millisecond)
	stop(t, a)
	stop(t, b)
	if dups != n {
		t.Errorf("%d duplicates reported, want %d", dups, n)
	}
	if len(rec.runs) != n {
		t.Errorf("%d deliveries ran, want %d", len(rec.runs), n)
	}
	for id, c := range rec.runs {
		if c != 1 {
			t.Errorf("%s ran %d times", id, c)
		}
	}
	if len(rec.overlap) > 0 {
		t.Errorf("jobs of one repository overlapped across replicas: %v", rec.overlap)
	}
}

// TestConcurrentSameDeliveryOneJob: the same delivery enqueued many times
// at once (one batch or several) is queued once.
func TestConcurrentSameDeliveryOneJob(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder(0)
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var fresh int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dup, err := q.Enqueue(ctx, delivery(3, "acme/shop"))
			if err != nil {
				t.Error(err)
			}
			if !dup {
				atomic.AddInt32(&fresh, 1)
			}
		}()
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d enqueues were new, want exactly 1", fresh)
	}
	q.Start(ctx)
	rec.wait(t, 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	stop(t, q)
	if rec.runs["delivery-3"] != 1 {
		t.Errorf("runs %v", rec.runs)
	}
}

// TestCancelSubject: queued jobs of an issue are cancelled before they
// run, and a running one sees its context cancelled; other issues and the
// cancel delivery itself are untouched.
func TestCancelSubject(t *testing.T) {
	ctx := context.Background()
	started := make(chan string, 10)
	ran := make(chan string, 10)
	h := HandlerFunc(func(ctx context.Context, d Delivery) error {
		started <- d.ID
		if d.ID == "long" {
			select {
			case <-ctx.Done():
				ran <- "long:cancelled"
				return ctx.Err()
			case <-time.After(20 * time.Second):
			}
		}
		ran <- d.ID
		return nil
	})
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), h, Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(id, subject string) Delivery {
		return Delivery{ID: id, Event: "issue_comment", Repo: "acme/shop", Subject: subject}
	}
	for _, d := range []Delivery{mk("queued-1", "acme/shop#1"), mk("queued-2", "acme/shop#1"), mk("other", "acme/shop#2"), mk("cancel", "acme/shop#1")} {
		if _, err := q.Enqueue(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	n, err := q.CancelSubject(ctx, "acme/shop#1", "cancel")
	if err != nil || n != 2 {
		t.Fatalf("cancelled %d, %v; want 2", n, err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		select {
		case id := <-ran:
			got[id] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("ran %v", got)
		}
	}
	if !got["other"] || !got["cancel"] {
		t.Errorf("ran %v, want other and cancel only", got)
	}

	// A running job is cancelled through its context.
	if _, err := q.Enqueue(ctx, mk("long", "acme/shop#3")); err != nil {
		t.Fatal(err)
	}
	for id := range started {
		if id == "long" {
			break
		}
	}
	if n, err := q.CancelSubject(ctx, "acme/shop#3", ""); err != nil || n != 1 {
		t.Fatalf("cancel running: %d %v", n, err)
	}
	select {
	case r := <-ran:
		if r != "long:cancelled" {
			t.Errorf("running job ended with %q", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the running job was not cancelled")
	}
	select {
	case id := <-ran:
		t.Errorf("%s ran after being cancelled", id)
	case <-time.After(500 * time.Millisecond):
	}
	stop(t, q)
}

type waitRecorder struct {
	*recorder
	mu    sync.Mutex
	ahead map[string]int
}

func (w *waitRecorder) Waiting(_ context.Context, d Delivery, ahead int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, seen := w.ahead[d.ID]; !seen {
		w.ahead[d.ID] = ahead
	}
}

var _ Waiter = (*waitRecorder)(nil)

// TestWaitingReportsPosition: deliveries waiting for their repository are
// told how many of its jobs are ahead of them.
func TestWaitingReportsPosition(t *testing.T) {
	ctx := context.Background()
	w := &waitRecorder{recorder: newRecorder(400 * time.Millisecond), ahead: map[string]int{}}
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), w, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := q.Enqueue(ctx, delivery(i, "acme/shop")); err != nil {
			t.Fatal(err)
		}
	}
	q.Start(ctx)
	w.wait(t, 3, 30*time.Second)
	stop(t, q)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ahead) != 2 {
		t.Fatalf("waiting reports %v, want two deliveries told they wait", w.ahead)
	}
	for id, n := range w.ahead {
		if n < 1 || n > 2 {
			t.Errorf("%s: %d ahead", id, n)
		}
	}
}
