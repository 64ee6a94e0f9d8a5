package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/app"
	"github.com/kubewright/kubewright/internal/config"
)

func newServeCmd() *cobra.Command {
	cfg, envErr := config.ServerDefaults(os.Getenv)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the GitHub App: turn /ai comments into validated pull requests",
		Long: `Serve the GitHub App: POST /webhook (signature-checked, acknowledged in
milliseconds, queued durably), /healthz, /readyz and /metrics. One process
serves every installation; jobs for one repository run one at a time. The
queue is SQLite in --data-dir by default, PostgreSQL with --database-url
when several replicas share it. Every flag has a KUBEWRIGHT_* environment
variable; a missing or malformed setting stops start-up with its name.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if envErr != nil {
				return usageErr("%v", envErr)
			}
			log := slog.New(slog.NewJSONHandler(c.ErrOrStderr(), nil))
			srv, err := app.NewServer(c.Context(), cfg, log)
			if err != nil {
				return usageErr("%v", err)
			}
			return srv.ListenAndServe(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on (KUBEWRIGHT_LISTEN)")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "serve /metrics on this address only, not on --listen (KUBEWRIGHT_METRICS_LISTEN)")
	f.Int64Var(&cfg.AppID, "app-id", cfg.AppID, "GitHub App ID (KUBEWRIGHT_APP_ID)")
	f.StringVar(&cfg.PrivateKeyFile, "private-key-file", cfg.PrivateKeyFile, "GitHub App private key, PEM (KUBEWRIGHT_PRIVATE_KEY_FILE)")
	f.StringVar(&cfg.WebhookSecret, "webhook-secret", cfg.WebhookSecret, "webhook secret (KUBEWRIGHT_WEBHOOK_SECRET; prefer the variable)")
	f.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL for a shared queue (KUBEWRIGHT_DATABASE_URL)")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory of the embedded SQLite queue (KUBEWRIGHT_DATA_DIR)")
	f.StringVar(&cfg.GitHubURL, "github-url", cfg.GitHubURL, "GitHub Enterprise Server URL (KUBEWRIGHT_GITHUB_URL)")
	f.IntVar(&cfg.Workers, "workers", cfg.Workers, "jobs run in parallel, across repositories (KUBEWRIGHT_WORKERS)")
	f.StringVar(&cfg.Prefix, "prefix", cfg.Prefix, "command prefix (KUBEWRIGHT_PREFIX)")
	f.StringVar(&cfg.TriggerLabel, "trigger-label", cfg.TriggerLabel, "issue label that starts a containerize (KUBEWRIGHT_TRIGGER_LABEL)")
	f.StringVar(&cfg.CRDs, "crds", cfg.CRDs, "comma-separated CRD directories for validation (KUBEWRIGHT_CRDS)")
	f.StringVar(&cfg.Assets, "assets", cfg.Assets, "kube-apiserver and etcd for the dry-run (KUBEWRIGHT_ASSETS)")
	f.StringVar(&cfg.GoProxy, "go-proxy", cfg.GoProxy, "GOPROXY for generated Go modules' requirements, downloaded outside the sandbox; off = none (KUBEWRIGHT_GOPROXY; default: go env GOPROXY)")
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", cfg.Kubeconfig, "the cluster operations and /ai diagnose read (read-only): a kubeconfig, or in-cluster (KUBEWRIGHT_KUBECONFIG)")
	f.StringVar(&cfg.KubeContext, "kube-context", cfg.KubeContext, "the kubeconfig's context (KUBEWRIGHT_KUBE_CONTEXT)")
	f.StringVar(&cfg.NotifyURL, "notify-url", cfg.NotifyURL, "Slack-compatible incoming webhook every /ai diagnose is posted to (KUBEWRIGHT_NOTIFY_URL; prefer the variable)")
	f.StringVar(&cfg.Prometheus, "prometheus-url", cfg.Prometheus, "Prometheus for /ai resources --from-metrics (KUBEWRIGHT_PROMETHEUS_URL)")
	f.StringVar(&cfg.LLMBaseURL, "llm-base-url", cfg.LLMBaseURL, "OpenAI-compatible API for free-text requests (KUBEWRIGHT_LLM_BASE_URL; the key only as KUBEWRIGHT_LLM_API_KEY)")
	f.StringVar(&cfg.LLMModel, "llm-model", cfg.LLMModel, "model for free-text requests; empty disables them (KUBEWRIGHT_LLM_MODEL)")
	f.IntVar(&cfg.TokensPerCall, "llm-tokens-per-call", cfg.TokensPerCall, "completion tokens per model call (KUBEWRIGHT_LLM_TOKENS_PER_CALL)")
	f.IntVar(&cfg.TokensPerJob, "llm-tokens-per-job", cfg.TokensPerJob, "tokens per job (KUBEWRIGHT_LLM_TOKENS_PER_JOB)")
	f.IntVar(&cfg.TokensPerDay, "llm-tokens-per-day", cfg.TokensPerDay, "tokens per installation and UTC day (KUBEWRIGHT_LLM_TOKENS_PER_DAY)")
	return c
}
