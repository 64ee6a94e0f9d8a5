package githubapp

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubewright/kubewright/internal/request"
)

// FuzzWebhook feeds random bodies and headers, signed and unsigned. The
// handler must never panic, must answer with one of its documented
// statuses, must never hand an unsigned body to the sink, and whatever it
// hands over must be a verified, parsed, relevant delivery.
func FuzzWebhook(f *testing.F) {
	ex := loadExamples(f)
	for _, seed := range []struct{ event, action string }{
		{"issue_comment", "created"}, {"issue_comment", "edited"}, {"issues", "opened"},
		{"pull_request", "opened"}, {"pull_request_review_comment", "created"},
		{"installation", "created"}, {"installation_repositories", "added"}, {"ping", ""}, {"push", ""},
	} {
		body := ex.get(f, seed.event, seed.action)
		f.Add(seed.event, "application/json", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body, true, "")
		f.Add(seed.event, "application/json", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body, false, Sign([]byte("wrong"), body))
	}
	for _, body := range [][]byte{ex.command(f, "/ai help"), ex.command(f, "/ai containerize --only k8s")} {
		f.Add("issue_comment", "application/json", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body, true, "")
	}
	f.Add("issue_comment", "application/x-www-form-urlencoded", "d", []byte("payload=%7B%22action%22%3A%22created%22%7D"), true, "")
	f.Add("issue_comment", "", "d", []byte(`{"action":"created","installation":{"id":1}}`), true, "")
	f.Add("issues", "text/plain; charset=\x00", "", []byte(`{`), true, "")
	f.Add("", "application/json", "d", []byte(`null`), false, "sha256=")
	f.Add("ping", "application/json", "d", []byte(`[]`), false, "sha1=00")

	secret := []byte(testSecret)
	sink := &lastSink{}
	h := NewWebhookHandler(secret, sink, WithRegistry(prometheus.NewRegistry()), WithMaxBodyBytes(64<<10))
	// Not 503 or 408: inputs run one at a time on a recorder, so a 503
	// would mean a slot or budget chunk leaked by an earlier input.
	allowed := map[int]bool{200: true, 202: true, 400: true, 401: true, 413: true, 415: true}

	f.Fuzz(func(t *testing.T, event, contentType, deliveryID string, body []byte, signed bool, sigHeader string) {
		req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
		setHeader(req, "Content-Type", contentType)
		setHeader(req, "X-GitHub-Event", event)
		setHeader(req, "X-GitHub-Delivery", deliveryID)
		validSig := Sign(secret, body)
		if signed {
			sigHeader = validSig
		}
		setHeader(req, "X-Hub-Signature-256", sigHeader)
		authentic := req.Header.Get("X-Hub-Signature-256") == validSig

		sink.reset()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		calls := sink.take()

		if !allowed[rec.Code] {
			t.Fatalf("status %d is not one the handler documents (body %q)", rec.Code, rec.Body.String())
		}
		if !authentic {
			if len(calls) != 0 {
				t.Fatalf("unsigned body reached the sink: %+v", calls[0])
			}
			if rec.Code == 200 || rec.Code == 202 {
				t.Fatalf("unsigned body answered %d", rec.Code)
			}
			return
		}
		if len(calls) > 1 {
			t.Fatalf("one request reached the sink %d times", len(calls))
		}
		if len(calls) == 1 {
			d := calls[0]
			if rec.Code != http.StatusAccepted {
				t.Fatalf("sink called but status %d", rec.Code)
			}
			if d.ID != deliveryID || d.Event != event || d.Installation == 0 || d.Request.Validate() != nil {
				t.Fatalf("incomplete delivery handed to the sink: %+v", d)
			}
			if !relevantEvent(d.Event) || d.Event == "ping" {
				t.Fatalf("irrelevant event %q reached the sink", d.Event)
			}
			// The request survives the queue's JSON round trip.
			b, err := json.Marshal(d.Request)
			if err != nil {
				t.Fatal(err)
			}
			var back request.Request
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, d.Request) {
				t.Fatalf("request does not survive JSON: %v\n%+v\n%+v", err, back, d.Request)
			}
		}
	})
}

// lastSink keeps only the deliveries of the current fuzz input, so a long
// run does not hoard payloads.
type lastSink struct {
	mu  sync.Mutex
	got []Delivery
}

var _ Sink = (*lastSink)(nil)

func (s *lastSink) Accept(_ context.Context, d Delivery) (Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	return Accepted, nil
}

func (s *lastSink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = nil
}

func (s *lastSink) take() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

// setHeader sets a header the way a client on the wire could: values a
// real request cannot carry are skipped rather than sent.
func setHeader(req *http.Request, key, value string) {
	if value == "" {
		return
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\r' || c == '\n' || c == 0 {
			return
		}
	}
	req.Header.Set(key, value)
}
