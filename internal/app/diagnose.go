package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/notify"
	"github.com/kubewright/kubewright/internal/validate/build"
)

// EnvNotifyURL is the incoming-webhook URL diagnoses are posted to when
// --notify is not given.
const EnvNotifyURL = "KUBEWRIGHT_NOTIFY_URL"

// DiagnoseSettings are `kubewright diagnose`'s flags. What they leave
// empty comes from the environment, read here once (Getenv): the model
// (KUBEWRIGHT_LLM_*, OPENAI_API_KEY) and KUBEWRIGHT_NOTIFY_URL; the
// cluster from KUBECONFIG, ~/.kube/config or the in-cluster identity, as
// kubectl finds it.
type DiagnoseSettings struct {
	// Service is the service to diagnose ("" for every workload of the
	// namespace).
	Service string
	// Kubeconfig is a kubeconfig file ("" for kubectl's rules); Context
	// a context of it ("" for its current one).
	Kubeconfig, Context string
	// Namespace is where the service runs; "" for the context's
	// namespace, else the one the repository's manifests give the
	// service.
	Namespace string
	// Repo is the repository the findings are traced to ("" for the
	// current directory).
	Repo string
	// LLM are the model flags; with a model configured (flag or
	// environment), the model ranks the root cause. Budget bounds it.
	LLM    llm.Config
	Budget llm.Budget
	// NotifyURL is the incoming webhook the summary is posted to ("": the
	// environment's, else none).
	NotifyURL string
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
}

// Diagnosis is a diagnosis as the command line shows it.
type Diagnosis struct {
	*diagnose.Report
	// NamespaceFrom says where the namespace came from: "flag",
	// "context" or "repository".
	NamespaceFrom string
	// Model is the model asked for the root cause, "" for none.
	Model string
	// Notified is the host of the webhook the summary was posted to.
	Notified string
}

// NotifyError is a diagnosis that was made but could not be posted: the
// report is there to print, and the post failed.
type NotifyError struct{ Err error }

func (e *NotifyError) Error() string { return e.Err.Error() }
func (e *NotifyError) Unwrap() error { return e.Err }

// Diagnose wires a diagnosis from the command line: the cluster as
// kubectl would reach it, the namespace, the repository (loaded once),
// the model when one is configured, the notification when asked for.
// It only reads the cluster. A setting that is missing or malformed is a
// *SettingError; a failed post a *NotifyError, with the diagnosis.
func Diagnose(ctx context.Context, s DiagnoseSettings) (*Diagnosis, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var model llm.Answerer
	lc := overlayLLM(llm.ConfigFromEnv(getenv), s.LLM)
	switch {
	case lc.Enabled():
		if err := lc.Check(); err != nil {
			return nil, &SettingError{err}
		}
		c, err := llm.New(lc)
		if err != nil {
			return nil, &SettingError{err}
		}
		model = c
	case s.LLM.BaseURL != "" || s.LLM.APIKey != "":
		return nil, &SettingError{fmt.Errorf("--llm-base-url or --llm-api-key without a model: name it with --llm-model (or %s)", llm.EnvModel)}
	}
	var hook *notify.Webhook
	if u := firstNonEmpty(s.NotifyURL, getenv(EnvNotifyURL)); u != "" {
		w, err := notify.New(u)
		if err != nil {
			return nil, &SettingError{fmt.Errorf("--notify (or %s): %w", EnvNotifyURL, err)}
		}
		hook = w
	}
	cfg, ctxNamespace, err := kubectlConfig(s.Kubeconfig, s.Context)
	if err != nil {
		return nil, &SettingError{err}
	}
	repo := firstNonEmpty(s.Repo, ".")
	if st, err := os.Stat(repo); err != nil || !st.IsDir() {
		return nil, &SettingError{fmt.Errorf("--repo %s is not a directory: give the repository the service's manifests are in", repo)}
	}
	in, loadFindings, err := build.Load(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("read repository %s: %w", repo, err)
	}
	out := &Diagnosis{NamespaceFrom: "flag"}
	ns := s.Namespace
	if ns == "" && ctxNamespace != "" {
		ns, out.NamespaceFrom = ctxNamespace, "context"
	}
	if ns == "" {
		out.NamespaceFrom = "repository"
		switch found := diagnose.RepoNamespaces(in, s.Service); {
		case len(found) == 1:
			ns = found[0]
		case len(found) > 1:
			return nil, &SettingError{fmt.Errorf("the repository puts %s in namespaces %s: name the one to diagnose with --namespace", s.Service, strings.Join(found, ", "))}
		case s.Service == "":
			return nil, &SettingError{errors.New("no namespace: the kubeconfig's context sets none; name it with --namespace (or name a SERVICE the repository places)")}
		default:
			return nil, &SettingError{fmt.Errorf("no namespace: the kubeconfig's context sets none and the repository at %s does not place %s in one; name it with --namespace", repo, s.Service)}
		}
	}
	cl, err := diagnose.NewCluster(cfg)
	if err != nil {
		return nil, &SettingError{err}
	}
	opts := []diagnose.Option{diagnose.WithInput(in, loadFindings)}
	if model != nil {
		opts = append(opts, diagnose.WithRootCause(model, llm.NewMeter(s.Budget)))
		out.Model = lc.Model
	}
	if out.Report, err = diagnose.Diagnose(ctx, cl, ns, s.Service, repo, opts...); err != nil {
		return nil, err
	}
	if hook != nil {
		if err := hook.Post(ctx, notify.Diagnosis(out.Report)); err != nil {
			return out, &NotifyError{err}
		}
		out.Notified = hook.Host()
	}
	return out, nil
}

// kubectlConfig reaches the cluster as kubectl would: kubeconfig (else
// KUBECONFIG, else ~/.kube/config, else the in-cluster identity) and its
// context (else the current one). The namespace is the context's, "" when
// it names none.
func kubectlConfig(kubeconfig, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, "", errors.New("no cluster to diagnose: give --kubeconfig, set KUBECONFIG, or write ~/.kube/config (in a pod, the ServiceAccount is used)")
	case err != nil && kubeconfig != "":
		return nil, "", fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
	case err != nil:
		return nil, "", fmt.Errorf("the kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 20, 40 // one diagnosis lists about twenty kinds at once
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("the kubeconfig: %w", err)
	}
	name := firstNonEmpty(context, raw.CurrentContext)
	ns := ""
	if c := raw.Contexts[name]; c != nil {
		ns = c.Namespace
	}
	return cfg, ns, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
