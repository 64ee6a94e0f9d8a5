package llm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// step is one call on one of a case's meters.
type step struct {
	meter   int           // index into the case's meters
	advance time.Duration // moves the shared clock before the step
	before  bool          // Before(prompt, maxc) when true, else After(use)
	prompt  int
	maxc    int
	use     Usage
	// wantErr is a substring of the error, "" for none; a budget error
	// must also wrap ErrBudget.
	wantErr    string
	wantBudget bool
}

func TestMeterBudgets(t *testing.T) {
	start := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		budget Budget
		meters int // sharing one ledger and one clock; 1 if 0
		steps  []step
		// wantExhausted is the reason of meter 0 ("" for not exhausted).
		wantExhausted string
		wantTotal     Usage
		wantCalls     int
	}{
		{
			name:   "no limits",
			budget: Budget{},
			steps: []step{
				{before: true, prompt: 1 << 30, maxc: 1 << 20},
				{use: Usage{PromptTokens: 1 << 20, CompletionTokens: 5}},
			},
			wantTotal: Usage{PromptTokens: 1 << 20, CompletionTokens: 5},
			wantCalls: 1,
		},
		{
			name:   "job budget fits exactly",
			budget: Budget{PerJob: 1000},
			steps: []step{
				{before: true, prompt: 600, maxc: 400},
				{use: Usage{PromptTokens: 600, CompletionTokens: 400}},
			},
			wantTotal: Usage{PromptTokens: 600, CompletionTokens: 400},
			wantCalls: 1,
		},
		{
			name:   "job budget refuses a call that would not fit and every later call",
			budget: Budget{PerJob: 20000},
			steps: []step{
				{before: true, prompt: 10000, maxc: 8500},
				{use: Usage{PromptTokens: 10000, CompletionTokens: 8500}},
				{before: true, prompt: 3000, maxc: 1000, wantBudget: true,
					wantErr: "llm repair: token budget exhausted: job budget of 20000 tokens: 18500 spent, this call needs about 4000"},
				{before: true, prompt: 10, maxc: 0, wantBudget: true, wantErr: "job budget of 20000 tokens: 18500 spent"},
			},
			wantExhausted: "job budget of 20000 tokens: 18500 spent, this call needs about 4000",
			wantTotal:     Usage{PromptTokens: 10000, CompletionTokens: 8500},
			wantCalls:     1,
		},
		{
			name:   "without a completion cap only the prompt counts",
			budget: Budget{PerJob: 1000},
			steps: []step{
				{before: true, prompt: 1000, maxc: 0},
				{before: true, prompt: 1001, maxc: 0, wantBudget: true, wantErr: "this call needs about 1001"},
			},
			wantExhausted: "job budget of 1000 tokens: 0 spent, this call needs about 1001",
		},
		{
			name:   "a call that goes over the job budget is recorded and reported",
			budget: Budget{PerJob: 1000},
			steps: []step{
				{before: true, prompt: 500, maxc: 0},
				{use: Usage{PromptTokens: 500, CompletionTokens: 700}, wantBudget: true, wantErr: "job budget of 1000 tokens: 1200 spent"},
				{before: true, prompt: 1, wantBudget: true, wantErr: "job budget of 1000 tokens: 1200 spent"},
			},
			wantExhausted: "job budget of 1000 tokens: 1200 spent",
			wantTotal:     Usage{PromptTokens: 500, CompletionTokens: 700},
			wantCalls:     1,
		},
		{
			name:   "per-call cap refuses a larger completion cap without exhausting",
			budget: Budget{PerCall: 4096, PerJob: 100000},
			steps: []step{
				{before: true, prompt: 100, maxc: 8000, wantBudget: true,
					wantErr: "per-call budget of 4096 completion tokens: this call asks for up to 8000"},
				{before: true, prompt: 100, maxc: 4096},
				{use: Usage{PromptTokens: 100, CompletionTokens: 4000}},
			},
			wantTotal: Usage{PromptTokens: 100, CompletionTokens: 4000},
			wantCalls: 1,
		},
		{
			name:   "daily budget without a ledger counts this meter's calls",
			budget: Budget{PerDay: 1000},
			steps: []step{
				{use: Usage{PromptTokens: 900}},
				{before: true, prompt: 200, wantBudget: true,
					wantErr: "daily budget of 1000 tokens for installation local: 900 spent on 2026-11-25 (UTC), this call needs about 200"},
			},
			wantExhausted: "daily budget of 1000 tokens for installation local: 900 spent on 2026-11-25 (UTC), this call needs about 200",
			wantTotal:     Usage{PromptTokens: 900},
			wantCalls:     1,
		},
		{
			name:   "daily budget is shared by the jobs of one installation",
			budget: Budget{PerDay: 1000, PerJob: 800},
			meters: 3,
			steps: []step{
				{meter: 0, before: true, prompt: 300, maxc: 300},
				{meter: 0, use: Usage{PromptTokens: 300, CompletionTokens: 300}},
				{meter: 1, before: true, prompt: 300, maxc: 100},
				{meter: 1, use: Usage{PromptTokens: 300, CompletionTokens: 100}},
				// Meter 2 has spent nothing but the installation has spent 1000.
				{meter: 2, before: true, prompt: 1, wantBudget: true,
					wantErr: "daily budget of 1000 tokens for installation 42: 1000 spent on 2026-11-25 (UTC), this call needs about 1"},
				// Meter 0 is within its job budget and still may not.
				{meter: 0, before: true, prompt: 1, wantBudget: true, wantErr: "daily budget of 1000 tokens"},
			},
			wantExhausted: "daily budget of 1000 tokens for installation 42: 1000 spent on 2026-11-25 (UTC), this call needs about 1",
			wantTotal:     Usage{PromptTokens: 300, CompletionTokens: 300},
			wantCalls:     1,
		},
		{
			name:   "daily budget starts over on the next UTC day",
			budget: Budget{PerDay: 1000},
			meters: 2,
			steps: []step{
				{meter: 0, use: Usage{PromptTokens: 950}},
				{meter: 1, before: true, prompt: 100, wantBudget: true, wantErr: "950 spent on 2026-11-25"},
				// 23:00 + 90 min is 00:30 on the 26th, UTC.
				{meter: 0, advance: 90 * time.Minute, before: true, prompt: 900, maxc: 100},
				{meter: 0, use: Usage{PromptTokens: 900, CompletionTokens: 100}},
				{meter: 0, before: true, prompt: 1, wantBudget: true, wantErr: "1000 spent on 2026-11-26"},
			},
			wantExhausted: "daily budget of 1000 tokens for installation 42: 1000 spent on 2026-11-26 (UTC), this call needs about 1",
			wantTotal:     Usage{PromptTokens: 1850, CompletionTokens: 100},
			wantCalls:     2,
		},
		{
			name:   "a call that goes over the daily budget is reported",
			budget: Budget{PerDay: 1000},
			meters: 2,
			steps: []step{
				{meter: 1, use: Usage{PromptTokens: 800}},
				{meter: 0, before: true, prompt: 100},
				{meter: 0, use: Usage{PromptTokens: 100, CompletionTokens: 300}, wantBudget: true,
					wantErr: "daily budget of 1000 tokens for installation 42: 1200 spent on 2026-11-25 (UTC)"},
			},
			wantExhausted: "daily budget of 1000 tokens for installation 42: 1200 spent on 2026-11-25 (UTC)",
			wantTotal:     Usage{PromptTokens: 100, CompletionTokens: 300},
			wantCalls:     1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := start
			clock := func() time.Time { return now }
			ledger := NewMemoryLedger()
			n := max(tc.meters, 1)
			meters := make([]*Meter, n)
			for i := range meters {
				opts := []MeterOption{WithClock(clock)}
				if tc.meters > 0 {
					opts = append(opts, WithLedger(ledger, "42"))
				}
				meters[i] = NewMeter(tc.budget, opts...)
			}
			for i, s := range tc.steps {
				now = now.Add(s.advance)
				m := meters[s.meter]
				var err error
				if s.before {
					err = m.Before("repair", s.prompt, s.maxc)
				} else {
					err = m.After("repair", s.use)
				}
				checkErr(t, fmt.Sprintf("step %d", i), err, s.wantErr, s.wantBudget)
			}
			m := meters[0]
			gotEx, reason := m.Exhausted()
			if gotEx != (tc.wantExhausted != "") || reason != tc.wantExhausted {
				t.Errorf("Exhausted() = %v, %q; want %q", gotEx, reason, tc.wantExhausted)
			}
			if got := m.Total(); got != tc.wantTotal {
				t.Errorf("Total() = %+v, want %+v", got, tc.wantTotal)
			}
			if got := len(m.Calls()); got != tc.wantCalls {
				t.Errorf("len(Calls()) = %d, want %d", got, tc.wantCalls)
			}
			if got := m.CallCap(); got != tc.budget.PerCall {
				t.Errorf("CallCap() = %d, want %d", got, tc.budget.PerCall)
			}
		})
	}
}

