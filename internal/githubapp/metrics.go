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
	outcomeTimeout      = "timeout"     // the body did not arrive within the read timeout
	outcomeBusy         = "busy"        // too many bodies in flight
	outcomeOverBudget   = "over_budget" // the buffered-bytes budget stayed exhausted
	outcomeError        = "error"       // the sink failed
)

type metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	buffered   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubewright_webhook_deliveries_total",
			Help: "Webhook requests by event and outcome (accepted, duplicate, ignored, bad_signature, malformed, too_large, timeout, busy, over_budget, error).",
		}, []string{"event", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubewright_webhook_request_duration_seconds",
			Help: "Time from receiving a webhook request to answering it, by outcome.",
			// Intake should answer in milliseconds; GitHub gives up at 10 s.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubewright_webhook_bodies_in_flight",
			Help: "Webhook request bodies being read now (bounded by the in-flight limit).",
		}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubewright_webhook_buffered_bytes",
			Help: "Bytes of the webhook body budget held now by requests being read or queued.",
		}),
	}
	if reg != nil {
		m.deliveries = register(reg, m.deliveries)
		m.duration = register(reg, m.duration)
		m.inFlight = register(reg, m.inFlight)
		m.buffered = register(reg, m.buffered)
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
