package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/jobpage"
)

// jobPagesPostgres is the PostgreSQL every machine of this project runs,
// with a schema of the test's own, dropped when it ends.
func jobPagesPostgres(t *testing.T) string {
	t.Helper()
	url := os.Getenv("KUBEWRIGHT_TEST_DATABASE_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "kw_app_jobpages_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", url, err)
	}
	t.Cleanup(func() { admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

func TestJobPages(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()

	t.Run("off without a client ID", func(t *testing.T) {
		t.Setenv(jobpage.EnvClientID, "")
		h, store, closer, err := jobPages(ctx, config.Server{DataDir: t.TempDir()}, log)
		if h != nil || store != nil || err != nil || closer() != nil {
			t.Fatalf("jobPages = %v, %v, %v; want all off", h, store, err)
		}
	})
	t.Run("a client ID without its secret", func(t *testing.T) {
		t.Setenv(jobpage.EnvClientID, "Iv1.x")
		t.Setenv(jobpage.EnvClientSecret, "")
		t.Setenv(jobpage.EnvPublicURL, "https://kw.example.com")
		if _, _, _, err := jobPages(ctx, config.Server{DataDir: t.TempDir()}, log); err == nil || !strings.Contains(err.Error(), jobpage.EnvClientSecret) {
			t.Fatalf("err = %v, want one naming %s", err, jobpage.EnvClientSecret)
		}
	})
	for name, cfg := range map[string]func(*testing.T) config.Server{
		"sqlite": func(t *testing.T) config.Server {
			return config.Server{DataDir: t.TempDir(), GitHubURL: "https://ghe.example.com"}
		},
		"postgres": func(t *testing.T) config.Server {
			return config.Server{DatabaseURL: jobPagesPostgres(t), GitHubURL: "https://ghe.example.com"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(jobpage.EnvClientID, "Iv1.x")
			t.Setenv(jobpage.EnvClientSecret, "0123456789abcdef0123")
			t.Setenv(jobpage.EnvPublicURL, "https://kw.example.com")
			h, store, closer, err := jobPages(ctx, cfg(t), log)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := closer(); err != nil {
					t.Error(err)
				}
				if err := closer(); err != nil {
					t.Errorf("a second close: %v", err)
				}
			}()
			if err := store.Put(ctx, jobpage.Record{ID: "d-1", Repo: "acme/shop", Number: 3, Request: "/ai help", Status: "done"}); err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("/jobs/", h) // as serve mounts it
			for path, want := range map[string]int{"/jobs/d-1": http.StatusFound, "/jobs/d-2": http.StatusNotFound, "/jobs/static/page.css": http.StatusOK} {
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				if w.Code != want {
					t.Errorf("GET %s: %d, want %d", path, w.Code, want)
				}
				if loc := w.Header().Get("Location"); want == http.StatusFound && !strings.HasPrefix(loc, "https://ghe.example.com/login/oauth/authorize?") {
					t.Errorf("GET %s: sign-in at %q, want the GitHub Enterprise Server's authorize page", path, loc)
				}
			}
		})
	}
}
