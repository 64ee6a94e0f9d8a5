package githubapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubewright/kubewright/internal/request"
)

const testSecret = "It's a Secret to Everybody"

// fakeSink records deliveries and answers with a set outcome or error.
// With block set it waits for the context to end (a stuck database).
type fakeSink struct {
	mu      sync.Mutex
	outcome Outcome
	err     error
	block   bool
	got     []Delivery
}

var _ Sink = (*fakeSink)(nil)

func (s *fakeSink) Accept(ctx context.Context, d Delivery) (Outcome, error) {
	if s.block {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	s.got = append(s.got, d)
	return s.outcome, nil
}

func (s *fakeSink) calls() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.got...)
}

type signMode int

const (
	signValid    signMode = iota
	signNone              // no X-Hub-Signature-256
	signWrong             // signed with another secret
	signSHA1Only          // only the legacy X-Hub-Signature header
	signGarbage           // not a signature at all
)

func TestWebhookHandler(t *testing.T) {
	ex := loadExamples(t)

	// The examples' comment holds no command and their issues carry the
	// label "bug": what the job acts on needs a command and the trigger
	// label.
	chat := ex.get(t, "issue_comment", "created")
	comment := withField(t, chat, "/ai help", "comment", "body")
	botComment := withField(t, withField(t, comment, "Bot", "comment", "user", "type"), "ci[bot]", "comment", "user", "login")
	opened := withInstallation(t, ex.get(t, "issues", "opened"), 42)
	issueOpened := withField(t, opened, []any{map[string]any{"name": "bug"}, map[string]any{"name": DefaultTriggerLabel}}, "issue", "labels")
	labeled := withInstallation(t, ex.get(t, "issues", "labeled"), 42)
	issueLabeled := withField(t, labeled, DefaultTriggerLabel, "label", "name")
	botLabeled := withField(t, issueLabeled, "Bot", "sender", "type")
	prOpened := ex.get(t, "pull_request", "opened")
	prSync := ex.get(t, "pull_request", "synchronize")
	reviewComment := ex.get(t, "pull_request_review_comment", "created")
	installCreated := ex.get(t, "installation", "created")
	reposAdded := ex.get(t, "installation_repositories", "added")
	ping := ex.get(t, "ping", "")
	push := ex.get(t, "push", "")
	edited := withInstallation(t, ex.get(t, "issue_comment", "edited"), 42)
	deleted := withInstallation(t, ex.get(t, "issue_comment", "deleted"), 42)
	prClosed := ex.get(t, "pull_request", "closed")
	noInstallation := withoutInstallation(t, comment)
	form := []byte(url.Values{"payload": {string(comment)}}.Encode())

	type want struct {
		status       int
		body         string // substring of the reply
		outcome      string // metric outcome label
		metricEvent  string // metric event label (default: the event)
		sinkCalls    int
		installation int64
		repo         string
		trigger      request.Trigger // of Delivery.Request
	}
	tests := []struct {
		name          string
		method        string
		event         string
		delivery      string
		noDelivery    bool
		contentType   string // default application/json
		body          []byte
		sign          signMode
		maxBody       int64
		unknownLength bool
		sink          *fakeSink // nil: a sink that accepts
		want          want
	}{
		{name: "issue_comment created is accepted", event: "issue_comment", body: comment,
			want: want{status: 202, body: "accepted", outcome: "accepted", sinkCalls: 1, installation: 1, repo: "Codertocat/Hello-World", trigger: request.Comment}},
		{name: "issues opened is accepted", event: "issues", body: issueOpened,
			want: want{status: 202, body: "accepted", outcome: "accepted", sinkCalls: 1, installation: 42, repo: "Codertocat/Hello-World", trigger: request.Label}},
		{name: "issues labeled is accepted", event: "issues", body: issueLabeled,
			want: want{status: 202, body: "accepted", outcome: "accepted", sinkCalls: 1, installation: 42, repo: "Codertocat/Hello-World", trigger: request.Label}},
		// internal/job does nothing with these yet, so they are not queued.
		// Pull requests are reviewed when they open and when they move.
		{name: "pull_request opened is accepted", event: "pull_request", body: prOpened,
			want: want{status: 202, body: "accepted", outcome: "accepted", sinkCalls: 1, installation: prInstallation(t, prOpened), repo: "Codertocat/Hello-World", trigger: request.PullRequest}},
		{name: "pull_request synchronize is accepted", event: "pull_request", body: prSync,
			want: want{status: 202, body: "accepted", outcome: "accepted", sinkCalls: 1, installation: prInstallation(t, prSync), repo: "Codertocat/Hello-World", trigger: request.PullRequest}},
		{name: "pull_request_review_comment created is ignored", event: "pull_request_review_comment", body: reviewComment,
			want: want{status: 202, body: "ignored: event pull_request_review_comment is not handled", outcome: "ignored"}},
		{name: "installation created is ignored", event: "installation", body: installCreated,
			want: want{status: 202, body: "ignored: event installation is not handled", outcome: "ignored"}},
		{name: "installation_repositories added is ignored", event: "installation_repositories", body: reposAdded,
			want: want{status: 202, body: "ignored: event installation_repositories is not handled", outcome: "ignored"}},
		{name: "comment without a command is ignored", event: "issue_comment", body: chat,
			want: want{status: 202, body: "ignored: comment holds no /ai command", outcome: "ignored"}},
		{name: "comment by a bot is ignored", event: "issue_comment", body: botComment,
			want: want{status: 202, body: "ignored: comment by a bot", outcome: "ignored"}},
		{name: "issue opened without the trigger label is ignored", event: "issues", body: opened,
			want: want{status: 202, body: "ignored: issue does not carry the trigger label", outcome: "ignored"}},
		{name: "issue given another label is ignored", event: "issues", body: labeled,
			want: want{status: 202, body: "ignored: issue does not carry the trigger label", outcome: "ignored"}},
		{name: "trigger label set by a bot is ignored", event: "issues", body: botLabeled,
			want: want{status: 202, body: "ignored: label set by a bot", outcome: "ignored"}},
		{name: "invalid signature on an unhandled event is still refused", event: "pull_request", body: prOpened, sign: signWrong,
			want: want{status: 401, body: "unauthorized", outcome: "bad_signature"}},
		{name: "form-encoded delivery is accepted", event: "issue_comment", body: form, contentType: "application/x-www-form-urlencoded",
			want: want{status: 202, body: "accepted", outcome: "accepted", sinkCalls: 1, installation: 1, repo: "Codertocat/Hello-World", trigger: request.Comment}},
		{name: "content type with charset is accepted", event: "issue_comment", body: comment, contentType: "application/json; charset=utf-8",
			want: want{status: 202, body: "accepted", outcome: "accepted", sinkCalls: 1, installation: 1, repo: "Codertocat/Hello-World", trigger: request.Comment}},
		{name: "duplicate delivery is acknowledged", event: "issue_comment", body: comment, sink: &fakeSink{outcome: Duplicate},
			want: want{status: 202, body: "duplicate", outcome: "duplicate", sinkCalls: 1, installation: 1, repo: "Codertocat/Hello-World", trigger: request.Comment}},

		{name: "edited comment is ignored", event: "issue_comment", body: edited,
			want: want{status: 202, body: "ignored: action edited", outcome: "ignored"}},
		{name: "deleted comment is ignored", event: "issue_comment", body: deleted,
			want: want{status: 202, body: "ignored: action deleted", outcome: "ignored"}},
		{name: "closed pull request is ignored", event: "pull_request", body: prClosed,
			want: want{status: 202, body: "ignored: pull request closed without a merge", outcome: "ignored"}},
		{name: "relevant event without installation is ignored", event: "issue_comment", body: noInstallation,
			want: want{status: 202, body: "no installation", outcome: "ignored"}},
		{name: "push is ignored", event: "push", body: push,
			want: want{status: 202, body: "ignored: event push", outcome: "ignored"}},
		{name: "unknown event is ignored", event: "made_up_event", body: []byte(`{"action":"created"}`),
			want: want{status: 202, body: "ignored", outcome: "ignored", metricEvent: "unknown"}},
		{name: "ping is answered without the sink", event: "ping", body: ping,
			want: want{status: 200, body: "pong", outcome: "ignored"}},

		{name: "bad signature", event: "issue_comment", body: comment, sign: signWrong,
			want: want{status: 401, body: "unauthorized", outcome: "bad_signature"}},
		{name: "missing signature", event: "issue_comment", body: comment, sign: signNone,
			want: want{status: 401, body: "unauthorized", outcome: "bad_signature"}},
		{name: "legacy sha1 signature only", event: "issue_comment", body: comment, sign: signSHA1Only,
			want: want{status: 401, body: "unauthorized", outcome: "bad_signature"}},
		{name: "garbage signature", event: "issue_comment", body: comment, sign: signGarbage,
			want: want{status: 401, body: "unauthorized", outcome: "bad_signature"}},
		{name: "bad signature with an invented event keeps the label bounded", event: "<script>", body: comment, sign: signWrong,
			want: want{status: 401, body: "unauthorized", outcome: "bad_signature", metricEvent: "unknown"}},

		{name: "oversized body", event: "issue_comment", body: comment, maxBody: 1024,
			want: want{status: 413, body: "too large", outcome: "too_large"}},
		{name: "oversized body without Content-Length", event: "issue_comment", body: comment, maxBody: 1024, unknownLength: true,
			want: want{status: 413, body: "too large", outcome: "too_large"}},
		{name: "body exactly at the cap is read", event: "issue_comment", body: comment, maxBody: int64(len(comment)), unknownLength: true,
			want: want{status: 202, body: "accepted", outcome: "accepted", sinkCalls: 1, installation: 1, repo: "Codertocat/Hello-World", trigger: request.Comment}},

		{name: "malformed JSON (signed)", event: "issue_comment", body: []byte(`{"action": "created", "comment": `),
			want: want{status: 400, body: "malformed JSON", outcome: "malformed"}},
		{name: "JSON of the wrong shape (signed)", event: "issue_comment", body: []byte(`{"action": 7}`),
			want: want{status: 400, body: "malformed JSON", outcome: "malformed"}},
		{name: "form without payload field", event: "issue_comment", body: []byte("nothing=here"), contentType: "application/x-www-form-urlencoded",
			want: want{status: 400, body: "payload field", outcome: "malformed"}},
		{name: "unsupported content type", event: "issue_comment", body: comment, contentType: "text/xml",
			want: want{status: 415, body: "application/json", outcome: "malformed"}},
		{name: "missing delivery ID", event: "issue_comment", body: comment, noDelivery: true,
			want: want{status: 400, body: "X-GitHub-Delivery", outcome: "malformed"}},
		{name: "delivery ID with spaces", event: "issue_comment", body: comment, delivery: "a b",
			want: want{status: 400, body: "X-GitHub-Delivery", outcome: "malformed"}},
		{name: "missing event header", event: "", body: comment,
			want: want{status: 400, body: "X-GitHub-Event", outcome: "malformed", metricEvent: "unknown"}},
		{name: "GET", method: http.MethodGet, event: "issue_comment",
			want: want{status: 405, body: "POST", outcome: "malformed"}},

		{name: "sink error", event: "issue_comment", body: comment, sink: &fakeSink{err: errors.New("database is locked")},
			want: want{status: 503, body: "redeliver", outcome: "error"}},
		{name: "sink returns no outcome", event: "issue_comment", body: comment, sink: &fakeSink{outcome: 0},
			want: want{status: 503, body: "redeliver", outcome: "error", sinkCalls: 1, installation: 1, repo: "Codertocat/Hello-World", trigger: request.Comment}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := tc.sink
			if sink == nil {
				sink = &fakeSink{outcome: Accepted}
			}
			reg := prometheus.NewRegistry()
			var logs bytes.Buffer
			opts := []Option{WithRegistry(reg), WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}
			if tc.maxBody > 0 {
				opts = append(opts, WithMaxBodyBytes(tc.maxBody))
			}
			h := NewWebhookHandler([]byte(testSecret), sink, opts...)

			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/webhook", bytes.NewReader(tc.body))
			if tc.unknownLength {
				req.ContentLength = -1
				req.Body = io.NopCloser(bytes.NewReader(tc.body))
			}
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			if tc.event != "" {
				req.Header.Set("X-GitHub-Event", tc.event)
			}
			id := tc.delivery
			if id == "" {
				id = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
			}
			if !tc.noDelivery {
				req.Header.Set("X-GitHub-Delivery", id)
			}
			switch tc.sign {
			case signValid:
				req.Header.Set("X-Hub-Signature-256", Sign([]byte(testSecret), tc.body))
			case signWrong:
				req.Header.Set("X-Hub-Signature-256", Sign([]byte("not the secret"), tc.body))
			case signSHA1Only:
				req.Header.Set("X-Hub-Signature", sha1Signature([]byte(testSecret), tc.body))
			case signGarbage:
				req.Header.Set("X-Hub-Signature-256", "sha256=zz")
			}

			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tc.want.status {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tc.want.status, rec.Body.String())
			}
			if !strings.Contains(rec.Body.String(), tc.want.body) {
				t.Errorf("body = %q, want it to contain %q", rec.Body.String(), tc.want.body)
			}
			if tc.want.status == 405 && rec.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", rec.Header().Get("Allow"))
			}

			got := sink.calls()
			if len(got) != tc.want.sinkCalls {
				t.Fatalf("sink called %d times, want %d", len(got), tc.want.sinkCalls)
			}
			if tc.want.sinkCalls == 1 {
				d := got[0]
				if d.ID != id || d.Event != tc.event || d.Installation != tc.want.installation || d.Repo != tc.want.repo {
					t.Errorf("delivery = {ID:%q Event:%q Installation:%d Repo:%q}, want {%q %q %d %q}",
						d.ID, d.Event, d.Installation, d.Repo, id, tc.event, tc.want.installation, tc.want.repo)
				}
				if d.Request.Trigger != tc.want.trigger || d.Request.Delivery != id || d.Request.Validate() != nil {
					t.Errorf("request = %+v, want trigger %q (%v)", d.Request, tc.want.trigger, d.Request.Validate())
				}
			}

			metricEvent := tc.want.metricEvent
			if metricEvent == "" {
				metricEvent = tc.event
			}
			if n := seriesCount(t, reg, "kubewright_webhook_deliveries_total"); n != 1 {
				t.Errorf("deliveries_total has %d series, want 1", n)
			}
			if v := counterValue(t, reg, "kubewright_webhook_deliveries_total", "event", metricEvent, "outcome", tc.want.outcome); v != 1 {
				t.Errorf("deliveries_total{event=%q,outcome=%q} = %v, want 1", metricEvent, tc.want.outcome, v)
			}
			if n := seriesCount(t, reg, "kubewright_webhook_request_duration_seconds"); n != 1 {
				t.Errorf("request_duration_seconds has %d series, want 1", n)
			}
			if c := histogramCount(t, reg, "kubewright_webhook_request_duration_seconds", "outcome", tc.want.outcome); c != 1 {
				t.Errorf("request_duration_seconds{outcome=%q} count = %d, want 1", tc.want.outcome, c)
			}

			// Logs carry the delivery, never the secret or the payload.
			out := logs.String()
			if strings.Contains(out, testSecret) {
				t.Errorf("log contains the webhook secret: %s", out)
			}
			if !tc.noDelivery && !strings.Contains(out, `"delivery":"`+id+`"`) {
				t.Errorf("log lacks the delivery field: %s", out)
			}
			if tc.want.sinkCalls == 1 && !strings.Contains(out, `"installation":`+jsonInt(tc.want.installation)) {
				t.Errorf("log lacks the installation field: %s", out)
			}
		})
	}
}

