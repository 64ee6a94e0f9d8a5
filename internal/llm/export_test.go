package llm

import (
	"context"
	"time"
)

// SetSleep replaces the wait between retries, so tests see the waits
// without waiting.
func SetSleep(c *Client, sleep func(ctx context.Context, d time.Duration) error) { c.rt.sleep = sleep }

// SetJitter replaces the random part of the backoff.
func SetJitter(c *Client, jitter func(d time.Duration) time.Duration) { c.rt.jitter = jitter }

// SleepCtx is the real wait.
var SleepCtx = sleepCtx

// RetryAfter parses the Retry-After headers.
var RetryAfter = retryAfter
