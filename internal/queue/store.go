package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// store runs kubewright's own SQL in the queue's database, next to River's
// tables. One text serves SQLite and PostgreSQL: $n placeholders (the
// SQLite driver binds $n by position) and unix-second BIGINT timestamps.
type store interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	queryRow(ctx context.Context, q string, args ...any) row
	query(ctx context.Context, q string, args ...any) (rows, error)
}

type row interface{ Scan(dest ...any) error }

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// isNoRows reports an empty single-row result from either driver.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) }

// sqliteStore prepares each statement once: parsing the SQL costs more
// than running it (pgx caches its statements itself). The statements are
// the package's own texts, a few hundred at most (IN lists up to a batch).
type sqliteStore struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newSQLiteStore(db *sql.DB) *sqliteStore {
	return &sqliteStore{db: db, stmts: map[string]*sql.Stmt{}}
}

func (s *sqliteStore) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[q]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.stmts[q] = st
	return st, nil
}

func (s *sqliteStore) exec(ctx context.Context, q string, args ...any) (int64, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s *sqliteStore) queryRow(ctx context.Context, q string, args ...any) row {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *sqliteStore) query(ctx context.Context, q string, args ...any) (rows, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	r, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

// close releases the prepared statements; call before closing the database.
func (s *sqliteStore) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, st := range s.stmts {
		st.Close()
		delete(s.stmts, q)
	}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type pgStore struct{ pool *pgxpool.Pool }

func (s pgStore) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (s pgStore) queryRow(ctx context.Context, q string, args ...any) row {
	return s.pool.QueryRow(ctx, q, args...)
}

func (s pgStore) query(ctx context.Context, q string, args ...any) (rows, error) {
	return s.pool.Query(ctx, q, args...)
}

// schema is kubewright's own tables: the waiting line of each repository
// and the status comment of each delivery. Both are created idempotently
// (under the migration lock on PostgreSQL).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS kubewright_wait (
		job_id    BIGINT PRIMARY KEY,
		repo      TEXT NOT NULL,
		woken     INTEGER NOT NULL DEFAULT 0,
		recheck   INTEGER NOT NULL DEFAULT 0,
		reported  INTEGER NOT NULL DEFAULT -1,
		parked_at BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS kubewright_wait_repo ON kubewright_wait (repo, job_id)`,
	`CREATE TABLE IF NOT EXISTS kubewright_status (
		delivery   TEXT PRIMARY KEY,
		comment_id BIGINT NOT NULL,
		ahead      INTEGER NOT NULL,
		updated_at BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS kubewright_status_updated ON kubewright_status (updated_at)`,
}

func createTables(ctx context.Context, s store) error {
	for _, q := range schema {
		if _, err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("create kubewright's queue tables: %w", err)
		}
	}
	return nil
}

// statusRetention is how long a delivery's status row is kept: long past
// any job's retries, short enough that the table stays small.
const statusRetention = 72 * time.Hour

// prune deletes status rows older than statusRetention and waiting-line
// rows whose job is finished or gone.
func prune(ctx context.Context, s store, now time.Time) error {
	if _, err := s.exec(ctx, `DELETE FROM kubewright_status WHERE updated_at < $1`, now.Add(-statusRetention).Unix()); err != nil {
		return fmt.Errorf("prune status rows: %w", err)
	}
	if _, err := s.exec(ctx, `DELETE FROM kubewright_wait WHERE NOT EXISTS (
		SELECT 1 FROM river_job j WHERE j.id = kubewright_wait.job_id AND j.state IN `+liveStates+`)`); err != nil {
		return fmt.Errorf("prune the waiting lines: %w", err)
	}
	return nil
}
