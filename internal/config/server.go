package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Server holds the settings of `kubewright serve`. Every field has a flag
// and an environment variable (KUBEWRIGHT_<NAME>); Check fails start-up on
// anything missing or malformed, naming the setting.
type Server struct {
	Listen         string // KUBEWRIGHT_LISTEN, default :8080
	MetricsListen  string // KUBEWRIGHT_METRICS_LISTEN: serve /metrics here only; empty = on Listen
	AppID          int64  // KUBEWRIGHT_APP_ID
	PrivateKeyFile string // KUBEWRIGHT_PRIVATE_KEY_FILE
	WebhookSecret  string // KUBEWRIGHT_WEBHOOK_SECRET
	DatabaseURL    string // KUBEWRIGHT_DATABASE_URL: postgres://... for several replicas; empty = SQLite
	DataDir        string // KUBEWRIGHT_DATA_DIR: where the SQLite queue lives, default ./data
	GitHubURL      string // KUBEWRIGHT_GITHUB_URL: GitHub Enterprise Server (or the tests' fake); default github.com
	Workers        int    // KUBEWRIGHT_WORKERS, default 4
	Prefix         string // KUBEWRIGHT_PREFIX, default /ai
	TriggerLabel   string // KUBEWRIGHT_TRIGGER_LABEL: an issue opened with it, or given it, is containerized; default kubewright
	CRDs           string // KUBEWRIGHT_CRDS: comma-separated CRD directories for validation
	Assets         string // KUBEWRIGHT_ASSETS or KUBEBUILDER_ASSETS: kube-apiserver + etcd for the dry-run
	GoProxy        string // KUBEWRIGHT_GOPROXY: GOPROXY for generated Go modules' requirements (downloaded outside the sandbox); empty = the process's go env GOPROXY, "off" = no downloads
	// The cluster Flux applies the repositories to, read-only: operations
	// show the current state, /ai diagnose reads it. Empty = none.
	Kubeconfig  string // KUBEWRIGHT_KUBECONFIG: a kubeconfig file, or "in-cluster" for the Pod's ServiceAccount
	KubeContext string // KUBEWRIGHT_KUBE_CONTEXT: the kubeconfig's context (default: its current one)
	Prometheus  string // KUBEWRIGHT_PROMETHEUS_URL: the Prometheus /resources --from-metrics asks
	NotifyURL   string // KUBEWRIGHT_NOTIFY_URL: a Slack-compatible incoming webhook every /ai diagnose is posted to

	// The LLM agents (free-text requests); off while LLMModel is empty.
	LLMBaseURL    string // KUBEWRIGHT_LLM_BASE_URL: any OpenAI-compatible API, default https://api.openai.com/v1
	LLMModel      string // KUBEWRIGHT_LLM_MODEL
	LLMAPIKey     string // KUBEWRIGHT_LLM_API_KEY, else OPENAI_API_KEY
	TokensPerCall int    // KUBEWRIGHT_LLM_TOKENS_PER_CALL: completion tokens per call, default 16000
	TokensPerJob  int    // KUBEWRIGHT_LLM_TOKENS_PER_JOB: prompt + completion per job, default 200000
	TokensPerDay  int    // KUBEWRIGHT_LLM_TOKENS_PER_DAY: per installation and UTC day, default 2000000
}

