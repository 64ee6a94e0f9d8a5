package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/finding"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// secretPath is the webhook's secret part, as Slack's URLs carry it.
const secretPath = "/services/T0KW/B0KW/xoxsecretW3bh00kT0ken"

// hook is a webhook on 127.0.0.1 that records what it is sent and
// answers with answer.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	paths  []string
}

func newHook(t *testing.T, answer http.HandlerFunc) *hook {
	t.Helper()
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies, h.heads, h.paths = append(h.bodies, b), append(h.heads, r.Header.Clone()), append(h.paths, r.Method+" "+r.URL.RequestURI())
		h.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url() string { return h.srv.URL + secretPath }

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// noSecret fails when s shows the webhook's secret.
func noSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, part := range []string{"xoxsecretW3bh00kT0ken", "B0KW", secretPath} {
		if strings.Contains(s, part) {
			t.Errorf("%s shows the webhook URL (%q): %s", what, part, s)
		}
	}
}

func TestNewChecksTheURL(t *testing.T) {
	for _, tt := range []struct {
		url, want string
	}{
		{"https://hooks.slack.com" + secretPath, ""},
		{"http://127.0.0.1:8080" + secretPath, ""},
		{"http://127.3.2.1" + secretPath, ""},
		{"http://[::1]:9" + secretPath, ""},
		{"http://localhost" + secretPath, ""},
		{"http://hooks.slack.com" + secretPath, "plain http to hooks.slack.com, which is not a loopback address: use its https URL"},
		{"http://10.0.0.7" + secretPath, "plain http to 10.0.0.7"},
		{"http://127.0.0.1.nip.io" + secretPath, "plain http to 127.0.0.1.nip.io"},
		{"ftp://example.com" + secretPath, `scheme "ftp" is not https`},
		{"hooks.slack.com" + secretPath, "not a valid URL"},
		{"https://user:xoxsecretW3bh00kT0ken@example.com/x", "carries a user and password"},
		{"https://exa mple.com" + secretPath, "not a valid URL"},
		{"", "not a valid URL"},
	} {
		w, err := New(tt.url)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("New(%q): %v", tt.url, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("New(%q): err = %v, want %q", tt.url, err, tt.want)
		case tt.want != "" && w != nil:
			t.Errorf("New(%q): a webhook with an error", tt.url)
		}
		if err != nil {
			noSecret(t, "the error for "+tt.url, err.Error())
		}
	}
}

// report is a diagnosis with a root cause, findings whose text carries
// mrkdwn and a secret, and notes.
func report() *diagnose.Report {
	r := &diagnose.Report{Namespace: "shop", Service: "orders", Notes: []string{"cannot list nodes cluster-wide: forbidden"},
		Stats: diagnose.Stats{Pods: 2, FailingPods: 2}}
	r.Findings = []diagnose.Finding{
		{Finding: finding.Finding{ID: "KW-DIAG-001", Severity: finding.Error, Object: "Deployment/shop/orders", File: "k8s/orders/deployment.yaml", Line: 17,
			Message: "container api keeps crashing: <!channel> see `postgres://orders:Sup3rS3cretPassw0rd@db/orders` & retry"}},
		{Finding: finding.Finding{ID: "KW-DIAG-011", Severity: finding.Error, Object: "Service/shop/orders", File: "k8s/orders/service.yaml", Line: 1,
			Message: "Service orders has no ready endpoint"}},
	}
	r.RootCause = &diagnose.RootCause{Causes: []diagnose.Cause{{Rank: 1, Cause: "ORDERS_QUEUE_URL is not set <https://evil.example|click>", Finding: "KW-DIAG-001",
		Evidence: []string{"panic: config: ORDERS_QUEUE_URL is required"}, Fix: "add ORDERS_QUEUE_URL to k8s/orders/deployment.yaml:17"}}}
	return r
}