func checkErr(t *testing.T, what string, err error, want string, budget bool) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error: %v", what, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error, want one containing %q", what, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q does not contain %q", what, err, want)
	case err != nil && errors.Is(err, ErrBudget) != budget:
		t.Errorf("%s: errors.Is(%q, ErrBudget) = %v, want %v", what, err, !budget, budget)
	}
}

func TestMeterRecordsCallsInOrder(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := NewMeter(Budget{}, WithClock(func() time.Time { return at }))
	for i, agent := range []string{"containerize", "repair", "repair"} {
		if err := m.After(agent, Usage{PromptTokens: 10 * (i + 1), CompletionTokens: i}); err != nil {
			t.Fatal(err)
		}
	}
	want := []Call{
		{Agent: "containerize", Usage: Usage{PromptTokens: 10}, At: at},
		{Agent: "repair", Usage: Usage{PromptTokens: 20, CompletionTokens: 1}, At: at},
		{Agent: "repair", Usage: Usage{PromptTokens: 30, CompletionTokens: 2}, At: at},
	}
	got := m.Calls()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Calls() = %+v\nwant %+v", got, want)
	}
	got[0].Agent = "changed"
	if m.Calls()[0].Agent != "containerize" {
		t.Error("Calls() returned the meter's own slice")
	}
	if tot := m.Total(); tot != (Usage{PromptTokens: 60, CompletionTokens: 3}) {
		t.Errorf("Total() = %+v", tot)
	}
}

