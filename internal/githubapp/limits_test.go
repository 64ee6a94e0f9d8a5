package githubapp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// An unauthenticated header must not size anything: the bytes allocated
// by one request follow the bytes received, and an event the handler
// drops costs one reused chunk whatever its size.
func TestWebhookBodyAllocation(t *testing.T) {
	const announced = 25 << 20
	signedPad := func(n int) []byte {
		return []byte(`{"pad":"` + strings.Repeat("x", n) + `"}`)
	}
	tests := []struct {
		name       string
		event      string
		length     int64 // Content-Length announced
		body       []byte
		signed     bool
		wantStatus int
		maxAlloc   uint64 // bytes allocated by the measured call, at most
	}{
		{name: "announces 25 MiB, sends 1 byte, unsigned", event: "issue_comment", length: announced, body: []byte("{"),
			wantStatus: 401, maxAlloc: chunkSize + 16<<10},
		{name: "announces 25 MiB, sends 1 MiB, unsigned", event: "issue_comment", length: announced, body: bytes.Repeat([]byte("x"), 1<<20),
			wantStatus: 401, maxAlloc: 1<<20 + 64<<10},
		{name: "announces more than the cap", event: "issue_comment", length: DefaultMaxBodyBytes + 1, body: []byte("{"),
			wantStatus: 413, maxAlloc: chunkSize + 16<<10},
		{name: "unhandled event of 4 MiB is hashed, not kept", event: "push", body: signedPad(4 << 20), signed: true,
			wantStatus: 202, maxAlloc: 64 << 10},
		{name: "unhandled event of 4 MiB, unsigned", event: "push", body: signedPad(4 << 20),
			wantStatus: 401, maxAlloc: 64 << 10},
	}
	h := NewWebhookHandler([]byte(testSecret), &fakeSink{outcome: Accepted}, WithRegistry(prometheus.NewRegistry()))
	// The chunk pool keeps what a collection would take away.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			request := func() *http.Request {
				req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(tc.body))
				req.ContentLength = tc.length
				if tc.length == 0 {
					req.ContentLength = int64(len(tc.body))
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-GitHub-Event", tc.event)
				req.Header.Set("X-GitHub-Delivery", "d-alloc")
				if tc.signed {
					req.Header.Set("X-Hub-Signature-256", Sign([]byte(testSecret), tc.body))
				}
				return req
			}
			// Once to fill the chunk pool, once measured. sync.Pool is per
			// P, so the measured request may still take a fresh chunk: the
			// bound is one chunk, never the announced length.
			h.ServeHTTP(httptest.NewRecorder(), request())
			req, rec := request(), httptest.NewRecorder()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			h.ServeHTTP(rec, req)
			runtime.ReadMemStats(&after)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d (%q)", rec.Code, tc.wantStatus, rec.Body.String())
			}
			got := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes allocated for %d received, %d announced", got, len(tc.body), req.ContentLength)
			if got > tc.maxAlloc {
				t.Errorf("one request allocated %d bytes, want at most %d", got, tc.maxAlloc)
			}
		})
	}
}

