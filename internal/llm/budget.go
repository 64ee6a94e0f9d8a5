package llm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Budget holds hard token limits; 0 means no limit.
type Budget struct {
	// PerCall caps the completion tokens of one call (sent as max_tokens);
	// see [Meter.CallCap].
	PerCall int
	// PerJob caps prompt plus completion tokens over one job.
	PerJob int
	// PerDay caps prompt plus completion tokens per installation per UTC
	// day, summed in a [Ledger] shared by all jobs.
	PerDay int
}

// Ledger keeps daily token totals per installation, shared by every job
// (and every replica, for [SQLLedger] on PostgreSQL).
type Ledger interface {
	// Spent returns the tokens recorded for key (an installation ID as
	// string, e.g. "42", or "local") on day ("2026-11-25").
	Spent(ctx context.Context, key, day string) (int, error)
	// Add records tokens and returns the new total for key and day.
	Add(ctx context.Context, key, day string, tokens int) (int, error)
}

// dayFormat names a UTC day in ledgers.
const dayFormat = "2006-01-02"

// JobDay is the day under which [WithJobLedger] records a job's own
// spend: a job's budget spans all its attempts, whatever their dates.
const JobDay = "job"

// Forgetter is implemented by ledgers that can drop a key's rows, so
// that per-job keys do not outlive their jobs.
type Forgetter interface {
	Forget(ctx context.Context, key string) error
}

// ledgerTimeout bounds one ledger operation. Ledger calls do not take the
// job's context: usage must be recorded even when the job was cancelled
// while the model answered.
const ledgerTimeout = 10 * time.Second

// MemoryLedger is a [Ledger] in process memory: one replica, totals lost
// on restart. It is safe for concurrent use.
type MemoryLedger struct {
	mu     sync.Mutex
	totals map[[2]string]int
}

var _ Ledger = (*MemoryLedger)(nil)

// NewMemoryLedger returns an empty in-memory ledger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{totals: map[[2]string]int{}}
}

// Spent implements [Ledger].
func (l *MemoryLedger) Spent(_ context.Context, key, day string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.totals[[2]string{key, day}], nil
}

// Add implements [Ledger].
func (l *MemoryLedger) Add(_ context.Context, key, day string, tokens int) (int, error) {
	if tokens < 0 {
		return 0, fmt.Errorf("add %d tokens for %s on %s: a token count cannot be negative", tokens, key, day)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := [2]string{key, day}
	l.totals[k] += tokens
	return l.totals[k], nil
}

// Forget implements [Forgetter].
func (l *MemoryLedger) Forget(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.totals {
		if k[0] == key {
			delete(l.totals, k)
		}
	}
	return nil
}

// SQLLedger is a [Ledger] in the table kubewright_llm_usage of a SQLite
// or PostgreSQL database, so that replicas sharing a database share the
// daily budget.
type SQLLedger struct {
	db          *sql.DB
	spentQuery  string
	addQuery    string
	forgetQuery string
}

var (
	_ Ledger    = (*SQLLedger)(nil)
	_ Forgetter = (*SQLLedger)(nil)
	_ Forgetter = (*MemoryLedger)(nil)
)

const createUsageTable = `CREATE TABLE IF NOT EXISTS kubewright_llm_usage (
	key TEXT NOT NULL,
	day TEXT NOT NULL,
	tokens BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (key, day)
)`

// usageTableLock is the PostgreSQL advisory lock key held while creating
// the table, so replicas starting together do not race on CREATE TABLE.
const usageTableLock = 0x6b776c6c6d75 // "kwllmu"

// NewSQLLedger returns a ledger in db, creating its table if missing.
// dialect is "sqlite" (3.35 or later) or "postgres". A SQLite database
// shared by goroutines should be opened with a busy_timeout pragma.
func NewSQLLedger(ctx context.Context, db *sql.DB, dialect string) (*SQLLedger, error) {
	l := &SQLLedger{db: db}
	switch dialect {
	case "sqlite":
		l.spentQuery = `SELECT tokens FROM kubewright_llm_usage WHERE key = ? AND day = ?`
		l.addQuery = `INSERT INTO kubewright_llm_usage (key, day, tokens) VALUES (?, ?, ?)
ON CONFLICT (key, day) DO UPDATE SET tokens = kubewright_llm_usage.tokens + excluded.tokens
RETURNING tokens`
		l.forgetQuery = `DELETE FROM kubewright_llm_usage WHERE key = ?`
		if _, err := db.ExecContext(ctx, createUsageTable); err != nil {
			return nil, fmt.Errorf("create table kubewright_llm_usage: %w", err)
		}
	case "postgres":
		l.spentQuery = `SELECT tokens FROM kubewright_llm_usage WHERE key = $1 AND day = $2`
		l.addQuery = `INSERT INTO kubewright_llm_usage (key, day, tokens) VALUES ($1, $2, $3)
ON CONFLICT (key, day) DO UPDATE SET tokens = kubewright_llm_usage.tokens + excluded.tokens
RETURNING tokens`
		l.forgetQuery = `DELETE FROM kubewright_llm_usage WHERE key = $1`
		if err := createPostgresTable(ctx, db); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("token ledger: unknown database dialect %q: use \"sqlite\" or \"postgres\"", dialect)
	}
	return l, nil
}

func createPostgresTable(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create table kubewright_llm_usage: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(usageTableLock)); err != nil {
		return fmt.Errorf("create table kubewright_llm_usage: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, createUsageTable); err != nil {
		return fmt.Errorf("create table kubewright_llm_usage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create table kubewright_llm_usage: %w", err)
	}
	return nil
}

// Spent implements [Ledger].
func (l *SQLLedger) Spent(ctx context.Context, key, day string) (int, error) {
	var n int64
	err := l.db.QueryRowContext(ctx, l.spentQuery, key, day).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read token usage of %s on %s: %w", key, day, err)
	}
	return int(n), nil
}