func TestNilMeter(t *testing.T) {
	var m *Meter
	if err := m.Before("repair", 1<<40, 1<<40); err != nil {
		t.Errorf("Before: %v", err)
	}
	if err := m.After("repair", Usage{PromptTokens: 1 << 40}); err != nil {
		t.Errorf("After: %v", err)
	}
	if c := m.CallCap(); c != 0 {
		t.Errorf("CallCap() = %d", c)
	}
	if c := m.Calls(); c != nil {
		t.Errorf("Calls() = %v", c)
	}
	if u := m.Total(); u != (Usage{}) {
		t.Errorf("Total() = %+v", u)
	}
	if ex, why := m.Exhausted(); ex || why != "" {
		t.Errorf("Exhausted() = %v, %q", ex, why)
	}
}

// brokenLedger fails every operation.
type brokenLedger struct{}

var _ Ledger = brokenLedger{}

func (brokenLedger) Spent(context.Context, string, string) (int, error) {
	return 0, errors.New("database is down")
}

func (brokenLedger) Add(context.Context, string, string, int) (int, error) {
	return 0, errors.New("database is down")
}

func TestMeterLedgerErrors(t *testing.T) {
	m := NewMeter(Budget{PerDay: 1000, PerJob: 100}, WithLedger(brokenLedger{}, "7"))
	err := m.Before("review", 10, 10)
	checkErr(t, "Before", err, "llm review: check the daily token budget: database is down", false)

	err = m.After("review", Usage{PromptTokens: 50})
	checkErr(t, "After", err, "llm review: database is down", false)
	if len(m.Calls()) != 1 {
		t.Errorf("the call was not recorded: %+v", m.Calls())
	}
	if ex, _ := m.Exhausted(); ex {
		t.Error("a ledger failure exhausted the meter")
	}

	// Over the job budget and the ledger failing: both are reported.
	err = m.After("review", Usage{PromptTokens: 60})
	checkErr(t, "After over budget", err, "job budget of 100 tokens: 110 spent", true)
	if err != nil && !strings.Contains(err.Error(), "database is down") {
		t.Errorf("the ledger error is lost: %v", err)
	}
}