// ServerDefaults returns the defaults, overlaid with the environment.
func ServerDefaults(getenv func(string) string) (Server, error) {
	s := Server{Listen: ":8080", DataDir: "data", Workers: 4, Prefix: "/ai", TriggerLabel: "kubewright",
		TokensPerCall: 16000, TokensPerJob: 200000, TokensPerDay: 2000000}
	str := map[string]*string{
		"KUBEWRIGHT_LISTEN": &s.Listen, "KUBEWRIGHT_METRICS_LISTEN": &s.MetricsListen, "KUBEWRIGHT_PRIVATE_KEY_FILE": &s.PrivateKeyFile, "KUBEWRIGHT_WEBHOOK_SECRET": &s.WebhookSecret,
		"KUBEWRIGHT_DATABASE_URL": &s.DatabaseURL, "KUBEWRIGHT_DATA_DIR": &s.DataDir, "KUBEWRIGHT_GITHUB_URL": &s.GitHubURL,
		"KUBEWRIGHT_PREFIX": &s.Prefix, "KUBEWRIGHT_TRIGGER_LABEL": &s.TriggerLabel, "KUBEWRIGHT_CRDS": &s.CRDs, "KUBEBUILDER_ASSETS": &s.Assets, "KUBEWRIGHT_ASSETS": &s.Assets,
		"KUBEWRIGHT_LLM_BASE_URL": &s.LLMBaseURL, "KUBEWRIGHT_LLM_MODEL": &s.LLMModel, "OPENAI_API_KEY": &s.LLMAPIKey, "KUBEWRIGHT_LLM_API_KEY": &s.LLMAPIKey,
		"KUBEWRIGHT_KUBECONFIG": &s.Kubeconfig, "KUBEWRIGHT_KUBE_CONTEXT": &s.KubeContext, "KUBEWRIGHT_PROMETHEUS_URL": &s.Prometheus,
		"KUBEWRIGHT_NOTIFY_URL": &s.NotifyURL,
	}
	for _, k := range []string{"KUBEWRIGHT_LISTEN", "KUBEWRIGHT_METRICS_LISTEN", "KUBEWRIGHT_PRIVATE_KEY_FILE", "KUBEWRIGHT_WEBHOOK_SECRET", "KUBEWRIGHT_DATABASE_URL",
		"KUBEWRIGHT_DATA_DIR", "KUBEWRIGHT_GITHUB_URL", "KUBEWRIGHT_PREFIX", "KUBEWRIGHT_TRIGGER_LABEL", "KUBEWRIGHT_CRDS", "KUBEBUILDER_ASSETS", "KUBEWRIGHT_ASSETS",
		"KUBEWRIGHT_LLM_BASE_URL", "KUBEWRIGHT_LLM_MODEL", "OPENAI_API_KEY", "KUBEWRIGHT_LLM_API_KEY",
		"KUBEWRIGHT_KUBECONFIG", "KUBEWRIGHT_KUBE_CONTEXT", "KUBEWRIGHT_PROMETHEUS_URL", "KUBEWRIGHT_NOTIFY_URL"} {
		if v := getenv(k); v != "" {
			*str[k] = v
		}
	}
	if v := getenv("KUBEWRIGHT_GOPROXY"); v != "" {
		s.GoProxy = v
	}
	if v := getenv("KUBEWRIGHT_APP_ID"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s, fmt.Errorf("KUBEWRIGHT_APP_ID=%q: not a number (the App ID is on the App's settings page)", v)
		}
		s.AppID = id
	}
	for k, dst := range map[string]*int{"KUBEWRIGHT_WORKERS": &s.Workers, "KUBEWRIGHT_LLM_TOKENS_PER_CALL": &s.TokensPerCall,
		"KUBEWRIGHT_LLM_TOKENS_PER_JOB": &s.TokensPerJob, "KUBEWRIGHT_LLM_TOKENS_PER_DAY": &s.TokensPerDay} {
		if v := getenv(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return s, fmt.Errorf("%s=%q: not a number", k, v)
			}
			*dst = n
		}
	}
	return s, nil
}

