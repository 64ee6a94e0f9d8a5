package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the token ledger on PostgreSQL
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/sandbox"
)

// Server is the GitHub App: webhook intake, durable queue, job runner,
// health and metrics. Build it with NewServer; it fails before serving on
// any missing or malformed setting.
type Server struct {
	cfg     config.Server
	log     *slog.Logger
	queue   *queue.Queue
	val     *Validation // CRDs, one throwaway kube-apiserver per job, the Go check
	handler http.Handler
	metrics http.Handler // /metrics on cfg.MetricsListen; nil when it is served by handler
	closers []func() error
	box     sandbox.Status // where generated code runs (or why it does not); in /readyz
}

// NewServer wires every piece from the settings.
func NewServer(ctx context.Context, cfg config.Server, log *slog.Logger) (*Server, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if err := command.ValidatePrefix(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("--prefix / KUBEWRIGHT_PREFIX: %w", err)
	}
	key, err := os.ReadFile(cfg.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--private-key-file / KUBEWRIGHT_PRIVATE_KEY_FILE: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	clients, err := githubapp.NewClients(cfg.AppID, key, githubapp.EndpointsFor(cfg.GitHubURL), reg)
	if err != nil {
		return nil, fmt.Errorf("--private-key-file / KUBEWRIGHT_PRIVATE_KEY_FILE: %w", err)
	}
	s := &Server{cfg: cfg, log: log}
	vs := ValidationSettings{Assets: cfg.Assets, PerJob: true, Sandbox: true, GoProxy: cfg.GoProxy, Log: log,
		Names: SettingNames{CRDs: "--crds / KUBEWRIGHT_CRDS", Assets: "--assets / KUBEWRIGHT_ASSETS", GoProxy: "--go-proxy / KUBEWRIGHT_GOPROXY"}}
	if cfg.CRDs != "" {
		for _, d := range strings.Split(cfg.CRDs, ",") {
			vs.CRDs = append(vs.CRDs, strings.TrimSpace(d))
		}
	}
	if cfg.LLMModel != "" {
		// Only agents build generated Go code.
		vs.GoCacheSeed = GoCacheSeedDir(cfg.DataDir)
	}
	if s.val, err = NewValidation(ctx, vs); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.val.Close)
	// The runner cancels through the queue it runs in; the queue is opened
	// with the runner, so the canceller refers to it once it exists.
	canceller := job.CancellerFunc(func(ctx context.Context, subject, except string) (int, error) {
		return s.queue.CancelSubject(ctx, subject, except)
	})
	jopts := []job.Option{job.WithPrefix(cfg.Prefix), job.WithCanceller(canceller), job.WithLogger(log), job.WithMetrics(reg)}
	// Status comment IDs live in the queue's database too (any replica
	// edits the same comment); workspaces under the data directory, where
	// the runner sweeps what a dead process left.
	jopts = append(jopts, job.WithStatusStore(queueStatus{s}), job.WithWorkRoot(filepath.Join(cfg.DataDir, "work")))
	// Generated code is built and tested only in the sandbox; without one
	// the Go stage says it did not run (KW-GO-007).
	if s.box = s.val.Sandbox(); s.val.SandboxErr() != nil {
		log.Warn("no sandbox: generated Go code will not be built or tested", "reason", s.box.Reason)
	} else {
		log.Info("sandbox", "mechanism", s.box.Mechanism, "version", s.box.Version, "isolation", s.box.Isolation)
	}
	if cfg.LLMModel != "" {
		agents, err := s.agents(ctx, cfg)
		if err != nil {
			return nil, err
		}
		agents.GoCheck = s.val.GoCheck()
		jopts = append(jopts, job.WithAgents(agents))
	} else {
		log.Info("free-text requests disabled: no model (set KUBEWRIGHT_LLM_MODEL)")
	}
	ops, err := operations(cfg, log)
	if err != nil {
		return nil, err
	}
	jopts = append(jopts, ops...)
	// /jobs/<id>: each job's page, for viewers GitHub says may read the
	// repository (off without the App's OAuth client).
	pages, pageStore, closePages, err := jobPages(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closePages)
	if pageStore != nil {
		jopts = append(jopts, job.WithPages(pageStore, os.Getenv("KUBEWRIGHT_PUBLIC_URL")))
	}
	// The default branch's settings, never the tree's.
	runner := job.New(clients, s.val.Validate, jopts...)

	qopts := queue.Options{Workers: cfg.Workers, Logger: log}
	if cfg.DatabaseURL != "" {
		s.queue, err = queue.OpenPostgres(ctx, cfg.DatabaseURL, runner, qopts)
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("--data-dir / KUBEWRIGHT_DATA_DIR: %w", err)
		}
		s.queue, err = queue.OpenSQLite(ctx, filepath.Join(cfg.DataDir, "queue.db"), runner, qopts)
	}
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("POST /webhook", githubapp.NewWebhookHandler([]byte(cfg.WebhookSecret), sink{s.queue},
		githubapp.WithLogger(log), githubapp.WithRegistry(reg),
		githubapp.WithCommandPrefix(cfg.Prefix), githubapp.WithTriggerLabel(cfg.TriggerLabel)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.queue.Ping(ctx); err != nil {
			http.Error(w, "queue database unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
		fmt.Fprintln(w, "sandbox:", s.box)
	})
	if pages != nil {
		mux.Handle("/jobs/", pages)
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if cfg.MetricsListen == "" {
		mux.Handle("GET /metrics", metrics)
	} else {
		// Only there: the webhook listener faces the internet, the
		// metrics listener the cluster.
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", metrics)
		s.metrics = mm
	}
	s.handler = mux
	return s, nil
}

// agents builds the model client and the token ledger, which lives in the
// queue's database so every replica counts against the same daily budget.
func (s *Server) agents(ctx context.Context, cfg config.Server) (job.Agents, error) {
	lc := llm.ConfigFromEnv(os.Getenv)
	lc.Model, lc.APIKey = cfg.LLMModel, cfg.LLMAPIKey
	if cfg.LLMBaseURL != "" {
		lc.BaseURL = cfg.LLMBaseURL
	}
	if err := lc.Check(); err != nil {
		return job.Agents{}, err
	}
	client, err := llm.New(lc)
	if err != nil {
		return job.Agents{}, err
	}
	driver, dsn, dialect := "pgx", cfg.DatabaseURL, "postgres"
	if dsn == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return job.Agents{}, fmt.Errorf("--data-dir / KUBEWRIGHT_DATA_DIR: %w", err)
		}
		driver, dsn, dialect = "sqlite", filepath.Join(cfg.DataDir, "usage.db"), "sqlite"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return job.Agents{}, fmt.Errorf("token ledger: %w", err)
	}
	s.closers = append(s.closers, db.Close)
	ledger, err := llm.NewSQLLedger(ctx, db, dialect)
	if err != nil {
		return job.Agents{}, fmt.Errorf("token ledger: %w", err)
	}
	return job.Agents{Model: client, Ledger: ledger,
		Budget: llm.Budget{PerCall: cfg.TokensPerCall, PerJob: cfg.TokensPerJob, PerDay: cfg.TokensPerDay}}, nil
}

