package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/example/shop/order-service/internal/store"
)

type memStore struct{ orders []store.Order }

func (m *memStore) Insert(_ context.Context, o store.Order) (store.Order, error) {
	o.ID = "o1"
	m.orders = append(m.orders, o)
	return o, nil
}

func (m *memStore) List(context.Context) ([]store.Order, error) { return m.orders, nil }

func TestGetenv(t *testing.T) {
	t.Setenv("ORDER_TEST_SET", "x")
	if got := getenv("ORDER_TEST_SET", "d"); got != "x" {
		t.Errorf("getenv set = %q, want x", got)
	}
	if got := getenv("ORDER_TEST_UNSET", "d"); got != "d" {
		t.Errorf("getenv unset = %q, want d", got)
	}
}

func TestRoutes(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	h := &handler{store: &memStore{}, users: ok.URL, products: ok.URL, client: ok.Client()}
	srv := httptest.NewServer(h.routes())
	defer srv.Close()

	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"health", http.MethodGet, "/healthz", "", http.StatusOK},
		{"list", http.MethodGet, "/orders", "", http.StatusOK},
		{"create", http.MethodPost, "/orders", `{"userId":"u1","productId":"p1","quantity":2}`, http.StatusCreated},
		{"invalid", http.MethodPost, "/orders", `{"userId":"u1"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
		})
	}
}