// A diagnosis is posted as one JSON message (golden), escaped and
// redacted.
func TestNotifyDiagnosis(t *testing.T) {
	h := newHook(t, ok)
	w, err := New(h.url())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Post(context.Background(), Diagnosis(report())); err != nil {
		t.Fatal(err)
	}
	if len(h.bodies) != 1 || h.paths[0] != "POST "+secretPath || !strings.HasPrefix(h.heads[0].Get("Content-Type"), "application/json") {
		t.Fatalf("requests %q, content type %q", h.paths, h.heads[0].Get("Content-Type"))
	}
	var m Message
	dec := json.NewDecoder(bytes.NewReader(h.bodies[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("the body is not a webhook message: %v\n%s", err, h.bodies[0])
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, h.bodies[0], "", "  "); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "diagnosis.json"), append(pretty.Bytes(), '\n'))
	body := string(h.bodies[0])
	for _, bad := range []string{"Sup3rS3cretPassw0rd", "<!channel>", "<https://evil.example|click>"} {
		if strings.Contains(body, bad) || strings.Contains(m.Text, bad) {
			t.Errorf("the message carries %q:\n%s", bad, m.Text)
		}
	}
	if !strings.Contains(m.Text, "&lt;!channel&gt;") || !strings.Contains(m.Text, "KW-DIAG-001") || !strings.Contains(m.Text, "Likely root cause") {
		t.Errorf("text:\n%s", m.Text)
	}
}

// A webhook that refuses is a clear error; the URL, which is the
// webhook's secret, is in no error, even when the answer quotes it.
func TestNotifyErrors(t *testing.T) {
	msg := Message{Text: "hello"}
	t.Run("non-2xx", func(t *testing.T) {
		h := newHook(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no_service: no webhook at "+r.URL.Path, http.StatusNotFound)
		})
		w, _ := New(h.url())
		err := w.Post(context.Background(), msg)
		want := fmt.Sprintf("notify %s: the webhook answered 404: no_service: no webhook at [webhook URL] (check the URL, and that the webhook is still enabled)", h.srv.Listener.Addr())
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant  %s", err, want)
		}
		noSecret(t, "the error", err.Error())
	})
	t.Run("redirect not followed", func(t *testing.T) {
		h := newHook(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		})
		w, _ := New(h.url())
		err := w.Post(context.Background(), msg)
		if err == nil || !strings.Contains(err.Error(), "answered 302") || len(h.paths) != 1 {
			t.Fatalf("err = %v after %q", err, h.paths)
		}
		noSecret(t, "the error", err.Error())
	})
	t.Run("nothing listening", func(t *testing.T) {
		h := newHook(t, ok)
		u := h.url()
		h.srv.Close()
		w, _ := New(u)
		err := w.Post(context.Background(), msg)
		if err == nil || !strings.Contains(err.Error(), "the post failed") || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("err = %v", err)
		}
		noSecret(t, "the error", err.Error())
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan struct{})
		h := newHook(t, func(w http.ResponseWriter, r *http.Request) {
			close(got)
			<-r.Context().Done()
		})
		w, _ := New(h.url())
		done := make(chan error, 1)
		go func() { done <- w.Post(ctx, msg) }()
		<-got
		cancel()
		err := <-done
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("err = %v", err)
		}
		noSecret(t, "the error", err.Error())
	})
}

// Whatever it is given, a message stays within its bounds, and its text
// is redacted.
func TestNotifyBounds(t *testing.T) {
	h := newHook(t, ok)
	w, _ := New(h.url())
	big := Message{Text: strings.Repeat("a line of text password=hunter2hunter2 é\n", 5000)}
	for range 50 {
		big.Blocks = append(big.Blocks, Section(strings.Repeat("x", 5000)), Context(strings.Repeat("y", 5000)))
	}
	if err := w.Post(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	r := report()
	for i := range 40 {
		r.Findings = append(r.Findings, r.Findings[i%2])
	}
	if err := w.Post(context.Background(), Diagnosis(r)); err != nil {
		t.Fatal(err)
	}
	for i, b := range h.bodies {
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if len(b) > MaxBody || len(m.Blocks) > maxBlocks || strings.Contains(string(b), "hunter2hunter2") {
			t.Errorf("body %d: %d bytes, %d blocks, redacted %v", i, len(b), len(m.Blocks), !strings.Contains(string(b), "hunter2hunter2"))
		}
		for _, bl := range m.Blocks {
			if bl.Text != nil && len(bl.Text.Text) > maxBlockText {
				t.Errorf("body %d: a block of %d bytes", i, len(bl.Text.Text))
			}
		}
	}
	var m Message
	_ = json.Unmarshal(h.bodies[1], &m)
	if !strings.Contains(m.Text, "_and 34 more findings_") {
		t.Errorf("the findings are not cut at %d:\n%s", shownFindings, m.Text)
	}
	if w.client.Timeout != Timeout || Timeout.Seconds() != 10 {
		t.Errorf("timeout %v", w.client.Timeout)
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/notify -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./internal/notify -update rewrites it); got:\n%s", file, got)
	}
}