// Handler serves /webhook, /healthz, /readyz, and /metrics unless
// --metrics-listen moves it to its own listener.
func (s *Server) Handler() http.Handler { return s.handler }

// Start begins working queued jobs, with a validation server started and
// the Go build cache warmed in the background.
func (s *Server) Start(ctx context.Context) error {
	s.val.Start()
	return s.queue.Start(ctx)
}

// Close stops the queue (running jobs get until ctx is done), every
// validation API server (spare or in use) and the database.
func (s *Server) Close(ctx context.Context) error {
	err := s.queue.Stop(ctx)
	s.queue.Close()
	for _, c := range s.closers {
		err = errors.Join(err, c())
	}
	return err
}

// ListenAndServe serves until ctx is cancelled, then shuts down gracefully:
// intake stops first, then the queue finishes or hands back its jobs. Both
// addresses are bound before any job starts, so a taken port fails
// start-up.
//
// Timeouts: headers must arrive within 10 s, and the webhook handler cuts
// each body off at GitHub's own 10 s delivery timeout
// (githubapp.DefaultReadTimeout), so ReadTimeout is only the backstop of
// routes that set no deadline of their own: headers plus one body. Headers
// are capped at 64 KiB (GitHub sends ~2 KiB) instead of net/http's 1 MiB,
// as every connection may hold that much before its request is read.
func (s *Server) ListenAndServe(ctx context.Context) error {
	servers := []*http.Server{{Addr: s.cfg.Listen, Handler: s.handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 10*time.Second + githubapp.DefaultReadTimeout, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}}
	if s.metrics != nil {
		servers = append(servers, &http.Server{Addr: s.cfg.MetricsListen, Handler: s.metrics, ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10})
	}
	listeners := make([]net.Listener, 0, len(servers))
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for _, srv := range servers {
		l, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			closeAll()
			return errors.Join(fmt.Errorf("listen %s: %w", srv.Addr, err), s.Close(context.Background()))
		}
		listeners = append(listeners, l)
	}
	if err := s.Start(ctx); err != nil {
		closeAll()
		return err
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", srv.Addr, err)
			}
		}()
	}
	s.log.Info("serving", "listen", listeners[0].Addr().String(), "metrics_listen", s.cfg.MetricsListen)

	var failed error
	select {
	case failed = <-errc:
		s.log.Error("shutting down", "reason", failed.Error())
	case <-ctx.Done():
		s.log.Info("shutting down", "reason", context.Cause(ctx).Error())
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := failed
	for _, srv := range servers {
		err = errors.Join(err, srv.Shutdown(shutdown))
	}
	err = errors.Join(err, s.Close(shutdown))
	if err != nil {
		s.log.Error("stopped", "err", err.Error())
		return err
	}
	s.log.Info("stopped")
	return nil
}

// queueStatus is the runner's status store in the queue's database; the
// queue is opened with the runner, so it refers to the queue once it
// exists.
type queueStatus struct{ s *Server }

var (
	_ job.StatusStore = queueStatus{}
	_ job.StatusStore = (*queue.Queue)(nil)
)

func (q queueStatus) LoadStatus(ctx context.Context, delivery string) (int64, int, bool, error) {
	return q.s.queue.LoadStatus(ctx, delivery)
}

func (q queueStatus) SaveStatus(ctx context.Context, delivery string, commentID int64, ahead int) error {
	return q.s.queue.SaveStatus(ctx, delivery, commentID, ahead)
}

func (q queueStatus) ForgetStatus(ctx context.Context, delivery string) error {
	return q.s.queue.ForgetStatus(ctx, delivery)
}

// sink puts deliveries into the durable queue.
type sink struct{ q *queue.Queue }

var _ githubapp.Sink = sink{}

func (k sink) Accept(ctx context.Context, d githubapp.Delivery) (githubapp.Outcome, error) {
	dup, err := k.q.Enqueue(ctx, queue.NewDelivery(d.Request))
	if err != nil {
		return 0, err
	}
	if dup {
		return githubapp.Duplicate, nil
	}
	return githubapp.Accepted, nil
}
