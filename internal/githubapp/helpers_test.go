package githubapp

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// examplesPath is the pinned @octokit/webhooks-examples package: real
// payloads GitHub sent, installed by `make test-assets`.
var examplesPath = filepath.Join("..", "..", "hack", "npm", "node_modules", "@octokit", "webhooks-examples", "api.github.com", "index.json")

// examples holds the real payloads by event name.
type examples map[string][]json.RawMessage

func loadExamples(tb testing.TB) examples {
	tb.Helper()
	data, err := os.ReadFile(examplesPath)
	if err != nil {
		tb.Fatalf("webhook examples missing (%v): run `make test-assets`", err)
	}
	var list []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		tb.Fatalf("parse %s: %v; run `make test-assets` again", examplesPath, err)
	}
	ex := examples{}
	for _, e := range list {
		ex[e.Name] = append(ex[e.Name], e.Examples...)
	}
	return ex
}

// get returns the first real payload of event with action ("" for events
// without one), preferring one that names its installation.
func (ex examples) get(tb testing.TB, event, action string) []byte {
	tb.Helper()
	var fallback []byte
	for _, raw := range ex[event] {
		var head struct {
			Action       string `json:"action"`
			Installation *struct {
				ID int64 `json:"id"`
			} `json:"installation"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			tb.Fatalf("example %s: %v", event, err)
		}
		if head.Action != action {
			continue
		}
		if head.Installation != nil && head.Installation.ID != 0 {
			return raw
		}
		if fallback == nil {
			fallback = raw
		}
	}
	if fallback == nil {
		tb.Fatalf("no %s.%s example in %s; run `make test-assets`", event, action, examplesPath)
	}
	return fallback
}

// command is the real issue_comment "created" payload, its comment body
// replaced by text (the example's own holds no command).
func (ex examples) command(tb testing.TB, text string) []byte {
	tb.Helper()
	return withField(tb, ex.get(tb, "issue_comment", "created"), text, "comment", "body")
}

// withInstallation returns the payload with "installation": {"id": id}
// added when it has none (many examples come from repository webhooks).
func withInstallation(tb testing.TB, raw []byte, id int64) []byte {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	if _, ok := m["installation"]; !ok {
		m["installation"] = json.RawMessage(`{"id":` + jsonInt(id) + `}`)
	}
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// withoutInstallation drops the installation field.
func withoutInstallation(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	delete(m, "installation")
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The metric helpers read what a scrape would see, through the registry.
// (prometheus/testutil needs a module go.mod does not list.)

func gather(tb testing.TB, reg *prometheus.Registry, name string, kv ...string) (series int, counter float64, histCount uint64) {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if labels[kv[i]] != kv[i+1] {
					continue series
				}
			}
			series++
			counter += m.GetCounter().GetValue()
			histCount += m.GetHistogram().GetSampleCount()
		}
	}
	return series, counter, histCount
}

func seriesCount(tb testing.TB, reg *prometheus.Registry, name string) int {
	n, _, _ := gather(tb, reg, name)
	return n
}

func counterValue(tb testing.TB, reg *prometheus.Registry, name string, kv ...string) float64 {
	_, v, _ := gather(tb, reg, name, kv...)
	return v
}

func histogramCount(tb testing.TB, reg *prometheus.Registry, name string, kv ...string) uint64 {
	_, _, c := gather(tb, reg, name, kv...)
	return c
}

// withField returns the payload with the field at path set to value, the
// objects on the way created when missing. Numbers keep their digits.
func withField(tb testing.TB, raw []byte, value any, path ...string) []byte {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		tb.Fatal(err)
	}
	m := root
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = value
	out, err := json.Marshal(root)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// gaugeValue is the value of an unlabelled gauge.
func gaugeValue(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range families {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	tb.Fatalf("no gauge %s", name)
	return 0
}
