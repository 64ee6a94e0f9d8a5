package app

import (
	"bytes"
	"context"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/queue"
)

// BenchmarkWebhookIntake posts real-size signed issue_comment deliveries to
// the intake on loopback at a fixed concurrency, with the durable SQLite
// enqueue included (jobs are not worked), and reports deliveries/s and
// p50/p99 latency.
func BenchmarkWebhookIntake(b *testing.B) {
	nop := queue.HandlerFunc(func(context.Context, queue.Delivery) error { return nil })
	stores := map[string]func(b *testing.B) (*queue.Queue, error){
		"sqlite": func(b *testing.B) (*queue.Queue, error) {
			return queue.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "q.db"), nop, queue.Options{})
		},
		"postgres": func(b *testing.B) (*queue.Queue, error) {
			schema := fmt.Sprintf("kw_bench_%d", time.Now().UnixNano())
			q, err := queue.OpenPostgres(context.Background(), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", nop, queue.Options{Schema: schema})
			if err == nil {
				b.Cleanup(func() { dropSchema(schema) })
			}
			return q, err
		},
	}
	for _, store := range []string{"sqlite", "postgres"} {
		conc := 32
		b.Run(fmt.Sprintf("%s/concurrency-%d", store, conc), func(b *testing.B) {
			q, err := stores[store](b)
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			h := githubapp.NewWebhookHandler([]byte(secret), sink{q})
			srv := httptest.NewServer(h)
			defer srv.Close()
			payload := benchPayload()
			sig := githubapp.Sign([]byte(secret), payload)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}

			lat := make([]time.Duration, b.N)
			var next int64 = -1
			var mu sync.Mutex
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < conc; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						mu.Lock()
						next++
						i := next
						mu.Unlock()
						if i >= int64(b.N) {
							return
						}
						req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payload))
						req.Header.Set("Content-Type", "application/json")
						req.Header.Set("X-GitHub-Event", "issue_comment")
						req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d-%d", conc, i))
						req.Header.Set("X-Hub-Signature-256", sig)
						t := time.Now()
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusAccepted {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
						lat[i] = time.Since(t)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

func dropSchema(schema string) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if err != nil {
		return
	}
	defer pool.Close()
	pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
}

// benchPayload is an issue_comment of realistic size (~7 KB).
func benchPayload() []byte {
	pad := bytes.Repeat([]byte("x"), 5000)
	return []byte(fmt.Sprintf(`{"action":"created","issue":{"number":1,"title":"t","body":"%s"},"comment":{"id":1,"body":"/ai containerize","user":{"login":"octocat","id":1,"type":"User"}},"repository":{"id":1,"name":"shop","full_name":"acme/shop","default_branch":"main","owner":{"login":"acme","id":2}},"installation":{"id":31},"sender":{"login":"octocat","id":1}}`, pad))
}
