package dryrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// ErrPoolClosed is returned for a validation that asks a closed Pool for
// a server.
var ErrPoolClosed = errors.New("the pool of validation kube-apiservers is closed (the server is shutting down)")

// errScopeEnded is returned for a validation under a job that has ended.
var errScopeEnded = errors.New("the job's validation kube-apiserver was released (the job ended or its context was cancelled)")

// Pool hands every job its own throwaway kube-apiserver, so no
// repository's dry-run can see or change another's: what a job installs
// (CRDs, namespaces) lives and dies with its server. It keeps Spare servers
// started in the background so a job rarely waits for a start, and stops
// each server when its job ends. A server is never given to a second job.
//
// Mark a job with JobScope and use Pool.Config as Check.Config.
type Pool struct {
	assets string
	spare  int
	log    *slog.Logger

	// starts and stops under way; Add only under mu while not closed.
	starts, stops sync.WaitGroup

	mu       sync.Mutex
	ready    []*Ephemeral
	starting int
	waiters  []chan lease
	leased   map[*Ephemeral]struct{}
	closed   bool
}

type lease struct {
	e   *Ephemeral
	err error
}

// PoolOption configures a Pool.
type PoolOption func(*Pool)

// WithSpare sets how many started servers wait for the next job (default
// 1; 0 starts a server only when a job asks).
func WithSpare(n int) PoolOption { return func(p *Pool) { p.spare = max(n, 0) } }

// WithPoolLogger logs starts, waits and stop failures.
func WithPoolLogger(l *slog.Logger) PoolOption { return func(p *Pool) { p.log = l } }

// NewPool returns a pool of servers using the binaries in assets. Nothing
// starts until Warm or the first job.
func NewPool(assets string, opts ...PoolOption) *Pool {
	p := &Pool{assets: assets, spare: 1, log: slog.New(slog.DiscardHandler), leased: map[*Ephemeral]struct{}{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Warm starts the spare servers now, in the background.
func (p *Pool) Warm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.fillLocked()
	}
}

// Config is the Check.Config of a pool: the server of the job that
// ctx carries (JobScope), taken from the pool on the job's first
// validation. Check.Check opens a scope of its own when the caller
// did not, so a validation outside any job gets a server for itself.
func (p *Pool) Config(ctx context.Context) (*rest.Config, error) {
	s, _ := ctx.Value(scopeKey{}).(*jobScope)
	if s == nil {
		return nil, errors.New("validate: Pool.Config needs a context from JobScope (Check.Check opens one)")
	}
	return s.config(ctx, p)
}

// acquire takes a started server for one job, waiting for a start when no
// spare is ready. A caller whose ctx ends while waiting leaves nothing
// behind: a server handed over at that moment becomes the spare again.
func (p *Pool) acquire(ctx context.Context) (*Ephemeral, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	if n := len(p.ready); n > 0 {
		e := p.ready[n-1]
		p.ready = p.ready[:n-1]
		p.leased[e] = struct{}{}
		p.fillLocked()
		p.mu.Unlock()
		return e, nil
	}
	w := make(chan lease, 1)
	p.waiters = append(p.waiters, w)
	p.fillLocked()
	p.mu.Unlock()

	t := time.Now()
	select {
	case l := <-w:
		if l.err == nil {
			p.log.Info("waited for a validation kube-apiserver", "waited", time.Since(t).Round(time.Millisecond))
		}
		return l.e, l.err
	case <-ctx.Done():
	}
	p.mu.Lock()
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.mu.Unlock()
		return nil, ctx.Err()
	}
	p.mu.Unlock()
	// Handed over just as ctx ended: unused, so it can serve the next job.
	if l := <-w; l.e != nil {
		p.putBack(l.e)
	}
	return nil, ctx.Err()
}

// fillLocked starts servers until every waiting job has one coming, or,
// when none waits, until the spares are ready or starting. Waiting jobs
// come first: on two cores a spare started beside them slows their start.
func (p *Pool) fillLocked() {
	want := p.spare
	if len(p.waiters) > 0 {
		want = len(p.waiters)
	}
	for have := len(p.ready) + p.starting; have < want; have++ {
		p.starting++
		p.starts.Add(1)
		go p.start()
	}
}