// A payload's text must not reach the logs even when the delivery fails.
func TestWebhookHandlerDoesNotLogPayload(t *testing.T) {
	body := []byte(`{"action":"created","installation":{"id":9},"comment":{"body":"/ai containerize TOKEN-ghs_abc123"},"issue":{"number":1},"repository":{"full_name":"o/r"}}`)
	for _, sink := range []*fakeSink{{outcome: Accepted}, {err: errors.New("boom")}} {
		var logs bytes.Buffer
		h := NewWebhookHandler([]byte(testSecret), sink, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedRequest(t, "issue_comment", "d-1", body))
		if strings.Contains(logs.String(), "ghs_abc123") {
			t.Errorf("status %d: log contains payload text: %s", rec.Code, logs.String())
		}
		if !strings.Contains(logs.String(), "repo=o/r") {
			t.Errorf("log lacks the repo field: %s", logs.String())
		}
	}
}

func TestWebhookHandlerSinkTimeout(t *testing.T) {
	ex := loadExamples(t)
	sink := &fakeSink{block: true}
	h := NewWebhookHandler([]byte(testSecret), sink, WithSinkTimeout(20*time.Millisecond))
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, signedRequest(t, "issue_comment", "d-slow", ex.command(t, "/ai help")))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", rec.Code)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("answered after %v; the sink timeout did not apply", el)
	}
}