// TestWebhookLimits: slow or large senders hold slots and budget; the
// request that finds neither within the wait gets 503 with Retry-After,
// a body that does not arrive in time 408, and everything held is given
// back when the requests end.
func TestWebhookLimits(t *testing.T) {
	ex := loadExamples(t)
	signed := ex.command(t, "/ai help")
	tests := []struct {
		name   string
		limits Limits
		// hold opens the requests that take the slots or the budget.
		hold []upload
		// held is what the gauges show once they are in.
		held            gauges
		probe           []probe // sent while the holders hold, in order
		then            int     // status of a signed delivery after the holders are gone
		wantOutcomes    map[string]float64
		completeHolders bool // the holders send the rest of a signed body instead of hanging up
	}{
		{
			name:   "bodies in flight are capped",
			limits: Limits{InFlight: 2, Wait: 100 * time.Millisecond, ReadTimeout: 5 * time.Second},
			hold:   []upload{{event: "issue_comment", length: 25 << 20, send: 1}, {event: "push", length: 25 << 20, send: 1}},
			held:   gauges{inFlight: 2, buffered: 2 * chunkSize},
			probe: []probe{
				{event: "issue_comment", status: 503, body: "busy: too many webhook requests in flight", retryAfter: "5"},
				{event: "ping", status: 503, body: "busy", retryAfter: "5"},
			},
			then:         202,
			wantOutcomes: map[string]float64{"busy": 2, "accepted": 1},
		},
		{
			name:   "buffered bytes are capped",
			limits: Limits{InFlight: 8, Bytes: 2 * chunkSize, Wait: 100 * time.Millisecond, ReadTimeout: 5 * time.Second},
			hold:   []upload{{event: "issue_comment", length: 2 * chunkSize, send: chunkSize + 1}},
			held:   gauges{inFlight: 1, buffered: 2 * chunkSize},
			probe: []probe{
				{event: "issue_comment", status: 503, body: "busy: too many webhook bytes buffered", retryAfter: "5"},
				{event: "push", status: 503, body: "busy: too many webhook bytes buffered", retryAfter: "5"},
			},
			then:         202,
			wantOutcomes: map[string]float64{"over_budget": 2, "accepted": 1},
		},
		{
			name:   "a body that does not arrive in time is cut off",
			limits: Limits{ReadTimeout: time.Second},
			hold:   []upload{{event: "issue_comment", length: 25 << 20, send: 1, status: 408}},
			held:   gauges{inFlight: 1, buffered: chunkSize},
			then:   202,
			wantOutcomes: map[string]float64{
				"timeout": 1, "accepted": 1},
		},
		{
			name:            "a request waits briefly for a slot rather than failing",
			limits:          Limits{InFlight: 1, Wait: 5 * time.Second, ReadTimeout: 8 * time.Second},
			hold:            []upload{{event: "issue_comment", signed: signed, send: 10, status: 202}},
			held:            gauges{inFlight: 1, buffered: chunkSize},
			probe:           []probe{{event: "issue_comment", status: 202, body: "accepted", concurrent: true}},
			completeHolders: true,
			then:            202,
			wantOutcomes:    map[string]float64{"accepted": 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			sink := &fakeSink{outcome: Accepted}
			srv := httptest.NewServer(NewWebhookHandler([]byte(testSecret), sink, WithRegistry(reg), WithLimits(tc.limits)))
			defer srv.Close()

			conns := make([]net.Conn, len(tc.hold))
			for i, u := range tc.hold {
				conns[i] = u.open(t, srv.URL, fmt.Sprintf("hold-%d", i))
				defer conns[i].Close()
			}
			waitGauges(t, reg, tc.held)

			var wg sync.WaitGroup
			for i, p := range tc.probe {
				send := func() {
					resp := post(t, srv.URL, p.event, fmt.Sprintf("probe-%d", i), signed)
					if resp.status != p.status || !strings.Contains(resp.body, p.body) || resp.retryAfter != p.retryAfter {
						t.Errorf("probe %d (%s): %d %q Retry-After %q, want %d %q Retry-After %q",
							i, p.event, resp.status, resp.body, resp.retryAfter, p.status, p.body, p.retryAfter)
					}
				}
				if p.concurrent {
					wg.Go(send)
					continue
				}
				send()
			}
			if tc.completeHolders {
				time.Sleep(200 * time.Millisecond) // the concurrent probes are waiting by now
			}
			for i, u := range tc.hold {
				if tc.completeHolders {
					u.finish(t, conns[i])
				}
				if u.status != 0 {
					if got := readStatus(t, conns[i]); got != u.status {
						t.Errorf("holder %d: status %d, want %d", i, got, u.status)
					}
				}
				conns[i].Close()
			}
			wg.Wait()
			waitGauges(t, reg, gauges{})

			if resp := post(t, srv.URL, "issue_comment", "after", signed); resp.status != tc.then {
				t.Errorf("after the holders: %d %q, want %d", resp.status, resp.body, tc.then)
			}
			for outcome, want := range tc.wantOutcomes {
				if got := counterValue(t, reg, "kubewright_webhook_deliveries_total", "outcome", outcome); got != want {
					t.Errorf("deliveries_total{outcome=%q} = %v, want %v", outcome, got, want)
				}
			}
			if got, want := len(sink.calls()), int(tc.wantOutcomes["accepted"]); got != want {
				t.Errorf("sink saw %d deliveries, want %d", got, want)
			}
		})
	}
}

