// Package metrics right-sizes a container from its observed usage: it
// asks a Prometheus server's HTTP API (query_range) for the container's
// CPU usage rate (container_cpu_usage_seconds_total) and memory working
// set (container_memory_working_set_bytes), as cAdvisor reports them for
// every pod of a workload, over a window, and recommends requests and
// limits from the 95th percentile and the maximum, with headroom, rounded
// to sane units. The Recommendation carries every number it used, for the
// pull request body.
//
// It is a leaf: it imports only the standard library.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Client.
const (
	// DefaultWindow is the usage window when a Target gives none.
	DefaultWindow = 7 * 24 * time.Hour
	// DefaultRateWindow is the range of the CPU rate() (at least the step).
	DefaultRateWindow = 5 * time.Minute
	// DefaultMinSamples is how many samples a recommendation needs.
	DefaultMinSamples = 30
	// maxPoints caps the points of one series a query asks for.
	maxPoints = 1000
	// maxBody caps a response.
	maxBody = 32 << 20
)

// Headroom: requests are the 95th percentile times RequestFactor, limits
// the maximum times LimitFactor (and never below the request).
const (
	RequestFactor = 1.2
	LimitFactor   = 1.5
)

// Target names the container to right-size.
type Target struct {
	Namespace string
	// Workload is the Deployment's or StatefulSet's name; its pods are
	// NAME-HASH-ID (Deployment) or NAME-N (StatefulSet).
	Workload string
	// Kind is "Deployment" or "StatefulSet".
	Kind      string
	Container string
	// Window is how far back to look (0: DefaultWindow).
	Window time.Duration
}

// Recommendation is what a right-sizing found and proposes.
type Recommendation struct {
	// Window and Step are the query's range and resolution.
	Window string `json:"window"`
	Step   string `json:"step"`
	// Pods is the number of pods seen, Samples the number of samples per
	// resource the percentiles were taken over.
	Pods    int `json:"pods"`
	Samples int `json:"samples"`
	// CPU is in cores, Memory in bytes.
	CPU    Usage `json:"cpu"`
	Memory Usage `json:"memory"`
	// Method says how the numbers were derived, in one sentence.
	Method string `json:"method"`
	// Queries are the PromQL queries asked.
	Queries []string `json:"queries"`
	// Took is how long the queries took.
	Took time.Duration `json:"took"`
}

// Usage is the observed usage of one resource and what it recommends.
type Usage struct {
	P95Value float64 `json:"p95_value"`
	MaxValue float64 `json:"max_value"`
	// P95 and Max are the same, as Kubernetes quantities.
	P95 string `json:"p95"`
	Max string `json:"max"`
	// Request and Limit are the recommended quantities.
	Request string `json:"request"`
	Limit   string `json:"limit"`
}

// Client queries one Prometheus server.
type Client struct {
	base *url.URL
	http *http.Client
	// Now is the end of the window (default time.Now).
	Now func() time.Time
	// RateWindow is the CPU rate() range (default DefaultRateWindow).
	RateWindow time.Duration
	// MinSamples is how many samples a recommendation needs (default
	// DefaultMinSamples).
	MinSamples int
}

// New returns a client of the Prometheus server at rawURL (http or
// https); hc nil means a client with a 30 s timeout.
func New(rawURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus URL %q: give http(s)://host:port", rawURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: u, http: hc, Now: time.Now, RateWindow: DefaultRateWindow, MinSamples: DefaultMinSamples}, nil
}

// Series is one time series of a range query.
type Series struct {
	Labels map[string]string
	Values []float64
}

// QueryRange runs a PromQL range query.
func (c *Client) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	q := url.Values{}
	q.Set("query", query)
	q.Set("start", strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64))
	q.Set("end", strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', 3, 64))
	q.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	u := c.base.JoinPath("api", "v1", "query_range")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query Prometheus at %s: %w", c.base.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read Prometheus answer: %w", err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("the Prometheus answer is over %d MiB; use a shorter window", maxBody>>20)
	}
	return ParseMatrix(body)
}

// ParseMatrix reads a query_range answer (a "matrix"), or the error the
// server reported.
func ParseMatrix(body []byte) ([]Series, error) {
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("the Prometheus answer is not its API's JSON: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("Prometheus refused the query: %s: %s", r.ErrorType, clip(r.Error))
	}
	if r.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("Prometheus answered a %q, not a matrix", clip(r.Data.ResultType))
	}
	out := make([]Series, 0, len(r.Data.Result))
	for _, s := range r.Data.Result {
		ser := Series{Labels: s.Metric}
		for _, p := range s.Values {
			v, ok := p[1].(string)
			if !ok {
				return nil, errors.New("a Prometheus sample value is not a string")
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("a Prometheus sample value %q is not a number", clip(v))
			}
			if !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 0 {
				ser.Values = append(ser.Values, f)
			}
		}
		out = append(out, ser)
	}
	return out, nil
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Queries are the PromQL queries Recommend asks for t, CPU then memory.
func (c *Client) Queries(t Target, step time.Duration) (cpu, mem string) {
	pods := regexp.QuoteMeta(t.Workload) + "-[a-z0-9]+-[a-z0-9]+"
	if t.Kind == "StatefulSet" {
		pods = regexp.QuoteMeta(t.Workload) + "-[0-9]+"
	}
	sel := fmt.Sprintf(`namespace=%q,pod=~%q,container=%q`, t.Namespace, pods, t.Container)
	rw := max(c.rateWindow(), step)
	cpu = fmt.Sprintf(`max by (pod) (rate(container_cpu_usage_seconds_total{%s}[%s]))`, sel, promDuration(rw))
	mem = fmt.Sprintf(`max by (pod) (container_memory_working_set_bytes{%s})`, sel)
	return cpu, mem
}

