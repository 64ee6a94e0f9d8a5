package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeStore is an in-memory Store.
type fakeStore struct {
	mu    sync.Mutex
	items map[string]Item
	err   error // returned by every call when set
}

var _ Store = (*fakeStore)(nil)

func newFakeStore(items ...Item) *fakeStore {
	s := &fakeStore{items: map[string]Item{}}
	for _, it := range items {
		s.items[it.SKU] = it
	}
	return s
}

func (s *fakeStore) List(context.Context) ([]Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	var out []Item
	for _, it := range s.items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SKU < out[j].SKU })
	return out, nil
}

func (s *fakeStore) Get(_ context.Context, sku string) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Item{}, s.err
	}
	it, ok := s.items[sku]
	if !ok {
		return Item{}, ErrNotFound
	}
	return it, nil
}

func (s *fakeStore) Put(_ context.Context, it Item) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Item{}, s.err
	}
	it.UpdatedAt = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	s.items[it.SKU] = it
	return it, nil
}

func TestHandlers(t *testing.T) {
	mug := Item{SKU: "MUG-1", Name: "Mug", Quantity: 12}
	tee := Item{SKU: "TEE-2", Name: "T-shirt", Quantity: 0}
	cases := []struct {
		name     string
		store    *fakeStore
		method   string
		path     string
		body     string
		want     int
		wantBody string // a substring of the response body
		// wantStored, when set, is the quantity the store must hold for
		// the request's SKU afterwards.
		wantStored *int
	}{
		{name: "list", store: newFakeStore(tee, mug), method: "GET", path: "/inventory/items", want: 200,
			wantBody: `{"items":[{"sku":"MUG-1","name":"Mug","quantity":12`},
		{name: "list empty", store: newFakeStore(), method: "GET", path: "/inventory/items", want: 200,
			wantBody: `{"items":[]}`},
		{name: "get found", store: newFakeStore(mug), method: "GET", path: "/inventory/items/MUG-1", want: 200,
			wantBody: `"quantity":12`},
		{name: "get not found", store: newFakeStore(mug), method: "GET", path: "/inventory/items/NOPE", want: 404,
			wantBody: `no item with SKU NOPE`},
		{name: "put valid", store: newFakeStore(mug), method: "PUT", path: "/inventory/items/MUG-1",
			body: `{"name":"Mug","quantity":7}`, want: 200, wantBody: `"quantity":7`, wantStored: ptr(7)},
		{name: "put creates", store: newFakeStore(), method: "PUT", path: "/inventory/items/CAP-3",
			body: `{"name":"Cap","quantity":0}`, want: 200, wantBody: `"sku":"CAP-3"`, wantStored: ptr(0)},
		{name: "put invalid JSON", store: newFakeStore(mug), method: "PUT", path: "/inventory/items/MUG-1",
			body: `{"name":`, want: 400, wantBody: `invalid JSON`, wantStored: ptr(12)},
		{name: "put unknown field", store: newFakeStore(mug), method: "PUT", path: "/inventory/items/MUG-1",
			body: `{"name":"Mug","qty":3}`, want: 400, wantBody: `invalid JSON`, wantStored: ptr(12)},
		{name: "put negative quantity", store: newFakeStore(mug), method: "PUT", path: "/inventory/items/MUG-1",
			body: `{"name":"Mug","quantity":-1}`, want: 400, wantBody: `quantity must not be negative`, wantStored: ptr(12)},
		{name: "put missing quantity", store: newFakeStore(mug), method: "PUT", path: "/inventory/items/MUG-1",
			body: `{"name":"Mug"}`, want: 400, wantBody: `quantity is required`, wantStored: ptr(12)},
		{name: "put missing name", store: newFakeStore(mug), method: "PUT", path: "/inventory/items/MUG-1",
			body: `{"quantity":3}`, want: 400, wantBody: `name is required`, wantStored: ptr(12)},
		{name: "store error", store: &fakeStore{err: errors.New("connection refused")}, method: "GET", path: "/inventory/items", want: 500,
			wantBody: `internal error`},
		{name: "wrong method", store: newFakeStore(mug), method: "DELETE", path: "/inventory/items/MUG-1", want: 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			NewHandler(tc.store, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, body))

			if rec.Code != tc.want {
				t.Fatalf("%s %s: got %d, want %d (body %s)", tc.method, tc.path, rec.Code, tc.want, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("body %s, want it to contain %s", rec.Body, tc.wantBody)
			}
			if tc.want < 300 && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("body is not JSON: %s", rec.Body)
			}
			if tc.wantStored != nil {
				sku := strings.TrimPrefix(tc.path, "/inventory/items/")
				it, err := tc.store.Get(context.Background(), sku)
				if err != nil {
					t.Fatalf("store has no %s: %v", sku, err)
				}
				if it.Quantity != *tc.wantStored {
					t.Errorf("stored quantity %d, want %d", it.Quantity, *tc.wantStored)
				}
			}
		})
	}
}

func TestMetricsMiddlewareRoutes(t *testing.T) {
	mux := http.NewServeMux()
	NewHandler(newFakeStore(), slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
	reg := prometheus.NewRegistry()
	h := newMetrics(reg).middleware(mux)
	for _, p := range []string{"/inventory/items/A", "/inventory/items/B", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	if got := requestCount(t, reg, "GET /inventory/items/{sku}", "404"); got != 2 {
		t.Errorf("requests for the {sku} route = %v, want 2 (one label per route, not per path)", got)
	}
	if got := requestCount(t, reg, "unmatched", "404"); got != 1 {
		t.Errorf("unmatched requests = %v, want 1", got)
	}
}

// requestCount reads http_requests_total for a route and status code.
func requestCount(t *testing.T, reg *prometheus.Registry, route, code string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func ptr(n int) *int { return &n }
