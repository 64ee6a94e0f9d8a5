package queue

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatusStore: the status of a delivery is shared by every queue on
// the database (replicas, or the next process), upserted, forgotten, and
// pruned after statusRetention.
func TestStatusStore(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			open := be.setup(t)
			nop := HandlerFunc(func(context.Context, Delivery) error { return nil })
			a, b := open(nop, Options{}), open(nop, Options{})
			defer a.Close()
			defer b.Close()

			load := func(q *Queue, d string) (int64, int, bool) {
				t.Helper()
				id, ahead, ok, err := q.LoadStatus(ctx, d)
				if err != nil {
					t.Fatalf("load %s: %v", d, err)
				}
				return id, ahead, ok
			}
			if _, _, ok := load(a, "d-1"); ok {
				t.Fatal("a delivery never saved has a status")
			}
			steps := []struct {
				by        *Queue
				commentID int64
				ahead     int
			}{{a, 111, 2}, {b, 111, 1}, {a, 222, -1}}
			for i, s := range steps {
				if err := s.by.SaveStatus(ctx, "d-1", s.commentID, s.ahead); err != nil {
					t.Fatalf("save %d: %v", i, err)
				}
				for _, q := range []*Queue{a, b} {
					if id, ahead, ok := load(q, "d-1"); !ok || id != s.commentID || ahead != s.ahead {
						t.Errorf("after save %d: (%d, %d, %v), want (%d, %d, true) on every replica", i, id, ahead, ok, s.commentID, s.ahead)
					}
				}
			}
			if err := b.ForgetStatus(ctx, "d-1"); err != nil {
				t.Fatal(err)
			}
			if _, _, ok := load(a, "d-1"); ok {
				t.Error("a forgotten status is still there")
			}
			if err := a.ForgetStatus(ctx, "never-saved"); err != nil {
				t.Errorf("forget a status never saved: %v", err)
			}

			for _, bad := range []string{"", strings.Repeat("x", maxDeliveryID+1)} {
				if _, _, _, err := a.LoadStatus(ctx, bad); err == nil {
					t.Errorf("load %q: no error", bad)
				}
				if err := a.SaveStatus(ctx, bad, 1, 1); err == nil {
					t.Errorf("save %q: no error", bad)
				}
				if err := a.ForgetStatus(ctx, bad); err == nil {
					t.Errorf("forget %q: no error", bad)
				}
			}

			// Pruning: a status older than the retention goes, a fresh one
			// stays; so does a waiting-line row whose job is gone.
			for _, d := range []string{"old", "fresh"} {
				if err := a.SaveStatus(ctx, d, 7, 0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := a.db.exec(ctx, `UPDATE kubewright_status SET updated_at = $1 WHERE delivery = 'old'`, time.Now().Add(-statusRetention-time.Hour).Unix()); err != nil {
				t.Fatal(err)
			}
			if _, err := a.db.exec(ctx, `INSERT INTO kubewright_wait (job_id, repo, parked_at) VALUES (987654321, 'acme/gone', 0)`); err != nil {
				t.Fatal(err)
			}
			if err := prune(ctx, a.db, time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, _, ok := load(b, "old"); ok {
				t.Error("a status older than the retention was not pruned")
			}
			if _, _, ok := load(b, "fresh"); !ok {
				t.Error("a fresh status was pruned")
			}
			var rows int
			if err := a.db.queryRow(ctx, `SELECT count(*) FROM kubewright_wait`).Scan(&rows); err != nil || rows != 0 {
				t.Errorf("waiting-line rows of gone jobs after pruning: %d (%v)", rows, err)
			}
		})
	}
}

// TestSQLiteQueryPlans: the queries a job runs on every park and wake use
// an index that bounds them by the line or by the running jobs, never a
// scan of every job (each row carries a payload of kilobytes).
func TestSQLiteQueryPlans(t *testing.T) {
	ctx := context.Background()
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), HandlerFunc(func(context.Context, Delivery) error { return nil }), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, tt := range []struct {
		name  string
		query string
		args  []any
		uses  []string
	}{
		{"position", positionQuery, []any{"acme/shop", 5}, []string{"kubewright_wait_repo"}},
		{"head", headQuery, []any{"acme/shop"}, []string{"kubewright_wait_repo", "INTEGER PRIMARY KEY"}},
		{"claim", claimQuery, []any{"acme/shop", 5, deliveryArgs{}.Kind()}, []string{"kubewright_wait_repo", "river_job_prioritized_fetching_index (state=?)"}},
	} {
		rs, err := q.db.query(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rs.Next() {
			var id, parent, unused int
			var detail string
			if err := rs.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rs.Close()
		all := strings.Join(plan, "\n")
		for _, u := range tt.uses {
			if !strings.Contains(all, u) {
				t.Errorf("%s: plan does not use %s:\n%s", tt.name, u, all)
			}
		}
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, "CONSTANT ROW") {
				t.Errorf("%s: plan scans a table: %s", tt.name, line)
			}
		}
	}
}
