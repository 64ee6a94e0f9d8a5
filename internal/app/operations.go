package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/notify"
	"github.com/kubewright/kubewright/internal/ops/metrics"
)

// operations wires what the Day-2 operations and diagnose read besides
// the repository: the cluster (read-only) and Prometheus. Neither is
// required; without them operations say what they could not read.
func operations(cfg config.Server, log *slog.Logger) ([]job.Option, error) {
	var opts []job.Option
	if cfg.Prometheus != "" {
		c, err := metrics.New(cfg.Prometheus, &http.Client{Timeout: time.Minute})
		if err != nil {
			return nil, fmt.Errorf("--prometheus-url / KUBEWRIGHT_PROMETHEUS_URL: %w", err)
		}
		opts = append(opts, job.WithUsage(c))
	}
	if cfg.NotifyURL != "" {
		w, err := notify.New(cfg.NotifyURL)
		if err != nil {
			return nil, fmt.Errorf("KUBEWRIGHT_NOTIFY_URL: %w", err)
		}
		opts = append(opts, job.WithNotifier(w))
	}
	if cfg.Kubeconfig == "" {
		log.Info("no cluster configured: operations show no current state, /ai diagnose is off (set KUBEWRIGHT_KUBECONFIG)")
		return opts, nil
	}
	rc, err := clusterConfig(cfg.Kubeconfig, cfg.KubeContext)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig / KUBEWRIGHT_KUBECONFIG: %w", err)
	}
	cl, err := diagnose.NewCluster(rc)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig / KUBEWRIGHT_KUBECONFIG: %w", err)
	}
	log.Info("cluster configured, read-only", "host", rc.Host)
	return append(opts, job.WithCluster(cl)), nil
}

// clusterConfig reads a kubeconfig, or the Pod's own identity for
// "in-cluster".
func clusterConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	if kubeconfig == "in-cluster" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster: %w", err)
		}
		return rc, nil
	}
	rc, err := loadKubeconfig(kubeconfig, kubeContext)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 20, 40 // reads only, never the dry-run's bursts
	return rc, nil
}