// TestMeterConcurrentAfter: calls recorded from many goroutines all count.
func TestMeterConcurrentAfter(t *testing.T) {
	ledger := NewMemoryLedger()
	m := NewMeter(Budget{}, WithLedger(ledger, "9"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := m.Before("repair", 1, 1); err != nil {
					t.Error(err)
				}
				if err := m.After("repair", Usage{PromptTokens: 2, CompletionTokens: 1}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := m.Total(); got != (Usage{PromptTokens: 800, CompletionTokens: 400}) {
		t.Errorf("Total() = %+v", got)
	}
	if got := len(m.Calls()); got != 400 {
		t.Errorf("%d calls recorded, want 400", got)
	}
	day := time.Now().UTC().Format(dayFormat)
	if got, _ := ledger.Spent(context.Background(), "9", day); got != 1200 {
		t.Errorf("ledger has %d, want 1200", got)
	}
}

// testLedger exercises a ledger; keys are prefixed so runs do not clash.
func testLedger(t *testing.T, l Ledger, prefix string) {
	ctx := context.Background()
	a, b := prefix+"42", prefix+"43"
	if n, err := l.Spent(ctx, a, "2026-11-25"); err != nil || n != 0 {
		t.Fatalf("Spent of a new key = %d, %v; want 0, nil", n, err)
	}
	adds := []struct {
		key, day   string
		tokens     int
		wantTotal  int
		wantErrSub string
	}{
		{key: a, day: "2026-11-25", tokens: 100, wantTotal: 100},
		{key: a, day: "2026-11-25", tokens: 250, wantTotal: 350},
		{key: a, day: "2026-11-26", tokens: 5, wantTotal: 5},
		{key: b, day: "2026-11-25", tokens: 7, wantTotal: 7},
		{key: a, day: "2026-11-25", tokens: 0, wantTotal: 350},
		{key: a, day: "2026-11-25", tokens: -1, wantErrSub: "cannot be negative"},
		{key: a, day: "2026-11-25", tokens: 3_000_000_000, wantTotal: 3_000_000_350},
	}
	for _, c := range adds {
		got, err := l.Add(ctx, c.key, c.day, c.tokens)
		if c.wantErrSub != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrSub) {
				t.Errorf("Add(%s, %s, %d) error = %v, want %q", c.key, c.day, c.tokens, err, c.wantErrSub)
			}
			continue
		}
		if err != nil || got != c.wantTotal {
			t.Errorf("Add(%s, %s, %d) = %d, %v; want %d", c.key, c.day, c.tokens, got, err, c.wantTotal)
		}
	}
	for _, c := range []struct {
		key, day string
		want     int
	}{{a, "2026-11-25", 3_000_000_350}, {a, "2026-11-26", 5}, {b, "2026-11-25", 7}, {b, "2026-11-26", 0}} {
		if n, err := l.Spent(ctx, c.key, c.day); err != nil || n != c.want {
			t.Errorf("Spent(%s, %s) = %d, %v; want %d", c.key, c.day, n, err, c.want)
		}
	}

	// Concurrent Adds from 8 goroutines sum, and every returned total is
	// distinct (each Add saw the previous ones).
	const workers, each = 8, 25
	key := prefix + "concurrent"
	totals := make(chan int, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				n, err := l.Add(ctx, key, "2026-11-25", 3)
				if err != nil {
					t.Error(err)
					return
				}
				totals <- n
			}
		})
	}
	wg.Wait()
	close(totals)
	seen := map[int]bool{}
	for n := range totals {
		if seen[n] {
			t.Errorf("two Adds returned the same total %d", n)
		}
		seen[n] = true
	}
	if n, err := l.Spent(ctx, key, "2026-11-25"); err != nil || n != workers*each*3 {
		t.Errorf("after concurrent Adds Spent = %d, %v; want %d", n, err, workers*each*3)
	}

	// Forget drops every day of one key, and only that key.
	f, ok := l.(Forgetter)
	if !ok {
		t.Fatalf("%T does not implement Forgetter", l)
	}
	l.Add(ctx, b, JobDay, 11)
	if err := f.Forget(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key, day string
		want     int
	}{{b, "2026-11-25", 0}, {b, JobDay, 0}, {a, "2026-11-26", 5}} {
		if n, err := l.Spent(ctx, c.key, c.day); err != nil || n != c.want {
			t.Errorf("after Forget(%s): Spent(%s, %s) = %d, %v; want %d", b, c.key, c.day, n, err, c.want)
		}
	}
}

