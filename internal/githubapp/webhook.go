// Package githubapp is kubewright's side of the GitHub App: the webhook
// intake (verify, parse, drop the irrelevant, hand the rest to a durable
// sink), and later the App's authentication and the API calls it makes.
package githubapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/request"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxBodyBytes is the largest webhook body accepted (GitHub caps
// its payloads at 25 MB).
const DefaultMaxBodyBytes int64 = 25 << 20

// DefaultSinkTimeout bounds the sink call so the reply reaches GitHub well
// within its 10 s delivery timeout.
const DefaultSinkTimeout = 5 * time.Second

// signaturePrefix is the only signature scheme accepted: HMAC-SHA256 in
// X-Hub-Signature-256. The legacy SHA-1 X-Hub-Signature is ignored.
const signaturePrefix = "sha256="

// Delivery is one verified, relevant webhook delivery.
type Delivery struct {
	// ID is X-GitHub-Delivery; redeliveries of the same event keep it.
	ID string
	// Event is X-GitHub-Event, e.g. "issue_comment".
	Event string
	// Installation is the App installation the event belongs to.
	Installation int64
	// Repo is "owner/name", or empty for installation-wide events.
	Repo string
	// Subject is "owner/name#number" for events about an issue or pull
	// request, so the queue can find (and cancel) the jobs of one issue.
	Subject string
	// Request is what the delivery asks for, parsed once, here.
	Request request.Request
}

// Outcome is what the sink did with a delivery.
type Outcome int

const (
	// Accepted: the delivery was new and is now durably queued.
	Accepted Outcome = iota + 1
	// Duplicate: a delivery with this ID was queued before; nothing changed.
	Duplicate
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return outcomeAccepted
	case Duplicate:
		return outcomeDuplicate
	default:
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
}

// Sink durably records a delivery, at most once per Delivery.ID. Dedup is
// the sink's job: the handler keeps no memory of deliveries, so a restart
// forgets nothing. When Accept returns an error it must have recorded
// nothing, so GitHub's redelivery can try again.
type Sink interface {
	Accept(ctx context.Context, d Delivery) (Outcome, error)
}

// Option configures the webhook handler.
type Option func(*handler)

// WithLogger sets the logger (default: discard). To log through zerolog,
// pass slog.New(zerolog.NewSlogHandler(zl)).
func WithLogger(l *slog.Logger) Option {
	return func(h *handler) {
		if l != nil {
			h.log = l
		}
	}
}

// WithRegistry registers the intake metrics on reg instead of leaving them
// unregistered. Registering twice on one registry reuses the first
// handler's collectors, so several handlers can share a registry.
func WithRegistry(reg prometheus.Registerer) Option {
	return func(h *handler) { h.reg = reg }
}

// WithMaxBodyBytes caps the request body (default DefaultMaxBodyBytes,
// and never more than the byte budget of [Limits]).
func WithMaxBodyBytes(n int64) Option {
	return func(h *handler) {
		if n > 0 {
			h.maxBody = n
		}
	}
}

// WithSinkTimeout bounds each Sink.Accept call (default DefaultSinkTimeout).
func WithSinkTimeout(d time.Duration) Option {
	return func(h *handler) {
		if d > 0 {
			h.sinkTimeout = d
		}
	}
}

type handler struct {
	secret      []byte
	sink        Sink
	log         *slog.Logger
	reg         prometheus.Registerer
	maxBody     int64
	sinkTimeout time.Duration
	limits      Limits
	lim         *limiter
	filter      filter
	metrics     *metrics
	known       map[string]bool // event names go-github can parse
}

// NewWebhookHandler returns the handler for POST /webhook. It verifies
// X-Hub-Signature-256 against secret, parses the event with go-github,
// drops events and actions kubewright does not act on (202 "ignored"),
// answers ping with 200 "pong", and hands everything else to sink
// (202 "accepted" or "duplicate"). Rejections (405, 413, 401, 400, 415)
// and ignored deliveries never reach the sink; a sink error is a 503.
//
// What a sender can make it hold is bounded by [Limits]: too many bodies
// in flight or an exhausted byte budget is a 503 with Retry-After, a body
// that does not arrive within the read timeout a 408. The bodies of
// events kubewright never handles are hashed as they stream in and never
// buffered.
//
// An empty secret or a nil sink is a wiring mistake and panics here, at
// start-up, rather than serving unverified traffic.
func NewWebhookHandler(secret []byte, sink Sink, opts ...Option) http.Handler {
	if len(secret) == 0 {
		panic("githubapp: NewWebhookHandler needs the App's webhook secret (KUBEWRIGHT_WEBHOOK_SECRET); refusing to accept unsigned webhooks")
	}
	if sink == nil {
		panic("githubapp: NewWebhookHandler needs a Sink")
	}
	h := &handler{
		secret:      bytes.Clone(secret),
		sink:        sink,
		log:         slog.New(slog.DiscardHandler),
		maxBody:     DefaultMaxBodyBytes,
		sinkTimeout: DefaultSinkTimeout,
		filter:      defaultFilter(),
		known:       map[string]bool{},
	}
	for _, o := range opts {
		o(h)
	}
	for _, name := range github.MessageTypes() {
		h.known[name] = true
	}
	h.metrics = newMetrics(h.reg)
	h.lim = newLimiter(h.limits, h.metrics)
	// A body never outgrows the budget it is buffered in.
	h.maxBody = min(h.maxBody, int64(cap(h.lim.tokens))*chunkSize)
	return h
}

