package githubapp

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// apiMetrics counts GitHub API calls and records the rate limit GitHub
// reports on each response.
type apiMetrics struct {
	calls     *prometheus.CounterVec
	remaining *prometheus.GaugeVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubewright_github_api_requests_total", Help: "GitHub API requests by method and status code.",
		}, []string{"method", "code"}),
		remaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kubewright_github_rate_limit_remaining", Help: "X-RateLimit-Remaining of the last GitHub response, by installation.",
		}, []string{"installation"}),
	}
	if reg != nil {
		m.calls = register(reg, m.calls)
		m.remaining = register(reg, m.remaining)
	}
	return m
}

// counting wraps an installation's transport with the metrics.
type counting struct {
	next         http.RoundTripper
	m            *apiMetrics
	installation string
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
		if rem := resp.Header.Get("X-RateLimit-Remaining"); rem != "" {
			if v, perr := strconv.ParseFloat(rem, 64); perr == nil {
				c.m.remaining.WithLabelValues(c.installation).Set(v)
			}
		}
	}
	c.m.calls.WithLabelValues(r.Method, code).Inc()
	return resp, err
}
