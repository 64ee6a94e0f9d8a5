package githubapp

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the outcome label. The event label is a name go-github knows
// or "unknown", so unauthenticated requests cannot grow the series.
const (
	outcomeAccepted     = "accepted"
	outcomeDuplicate    = "duplicate"
	outcomeIgnored      = "ignored" // irrelevant event or action, and ping
	outcomeBadSignature = "bad_signature"
	outcomeMalformed    = "malformed" // wrong method, headers, encoding or JSON
	outcomeTooLarge     = "too_large"
	outcomeError        = "error" // the sink failed
)

type metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubewright_webhook_deliveries_total",
			Help: "Webhook requests by event and outcome (accepted, duplicate, ignored, bad_signature, malformed, too_large, error).",
		}, []string{"event", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubewright_webhook_request_duration_seconds",
			Help: "Time from receiving a webhook request to answering it, by outcome.",
			// Intake should answer in milliseconds; GitHub gives up at 10 s.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
	}
	if reg != nil {
		m.deliveries = register(reg, m.deliveries)
		m.duration = register(reg, m.duration)
	}
	return m
}

// register adds c to reg, or returns the collector already registered
// under the same description (a second handler on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("githubapp: registering webhook metrics: " + err.Error())
	}
	return c
}

func (m *metrics) observe(event, outcome string, d time.Duration) {
	m.deliveries.WithLabelValues(event, outcome).Inc()
	m.duration.WithLabelValues(outcome).Observe(d.Seconds())
}