// reply is the end of one request: status, short body, metric outcome and
// what to log.
type reply struct {
	status  int
	body    string
	outcome string
	level   slog.Level
	msg     string
	err     error
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Header values before verification are untrusted: bounded for logs,
	// and the metric label is an allow-listed event name or "unknown".
	event := r.Header.Get(github.EventTypeHeader)
	delivery := r.Header.Get(github.DeliveryIDHeader)
	log := h.log.With("delivery", clip(delivery), "event", clip(event))

	d, rep := h.intake(w, r, event, delivery, start)
	if d != nil {
		log = log.With("installation", d.Installation, "repo", d.Repo)
	}

	switch rep.outcome {
	case outcomeBusy, outcomeOverBudget:
		w.Header().Set("Retry-After", strconv.Itoa(h.lim.retryAfter()))
		w.Header().Set("Connection", "close")
	case outcomeTooLarge, outcomeTimeout:
		// The rest of the body is not worth reading to reuse the
		// connection.
		w.Header().Set("Connection", "close")
	}
	if rep.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body+"\n")

	label := "unknown"
	if h.known[event] {
		label = event
	}
	h.metrics.observe(label, rep.outcome, time.Since(start))

	attrs := []any{"status", rep.status, "outcome", rep.outcome}
	if rep.err != nil {
		attrs = append(attrs, "err", rep.err.Error())
	}
	log.Log(r.Context(), rep.level, rep.msg, attrs...)
}

