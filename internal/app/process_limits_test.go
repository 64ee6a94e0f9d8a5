package app

import (
	"bufio"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/githubapp"
)

// TestProcessWebhookFlood: 40 unsigned uploads announcing 25 MiB, all at
// once, keep `kubewright serve` under 300 MB, whether they trickle one
// byte or send the whole 25 MiB; none of them changes any state; a signed
// delivery afterwards is queued; /metrics lives only on its own address
// and counts the flood; SIGTERM logs "shutting down" and "stopped".
func TestProcessWebhookFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kubewright binary")
	}
	const (
		uploads   = 40
		announced = 25 << 20
		rssLimit  = 300 << 20
	)
	tests := []struct {
		name string
		send int64 // body bytes each upload sends before it waits for the answer
		// statuses is how many uploads end with each status, when the
		// answer is known in advance (nil: any refusal will do).
		statuses map[int]int
	}{
		{
			name: "slow: one byte each",
			send: 1,
			// The first DefaultMaxInFlight hold a slot until the read
			// timeout cuts them off; the rest find none.
			statuses: map[int]int{http.StatusRequestTimeout: githubapp.DefaultMaxInFlight, http.StatusServiceUnavailable: uploads - githubapp.DefaultMaxInFlight},
		},
		{name: "fast: 25 MiB each", send: announced},
	}
	kubewrightBinary(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := newProcEnv(t)
			pe.fake.AddRepo("acme", "shop", "")
			issue := pe.fake.AddIssue("acme", "shop")
			payload := helpPayload(t, "shop", issue, pe.fake.AddComment("acme", "shop", issue, procUser, "/ai help"))
			dataDir := t.TempDir()
			metricsAddr := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
			c := startServe(t, "serve", pe, "KUBEWRIGHT_DATA_DIR="+dataDir, "KUBEWRIGHT_METRICS_LISTEN="+metricsAddr)
			pid := c.cmd.Process.Pid
			before := procMemory(t, pid)

			stop := make(chan struct{})
			sampled := make(chan uint64)
			go func() { // VmHWM is the peak; the samples show the course
				var peak uint64
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						sampled <- peak
						return
					case <-tick.C:
						if m, ok := readProcMemory(pid); ok {
							peak = max(peak, m.rss)
						}
					}
				}
			}()
			start := time.Now()
			statuses := make([]int, uploads)
			var wg sync.WaitGroup
			for i := range uploads {
				wg.Go(func() { statuses[i] = floodUpload(t, c.url, fmt.Sprintf("flood-%02d", i), announced, tt.send) })
			}
			wg.Wait()
			close(stop)
			peakSample := <-sampled
			after := procMemory(t, pid)
			t.Logf("%d uploads answered in %s; RSS %d MB before, %d MB after, peak %d MB (sampled %d MB)",
				uploads, time.Since(start).Round(time.Millisecond), before.rss>>20, after.rss>>20, after.hwm>>20, peakSample>>20)
			if after.hwm >= rssLimit {
				t.Errorf("peak RSS (VmHWM) %d MB, want under %d MB", after.hwm>>20, rssLimit>>20)
			}
			count := map[int]int{}
			for _, s := range statuses {
				count[s]++
				if s >= 200 && s < 300 {
					t.Errorf("an unsigned upload was answered %d", s)
				}
			}
			t.Logf("statuses (0: the connection ended without one): %v", count)
			for status, want := range tt.statuses {
				if count[status] != want {
					t.Errorf("%d uploads answered %d, want %d (all: %v)", count[status], status, want, count)
				}
			}
			select {
			case <-c.done:
				t.Fatalf("serve exited during the flood: %v", c.err)
			default:
			}

			// Nothing of the flood reached the queue, and /metrics, on its
			// own address only, counted every upload as refused.
			if n := queuedJobs(t, dataDir); n != 0 {
				t.Errorf("the flood queued %d jobs", n)
			}
			if code, _ := httpGet(t, c.url+"/metrics"); code != http.StatusNotFound {
				t.Errorf("/metrics on the webhook address: %d, want 404 with --metrics-listen set", code)
			}
			code, metrics := httpGet(t, "http://"+metricsAddr+"/metrics")
			if code != http.StatusOK {
				t.Fatalf("/metrics on %s: %d", metricsAddr, code)
			}
			refused := webhookOutcomes(metrics)
			t.Logf("webhook outcomes: %v", refused)
			total := 0
			for outcome, n := range refused {
				total += n
				if outcome == "accepted" || outcome == "duplicate" || outcome == "ignored" {
					t.Errorf("%d flood uploads counted %s", n, outcome)
				}
			}
			if total != uploads {
				t.Errorf("metrics count %d webhook requests, want %d", total, uploads)
			}
			for status, want := range tt.statuses {
				outcome := map[int]string{http.StatusRequestTimeout: "timeout", http.StatusServiceUnavailable: "busy"}[status]
				if refused[outcome] != want {
					t.Errorf("outcome %s counted %d times, want %d", outcome, refused[outcome], want)
				}
			}

			// The App still works.
			if code, body := deliver(t, c, "after-flood", payload); code != http.StatusAccepted || body != "accepted" {
				t.Errorf("signed delivery after the flood: %d %q, want 202 accepted", code, body)
			}
			if n := queuedJobs(t, dataDir); n != 1 {
				t.Errorf("queue holds %d jobs after one accepted delivery, want 1", n)
			}

			// SIGTERM: a graceful stop that says so.
			if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-c.done:
			case <-time.After(40 * time.Second):
				t.Fatalf("serve did not stop within 40s of SIGTERM")
			}
			out := c.out.String()
			for _, msg := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
				if !strings.Contains(out, msg) {
					t.Errorf("serve's log lacks %s:\n%s", msg, tail(out, 2000))
				}
			}
		})
	}
}