// Redelivering the same ID reaches the sink each time: dedup is the
// sink's (durable) job, not the handler's memory.
func TestWebhookHandlerLeavesDedupToSink(t *testing.T) {
	ex := loadExamples(t)
	body := ex.command(t, "/ai help")
	sink := &fakeSink{outcome: Accepted}
	reg := prometheus.NewRegistry()
	h := NewWebhookHandler([]byte(testSecret), sink, WithRegistry(reg))
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedRequest(t, "issue_comment", "same-id", body))
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status = %d", rec.Code)
		}
	}
	if n := len(sink.calls()); n != 2 {
		t.Errorf("sink saw %d deliveries, want 2", n)
	}
	if v := counterValue(t, reg, "kubewright_webhook_deliveries_total", "event", "issue_comment", "outcome", "accepted"); v != 2 {
		t.Errorf("accepted = %v, want 2", v)
	}
}

func TestWebhookHandlersShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewWebhookHandler([]byte(testSecret), &fakeSink{}, WithRegistry(reg))
	b := NewWebhookHandler([]byte(testSecret), &fakeSink{}, WithRegistry(reg))
	for _, h := range []http.Handler{a, b} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/webhook", nil))
	}
	if v := counterValue(t, reg, "kubewright_webhook_deliveries_total", "event", "unknown", "outcome", "malformed"); v != 2 {
		t.Errorf("shared counter = %v, want 2", v)
	}
}