// intake runs the checks in order; the first failure decides the reply.
// It returns the delivery once the payload is parsed, for log fields.
func (h *handler) intake(w http.ResponseWriter, r *http.Request, event, deliveryID string, start time.Time) (*Delivery, reply) {
	if r.Method != http.MethodPost {
		return nil, reply{http.StatusMethodNotAllowed, "method not allowed: webhooks are POST", outcomeMalformed, slog.LevelDebug, "webhook rejected: method " + clip(r.Method), nil}
	}

	deadline := start.Add(h.lim.ReadTimeout)
	setReadDeadline(w, deadline)
	if !h.lim.takeSlot(r.Context(), deadline) {
		return nil, reply{http.StatusServiceUnavailable, h.busyText("too many webhook requests in flight"), outcomeBusy, slog.LevelWarn, "webhook refused: too many requests in flight", nil}
	}
	// Events kubewright never handles are hashed, not kept: the header is
	// unauthenticated, but it only decides how much is buffered, never
	// whether a delivery is queued.
	keep := h.known[event] && relevantEvent(event)
	b, err := h.readBody(w, r, keep, deadline)
	h.lim.releaseSlot()
	defer b.release()
	switch {
	case err == nil:
		// The body is in, read to its end, where net/http lifts the
		// read deadline to watch for a hang-up: the sink is bounded by
		// its own timeout, not by what is left of the read deadline.
	case errors.Is(err, errTooLarge):
		return nil, reply{http.StatusRequestEntityTooLarge, fmt.Sprintf("payload too large: limit is %d bytes", h.maxBody), outcomeTooLarge, slog.LevelWarn, "webhook rejected: body too large", nil}
	case errors.Is(err, errOverBudget):
		return nil, reply{http.StatusServiceUnavailable, h.busyText("too many webhook bytes buffered"), outcomeOverBudget, slog.LevelWarn, "webhook refused: body byte budget exhausted", nil}
	case errors.Is(err, errReadTimeout):
		return nil, reply{http.StatusRequestTimeout, fmt.Sprintf("request body not received within %s", h.lim.ReadTimeout), outcomeTimeout, slog.LevelWarn, "webhook rejected: body read timed out", nil}
	default:
		return nil, reply{http.StatusBadRequest, "could not read request body", outcomeMalformed, slog.LevelWarn, "webhook rejected: reading body", err}
	}

	// Authenticate before looking at anything else the sender controls.
	// Missing and bad signatures get the same answer.
	if !b.verify(r.Header.Get(github.SHA256SignatureHeader)) {
		return nil, reply{http.StatusUnauthorized, "unauthorized: missing or invalid X-Hub-Signature-256", outcomeBadSignature, slog.LevelWarn, "webhook rejected: missing or invalid signature", nil}
	}

	if !validDeliveryID(deliveryID) {
		return nil, reply{http.StatusBadRequest, "missing or invalid X-GitHub-Delivery header", outcomeMalformed, slog.LevelWarn, "webhook rejected: delivery ID", nil}
	}
	if event == "" {
		return nil, reply{http.StatusBadRequest, "missing X-GitHub-Event header", outcomeMalformed, slog.LevelWarn, "webhook rejected: no event header", nil}
	}

	// Events we never act on are dropped before parsing: unknown to
	// go-github or simply not ours.
	if !keep {
		return nil, reply{http.StatusAccepted, "ignored: event " + clip(event) + " is not handled", outcomeIgnored, slog.LevelDebug, "webhook ignored: event not handled", nil}
	}

	raw, status, err := jsonPayload(r.Header.Get("Content-Type"), b.bytes())
	if err != nil {
		return nil, reply{status, err.Error(), outcomeMalformed, slog.LevelWarn, "webhook rejected: payload encoding", nil}
	}
	payload, err := github.ParseWebHook(event, raw)
	if err != nil {
		return nil, reply{http.StatusBadRequest, "malformed JSON payload for event " + event, outcomeMalformed, slog.LevelWarn, "webhook rejected: malformed payload", err}
	}

	installation, repo := subject(payload)
	d := &Delivery{ID: deliveryID, Event: event, Installation: installation, Repo: repo}

	if _, ok := payload.(*github.PingEvent); ok {
		// Nothing to do durably: GitHub sends ping when the hook is
		// created, and a 200 tells it (and the person watching the App
		// settings) that the URL and secret are right.
		return d, reply{http.StatusOK, "pong", outcomeIgnored, slog.LevelInfo, "webhook ping", nil}
	}
	req, why := h.filter.request(deliveryID, event, installation, payload)
	if why != "" {
		return d, reply{http.StatusAccepted, "ignored: " + why, outcomeIgnored, slog.LevelDebug, "webhook ignored: " + why, nil}
	}
	d.Request, d.Subject = req, req.Subject()
	if installation == 0 {
		// Every App delivery names its installation; without one there is
		// no token to act with (a plain repository webhook, most likely).
		return d, reply{http.StatusAccepted, "ignored: payload has no installation (is this a GitHub App webhook?)", outcomeIgnored, slog.LevelWarn, "webhook ignored: no installation", nil}
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.sinkTimeout)
	defer cancel()
	outcome, err := h.sink.Accept(ctx, *d)
	switch {
	case err != nil:
		return d, reply{http.StatusServiceUnavailable, "could not queue the delivery; redeliver it from the App's advanced settings", outcomeError, slog.LevelError, "webhook not queued: sink failed", err}
	case outcome == Accepted:
		return d, reply{http.StatusAccepted, "accepted", outcomeAccepted, slog.LevelInfo, "webhook accepted", nil}
	case outcome == Duplicate:
		return d, reply{http.StatusAccepted, "duplicate", outcomeDuplicate, slog.LevelInfo, "webhook duplicate", nil}
	default:
		return d, reply{http.StatusServiceUnavailable, "could not queue the delivery; redeliver it from the App's advanced settings", outcomeError, slog.LevelError, "webhook not queued: sink returned an unknown outcome", fmt.Errorf("sink returned %v", outcome)}
	}
}

// busyText is the reply of a 503 from the limits.
func (h *handler) busyText(why string) string {
	return fmt.Sprintf("busy: %s; retry after %ds, or redeliver it from the App's advanced settings", why, h.lim.retryAfter())
}

// jsonPayload returns the JSON document of a verified body: the body
// itself for application/json (or no Content-Type), the "payload" form
// field for application/x-www-form-urlencoded (GitHub's two formats).
func jsonPayload(contentType string, body []byte) ([]byte, int, error) {
	mediaType := "application/json"
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, http.StatusUnsupportedMediaType, errors.New("unsupported Content-Type: set the webhook content type to application/json")
		}
		mediaType = mt
	}
	switch mediaType {
	case "application/json":
		return body, 0, nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil || !form.Has("payload") {
			return nil, http.StatusBadRequest, errors.New("malformed form body: expected a payload field")
		}
		return []byte(form.Get("payload")), 0, nil
	default:
		return nil, http.StatusUnsupportedMediaType, errors.New("unsupported Content-Type: set the webhook content type to application/json")
	}
}

// validDeliveryID accepts what GitHub sends (a GUID) and any other short
// printable token without spaces, as the ID is a durable dedup key.
func validDeliveryID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// clip bounds untrusted header values before they reach a log line.
func clip(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// Sign returns the X-Hub-Signature-256 value GitHub would send for body:
// "sha256=" and the hex HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}
