package githubapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Limits bound what unauthenticated senders can make the intake hold.
// Until its signature is checked a body is untrusted, so nothing is sized
// from its headers: it is read into fixed chunks taken one at a time from
// a byte budget shared by every request, and the request fails (503) when
// neither a slot nor budget frees up within Wait. Zero fields take the
// defaults.
type Limits struct {
	// InFlight caps the bodies being read at once (DefaultMaxInFlight).
	InFlight int
	// Bytes is the budget of buffered body bytes across all requests
	// (DefaultBodyBudget). A body is never larger than the budget: the
	// effective body cap is the smaller of the two.
	Bytes int64
	// ReadTimeout bounds reading one body, from the handler's start
	// (DefaultReadTimeout). GitHub gives up on a delivery after 10 s, so a
	// body still arriving after that can only be an attacker's or a dead
	// client's.
	ReadTimeout time.Duration
	// Wait is how long a request waits for a free slot or for budget
	// before it is refused with 503 and Retry-After (DefaultLimitWait).
	Wait time.Duration
}

const (
	// DefaultMaxInFlight bodies are read at once. GitHub sends deliveries
	// one request each, and intake answers in milliseconds, so 32 is far
	// above a real installation's concurrency.
	DefaultMaxInFlight = 32
	// DefaultBodyBudget is the buffered-bytes budget: room for two
	// bodies of GitHub's 25 MB maximum, and for ~2000 of the ~30 KiB an
	// issue_comment usually weighs.
	DefaultBodyBudget int64 = 64 << 20
	// DefaultReadTimeout matches GitHub's delivery timeout.
	DefaultReadTimeout = 10 * time.Second
	// DefaultLimitWait leaves the rest of GitHub's 10 s for reading the
	// body and for the sink (DefaultSinkTimeout).
	DefaultLimitWait = 2 * time.Second
)

// chunkSize is the unit of the byte budget and of body buffers: one chunk
// holds a typical delivery.
const chunkSize = 32 << 10

// WithLimits sets the intake limits (default: see [Limits]).
func WithLimits(l Limits) Option {
	return func(h *handler) { h.limits = l }
}

func (l Limits) withDefaults() Limits {
	if l.InFlight <= 0 {
		l.InFlight = DefaultMaxInFlight
	}
	if l.Bytes <= 0 {
		l.Bytes = DefaultBodyBudget
	}
	if l.Bytes < chunkSize {
		l.Bytes = chunkSize
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.Wait <= 0 {
		l.Wait = DefaultLimitWait
	}
	return l
}

// retryAfter is the Retry-After of a 503, in whole seconds: within one
// read timeout every body now being read has finished or been cut off.
func (l Limits) retryAfter() int { return int(math.Ceil(l.ReadTimeout.Seconds())) }

// limiter holds the slots and the byte budget, each a counting semaphore:
// a buffered channel with one element per slot or per chunk.
type limiter struct {
	Limits
	slots  chan struct{}
	tokens chan struct{}
	chunks sync.Pool // *[chunkSize]byte, reused across requests
	m      *metrics
}

type chunk = [chunkSize]byte

func newLimiter(l Limits, m *metrics) *limiter {
	l = l.withDefaults()
	return &limiter{
		Limits: l,
		slots:  make(chan struct{}, l.InFlight),
		tokens: make(chan struct{}, l.Bytes/chunkSize),
		chunks: sync.Pool{New: func() any { return new(chunk) }},
		m:      m,
	}
}

// acquire takes one element of sem, waiting at most Wait and never past
// deadline or the request's end.
func (l *limiter) acquire(ctx context.Context, sem chan struct{}, deadline time.Time) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	d := min(l.Wait, time.Until(deadline))
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (l *limiter) takeSlot(ctx context.Context, deadline time.Time) bool {
	if !l.acquire(ctx, l.slots, deadline) {
		return false
	}
	l.m.inFlight.Inc()
	return true
}

func (l *limiter) releaseSlot() {
	<-l.slots
	l.m.inFlight.Dec()
}

// Errors of reading a body, each its own reply.
var (
	errOverBudget  = errors.New("byte budget exhausted")
	errTooLarge    = errors.New("body too large")
	errReadTimeout = errors.New("body not received within the read timeout")
)

// body is a request body held in budgeted chunks. Its bytes are handed out
// only after the signature over them checked out.
type body struct {
	l      *limiter
	chunks []*chunk
	inline [4]*chunk // chunks' backing array for bodies up to 128 KiB
	n      int       // bytes received
	tokens int       // chunks of the budget held
	sum    []byte    // HMAC-SHA256 of the bytes received
}

// readBody reads the request body into budgeted chunks, computing its
// HMAC on the way. When keep is false the body is only hashed, through a
// single reused chunk, as the delivery will be dropped whatever it holds.
// The caller must release the body, also on error.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request, keep bool, deadline time.Time) (*body, error) {
	l := h.lim
	b := &body{l: l}
	b.chunks = b.inline[:0]
	if r.ContentLength > h.maxBody {
		return b, errTooLarge
	}
	rd := http.MaxBytesReader(w, r.Body, h.maxBody)
	defer rd.Close()
	mac := hmac.New(sha256.New, h.secret)
	var cur *chunk
	off := chunkSize
	for {
		if off == chunkSize {
			if cur == nil || keep {
				if !l.acquire(r.Context(), l.tokens, deadline) {
					return b, errOverBudget
				}
				b.tokens++
				l.m.buffered.Add(chunkSize)
				cur = l.chunks.Get().(*chunk)
				b.chunks = append(b.chunks, cur)
			}
			off = 0
		}
		n, err := rd.Read(cur[off:])
		mac.Write(cur[off : off+n])
		off += n
		b.n += n
		switch {
		case err == io.EOF:
			b.sum = mac.Sum(nil)
			return b, nil
		case err == nil:
		case errors.As(err, new(*http.MaxBytesError)):
			return b, errTooLarge
		case errors.Is(err, os.ErrDeadlineExceeded):
			return b, errReadTimeout
		default:
			return b, err
		}
	}
}

// verify reports whether sig ("sha256=<hex>") is the HMAC of the body.
func (b *body) verify(sig string) bool {
	hexSum, ok := strings.CutPrefix(sig, signaturePrefix)
	if !ok || len(hexSum) != 2*sha256.Size || b.sum == nil {
		return false
	}
	want := make([]byte, sha256.Size)
	if _, err := hex.Decode(want, []byte(hexSum)); err != nil {
		return false
	}
	return hmac.Equal(b.sum, want)
}

// bytes copies the verified body out of its chunks, which go back to the
// pool. The budget stays held for the copy until release.
func (b *body) bytes() []byte {
	out := make([]byte, b.n)
	rest := out
	for i, c := range b.chunks {
		rest = rest[copy(rest, c[:]):]
		b.l.chunks.Put(c)
		b.chunks[i] = nil
	}
	b.chunks = b.chunks[:0]
	return out
}

// release returns the chunks and the budget.
func (b *body) release() {
	for _, c := range b.chunks {
		if c != nil {
			b.l.chunks.Put(c)
		}
	}
	b.chunks = nil
	for range b.tokens {
		<-b.l.tokens
	}
	b.l.m.buffered.Sub(float64(b.tokens * chunkSize))
	b.tokens = 0
}

// setReadDeadline bounds the body read on the connection. A writer that
// cannot set one (a recorder) says so with an error, and a connection
// already gone reports it on the next read, so the error is not needed.
func setReadDeadline(w http.ResponseWriter, deadline time.Time) {
	_ = http.NewResponseController(w).SetReadDeadline(deadline)
}