// Check reports every missing or malformed setting at once.
func (s Server) Check() error {
	var errs []error
	if s.AppID <= 0 {
		errs = append(errs, errors.New("--app-id / KUBEWRIGHT_APP_ID is required (the GitHub App's ID)"))
	}
	if s.PrivateKeyFile == "" {
		errs = append(errs, errors.New("--private-key-file / KUBEWRIGHT_PRIVATE_KEY_FILE is required (the App's PEM private key)"))
	} else if st, err := os.Stat(s.PrivateKeyFile); err != nil || st.IsDir() {
		errs = append(errs, fmt.Errorf("--private-key-file / KUBEWRIGHT_PRIVATE_KEY_FILE %s: cannot read it", s.PrivateKeyFile))
	}
	if len(s.WebhookSecret) < 16 {
		errs = append(errs, errors.New("--webhook-secret / KUBEWRIGHT_WEBHOOK_SECRET is required and must be at least 16 characters"))
	}
	if s.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(s.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-listen / KUBEWRIGHT_METRICS_LISTEN %q: want host:port or :port (%v)", s.MetricsListen, err))
		} else if s.MetricsListen == s.Listen && port != "0" {
			errs = append(errs, fmt.Errorf("--metrics-listen / KUBEWRIGHT_METRICS_LISTEN %q is the webhook's address: use another port, or leave it empty to serve /metrics there", s.MetricsListen))
		}
	}
	if err := CheckGoProxy(s.GoProxy); err != nil {
		errs = append(errs, fmt.Errorf("--go-proxy / KUBEWRIGHT_GOPROXY: %w", err))
	}
	if s.Workers < 1 || s.Workers > 256 {
		errs = append(errs, fmt.Errorf("--workers / KUBEWRIGHT_WORKERS=%d: use 1 to 256", s.Workers))
	}
	if s.DatabaseURL != "" && !strings.HasPrefix(s.DatabaseURL, "postgres://") && !strings.HasPrefix(s.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("--database-url / KUBEWRIGHT_DATABASE_URL must be a postgres:// URL (leave it empty for the embedded SQLite queue)"))
	}
	if s.GitHubURL != "" && !strings.HasPrefix(s.GitHubURL, "https://") && !strings.HasPrefix(s.GitHubURL, "http://") {
		errs = append(errs, fmt.Errorf("--github-url / KUBEWRIGHT_GITHUB_URL %q must be an http(s) URL", s.GitHubURL))
	}
	if s.Prometheus != "" && !strings.HasPrefix(s.Prometheus, "https://") && !strings.HasPrefix(s.Prometheus, "http://") {
		errs = append(errs, fmt.Errorf("--prometheus-url / KUBEWRIGHT_PROMETHEUS_URL %q must be an http(s) URL", s.Prometheus))
	}
	if s.Kubeconfig != "" && s.Kubeconfig != "in-cluster" {
		if st, err := os.Stat(s.Kubeconfig); err != nil || st.IsDir() {
			errs = append(errs, fmt.Errorf("--kubeconfig / KUBEWRIGHT_KUBECONFIG %s: cannot read it (a kubeconfig file, or in-cluster)", s.Kubeconfig))
		}
	}
	if s.LLMModel != "" {
		if s.LLMBaseURL != "" && !strings.HasPrefix(s.LLMBaseURL, "https://") && !strings.HasPrefix(s.LLMBaseURL, "http://") {
			errs = append(errs, fmt.Errorf("--llm-base-url / KUBEWRIGHT_LLM_BASE_URL %q must be an http(s) URL", s.LLMBaseURL))
		}
		for _, b := range []struct {
			name string
			n    int
		}{{"--llm-tokens-per-call / KUBEWRIGHT_LLM_TOKENS_PER_CALL", s.TokensPerCall}, {"--llm-tokens-per-job / KUBEWRIGHT_LLM_TOKENS_PER_JOB", s.TokensPerJob}, {"--llm-tokens-per-day / KUBEWRIGHT_LLM_TOKENS_PER_DAY", s.TokensPerDay}} {
			if b.n <= 0 {
				errs = append(errs, fmt.Errorf("%s=%d: use a positive number of tokens (budgets are never unlimited in serve)", b.name, b.n))
			}
		}
	}
	return errors.Join(errs...)
}

// CheckGoProxy checks a GOPROXY setting for generated Go modules: empty
// (the process's own), "off", or a list of module proxy URLs (https://,
// http://, file://) separated by "," or "|", which may end in "direct".
// "direct" alone is refused: it means fetching from version control,
// which kubewright never runs (GOVCS=*:off).
func CheckGoProxy(v string) error {
	if v == "" || v == "off" {
		return nil
	}
	urls := 0
	for _, e := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '|' }) {
		switch {
		case e == "direct":
		case e == "off":
			return fmt.Errorf("%q: \"off\" stands alone (GOPROXY=off allows no downloads)", v)
		case strings.HasPrefix(e, "https://") || strings.HasPrefix(e, "http://") || strings.HasPrefix(e, "file://"):
			urls++
		default:
			return fmt.Errorf("%q: %q is no module proxy URL (want https://..., file://..., direct or off)", v, e)
		}
	}
	if urls == 0 {
		return fmt.Errorf("%q names no module proxy: kubewright never fetches from version control; give a proxy URL such as https://proxy.golang.org, or off", v)
	}
	return nil
}
