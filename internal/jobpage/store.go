package jobpage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryStore is a [Store] in process memory, for one replica and tests:
// at most its capacity of records, the least recently updated evicted
// first. It is safe for concurrent use.
type MemoryStore struct {
	mu      sync.Mutex
	records map[string]Record
	limit   int
	now     func() time.Time
}

var (
	_ Store = (*MemoryStore)(nil)
	_ Store = (*SQLStore)(nil)
)

// NewMemoryStore keeps up to limit records (1000 when limit < 1).
func NewMemoryStore(limit int) *MemoryStore {
	if limit < 1 {
		limit = 1000
	}
	return &MemoryStore{records: map[string]Record{}, limit: limit, now: time.Now}
}

// Put implements [Store].
func (m *MemoryStore) Put(_ context.Context, r Record) error {
	if err := r.Check(); err != nil {
		return err
	}
	r = Bound(r, m.now())
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.records[r.ID]; ok && old.Updated.After(r.Updated) {
		return nil
	}
	m.records[r.ID] = r
	for len(m.records) > m.limit {
		var oldest string
		for id, rec := range m.records {
			if oldest == "" || rec.Updated.Before(m.records[oldest].Updated) {
				oldest = id
			}
		}
		delete(m.records, oldest)
	}
	return nil
}

// Get implements [Store].
func (m *MemoryStore) Get(_ context.Context, id string) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[id]
	return r, ok, nil
}

// SQLStore is a [Store] in the table kubewright_job_pages of a SQLite or
// PostgreSQL database (the queue's kind), so every replica serves every
// page. Each row holds a record as JSON (jsonb on PostgreSQL).
type SQLStore struct {
	db                        *sql.DB
	dialect                   string
	put, get, prune, getCount string
}

// maxBody backstops the bounds: a marshaled record over it is refused.
const maxBody = 4 << 20

// tableLock is the PostgreSQL advisory lock key held while creating the
// table, so replicas starting together do not race on CREATE TABLE.
const tableLock = 0x6b776a6f6270 // "kwjobp"

// NewSQLStore returns a store in db, creating its table if missing.
// dialect is "sqlite" or "postgres" (pgx's database/sql driver). A SQLite
// database shared by goroutines should be opened with a busy_timeout
// pragma.
func NewSQLStore(ctx context.Context, db *sql.DB, dialect string) (*SQLStore, error) {
	s := &SQLStore{db: db, dialect: dialect}
	var ddl []string
	switch dialect {
	case "sqlite":
		ddl = []string{`CREATE TABLE IF NOT EXISTS kubewright_job_pages (
	id TEXT PRIMARY KEY,
	repo TEXT NOT NULL,
	body TEXT NOT NULL,
	updated INTEGER NOT NULL
)`, `CREATE INDEX IF NOT EXISTS kubewright_job_pages_updated ON kubewright_job_pages (updated)`}
		s.put = `INSERT INTO kubewright_job_pages (id, repo, body, updated) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, body = excluded.body, updated = excluded.updated
WHERE excluded.updated >= kubewright_job_pages.updated`
		s.get = `SELECT body FROM kubewright_job_pages WHERE id = ?`
		s.prune = `DELETE FROM kubewright_job_pages WHERE updated < ?`
		s.getCount = `SELECT count(*) FROM kubewright_job_pages`
	case "postgres":
		ddl = []string{`CREATE TABLE IF NOT EXISTS kubewright_job_pages (
	id TEXT PRIMARY KEY,
	repo TEXT NOT NULL,
	body JSONB NOT NULL,
	updated TIMESTAMPTZ NOT NULL
)`, `CREATE INDEX IF NOT EXISTS kubewright_job_pages_updated ON kubewright_job_pages (updated)`}
		s.put = `INSERT INTO kubewright_job_pages (id, repo, body, updated) VALUES ($1, $2, $3::jsonb, $4)
ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, body = excluded.body, updated = excluded.updated
WHERE excluded.updated >= kubewright_job_pages.updated`
		s.get = `SELECT body::text FROM kubewright_job_pages WHERE id = $1`
		s.prune = `DELETE FROM kubewright_job_pages WHERE updated < $1`
		s.getCount = `SELECT count(*) FROM kubewright_job_pages`
	default:
		return nil, fmt.Errorf("job pages: unknown database dialect %q: use \"sqlite\" or \"postgres\"", dialect)
	}
	if err := s.create(ctx, ddl); err != nil {
		return nil, fmt.Errorf("job pages: create table kubewright_job_pages: %w", err)
	}
	return s, nil
}

func (s *SQLStore) create(ctx context.Context, ddl []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if s.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(tableLock)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	for _, q := range ddl {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// when is the updated column's value: unix nanoseconds in SQLite.
func (s *SQLStore) when(t time.Time) any {
	if s.dialect == "sqlite" {
		return t.UnixNano()
	}
	return t
}

// Put implements [Store].
func (s *SQLStore) Put(ctx context.Context, r Record) error {
	if err := r.Check(); err != nil {
		return err
	}
	r = Bound(r, time.Now())
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("job page %s: %w", r.ID, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("job page %s: %d bytes is over the %d-byte limit", r.ID, len(body), maxBody)
	}
	if _, err := s.db.ExecContext(ctx, s.put, r.ID, r.Repo, string(body), s.when(r.Updated)); err != nil {
		return fmt.Errorf("store job page %s: %w", r.ID, err)
	}
	return nil
}

// Get implements [Store].
func (s *SQLStore) Get(ctx context.Context, id string) (Record, bool, error) {
	if !ValidID(id) {
		return Record{}, false, nil
	}
	var body string
	err := s.db.QueryRowContext(ctx, s.get, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("read job page %s: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return Record{}, false, fmt.Errorf("read job page %s: %w", id, err)
	}
	return r, true, nil
}

// Prune deletes the pages last updated before before and returns how many
// it deleted.
func (s *SQLStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.prune, s.when(before))
	if err != nil {
		return 0, fmt.Errorf("prune job pages: %w", err)
	}
	return res.RowsAffected()
}

// Len returns how many pages the table holds.
func (s *SQLStore) Len(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.getCount).Scan(&n); err != nil {
		return 0, fmt.Errorf("count job pages: %w", err)
	}
	return n, nil
}