func (p *Pool) start() {
	defer p.starts.Done()
	e := NewEphemeral(p.assets)
	e.oneJob = true
	_, err := e.Config(context.Background())

	p.mu.Lock()
	p.starting--
	switch {
	case err != nil:
		p.log.Error("validation kube-apiserver did not start", "err", err)
		// The waiting job gets the error; the spare is not retried until
		// the next job asks, so a broken installation does not spin.
		if len(p.waiters) > 0 {
			w := p.waiters[0]
			p.waiters = p.waiters[1:]
			w <- lease{err: err}
		}
		if len(p.waiters) > 0 {
			p.fillLocked()
		}
		p.mu.Unlock()
		return
	case p.closed:
		p.mu.Unlock()
		p.stop(e)
		return
	case len(p.waiters) > 0:
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.leased[e] = struct{}{}
		w <- lease{e: e}
	case len(p.ready) < p.spare:
		p.ready = append(p.ready, e)
	default:
		p.mu.Unlock()
		p.stop(e)
		return
	}
	p.log.Debug("validation kube-apiserver started", "took", e.Started.Round(time.Millisecond))
	p.fillLocked()
	p.mu.Unlock()
}

// putBack returns an unused server: it becomes a spare, or stops.
func (p *Pool) putBack(e *Ephemeral) {
	p.mu.Lock()
	delete(p.leased, e)
	if !p.closed && len(p.ready) < p.spare {
		p.ready = append(p.ready, e)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.stop(e)
}

// release ends a job's lease: its server stops and its data is removed,
// in the background (a stop takes about a second) unless the pool is
// closing; Close waits for every stop.
func (p *Pool) release(e *Ephemeral) {
	p.mu.Lock()
	delete(p.leased, e)
	if p.closed {
		p.mu.Unlock()
		p.stop(e)
		return
	}
	p.stops.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.stops.Done()
		p.stop(e)
	}()
}

func (p *Pool) stop(e *Ephemeral) error {
	if err := e.Stop(); err != nil {
		p.log.Warn("validation kube-apiserver did not stop cleanly", "err", err)
		return fmt.Errorf("stop validation kube-apiserver: %w", err)
	}
	return nil
}

// Close stops every server, spare or in use, and waits for starts under
// way to finish and stop. Jobs still running get ErrPoolClosed findings.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	servers := p.ready
	for e := range p.leased {
		servers = append(servers, e)
	}
	waiters := p.waiters
	p.ready, p.waiters, p.leased = nil, nil, map[*Ephemeral]struct{}{}
	p.mu.Unlock()
	for _, w := range waiters {
		w <- lease{err: ErrPoolClosed}
	}
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, e := range servers {
		wg.Go(func() { errs[i] = p.stop(e) })
	}
	wg.Wait()
	p.starts.Wait()
	p.stops.Wait()
	return errors.Join(errs...)
}

// poolStats is a snapshot for tests and benchmarks.
type poolStats struct{ ready, starting, leased, waiting int }

func (p *Pool) stats() poolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return poolStats{len(p.ready), p.starting, len(p.leased), len(p.waiters)}
}

type scopeKey struct{}

// jobScope is one job's claim on a server of a Pool.
type jobScope struct {
	mu    sync.Mutex
	pool  *Pool
	eph   *Ephemeral
	ended bool
}

// JobScope marks the start of one job: every validation under the
// returned context (baseline, attempts, repair) uses the same isolated
// server of a Pool, and calling the returned func ends the job and stops
// that server (in the background; Pool.Close waits for it). The func is safe to call more than once, and a job whose
// context is cancelled releases its server even if it never calls it.
// Within an existing scope it returns ctx and a func that does nothing:
// the outer scope owns the server. Validations with a plain Ephemeral or
// a kubeconfig are not affected.
func JobScope(ctx context.Context) (context.Context, func()) {
	if s, _ := ctx.Value(scopeKey{}).(*jobScope); s != nil {
		return ctx, func() {}
	}
	s := &jobScope{}
	ctx = context.WithValue(ctx, scopeKey{}, s)
	stop := context.AfterFunc(ctx, s.end)
	return ctx, func() {
		stop()
		s.end()
	}
}

func (s *jobScope) config(ctx context.Context, p *Pool) (*rest.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended:
		return nil, errScopeEnded
	case s.eph == nil:
		e, err := p.acquire(ctx)
		if err != nil {
			return nil, err
		}
		s.eph, s.pool = e, p
	case s.pool != p:
		return nil, errors.New("validate: one job validated against two pools")
	}
	return s.eph.Config(ctx)
}

// end releases the job's server (once); it stops in the background.
func (s *jobScope) end() {
	s.mu.Lock()
	s.ended = true
	e, p := s.eph, s.pool
	s.eph = nil
	s.mu.Unlock()
	if e != nil {
		p.release(e)
	}
}

// scopeMemo is the install record of the server the job in ctx holds, or
// nil when it holds none.
func scopeMemo(ctx context.Context) *InstallMemo {
	s, _ := ctx.Value(scopeKey{}).(*jobScope)
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eph == nil {
		return nil
	}
	return s.eph.Memo()
}
