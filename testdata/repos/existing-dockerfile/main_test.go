package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMux(t *testing.T) {
	mux := newMux(&ledger{})
	tests := []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/health", "", http.StatusOK},
		{http.MethodPost, "/payments", `{"amountCents":1299,"currency":"EUR"}`, http.StatusCreated},
		{http.MethodPost, "/payments", `{"amountCents":0,"currency":"EUR"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
		if rec.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
	}
}
