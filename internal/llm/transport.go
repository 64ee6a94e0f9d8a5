package llm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxAnswerBytes bounds an answer read into memory.
const maxAnswerBytes = 32 << 20

// retryBase is the first backoff; it doubles with each retry.
const retryBase = 500 * time.Millisecond

// errAnswerTooLarge is not retried.
var errAnswerTooLarge = fmt.Errorf("the provider's answer is larger than %d MiB", maxAnswerBytes>>20)

// retryTransport retries a request on 408, 409, 429, 5xx and network
// errors with exponential backoff and jitter, honouring Retry-After, and
// bounds each attempt (reading the answer included) by timeout. It reads
// every answer into memory, so the body it returns cannot fail.
type retryTransport struct {
	base       http.RoundTripper
	timeout    time.Duration
	maxRetries int
	maxBackoff time.Duration
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a random duration in [0, d]; nil uses math/rand.
	jitter func(d time.Duration) time.Duration
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		body = b
	}
	if fields, ok := req.Context().Value(bodyFieldsKey{}).(map[string]json.RawMessage); ok {
		b, err := mergeFields(body, fields)
		if err != nil {
			return nil, err
		}
		body = b
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		resp, err := t.attempt(req, body)
		if ctx.Err() != nil {
			if err == nil {
				return resp, nil
			}
			return nil, err
		}
		retry := false
		var wait time.Duration
		if err != nil {
			retry = retryableNetError(err)
			wait = t.backoff(attempt)
		} else if retryableStatus(resp.StatusCode) {
			retry = true
			if d, ok := retryAfter(resp.Header, time.Now()); ok {
				wait = d
			} else {
				wait = t.backoff(attempt)
			}
		}
		if !retry || attempt >= t.maxRetries {
			return resp, err
		}
		if t.maxBackoff > 0 && wait > t.maxBackoff {
			wait = t.maxBackoff
		}
		if serr := t.sleep(ctx, wait); serr != nil {
			return nil, serr
		}
	}
}

// attempt sends one copy of req and reads the whole answer within the
// attempt's timeout.
func (t *retryTransport) attempt(req *http.Request, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	defer cancel()
	r := req.Clone(ctx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(data) > maxAnswerBytes {
		return nil, errAnswerTooLarge
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// backoff is the wait before retry attempt+1: 500ms doubled per attempt,
// the upper half of it jittered, capped at maxBackoff.
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := retryBase << min(attempt, 20)
	if t.maxBackoff > 0 && d > t.maxBackoff {
		d = t.maxBackoff
	}
	j := t.jitter
	if j == nil {
		j = func(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d) + 1)) }
	}
	return d/2 + j(d/2)
}

func retryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code <= 599:
		return true
	}
	return false
}

// retryableNetError reports errors another attempt may not repeat: not a
// bad certificate, an unknown host or an oversized answer.
func retryableNetError(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errAnswerTooLarge),
		errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalid):
		return false
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return false
	}
	return true
}

// retryAfter reads Retry-After (seconds or an HTTP date) or OpenAI's
// retry-after-ms.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 1<<30)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// mergeFields sets top-level fields of a JSON object body.
func mergeFields(body []byte, fields map[string]json.RawMessage) ([]byte, error) {
	obj := map[string]json.RawMessage{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("request body is not a JSON object: %w", err)
		}
	}
	for k, v := range fields {
		obj[k] = v
	}
	return json.Marshal(obj)
}