// Add implements [Ledger]; concurrent Adds, from any replica, sum.
func (l *SQLLedger) Add(ctx context.Context, key, day string, tokens int) (int, error) {
	if tokens < 0 {
		return 0, fmt.Errorf("add %d tokens for %s on %s: a token count cannot be negative", tokens, key, day)
	}
	var n int64
	if err := l.db.QueryRowContext(ctx, l.addQuery, key, day, int64(tokens)).Scan(&n); err != nil {
		return 0, fmt.Errorf("record token usage of %s on %s: %w", key, day, err)
	}
	return int(n), nil
}

// Forget implements [Forgetter].
func (l *SQLLedger) Forget(ctx context.Context, key string) error {
	if _, err := l.db.ExecContext(ctx, l.forgetQuery, key); err != nil {
		return fmt.Errorf("forget token usage of %s: %w", key, err)
	}
	return nil
}

// Call is one recorded model call.
type Call struct {
	Agent string `json:"agent"`
	Usage Usage  `json:"usage"`
	// At is when the call was recorded (the meter's clock).
	At time.Time `json:"at"`
}

// MeterOption configures a [Meter].
type MeterOption func(*Meter)

// WithLedger makes the meter add every call to l under key (an
// installation ID, or "local" for the CLI) and check the daily budget
// against l's total. Without a ledger, the daily budget is checked
// against this meter's own calls only.
func WithLedger(l Ledger, key string) MeterOption {
	return func(m *Meter) {
		m.ledger = l
		m.key = key
	}
}

// WithJobLedger makes the per-job budget span a job's attempts: every
// call is also recorded in l under key (e.g. "job/<delivery ID>", day
// [JobDay]), and the meter starts from what earlier attempts of the job
// recorded there, read before the first call. Forget the key when the job
// is over.
func WithJobLedger(l Ledger, key string) MeterOption {
	return func(m *Meter) {
		m.jobLedger = l
		m.jobKey = key
	}
}

// WithClock sets the clock that decides the UTC day (tests).
func WithClock(now func() time.Time) MeterOption {
	return func(m *Meter) { m.now = now }
}

// Meter accounts one job's model calls against a [Budget]. It is safe for
// concurrent use; [Meter.Before] checks, it does not reserve, so calls
// made in parallel may together overshoot by at most one call each, which
// [Meter.After] then reports. Every method works on a nil *Meter, which
// accounts nothing and never refuses.
type Meter struct {
	budget    Budget
	ledger    Ledger
	key       string
	jobLedger Ledger
	jobKey    string
	now       func() time.Time

	mu        sync.Mutex
	calls     []Call
	total     Usage
	prior     int    // tokens earlier attempts of the job spent
	priorRead bool   // prior has been read from jobLedger
	exhausted string // the reason a budget stopped the job; "" while none did
}

// NewMeter returns a meter for one job.
func NewMeter(b Budget, opts ...MeterOption) *Meter {
	m := &Meter{budget: b, now: time.Now}
	for _, o := range opts {
		o(m)
	}
	if m.ledger == nil {
		// The daily budget still holds for this meter's own calls.
		m.ledger = NewMemoryLedger()
		m.key = "local"
	}
	return m
}

// CallCap is the per-call completion cap (0: none).
func (m *Meter) CallCap() int {
	if m == nil {
		return 0
	}
	return m.budget.PerCall
}

