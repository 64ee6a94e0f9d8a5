package jobpage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// pgURL is the PostgreSQL every machine of this project runs (as in
// internal/queue and internal/llm).
func pgURL() string {
	if u := os.Getenv("KUBEWRIGHT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// postgresStore opens the store in a schema of its own, dropped when the
// test ends.
func postgresStore(t *testing.T) (*SQLStore, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", pgURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", pgURL(), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "kw_jobpage_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u := pgURL() + "&search_path=" + schema
	if !strings.Contains(pgURL(), "?") {
		u = pgURL() + "?search_path=" + schema
	}
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Replicas starting together both create the table.
	var wg sync.WaitGroup
	stores := make([]*SQLStore, 3)
	for i := range stores {
		wg.Go(func() {
			s, err := NewSQLStore(ctx, db, "postgres")
			if err != nil {
				t.Error(err)
			}
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return stores[0], db
}

func sqliteStore(t *testing.T) (*SQLStore, *sql.DB) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "pages.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := NewSQLStore(context.Background(), db, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func TestStores(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"memory", func(*testing.T) Store { return NewMemoryStore(0) }},
		{"sqlite", func(t *testing.T) Store { s, _ := sqliteStore(t); return s }},
		{"postgres", func(t *testing.T) Store { s, _ := postgresStore(t); return s }},
	} {
		t.Run(tc.name, func(t *testing.T) { testStore(t, tc.open(t)) })
	}
}

func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	r := sampleRecord()
	if err := s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, r.ID)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if want := Bound(r, time.Time{}); !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	for _, id := range []string{"unknown", "../x", strings.Repeat("a", 65), ""} {
		if _, ok, err := s.Get(ctx, id); ok || err != nil {
			t.Errorf("Get(%q) = %v, %v; want not found", id, ok, err)
		}
	}

	// A newer update replaces; an older one does not roll the page back.
	newer := r
	newer.Status, newer.Updated = "failed", r.Updated.Add(time.Minute)
	older := r
	older.Status, older.Updated = "running", r.Updated.Add(-time.Minute)
	for _, u := range []Record{newer, older} {
		if err := s.Put(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if got, _, _ := s.Get(ctx, r.ID); got.Status != "failed" {
		t.Errorf("after a newer and an older update: status %q, want failed", got.Status)
	}

	// Refused: what cannot be shown or linked safely.
	for _, bad := range []Record{
		{ID: "a/b", Repo: "acme/shop", Status: "done"},
		{ID: "x", Repo: "acme", Status: "done"},
		{ID: "x", Repo: "acme/..", Status: "done"},
		{ID: "x", Repo: "acme/shop", Status: "lost"},
		{ID: "x", Repo: "acme/shop", Status: "done", PullRequest: "javascript:alert(1)"},
		{ID: "x", Repo: "acme/shop", Status: "done", PullRequest: "//evil.example/x"},
	} {
		if err := s.Put(ctx, bad); err == nil {
			t.Errorf("Put(%+v) stored it", bad)
		}
	}

	// Bounded: the biggest record keeps its limits, PostgreSQL takes its
	// NUL bytes and invalid UTF-8.
	big := Record{ID: "big", Repo: "acme/shop", Status: "done", Summary: "a\x00b\xff",
		Diff: strings.Repeat("+ a line of an enormous diff\n", 20000), Mermaid: strings.Repeat("x", MaxMermaid+1)}
	for i := range 300 {
		big.Findings = append(big.Findings, sampleRecord().Findings[0])
		big.Current = append(big.Current, strings.Repeat("é", 400))
		big.Proposed = append(big.Proposed, Change{File: fmt.Sprintf("f%d.yaml", i), To: strings.Repeat("z", 2000)})
	}
	if err := s.Put(ctx, big); err != nil {
		t.Fatal(err)
	}
	got, _, err = s.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Diff) > MaxDiff || !strings.HasSuffix(got.Diff, "\n") || len(got.Findings) != MaxFindings || len(got.Current) != MaxCurrent ||
		len(got.Proposed) != MaxChanges || got.Mermaid != "" || got.Summary != "a\uFFFDb\uFFFD" || len(got.Current[0]) > maxLine || len(got.Proposed[0].To) > maxLine {
		t.Errorf("not bounded: diff %d bytes, %d findings, %d lines, %d changes, mermaid %d bytes, summary %q",
			len(got.Diff), len(got.Findings), len(got.Current), len(got.Proposed), len(got.Mermaid), got.Summary)
	}
	if len(got.Omitted) != 5 {
		t.Errorf("Omitted = %q, want the diff, the diagram, findings, lines and changes", got.Omitted)
	}
}

func TestSQLPrune(t *testing.T) {
	for name, open := range map[string]func(*testing.T) (*SQLStore, *sql.DB){"sqlite": sqliteStore, "postgres": postgresStore} {
		t.Run(name, func(t *testing.T) {
			s, _ := open(t)
			ctx := context.Background()
			now := time.Now()
			for i, age := range []time.Duration{time.Hour, 40 * 24 * time.Hour, 31 * 24 * time.Hour} {
				r := Record{ID: fmt.Sprintf("p%d", i), Repo: "acme/shop", Status: "done", Updated: now.Add(-age)}
				if err := s.Put(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.Prune(ctx, now.Add(-30*24*time.Hour))
			if err != nil || n != 2 {
				t.Fatalf("Prune = %d, %v; want 2", n, err)
			}
			if left, err := s.Len(ctx); err != nil || left != 1 {
				t.Errorf("Len = %d, %v; want 1", left, err)
			}
			if _, ok, _ := s.Get(ctx, "p0"); !ok {
				t.Error("the recent page was pruned")
			}
		})
	}
}

func TestMemoryStoreLimit(t *testing.T) {
	s := NewMemoryStore(3)
	ctx := context.Background()
	base := time.Now()
	for i := range 5 {
		if err := s.Put(ctx, Record{ID: fmt.Sprintf("m%d", i), Repo: "acme/shop", Status: "done", Updated: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		_, ok, _ := s.Get(ctx, fmt.Sprintf("m%d", i))
		if ok != (i >= 2) {
			t.Errorf("m%d kept = %v; want the three most recent kept", i, ok)
		}
	}
}

func TestNewSQLStoreDialect(t *testing.T) {
	if _, err := NewSQLStore(context.Background(), nil, "mysql"); err == nil || !strings.Contains(err.Error(), `use "sqlite" or "postgres"`) {
		t.Errorf("unknown dialect: %v", err)
	}
}
