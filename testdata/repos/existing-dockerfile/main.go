// Command payments authorizes card payments for the billing system.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "9090"
	}

	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           newMux(&ledger{}),
		ReadHeaderTimeout: 5 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		log.Printf("payments listening on :%s", port)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
}

// payment is an authorization request.
type payment struct {
	ID          int64  `json:"id"`
	AmountCents int64  `json:"amountCents"`
	Currency    string `json:"currency"`
	Status      string `json:"status"`
}

// ledger keeps authorized payments in memory.
type ledger struct {
	mu       sync.Mutex
	next     int64
	payments []payment
}

func (l *ledger) authorize(p payment) payment {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	p.ID = l.next
	p.Status = "authorized"
	l.payments = append(l.payments, p)
	return p
}

func newMux(l *ledger) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("POST /payments", func(w http.ResponseWriter, r *http.Request) {
		var p payment
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.AmountCents <= 0 || len(p.Currency) != 3 {
			http.Error(w, "want a positive amountCents and a 3-letter currency", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(l.authorize(p))
	})
	return mux
}