// Before is called before a call with an estimate of its prompt tokens
// and its completion cap (0: unknown, only the prompt is counted). It
// returns an error wrapping [ErrBudget] when the call would exceed a
// budget; from then on the meter is exhausted and refuses every call. A
// completion cap above the per-call budget is refused without exhausting
// the meter. An error reading the ledger is returned as is (not
// ErrBudget): the daily budget cannot be checked, so the call must not be
// made.
func (m *Meter) Before(agent string, promptTokens, maxCompletion int) error {
	if m == nil {
		return nil
	}
	if c := m.budget.PerCall; c > 0 && maxCompletion > c {
		return fmt.Errorf("llm %s: %w: per-call budget of %d completion tokens: this call asks for up to %d", agent, ErrBudget, c, maxCompletion)
	}
	need := max(promptTokens, 0) + max(maxCompletion, 0)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.exhausted != "" {
		return fmt.Errorf("llm %s: %w: %s", agent, ErrBudget, m.exhausted)
	}
	if m.jobLedger != nil && !m.priorRead {
		ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
		prior, err := m.jobLedger.Spent(ctx, m.jobKey, JobDay)
		cancel()
		if err != nil {
			return fmt.Errorf("llm %s: read what earlier attempts of the job spent: %w", agent, err)
		}
		m.prior, m.priorRead = prior, true
	}
	if b := m.budget.PerJob; b > 0 && m.jobSpent()+need > b {
		return m.refuse(agent, fmt.Sprintf("job budget of %d tokens: %s, this call needs about %d", b, m.spentWords(), need))
	}
	if b := m.budget.PerDay; b > 0 {
		day := m.day()
		ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
		spent, err := m.ledger.Spent(ctx, m.key, day)
		cancel()
		if err != nil {
			return fmt.Errorf("llm %s: check the daily token budget: %w", agent, err)
		}
		if spent+need > b {
			return m.refuse(agent, fmt.Sprintf("daily budget of %d tokens for installation %s: %d spent on %s (UTC), this call needs about %d", b, m.key, spent, day, need))
		}
	}
	return nil
}

// refuse marks the meter exhausted; m.mu is held.
func (m *Meter) refuse(agent, reason string) error {
	m.exhausted = reason
	return fmt.Errorf("llm %s: %w: %s", agent, ErrBudget, reason)
}

func (m *Meter) day() string { return m.now().UTC().Format(dayFormat) }

// jobSpent is what the job spent over its attempts; m.mu is held.
func (m *Meter) jobSpent() int { return m.prior + m.total.Total() }

// spentWords says what the job spent; m.mu is held.
func (m *Meter) spentWords() string {
	if m.prior > 0 {
		return fmt.Sprintf("%d spent (%d by earlier attempts)", m.jobSpent(), m.prior)
	}
	return fmt.Sprintf("%d spent", m.jobSpent())
}

// After records what a call used; it always records it, also when it
// returns an error. It returns an error wrapping [ErrBudget] when a
// budget is now exceeded: the caller keeps the answer it has but makes no
// further calls. A failure to write the ledger is returned wrapped, and
// does not wrap ErrBudget.
func (m *Meter) After(agent string, u Usage) error {
	if m == nil {
		return nil
	}
	u.PromptTokens = max(u.PromptTokens, 0)
	u.CompletionTokens = max(u.CompletionTokens, 0)

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.calls = append(m.calls, Call{Agent: agent, Usage: u, At: now})
	m.total = m.total.Add(u)

	var errs []error
	day := now.UTC().Format(dayFormat)
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	dayTotal, err := m.ledger.Add(ctx, m.key, day, u.Total())
	cancel()
	if err != nil {
		errs = append(errs, fmt.Errorf("llm %s: %w", agent, err))
	}
	if m.jobLedger != nil {
		ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
		jobTotal, jerr := m.jobLedger.Add(ctx, m.jobKey, JobDay, u.Total())
		cancel()
		if jerr != nil {
			errs = append(errs, fmt.Errorf("llm %s: %w", agent, jerr))
		} else {
			// The ledger's total is what every attempt spent, this call
			// included (also when After came without a Before).
			m.prior, m.priorRead = max(jobTotal-m.total.Total(), 0), true
		}
	}
	var over string
	switch {
	case m.budget.PerJob > 0 && m.jobSpent() > m.budget.PerJob:
		over = fmt.Sprintf("job budget of %d tokens: %s", m.budget.PerJob, m.spentWords())
	case err == nil && m.budget.PerDay > 0 && dayTotal > m.budget.PerDay:
		over = fmt.Sprintf("daily budget of %d tokens for installation %s: %d spent on %s (UTC)", m.budget.PerDay, m.key, dayTotal, day)
	}
	if over != "" {
		if m.exhausted == "" {
			m.exhausted = over
		}
		errs = append(errs, fmt.Errorf("llm %s: %w: %s", agent, ErrBudget, over))
	}
	return errors.Join(errs...)
}

// Calls returns the recorded calls in order (nil for a nil meter).
func (m *Meter) Calls() []Call {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Call(nil), m.calls...)
}

// Total is the usage of all recorded calls.
func (m *Meter) Total() Usage {
	if m == nil {
		return Usage{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Exhausted reports whether a budget stopped the job, and why, in words
// for the user ("job budget of 20000 tokens: 21345 spent").
func (m *Meter) Exhausted() (bool, string) {
	if m == nil {
		return false, ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exhausted != "", m.exhausted
}