func TestMemoryLedger(t *testing.T) {
	testLedger(t, NewMemoryLedger(), "")
}

func TestSQLLedgerSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kubewright.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := NewSQLLedger(ctx, db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	testLedger(t, l, "")

	// A second ledger on the same database (a restart) keeps the totals.
	l2, err := NewSQLLedger(ctx, db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := l2.Spent(ctx, "42", "2026-11-26"); err != nil || n != 5 {
		t.Errorf("after reopening Spent = %d, %v; want 5", n, err)
	}

	// Two meters of one installation share the daily budget through it.
	clock := func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }
	m1 := NewMeter(Budget{PerDay: 100}, WithLedger(l, "42"), WithClock(clock))
	m2 := NewMeter(Budget{PerDay: 100}, WithLedger(l2, "42"), WithClock(clock))
	if err := m1.After("repair", Usage{PromptTokens: 60, CompletionTokens: 30}); err != nil {
		t.Fatal(err)
	}
	err = m2.Before("repair", 20, 0)
	checkErr(t, "second job", err, "daily budget of 100 tokens for installation 42: 90 spent on 2026-11-27 (UTC)", true)
}

func TestNewSQLLedgerUnknownDialect(t *testing.T) {
	_, err := NewSQLLedger(context.Background(), nil, "mysql")
	if err == nil || !strings.Contains(err.Error(), `use "sqlite" or "postgres"`) {
		t.Errorf("error = %v", err)
	}
}

// pgURL is the PostgreSQL every machine of this project runs (as in
// internal/queue).
func pgURL() string {
	if u := os.Getenv("KUBEWRIGHT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func TestSQLLedgerPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgURL()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", url, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", url, err)
	}
	// Replicas starting together both create the table.
	var wg sync.WaitGroup
	ledgers := make([]*SQLLedger, 4)
	for i := range ledgers {
		wg.Go(func() {
			l, err := NewSQLLedger(ctx, db, "postgres")
			if err != nil {
				t.Error(err)
			}
			ledgers[i] = l
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	prefix := fmt.Sprintf("test-%d-%d-", time.Now().UnixNano(), rand.Uint32())
	t.Cleanup(func() {
		db.ExecContext(context.Background(), `DELETE FROM kubewright_llm_usage WHERE key LIKE $1`, prefix+"%")
	})
	testLedger(t, ledgers[0], prefix)
	if n, err := ledgers[3].Spent(ctx, prefix+"42", "2026-11-26"); err != nil || n != 5 {
		t.Errorf("another replica's Spent = %d, %v; want 5", n, err)
	}
}
