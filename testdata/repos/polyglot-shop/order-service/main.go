// Command order-service takes orders for the shop. It checks users and
// products against their services and stores orders in MongoDB.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/example/shop/order-service/internal/store"
)

func main() {
	port := getenv("PORT", "8082")
	mongoURI := os.Getenv("MONGODB_URI")
	if mongoURI == "" {
		log.Fatal("MONGODB_URI is required (for example mongodb://localhost:27017/orders)")
	}
	users := os.Getenv("USER_SERVICE_URL")
	products := os.Getenv("PRODUCT_SERVICE_URL")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := store.Connect(ctx, mongoURI)
	if err != nil {
		log.Fatalf("connect to mongodb: %v", err)
	}
	defer st.Close(context.Background())

	h := &handler{
		store:    st,
		users:    users,
		products: products,
		client:   &http.Client{Timeout: 5 * time.Second},
	}

	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           h.routes(),
		ReadHeaderTimeout: 5 * time.Second,
	}

	go func() {
		log.Printf("order-service listening on :%s", port)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("listen: %v", err)
		}
	}()

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Printf("shutdown: %v", err)
	}
}

// getenv returns the value of the environment variable key, or def when it
// is unset or empty.
func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

type orderStore interface {
	Insert(ctx context.Context, o store.Order) (store.Order, error)
	List(ctx context.Context) ([]store.Order, error)
}

type handler struct {
	store    orderStore
	users    string
	products string
	client   *http.Client
}

func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /orders", h.listOrders)
	mux.HandleFunc("POST /orders", h.createOrder)
	return mux
}

func (h *handler) listOrders(w http.ResponseWriter, r *http.Request) {
	orders, err := h.store.List(r.Context())
	if err != nil {
		http.Error(w, "could not list orders", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, orders)
}

func (h *handler) createOrder(w http.ResponseWriter, r *http.Request) {
	var o store.Order
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
		http.Error(w, "invalid order: "+err.Error(), http.StatusBadRequest)
		return
	}
	if o.UserID == "" || o.ProductID == "" || o.Quantity <= 0 {
		http.Error(w, "userId, productId and a positive quantity are required", http.StatusBadRequest)
		return
	}
	if err := h.exists(r.Context(), h.users+"/users/"+o.UserID); err != nil {
		http.Error(w, "unknown user", http.StatusUnprocessableEntity)
		return
	}
	if err := h.exists(r.Context(), h.products+"/products/"+o.ProductID); err != nil {
		http.Error(w, "unknown product", http.StatusUnprocessableEntity)
		return
	}
	saved, err := h.store.Insert(r.Context(), o)
	if err != nil {
		http.Error(w, "could not save order", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusCreated, saved)
}

// exists asks another service whether a resource exists.
func (h *handler) exists(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
