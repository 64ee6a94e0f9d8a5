package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// prometheusBinary finds the prometheus binary ($PROMETHEUS, then PATH).
// When it is missing it runs `make prometheus` (the Makefile's idempotent
// install) if it can, and skips only when that is impossible.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMETHEUS"); p != "" {
		return p
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		t.Skip("prometheus is not installed and cannot be installed here (needs root and apt-get): run `make prometheus`")
	}
	out, err := exec.Command("make", "-C", filepath.Join("..", "..", ".."), "prometheus").CombinedOutput()
	if err != nil {
		t.Skipf("prometheus is not installed and `make prometheus` failed: %v\n%s", err, out)
	}
	p, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("`make prometheus` ran but no prometheus binary is on PATH")
	}
	return p
}

// exporter serves cAdvisor-style series for two order-service pods
// (steady CPU of 0.115 and 0.080 cores; working sets cycling 96-108Mi and
// a flat 80Mi), the pod's pause container and cgroup, and a
// product-service pod that must not be counted.
type exporter struct {
	mu      sync.Mutex
	start   time.Time
	scrapes int
}

type fakePod struct {
	ns, pod, container string
	cores              float64
	mem                func(n int) float64
}

const mi = 1 << 20

var fakePods = []fakePod{
	{"order-service", "order-service-7d9c5b6f4-x2k9q", "order-service", 0.115, func(n int) float64 { return float64(96+3*(n%5)) * mi }},
	{"order-service", "order-service-7d9c5b6f4-m8w4z", "order-service", 0.080, func(int) float64 { return 80 * mi }},
	{"order-service", "order-service-7d9c5b6f4-x2k9q", "POD", 0.001, func(int) float64 { return 1 * mi }},
	{"order-service", "order-service-7d9c5b6f4-x2k9q", "", 0.2, func(int) float64 { return 300 * mi }},
	{"product-service", "product-service-5b7f8c9d6-q7r2t", "product-service", 0.9, func(int) float64 { return 900 * mi }},
}

func (e *exporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	e.scrapes++
	n := e.scrapes
	e.mu.Unlock()
	elapsed := time.Since(e.start).Seconds()
	var b strings.Builder
	b.WriteString("# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.\n# TYPE container_cpu_usage_seconds_total counter\n")
	for i, p := range fakePods {
		fmt.Fprintf(&b, "container_cpu_usage_seconds_total{container=%q,cpu=\"total\",id=\"/kubepods/burstable/pod%d\",image=\"ghcr.io/acme/%s:0.1.0\",namespace=%q,pod=%q} %.6f\n",
			p.container, i, p.ns, p.ns, p.pod, 1000+p.cores*elapsed)
	}
	b.WriteString("# HELP container_memory_working_set_bytes Current working set in bytes.\n# TYPE container_memory_working_set_bytes gauge\n")
	for i, p := range fakePods {
		fmt.Fprintf(&b, "container_memory_working_set_bytes{container=%q,id=\"/kubepods/burstable/pod%d\",image=\"ghcr.io/acme/%s:0.1.0\",namespace=%q,pod=%q} %.0f\n",
			p.container, i, p.ns, p.ns, p.pod, p.mem(n))
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

// freePort returns a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs Prometheus on loopback, scraping target every
// second, until the test ends.
func startPrometheus(t *testing.T, target string) string {
	bin := prometheusBinary(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: cadvisor
    honor_labels: true
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "http://" + addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready after 30s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRecommendFromPrometheus right-sizes order-service's container from
// a real Prometheus scraping cAdvisor-style series, and checks every
// number against what the exporter produced.
func TestRecommendFromPrometheus(t *testing.T) {
	exp := &exporter{start: time.Now()}
	srv := httptest.NewServer(exp)
	defer srv.Close()
	url := startPrometheus(t, strings.TrimPrefix(srv.URL, "http://"))
	c, err := New(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.RateWindow = 5 * time.Second
	c.MinSamples = 30
	target := Target{Namespace: "order-service", Workload: "order-service", Kind: "Deployment", Container: "order-service", Window: 30 * time.Second}
	var rec *Recommendation
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec, err = c.Recommend(context.Background(), target)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "samples") || time.Now().After(deadline) {
			t.Fatalf("no recommendation after %d scrapes: %v", exp.scrapes, err)
		}
		time.Sleep(time.Second)
	}
	t.Logf("after %d scrapes: %d samples of %d pods, queries took %v; cpu p95 %s max %s → %s/%s; memory p95 %s max %s → %s/%s",
		exp.scrapes, rec.Samples, rec.Pods, rec.Took, rec.CPU.P95, rec.CPU.Max, rec.CPU.Request, rec.CPU.Limit, rec.Memory.P95, rec.Memory.Max, rec.Memory.Request, rec.Memory.Limit)
	if rec.Pods != 2 {
		t.Errorf("%d pods counted, want the 2 order-service pods (not the pause container, the pod cgroup or product-service)", rec.Pods)
	}
	// CPU comes from rate() over scrape timestamps, which jitter on a busy
	// machine: the observed values are checked loosely, and the
	// recommendation exactly against them. Memory gauges are exact.
	if rec.CPU.P95Value < 0.105 || rec.CPU.P95Value > 0.125 || rec.CPU.MaxValue > 0.135 {
		t.Errorf("cpu p95 %v max %v, want about 0.115 cores", rec.CPU.P95Value, rec.CPU.MaxValue)
	}
	if req, _ := cpuQuantity(rec.CPU.P95Value * RequestFactor); rec.CPU.Request != req {
		t.Errorf("cpu request %s, want %s (p95 %v × %v)", rec.CPU.Request, req, rec.CPU.P95Value, RequestFactor)
	}
	if lim, _ := cpuQuantity(rec.CPU.MaxValue * LimitFactor); rec.CPU.Limit != lim {
		t.Errorf("cpu limit %s, want %s (max %v × %v)", rec.CPU.Limit, lim, rec.CPU.MaxValue, LimitFactor)
	}
	if rec.Memory.P95Value != 108*mi || rec.Memory.MaxValue != 108*mi || rec.Memory.Request != "144Mi" || rec.Memory.Limit != "176Mi" {
		t.Errorf("memory %+v, want p95 and max 108Mi, request 144Mi (108×1.2 up to 16Mi), limit 176Mi (108×1.5 up to 16Mi)", rec.Memory)
	}
	if rec.Window != "30s" || rec.Step != "1s" || len(rec.Queries) != 2 || !strings.Contains(rec.Queries[0], `rate(container_cpu_usage_seconds_total{namespace="order-service",pod=~"order-service-[a-z0-9]+-[a-z0-9]+",container="order-service"}[5s])`) {
		t.Errorf("recommendation metadata: %+v", rec)
	}

	// A query Prometheus refuses comes back as its error.
	if _, err := c.QueryRange(context.Background(), "rate(", time.Now().Add(-time.Minute), time.Now(), time.Second); err == nil || !strings.Contains(err.Error(), "Prometheus refused the query: bad_data") {
		t.Errorf("a bad query: %v", err)
	}
	// A workload with no series has too few samples, and says what to do.
	_, err = c.Recommend(context.Background(), Target{Namespace: "order-service", Workload: "missing", Container: "missing", Window: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "only 0 samples") || !strings.Contains(err.Error(), "widen --window") {
		t.Errorf("a workload without series: %v", err)
	}
}
