package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/jobpage"
)

// jobPageRetention is how long a job page is kept after its last update.
const jobPageRetention = 30 * 24 * time.Hour

// jobPruneEvery is how often pages past the retention are deleted.
const jobPruneEvery = 6 * time.Hour

// jobPages wires the job pages (/jobs/<id>) from the OAuth settings in the
// environment (jobpage.AuthFromEnv: KUBEWRIGHT_OAUTH_CLIENT_ID,
// KUBEWRIGHT_OAUTH_CLIENT_SECRET, KUBEWRIGHT_PUBLIC_URL). Without a
// client ID the pages are off: it returns a nil handler, a nil store and
// a no-op closer. Otherwise the records live in the queue's kind of
// database, so every replica serves every page: the PostgreSQL of
// --database-url, or jobpages.db beside the SQLite queue. The closer
// stops the pruning and closes the database.
func jobPages(ctx context.Context, cfg config.Server, log *slog.Logger) (http.Handler, jobpage.Store, func() error, error) {
	noop := func() error { return nil }
	ep := githubapp.EndpointsFor(cfg.GitHubURL)
	auth, err := jobpage.AuthFromEnv(os.Getenv, ep.Web, ep.API)
	if err != nil {
		return nil, nil, noop, err
	}
	if auth == nil {
		log.Info("job pages disabled: no OAuth client (set KUBEWRIGHT_OAUTH_CLIENT_ID, KUBEWRIGHT_OAUTH_CLIENT_SECRET and KUBEWRIGHT_PUBLIC_URL)")
		return nil, nil, noop, nil
	}
	driver, dsn, dialect := "pgx", cfg.DatabaseURL, "postgres"
	if dsn == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, nil, noop, fmt.Errorf("--data-dir / KUBEWRIGHT_DATA_DIR: %w", err)
		}
		driver, dialect = "sqlite", "sqlite"
		dsn = "file:" + filepath.Join(cfg.DataDir, "jobpages.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, nil, noop, fmt.Errorf("job pages: open the database: %w", err)
	}
	db.SetMaxOpenConns(4)
	store, err := jobpage.NewSQLStore(ctx, db, dialect)
	if err != nil {
		db.Close()
		return nil, nil, noop, err
	}
	h, err := jobpage.Handler(store, auth, jobpage.WithLogger(log))
	if err != nil {
		db.Close()
		return nil, nil, noop, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { pruneJobPages(store, log, stop) })
	var once sync.Once
	closer := func() error {
		var err error
		once.Do(func() {
			close(stop)
			wg.Wait()
			err = db.Close()
		})
		return err
	}
	log.Info("job pages", "url", auth.BaseURL+"/jobs/<id>", "callback", auth.BaseURL+"/jobs/oauth/callback", "database", dialect)
	return h, store, closer, nil
}

// pruneJobPages deletes pages past the retention now and every
// jobPruneEvery until stop closes.
func pruneJobPages(store *jobpage.SQLStore, log *slog.Logger, stop <-chan struct{}) {
	t := time.NewTicker(jobPruneEvery)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		n, err := store.Prune(ctx, time.Now().Add(-jobPageRetention))
		cancel()
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			log.Warn("job pages: prune", "err", err.Error())
		case n > 0:
			log.Info("job pages: pruned", "pages", n)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
