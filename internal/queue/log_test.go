package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/request"
)

// logBuffer is a concurrency-safe sink for a JSON slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records parses the JSON lines logged so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// find waits for a record with message msg.
func (b *logBuffer) find(t *testing.T, msg string, within time.Duration) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		for _, r := range b.records(t) {
			if r["msg"] == msg {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q line within %s; logged:\n%s", msg, within, b.String())
		}
	}
}

const payloadMarker = "PAYLOAD-MUST-NOT-BE-LOGGED"

// TestJobLogs: every way a job ends is logged once, with its reason, the
// attempt and whether it will be retried, and the delivery's fields;
// never the payload.
func TestJobLogs(t *testing.T) {
	tests := []struct {
		name    string
		handle  func(ctx context.Context) error
		opts    Options
		msg     string
		level   string
		fields  map[string]any
		errHas  string
		cancel  bool
		started bool
	}{
		{name: "success", handle: func(context.Context) error { return nil },
			msg: "job done", level: "INFO"},
		{name: "GitHub unreachable is retried", handle: func(context.Context) error {
			return errors.New(`POST https://api.github.com/app/installations/31/access_tokens: dial tcp: connection refused`)
		}, msg: "job failed, will retry", level: "WARN", errHas: "connection refused",
			fields: map[string]any{"attempt": 1.0, "max_attempts": 8.0}},
		{name: "permanent", handle: func(context.Context) error { return Permanent(errors.New("repository archived")) },
			msg: "job failed permanently, will not retry", level: "WARN", errHas: "repository archived"},
		{name: "snoozed", handle: func(context.Context) error { return RetryAfter(3 * time.Second) },
			msg: "job snoozed", level: "INFO", fields: map[string]any{"delay": float64(3 * time.Second)}},
		{name: "timeout", handle: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			opts: Options{JobTimeout: 200 * time.Millisecond},
			msg:  "job timed out, will retry", level: "WARN", errHas: "deadline exceeded",
			fields: map[string]any{"timeout": float64(200 * time.Millisecond), "attempt": 1.0}},
		{name: "cancelled", handle: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			cancel: true, msg: "job cancelled", level: "INFO"},
		{name: "panic", handle: func(context.Context) error { panic("nil map") },
			msg: "job failed, will retry", level: "WARN", errHas: "handler panicked: nil map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			logs := &logBuffer{}
			started := make(chan struct{}, 10)
			h := HandlerFunc(func(ctx context.Context, d Delivery) error {
				started <- struct{}{}
				return tt.handle(ctx)
			})
			opts := tt.opts
			opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "q.db"), h, opts)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDelivery(request.Request{Delivery: "delivery-" + tt.name, Event: "issue_comment", Installation: 31,
				Repo: request.Repo{Owner: "acme", Name: "shop"}, Number: 4, Actor: request.Actor{Login: "octocat"},
				Intent: "add a service " + payloadMarker})
			if _, err := q.Enqueue(ctx, d); err != nil {
				t.Fatal(err)
			}
			if err := q.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer stop(t, q)
			if tt.cancel {
				<-started
				if n, err := q.CancelSubject(ctx, d.Subject, ""); err != nil || n != 1 {
					t.Fatalf("cancel: %d %v", n, err)
				}
			}
			r := logs.find(t, tt.msg, 15*time.Second)
			if r["level"] != tt.level {
				t.Errorf("%q logged at %v, want %s", tt.msg, r["level"], tt.level)
			}
			want := map[string]any{"delivery": d.ID, "event": d.Event, "installation": 31.0, "repo": d.Repo}
			for k, v := range tt.fields {
				want[k] = v
			}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("%q: %s = %v, want %v (record %v)", tt.msg, k, r[k], v, r)
				}
			}
			if _, ok := r["job"]; !ok {
				t.Errorf("%q has no job field: %v", tt.msg, r)
			}
			if tt.errHas != "" && !strings.Contains(fmt.Sprint(r["error"]), tt.errHas) {
				t.Errorf("%q: error %v, want it to say %q", tt.msg, r["error"], tt.errHas)
			}
			if tt.msg == "job done" {
				if _, ok := r["duration"]; !ok {
					t.Errorf("job done without a duration: %v", r)
				}
			}
			// Each job's start is logged with its attempt.
			if s := logs.find(t, "job started", time.Second); s["attempt"] != 1.0 || s["delivery"] != d.ID {
				t.Errorf("job started: %v", s)
			}
			if strings.Contains(logs.String(), payloadMarker) {
				t.Errorf("the payload was logged:\n%s", logs.String())
			}
		})
	}
}
