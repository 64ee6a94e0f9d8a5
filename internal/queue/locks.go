package queue

import (
	"context"
	"errors"
	"hash/fnv"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// repoLocks serializes jobs per repository. unlock may be called from any
// goroutine, at most once.
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
// locks, each held on a connection of its own pool for the job's duration:
// the pool has one connection per worker and one spare, so River's own
// connections are never taken by locks.
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