// upload is a request sent in part over a raw connection, to hold what it
// takes while the test probes.
type upload struct {
	event  string
	length int64  // Content-Length; len(signed) when signed is set
	signed []byte // a signed body, of which send bytes go out first
	send   int    // body bytes sent before holding
	status int    // the status it ends with, if the test waits for it (0: it is cut off)
}

func (u upload) open(t *testing.T, base, delivery string) net.Conn {
	t.Helper()
	addr, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr.Host)
	if err != nil {
		t.Fatal(err)
	}
	length, sig, body := u.length, "", bytes.Repeat([]byte("x"), u.send)
	if u.signed != nil {
		length, sig, body = int64(len(u.signed)), Sign([]byte(testSecret), u.signed), u.signed[:u.send]
	}
	head := fmt.Sprintf("POST /webhook HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-GitHub-Event: %s\r\nX-GitHub-Delivery: %s\r\n",
		addr.Host, length, u.event, delivery)
	if sig != "" {
		head += "X-Hub-Signature-256: " + sig + "\r\n"
	}
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(body); err != nil {
		t.Fatal(err)
	}
	return c
}

// finish sends the rest of a signed body.
func (u upload) finish(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := c.Write(u.signed[u.send:]); err != nil {
		t.Fatal(err)
	}
}

func readStatus(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Errorf("reading the response: %v", err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// probe is a whole signed request sent while the holders hold.
type probe struct {
	event      string
	status     int
	body       string
	retryAfter string
	concurrent bool // sent on its own goroutine, answered after the holders finish
}

type probeResponse struct {
	status     int
	body       string
	retryAfter string
}

var limitsClient = &http.Client{Timeout: 15 * time.Second}

func post(t *testing.T, base, event, delivery string, body []byte) probeResponse {
	req, err := http.NewRequest(http.MethodPost, base+"/webhook", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return probeResponse{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", Sign([]byte(testSecret), body))
	resp, err := limitsClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", delivery, err)
		return probeResponse{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return probeResponse{resp.StatusCode, strings.TrimSpace(string(b)), resp.Header.Get("Retry-After")}
}

type gauges struct{ inFlight, buffered float64 }

// waitGauges waits until the limit gauges read want; the server's side of
// a request runs on its own after the client wrote or hung up.
func waitGauges(t *testing.T, reg *prometheus.Registry, want gauges) {
	t.Helper()
	var got gauges
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		got = gauges{gaugeValue(t, reg, "kubewright_webhook_bodies_in_flight"), gaugeValue(t, reg, "kubewright_webhook_buffered_bytes")}
		if got == want {
			return
		}
	}
	t.Fatalf("gauges %+v, want %+v", got, want)
}

// The read deadline bounds the body only: a sink call that outlasts it
// still completes. (net/http lifts the deadline when the body ends; were
// it kept, the read that watches for a hang-up would time out and cancel
// the request's context, and with it the sink's.)
func TestWebhookReadDeadlineSparesTheSink(t *testing.T) {
	ex := loadExamples(t)
	sink := slowSink(600 * time.Millisecond)
	srv := httptest.NewServer(NewWebhookHandler([]byte(testSecret), sink, WithRegistry(prometheus.NewRegistry()),
		WithLimits(Limits{ReadTimeout: 200 * time.Millisecond})))
	defer srv.Close()
	if resp := post(t, srv.URL, "issue_comment", "d-slow-sink", ex.command(t, "/ai help")); resp.status != http.StatusAccepted {
		t.Errorf("%d %q, want 202 accepted", resp.status, resp.body)
	}
}

// slowSink accepts after a delay, unless the context ends first.
type slowSink time.Duration

var _ Sink = slowSink(0)

func (s slowSink) Accept(ctx context.Context, _ Delivery) (Outcome, error) {
	select {
	case <-time.After(time.Duration(s)):
		return Accepted, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
