package job

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/riverqueue/river/rivertype"

	"github.com/kubewright/kubewright/internal/workspace"
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

// TestFailureReasons: every failure maps to a stage, a named reason, a
// public message without internals, and a retry decision.
func TestFailureReasons(t *testing.T) {
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code, Request: &http.Request{}} }
	tooLarge := fmt.Errorf("clone https://example.com/acme/shop.git (branch main): %w",
		fmt.Errorf("%w (3 MB > 2 MB on disk): move large files out", workspace.ErrTooLarge))
	urlTimeout := &url.Error{Op: "Post", URL: "https://api.example.com/x", Err: timeoutErr{}}
	tests := []struct {
		name      string
		err       error
		stage     string // "" when no stage is recognised
		reason    string
		public    string
		permanent bool
	}{
		{"validation overran", &stageError{stage: stageValidate, limit: 5 * time.Minute, err: context.DeadlineExceeded},
			"validate", "ValidationTimedOut", "Validation did not finish in 5m0s", true},
		{"clone overran", fmt.Errorf("wrapped: %w", &stageError{stage: stageClone, limit: 2 * time.Minute, err: errors.New("slow /tmp/x")}),
			"clone", "CloneTimedOut", "Cloning the repository did not finish in 2m0s", false},
		{"an inner overrun wins", &stageError{stage: stageAgents, err: fmt.Errorf("validate attempt 2: %w", &stageError{stage: stageValidate, limit: time.Minute, err: context.DeadlineExceeded})},
			"validate", "ValidationTimedOut", "Validation did not finish in 1m0s", true},
		{"config", &stageError{stage: stageConfig, err: errors.New(".github/kubewright.yaml: unknown field \"x\" (remove or correct the key)\nmore")},
			"config", "ConfigInvalid", `.github/kubewright.yaml: unknown field "x" (remove or correct the key)`, true},
		{"too large", &stageError{stage: stageClone, err: tooLarge},
			"clone", "RepositoryTooLarge", "repository too large for kubewright (3 MB > 2 MB on disk): move large files out", true},
		{"push failed", &stageError{stage: stagePush, err: errors.New("push kubewright/x: connection reset by 10.0.0.7")},
			"push", "PushFailed", "The commit and push failed (PushFailed; the server log has the details)", false},
		{"GitHub 502", &github.ErrorResponse{Response: resp(502)}, "", "", "GitHub answered HTTP 502", false},
		{"GitHub request timeout", fmt.Errorf("create comment: %w", urlTimeout),
			"github", "GitHubTimedOut", "A GitHub API request did not finish in 30s", false},
		{"internal", errors.New("open /srv/data/x: permission denied"), "", "", "an internal error (the server log has the details)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := describe(tt.err, DefaultTimeouts)
			switch {
			case tt.stage == "" && se != nil:
				t.Errorf("describe found stage %s", se.stage)
			case tt.stage != "" && (se == nil || string(se.stage) != tt.stage || se.Reason() != tt.reason):
				t.Errorf("describe = %+v, want %s/%s", se, tt.stage, tt.reason)
			}
			if got := publicReason(tt.err, DefaultTimeouts); got != tt.public {
				t.Errorf("publicReason = %q, want %q", got, tt.public)
			}
			var c *rivertype.JobCancelError
			if got := errors.As(classify(tt.err), &c); got != tt.permanent {
				t.Errorf("classify permanent = %v, want %v", got, tt.permanent)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "Client.Timeout exceeded while awaiting headers" }
func (timeoutErr) Timeout() bool { return true }
