// Command api accepts vehicle telemetry over HTTP and queues it for the worker.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/example/fleet/internal/jobs"
)

func main() {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "localhost:6379"
	}
	q := jobs.NewQueue(addr)
	defer q.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := q.Ping(r.Context()); err != nil {
			http.Error(w, "redis unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /telemetry", func(w http.ResponseWriter, r *http.Request) {
		var j jobs.Job
		if err := json.NewDecoder(r.Body).Decode(&j); err != nil {
			http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := j.Validate(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		j.ID = fmt.Sprintf("%s-%d", j.VehicleID, time.Now().UnixNano())
		j.Received = time.Now().UTC()
		if err := q.Push(r.Context(), j); err != nil {
			http.Error(w, "could not queue job", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})

	log.Println("fleet api listening on :8080")
	log.Fatal(http.ListenAndServe(":8080", mux))
}