func (c *Client) rateWindow() time.Duration {
	if c.RateWindow <= 0 {
		return DefaultRateWindow
	}
	return c.RateWindow
}

// promDuration writes a duration in PromQL's units.
func promDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + "s"
}

// Recommend queries t's usage over its window and recommends requests and
// limits.
func (c *Client) Recommend(ctx context.Context, t Target) (*Recommendation, error) {
	for _, v := range []string{t.Namespace, t.Workload, t.Container} {
		if !dnsLabel.MatchString(v) || len(v) > 253 {
			return nil, fmt.Errorf("right-size: %q is not a Kubernetes name", clip(v))
		}
	}
	window := t.Window
	if window <= 0 {
		window = DefaultWindow
	}
	step := max(time.Second, (window / maxPoints).Round(time.Second))
	end := c.Now()
	start := end.Add(-window)
	cpuQ, memQ := c.Queries(t, step)
	began := time.Now()
	cpu, err := c.QueryRange(ctx, cpuQ, start, end, step)
	if err != nil {
		return nil, err
	}
	mem, err := c.QueryRange(ctx, memQ, start, end, step)
	if err != nil {
		return nil, err
	}
	rec := &Recommendation{Window: fmtDuration(window), Step: fmtDuration(step), Queries: []string{cpuQ, memQ}, Took: time.Since(began),
		Method: fmt.Sprintf("Requests are the 95th percentile × %.1f, limits the maximum × %.1f (at least the request); CPU rounded up to 10m (100m above 1 core), memory to 16Mi (128Mi above 1Gi).", RequestFactor, LimitFactor)}
	cpuV, cpuPods := flatten(cpu)
	memV, memPods := flatten(mem)
	rec.Samples = min(len(cpuV), len(memV))
	rec.Pods = max(cpuPods, memPods)
	need := c.MinSamples
	if need <= 0 {
		need = DefaultMinSamples
	}
	if rec.Samples < need {
		return nil, fmt.Errorf("only %d samples of %s/%s container %s in the last %s (%d needed): check that Prometheus scrapes cAdvisor for that namespace, wait for more data, or widen --window",
			rec.Samples, t.Namespace, t.Workload, t.Container, rec.Window, need)
	}
	rec.CPU = usage(cpuV, cpuQuantity, showCPU)
	rec.Memory = usage(memV, memQuantity, showMem)
	return rec, nil
}

// flatten gathers every sample of every series and counts the pods.
func flatten(ss []Series) ([]float64, int) {
	var vs []float64
	pods := map[string]bool{}
	for _, s := range ss {
		if len(s.Values) > 0 {
			pods[s.Labels["pod"]] = true
		}
		vs = append(vs, s.Values...)
	}
	return vs, len(pods)
}

// usage computes the percentiles and the recommendation of one resource.
func usage(vs []float64, quantity func(float64) (string, float64), show func(float64) string) Usage {
	sort.Float64s(vs)
	p95 := vs[int(math.Ceil(0.95*float64(len(vs))))-1]
	mx := vs[len(vs)-1]
	u := Usage{P95Value: p95, MaxValue: mx}
	u.P95, u.Max = show(p95), show(mx)
	var req, lim float64
	u.Request, req = quantity(p95 * RequestFactor)
	u.Limit, lim = quantity(mx * LimitFactor)
	if lim < req {
		u.Limit = u.Request
	}
	return u
}

// cpuQuantity rounds cores up to 10m (100m above one core), at least 10m.
func cpuQuantity(cores float64) (string, float64) {
	m := math.Ceil(cores*1000 - 1e-9)
	unit := 10.0
	if m > 1000 {
		unit = 100
	}
	m = math.Max(unit, math.Ceil(m/unit)*unit)
	return strconv.FormatFloat(m, 'f', 0, 64) + "m", m / 1000
}

// memQuantity rounds bytes up to 16Mi (128Mi above 1Gi), at least 16Mi.
func memQuantity(b float64) (string, float64) {
	const mi = 1 << 20
	m := math.Ceil(b/mi - 1e-9)
	unit := 16.0
	if m > 1024 {
		unit = 128
	}
	m = math.Max(unit, math.Ceil(m/unit)*unit)
	return strconv.FormatFloat(m, 'f', 0, 64) + "Mi", m * mi
}

// showCPU writes observed cores in millicores, showMem bytes in Mi.
func showCPU(cores float64) string { return strconv.FormatFloat(cores*1000, 'f', 1, 64) + "m" }

func showMem(b float64) string { return strconv.FormatFloat(b/(1<<20), 'f', 1, 64) + "Mi" }

// fmtDuration writes a window in days, hours, minutes or seconds.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + "s"
}

// clip shortens server text quoted in an error.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}

// Lines are the recommendation's figures for a pull request body, one
// sentence each: the window, the observed percentiles and the result.
func (r *Recommendation) Lines() []string {
	return []string{
		fmt.Sprintf("Observed over %s at a %s step: %d pods, %d samples per resource.", r.Window, r.Step, r.Pods, r.Samples),
		fmt.Sprintf("CPU: p95 %s, max %s → request %s, limit %s.", r.CPU.P95, r.CPU.Max, dash(r.CPU.Request), dash(r.CPU.Limit)),
		fmt.Sprintf("Memory: p95 %s, max %s → request %s, limit %s.", r.Memory.P95, r.Memory.Max, dash(r.Memory.Request), dash(r.Memory.Limit)),
		r.Method,
	}
}

func dash(s string) string {
	if s == "" {
		return "unchanged"
	}
	return s
}
