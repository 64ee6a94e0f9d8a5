package app

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/request"
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

// BenchmarkWebhookBurst posts a burst of signed 13 KB issue_comment
// deliveries (32 at a time) to the intake of a SQLite queue whose jobs ARE
// worked, by a handler taking 50 ms per job that also reads the payload
// when told a job waits (as the job runner does), on one repository or
// spread over 500. It reports deliveries/s in the first 2 seconds and over
// the whole burst, the deliveries refused (not 202: GitHub counts them
// failed), the jobs done meanwhile, the Waiting calls, how long a delivery
// for another repository sent right after a burst on one takes to start,
// how long until every delivery was looked at once (up to 30 s), and the
// CPU the process spends in the idle second after that, while the rest of
// the jobs wait.
func BenchmarkWebhookBurst(b *testing.B) {
	const burst, conc = 3000, 32
	for _, repos := range []int{1, 500} {
		b.Run(fmt.Sprintf("sqlite/repos-%d", repos), func(b *testing.B) {
			payloads := make([][]byte, repos)
			sigs := make([]string, repos)
			for r := range payloads {
				payloads[r] = burstPayload(r, 12000)
				sigs[r] = githubapp.Sign([]byte(secret), payloads[r])
			}
			var first, whole, refused, settled, idleCPU, otherMs, done, waits float64
			for n := 0; n < b.N; n++ {
				h := &burstHandler{otherStarted: make(chan struct{}, 1)}
				dbPath := filepath.Join(b.TempDir(), "q.db")
				q, err := queue.OpenSQLite(context.Background(), dbPath, h, queue.Options{Workers: 4})
				if err != nil {
					b.Fatal(err)
				}
				if err := q.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				srv := httptest.NewServer(githubapp.NewWebhookHandler([]byte(secret), sink{q}))
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}, Timeout: 30 * time.Second}
				acked := make([]time.Duration, burst)
				var next, rejected atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for w := 0; w < conc; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := next.Add(1) - 1; i < burst; i = next.Add(1) - 1 {
							r := int(i) % repos
							req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payloads[r]))
							req.Header.Set("Content-Type", "application/json")
							req.Header.Set("X-GitHub-Event", "issue_comment")
							req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("burst-%d-%d", n, i))
							req.Header.Set("X-Hub-Signature-256", sigs[r])
							resp, err := client.Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							resp.Body.Close()
							if resp.StatusCode != http.StatusAccepted {
								// GitHub counts it a failed delivery.
								rejected.Add(1)
								continue
							}
							acked[i] = time.Since(start)
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				jobsDone := h.done.Load()
				// After a burst on one repository, a delivery for another
				// starts at once. (Spread over 500, the burst is all work
				// for the workers, taken in order.)
				if repos == 1 {
					other := time.Now()
					if _, err := q.Enqueue(context.Background(), queue.NewDelivery(request.Request{Delivery: fmt.Sprintf("other-%d", n), Event: "issue_comment",
						Repo: request.Repo{Owner: "acme", Name: "other"}, Number: 1, Actor: request.Actor{Login: "octocat"}, Command: &command.Command{Name: command.Containerize}})); err != nil {
						b.Fatal(err)
					}
					select {
					case <-h.otherStarted:
						otherMs += float64(time.Since(other).Milliseconds())
					case <-time.After(60 * time.Second):
						b.Logf("the other repository's job did not start within 60 s (counted as 60 s)")
						otherMs += 60_000
					}
				}
				// The intake may be ahead of the workers: once every
				// delivery was looked at once (capped at 30 s), what is
				// left is jobs waiting for their repository.
				settle := time.Now()
				for untouched := -1; untouched != 0 && time.Since(settle) < 30*time.Second; time.Sleep(100 * time.Millisecond) {
					untouched = untouchedJobs(b, dbPath)
				}
				settled += time.Since(settle).Seconds()
				cpu := cpuTime()
				time.Sleep(time.Second)
				idle := cpuTime() - cpu

				inFirst := 0
				for _, t := range acked {
					if t > 0 && t <= 2*time.Second {
						inFirst++
					}
				}
				first += float64(inFirst) / min(2, elapsed.Seconds())
				whole += float64(burst-int(rejected.Load())) / elapsed.Seconds()
				refused += float64(rejected.Load())
				idleCPU += float64(idle.Milliseconds())
				done += float64(jobsDone)
				waits += float64(h.waits.Load())

				srv.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := q.Stop(ctx); err != nil {
					b.Error(err)
				}
				cancel()
				q.Close()
			}
			N := float64(b.N)
			b.ReportMetric(first/N, "first-2s-deliveries/s")
			b.ReportMetric(whole/N, "burst-deliveries/s")
			b.ReportMetric(refused/N, "refused")
			b.ReportMetric(done/N, "jobs-done-in-burst")
			b.ReportMetric(waits/N, "waiting-calls")
			b.ReportMetric(settled/N, "settle-s")
			b.ReportMetric(idleCPU/N, "idle-cpu-ms/s")
			if repos == 1 {
				b.ReportMetric(otherMs/N, "other-repo-start-ms")
			}
		})
	}
}

// burstHandler works a job in 50 ms; told a job waits, it reads the
// payload as the job runner does to decide whether to say so.
type burstHandler struct {
	done, waits  atomic.Int64
	otherStarted chan struct{}
}

func (h *burstHandler) Handle(ctx context.Context, d queue.Delivery) error {
	if d.Repo == "acme/other" {
		h.otherStarted <- struct{}{}
	}
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	h.done.Add(1)
	return nil
}

func (h *burstHandler) Waiting(_ context.Context, d queue.Delivery, _ int) {
	h.waits.Add(1)
	_ = d.Request.IsCommand(command.Cancel) // what the job's Waiting looks at
}

// untouchedJobs counts the jobs of the queue database waiting to be
// fetched for the first time.
func untouchedJobs(b *testing.B, path string) int {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(1000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := -1
	db.QueryRow(`SELECT count(*) FROM river_job WHERE attempted_at IS NULL AND state = 'available'`).Scan(&n)
	return n
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// burstPayload is an issue_comment on repository acme/shop-<repo> with an
// issue body of pad bytes.
func burstPayload(repo, pad int) []byte {
	body := bytes.Repeat([]byte("x"), pad)
	return []byte(fmt.Sprintf(`{"action":"created","issue":{"number":1,"title":"t","body":"%s"},"comment":{"id":1,"body":"/ai containerize","user":{"login":"octocat","id":1,"type":"User"}},"repository":{"id":%d,"name":"shop-%d","full_name":"acme/shop-%d","default_branch":"main","owner":{"login":"acme","id":2}},"installation":{"id":31},"sender":{"login":"octocat","id":1}}`, body, repo+10, repo, repo))
}
