// Command worker processes queued telemetry jobs until it receives SIGINT or
// SIGTERM. It serves no HTTP.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/example/fleet/internal/jobs"
)

func main() {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "localhost:6379"
	}
	workers := 4
	if v := os.Getenv("WORKER_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			log.Fatalf("WORKER_CONCURRENCY=%q: want a positive integer", v)
		}
		workers = n
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	q := jobs.NewQueue(addr)
	defer q.Close()

	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			run(ctx, q, id)
		}(i)
	}
	log.Printf("fleet worker started with %d workers", workers)
	wg.Wait()
	log.Println("fleet worker stopped")
}

// run pops and handles jobs until ctx is cancelled.
func run(ctx context.Context, q *jobs.Queue, id int) {
	for ctx.Err() == nil {
		j, ok, err := q.Pop(ctx, 2*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Printf("worker %d: pop: %v", id, err)
			time.Sleep(time.Second)
			continue
		}
		if !ok {
			continue
		}
		log.Printf("worker %d: vehicle %s at %.5f,%.5f", id, j.VehicleID, j.Lat, j.Lon)
	}
}