func TestNewWebhookHandlerRefusesMisWiring(t *testing.T) {
	for name, f := range map[string]func(){
		"empty secret": func() { NewWebhookHandler(nil, &fakeSink{}) },
		"nil sink":     func() { NewWebhookHandler([]byte(testSecret), nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestSign(t *testing.T) {
	// The example from GitHub's "Validating webhook deliveries" docs.
	got := Sign([]byte("It's a Secret to Everybody"), []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if err := github.ValidateSignature(got, []byte("Hello, World!"), []byte("It's a Secret to Everybody")); err != nil {
		t.Errorf("go-github rejects Sign's output: %v", err)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Accepted: "accepted", Duplicate: "duplicate", 0: "Outcome(0)"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), want)
		}
	}
}

func BenchmarkWebhookHandler(b *testing.B) {
	ex := loadExamples(b)
	body := ex.command(b, "/ai containerize")
	sig := Sign([]byte(testSecret), body)
	h := NewWebhookHandler([]byte(testSecret), discardSink{}, WithRegistry(prometheus.NewRegistry()))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "issue_comment")
		req.Header.Set("X-GitHub-Delivery", "bench")
		req.Header.Set("X-Hub-Signature-256", sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

type discardSink struct{}

func (discardSink) Accept(context.Context, Delivery) (Outcome, error) { return Accepted, nil }

var _ Sink = discardSink{}

func signedRequest(tb testing.TB, event, delivery string, body []byte) *http.Request {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", Sign([]byte(testSecret), body))
	return req
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T", v)
}

// sha1Signature is the legacy X-Hub-Signature value, which the handler
// must not accept.
func sha1Signature(secret, body []byte) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write(body)
	return "sha1=" + hex.EncodeToString(mac.Sum(nil))
}

// prInstallation is the installation a pull_request example names (0
// when it names none: intake then ignores it).
func prInstallation(t *testing.T, body []byte) int64 {
	t.Helper()
	var ev github.PullRequestEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.GetInstallation().GetID()
}
