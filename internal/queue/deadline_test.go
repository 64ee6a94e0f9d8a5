package queue

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestHandlerIgnoringDeadlineIsAbandoned: a handler that ignores its
// context past the timeout and the grace cannot keep its repository,
// lock connection or worker: with one worker, the next job of the same
// repository runs; the abandoned job is cancelled, not retried.
func TestHandlerIgnoringDeadlineIsAbandoned(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			stuck := make(chan struct{})
			t.Cleanup(func() { close(stuck) }) // the leaked goroutine ends with the test
			ran := make(chan string, 10)
			h := HandlerFunc(func(_ context.Context, d Delivery) error {
				ran <- d.ID
				if d.ID == "delivery-1" {
					<-stuck // ignores its context
				}
				return nil
			})
			logs := &logBuffer{}
			q := be.setup(t)(h, Options{Workers: 1, JobTimeout: 300 * time.Millisecond, HandlerGrace: 300 * time.Millisecond,
				WaitFallback: longFallback, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stop(t, q) })
			for i := 1; i <= 2; i++ {
				if _, err := q.Enqueue(ctx, delivery(i, "acme/shop")); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			want := []string{"delivery-1", "delivery-2"}
			for _, id := range want {
				select {
				case got := <-ran:
					if got != id {
						t.Fatalf("ran %s, want %s", got, id)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s did not run: the stuck handler kept the repository or the worker", id)
				}
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the next job ran %s after the stuck one started, want about timeout+grace", took)
			}
			r := logs.find(t, "job abandoned: its handler kept running after its context ended; repository released", 5*time.Second)
			if r["delivery"] != "delivery-1" || r["level"] != "ERROR" {
				t.Errorf("abandon logged as %v", r)
			}
			var state string
			for deadline := time.Now().Add(5 * time.Second); state != "cancelled"; time.Sleep(50 * time.Millisecond) {
				if err := q.db.queryRow(ctx, `SELECT state FROM river_job WHERE args->>'id' = 'delivery-1'`).Scan(&state); err != nil {
					t.Fatal(err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("abandoned job is %s, want cancelled (never retried while its handler may still run)", state)
				}
			}
			select {
			case id := <-ran:
				t.Errorf("%s ran again", id)
			case <-time.After(500 * time.Millisecond):
			}
		})
	}
}
