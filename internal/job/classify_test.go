package job

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/riverqueue/river/rivertype"
)

func TestClassify(t *testing.T) {
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code, Request: &http.Request{}} }
	reset := time.Now().Add(30 * time.Second)
	tests := []struct {
		name   string
		err    error
		snooze bool
		cancel bool
	}{
		{"nil", nil, false, false},
		{"network", errors.New("connection reset"), false, false},
		{"5xx", &github.ErrorResponse{Response: resp(502)}, false, false},
		{"404 is permanent", &github.ErrorResponse{Response: resp(404)}, false, true},
		{"422 is permanent", &github.ErrorResponse{Response: resp(422)}, false, true},
		{"429 retries", &github.ErrorResponse{Response: resp(429)}, false, false},
		{"primary rate limit", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: reset}}, Response: resp(403)}, true, false},
		{"secondary rate limit", &github.AbuseRateLimitError{Response: resp(403), RetryAfter: github.Ptr(7 * time.Second)}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err)
			var s *rivertype.JobSnoozeError
			var c *rivertype.JobCancelError
			if errors.As(err, &s) != tt.snooze || errors.As(err, &c) != tt.cancel || (tt.err == nil) != (err == nil) {
				t.Errorf("classify(%v) = %v", tt.err, err)
			}
		})
	}
}
