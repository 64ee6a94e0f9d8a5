// Package jobs is the queue shared by the fleet API and worker: the API
// enqueues vehicle telemetry jobs, the worker processes them.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// QueueKey is the Redis list that holds pending jobs.
const QueueKey = "fleet:jobs"

// Job is one unit of work: a telemetry report from a vehicle.
type Job struct {
	ID        string    `json:"id"`
	VehicleID string    `json:"vehicleId"`
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
	Received  time.Time `json:"received"`
}

// Validate reports what is missing from a job.
func (j Job) Validate() error {
	if j.VehicleID == "" {
		return errors.New("vehicleId is required")
	}
	if j.Lat < -90 || j.Lat > 90 || j.Lon < -180 || j.Lon > 180 {
		return fmt.Errorf("position %v,%v is out of range", j.Lat, j.Lon)
	}
	return nil
}

// Queue is a Redis-backed FIFO of jobs.
type Queue struct {
	rdb *redis.Client
}

// NewQueue connects to Redis at addr ("host:port").
func NewQueue(addr string) *Queue {
	return &Queue{rdb: redis.NewClient(&redis.Options{Addr: addr})}
}

// Ping checks that Redis answers.
func (q *Queue) Ping(ctx context.Context) error { return q.rdb.Ping(ctx).Err() }

// Close releases the connection pool.
func (q *Queue) Close() error { return q.rdb.Close() }

// Push appends a job to the queue.
func (q *Queue) Push(ctx context.Context, j Job) error {
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	return q.rdb.LPush(ctx, QueueKey, b).Err()
}

// Pop waits up to timeout for a job. It returns ok=false when none arrived.
func (q *Queue) Pop(ctx context.Context, timeout time.Duration) (j Job, ok bool, err error) {
	res, err := q.rdb.BRPop(ctx, timeout, QueueKey).Result()
	if errors.Is(err, redis.Nil) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, err
	}
	// res is [key, value].
	if err := json.Unmarshal([]byte(res[1]), &j); err != nil {
		return Job{}, false, fmt.Errorf("decode job: %w", err)
	}
	return j, true, nil
}
