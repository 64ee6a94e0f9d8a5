package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// Handler serves the inventory API over a Store.
type Handler struct {
	store Store
	log   *slog.Logger
}

// NewHandler returns handlers over the store.
func NewHandler(store Store, log *slog.Logger) *Handler {
	return &Handler{store: store, log: log}
}

// Register adds the inventory routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /inventory/items", h.list)
	mux.HandleFunc("GET /inventory/items/{sku}", h.get)
	mux.HandleFunc("PUT /inventory/items/{sku}", h.put)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	items, err := h.store.List(r.Context())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if items == nil {
		items = []Item{}
	}
	writeJSON(w, http.StatusOK, map[string][]Item{"items": items})
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	it, err := h.store.Get(r.Context(), r.PathValue("sku"))
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "no item with SKU "+r.PathValue("sku"))
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

// putRequest is the body of PUT /inventory/items/{sku}.
type putRequest struct {
	Name     string `json:"name"`
	Quantity *int   `json:"quantity"`
}

func (h *Handler) put(w http.ResponseWriter, r *http.Request) {
	var req putRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	switch {
	case strings.TrimSpace(req.Name) == "":
		writeError(w, http.StatusBadRequest, "name is required")
		return
	case req.Quantity == nil:
		writeError(w, http.StatusBadRequest, "quantity is required")
		return
	case *req.Quantity < 0:
		writeError(w, http.StatusBadRequest, "quantity must not be negative")
		return
	}
	it, err := h.store.Put(r.Context(), Item{SKU: r.PathValue("sku"), Name: req.Name, Quantity: *req.Quantity})
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

// internal logs err and answers 500 without details.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