// floodUpload sends one unsigned issue_comment announcing length bytes,
// sends send of them, and returns the status of the answer, or 0 when the
// connection ended without one (the server may close on a sender it
// refused while the sender is still writing).
func floodUpload(t *testing.T, base, delivery string, length, send int64) int {
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Errorf("%s: %v", delivery, err)
		return 0
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	head := fmt.Sprintf("POST /webhook HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-GitHub-Event: issue_comment\r\nX-GitHub-Delivery: %s\r\n\r\n", addr, length, delivery)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Errorf("%s: %v", delivery, err)
		return 0
	}
	// Write and read at once: the answer may come before the body is out.
	status := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	zeros := make([]byte, 64<<10)
	for sent := int64(0); sent < send; {
		n, err := conn.Write(zeros[:min(int64(len(zeros)), send-sent)])
		sent += int64(n)
		if err != nil {
			break // refused and closed by the server
		}
	}
	return <-status
}

type procMem struct{ rss, hwm uint64 }

// readProcMemory reads VmRSS and VmHWM (peak RSS) from /proc/<pid>/status.
func readProcMemory(pid int) (procMem, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, false
	}
	var m procMem
	for line := range strings.Lines(string(data)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return procMem{}, false
		}
		if key == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	return m, m.rss > 0 && m.hwm > 0
}

func procMemory(t *testing.T, pid int) procMem {
	t.Helper()
	m, ok := readProcMemory(pid)
	if !ok {
		t.Fatalf("cannot read VmRSS/VmHWM of pid %d from /proc", pid)
	}
	return m
}

// queuedJobs counts the deliveries in a SQLite queue.
func queuedJobs(t *testing.T, dataDir string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "queue.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'kubewright.delivery'`).Scan(&n); err != nil {
		t.Fatalf("count queued jobs: %v", err)
	}
	return n
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := webhookClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, string(b)
}

// webhookOutcomes sums kubewright_webhook_deliveries_total by outcome from
// a scrape.
func webhookOutcomes(scrape string) map[string]int {
	out := map[string]int{}
	for line := range strings.Lines(scrape) {
		if !strings.HasPrefix(line, "kubewright_webhook_deliveries_total{") {
			continue
		}
		_, rest, _ := strings.Cut(line, `outcome="`)
		outcome, rest, _ := strings.Cut(rest, `"`)
		_, value, _ := strings.Cut(rest, "} ")
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err == nil {
			out[outcome] += int(n)
		}
	}
	return out
}
