package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the token ledger on PostgreSQL
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/validate"
)

// Server is the GitHub App: webhook intake, durable queue, job runner,
// health and metrics. Build it with NewServer; it fails before serving on
// any missing or malformed setting.
type Server struct {
	cfg     config.Server
	log     *slog.Logger
	queue   *queue.Queue
	eph     *validate.Ephemeral
	handler http.Handler
	closers []func() error
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
	vopts := validate.Options{}
	if cfg.CRDs != "" {
		for _, d := range strings.Split(cfg.CRDs, ",") {
			crds, err := validate.LoadCRDs(strings.TrimSpace(d))
			if err != nil {
				return nil, fmt.Errorf("KUBEWRIGHT_CRDS: %w", err)
			}
			vopts.CRDs = append(vopts.CRDs, crds...)
		}
	}
	if assets, err := validate.FindAssets(cfg.Assets); err == nil {
		s.eph = validate.NewEphemeral(assets)
		vopts.DryRun = validate.DryRunCheck{Config: func(ctx context.Context) (*rest.Config, error) { return s.eph.Config(ctx) }, Install: true, Memo: s.eph.Memo()}
	} else if cfg.Assets != "" {
		return nil, fmt.Errorf("KUBEWRIGHT_ASSETS: %w", err)
	} else {
		log.Warn("server-side dry-run disabled: no kube-apiserver binaries (set KUBEWRIGHT_ASSETS)")
	}
	// The runner cancels through the queue it runs in; the queue is opened
	// with the runner, so the canceller refers to it once it exists.
	canceller := job.CancellerFunc(func(ctx context.Context, subject, except string) (int, error) {
		return s.queue.CancelSubject(ctx, subject, except)
	})
	jopts := []job.Option{job.WithPrefix(cfg.Prefix), job.WithTriggerLabel(cfg.TriggerLabel), job.WithCanceller(canceller), job.WithLogger(log), job.WithMetrics(reg)}
	if cfg.LLMModel != "" {
		agents, err := s.agents(ctx, cfg)
		if err != nil {
			return nil, err
		}
		jopts = append(jopts, job.WithAgents(agents))
	} else {
		log.Info("free-text requests disabled: no model (set KUBEWRIGHT_LLM_MODEL)")
	}
	runner := job.New(clients, func(ctx context.Context, dir string, extra ...validate.Check) (*validate.Report, error) {
		return validate.Validate(ctx, dir, vopts.With(extra...))
	}, jopts...)

	qopts := queue.Options{Workers: cfg.Workers}
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
		githubapp.WithLogger(log), githubapp.WithRegistry(reg)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.queue.Ping(ctx); err != nil {
			http.Error(w, "queue database unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
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

// Handler serves /webhook, /healthz, /readyz and /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// Start begins working queued jobs.
func (s *Server) Start(ctx context.Context) error { return s.queue.Start(ctx) }

// Close stops the queue (running jobs get until ctx is done), the ephemeral
// API server and the database.
func (s *Server) Close(ctx context.Context) error {
	err := s.queue.Stop(ctx)
	s.queue.Close()
	if s.eph != nil {
		err = errors.Join(err, s.eph.Stop())
	}
	for _, c := range s.closers {
		err = errors.Join(err, c())
	}
	return err
}

// ListenAndServe serves until ctx is cancelled, then shuts down gracefully:
// intake stops first, then the queue finishes or hands back its jobs.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	srv := &http.Server{Addr: s.cfg.Listen, Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	s.log.Info("serving", "listen", s.cfg.Listen)
	select {
	case err := <-errc:
		s.Close(context.Background())
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	return errors.Join(err, s.Close(shutdown))
}

// sink puts deliveries into the durable queue.
type sink struct{ q *queue.Queue }

var _ githubapp.Sink = sink{}

func (k sink) Accept(ctx context.Context, d githubapp.Delivery) (githubapp.Outcome, error) {
	dup, err := k.q.Enqueue(ctx, queue.Delivery{ID: d.ID, Event: d.Event, Installation: d.Installation, Repo: d.Repo, Subject: d.Subject, Payload: d.Raw})
	if err != nil {
		return 0, err
	}
	if dup {
		return githubapp.Duplicate, nil
	}
	return githubapp.Accepted, nil
}
