package job

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"
)

// jobMetrics: jobs by event and result, their duration, and how many run.
type jobMetrics struct {
	jobs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	running  prometheus.Gauge
}

func newJobMetrics() *jobMetrics {
	return &jobMetrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubewright_jobs_total", Help: "Finished job attempts by event and result (succeeded, retry, snoozed, cancelled).",
		}, []string{"event", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubewright_job_duration_seconds", Help: "Job attempt duration by event.",
			Buckets: []float64{.1, .5, 1, 2, 5, 10, 30, 60, 120, 300, 900},
		}, []string{"event"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kubewright_jobs_running", Help: "Jobs running in this process."}),
	}
}

// WithMetrics registers the job metrics on reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(r *Runner) { reg.MustRegister(r.metrics.jobs, r.metrics.duration, r.metrics.running) }
}

func (m *jobMetrics) observe(event string, start time.Time, err error) {
	result := "succeeded"
	var snooze *rivertype.JobSnoozeError
	var cancel *rivertype.JobCancelError
	switch {
	case err == nil:
	case errors.As(err, &snooze):
		result = "snoozed"
	case errors.As(err, &cancel):
		result = "cancelled"
	default:
		result = "retry"
	}
	m.jobs.WithLabelValues(event, result).Inc()
	m.duration.WithLabelValues(event).Observe(time.Since(start).Seconds())
}
