package llm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

func TestProposeRetries(t *testing.T) {
	tests := []struct {
		name       string
		first      llmtest.Reply
		maxBackoff time.Duration
		wantWait   time.Duration
	}{
		{"429 Retry-After seconds", llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "2"}}, 0, 2 * time.Second},
		{"429 retry-after-ms", llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After-Ms": "1500"}}, 0, 1500 * time.Millisecond},
		{"429 Retry-After capped", llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "3600"}}, 5 * time.Second, 5 * time.Second},
		// Without Retry-After: the 500ms base, upper half jittered (0 here).
		{"503", llmtest.Reply{Status: 503}, 0, 250 * time.Millisecond},
		{"502 with body", llmtest.Reply{Status: 502, Body: "<html>bad gateway</html>"}, 0, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tt.first, llmtest.Reply{Proposal: sample()})
			cfg := srv.Config()
			cfg.MaxBackoff = tt.maxBackoff
			c, sl := newClient(t, cfg)
			p, _, err := c.Propose(context.Background(), request())
			if err != nil {
				t.Fatalf("Propose: %v", err)
			}
			if !reflect.DeepEqual(p, sample()) {
				t.Errorf("proposal = %+v", p)
			}
			if n := len(srv.Requests()); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
			if got := sl.got(); !slices.Equal(got, []time.Duration{tt.wantWait}) {
				t.Errorf("waits = %v, want [%v]", got, tt.wantWait)
			}
		})
	}
}

func TestProposeBackoffGrowsAndGivesUp(t *testing.T) {
	var script []llmtest.Reply
	for range 4 {
		script = append(script, llmtest.Reply{Status: 429})
	}
	srv := llmtest.NewServer(t, script...)
	cfg := srv.Config()
	cfg.MaxRetries = 3
	cfg.MaxBackoff = 1500 * time.Millisecond
	c, sl := newClient(t, cfg)
	_, _, err := c.Propose(context.Background(), request())
	if err == nil || !strings.Contains(err.Error(), "llm repair: 429 from provider") {
		t.Fatalf("err = %v, want a 429 from provider", err)
	}
	var pe *llm.ProviderError
	if !errors.As(err, &pe) || pe.StatusCode != 429 || pe.Agent != "repair" {
		t.Errorf("err %v is not a ProviderError with status 429", err)
	}
	// 500ms, 1s, 2s capped at 1.5s; each halved by the jitter.
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond}
	if got := sl.got(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestProposeNonRetryableErrors(t *testing.T) {
	tests := []struct {
		name   string
		reply  llmtest.Reply
		format string
		want   string
	}{
		{"400", llmtest.Reply{Status: 400, Body: errorBody("messages: too long")}, llm.FormatJSONSchema,
			"llm repair: 400 from provider: messages: too long"},
		{"401", llmtest.Reply{Status: 401, Body: errorBody("Incorrect API key provided")}, llm.FormatAuto,
			"llm repair: 401 from provider: Incorrect API key provided (check KUBEWRIGHT_LLM_API_KEY"},
		{"404", llmtest.Reply{Status: 404, Body: errorBody("The model `nope` does not exist")}, llm.FormatAuto,
			"llm repair: 404 from provider: The model `nope` does not exist (check KUBEWRIGHT_LLM_MODEL"},
		{"404 without JSON", llmtest.Reply{Status: 404, Body: "not here"}, llm.FormatAuto,
			"llm repair: 404 from provider: not here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tt.reply)
			cfg := srv.Config()
			cfg.ResponseFormat = tt.format
			c, sl := newClient(t, cfg)
			p, u, err := c.Propose(context.Background(), request())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if p != nil || u != (llm.Usage{}) {
				t.Errorf("got proposal %v usage %v with the error", p, u)
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if len(sl.got()) != 0 {
				t.Errorf("waited %v", sl.got())
			}
		})
	}
}

// deadURL is a base URL on 127.0.0.1 where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/v1"
}

func TestProposeRetriesNetworkErrors(t *testing.T) {
	cfg := llm.Config{BaseURL: deadURL(t), Model: "m", MaxRetries: 2}
	c, sl := newClient(t, cfg)
	_, _, err := c.Propose(context.Background(), request())
	if err == nil || !strings.HasPrefix(err.Error(), "llm repair: ") {
		t.Fatalf("err = %v, want a network error naming the agent", err)
	}
	if n := len(sl.got()); n != 2 {
		t.Errorf("%d waits, want 2 (one per retry)", n)
	}
}

func TestProposeAttemptTimeoutIsRetried(t *testing.T) {
	content := mustJSON(t, sample())
	var (
		mu    sync.Mutex
		calls int
	)
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			// Hang until the client gives the attempt up.
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, content)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(release) }) // runs before hs.Close
	c, sl := newClient(t, llm.Config{BaseURL: hs.URL + "/v1", Model: "m", Timeout: 300 * time.Millisecond})
	p, _, err := c.Propose(context.Background(), request())
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if !reflect.DeepEqual(p, sample()) || len(sl.got()) != 1 {
		t.Errorf("proposal %+v after waits %v", p, sl.got())
	}
}

func TestProposeCancelledDuringBackoff(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "30"}})
	c, err := llm.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan time.Duration, 1)
	llm.SetSleep(c, func(ctx context.Context, d time.Duration) error {
		waiting <- d
		return llm.SleepCtx(ctx, d) // the real wait
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Propose(ctx, request())
		done <- err
	}()
	if d := <-waiting; d != 30*time.Second {
		t.Errorf("wait = %v, want 30s", d)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Propose did not return after the context was cancelled")
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header map[string]string
		want   time.Duration
		ok     bool
	}{
		{map[string]string{"Retry-After": "2"}, 2 * time.Second, true},
		{map[string]string{"Retry-After": "0"}, 0, true},
		{map[string]string{"Retry-After": now.Add(10 * time.Second).Format(http.TimeFormat)}, 10 * time.Second, true},
		{map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0, true},
		{map[string]string{"Retry-After": "soon"}, 0, false},
		{map[string]string{"Retry-After": "-3"}, 0, false},
		{map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond, true},
		{map[string]string{}, 0, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		got, ok := llm.RetryAfter(h, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%v) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}
