package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestProcessLogsFailedJob: a job that fails is logged by the running
// `serve` with its delivery, stage, named reason and what happens next,
// so an operator reading the log knows why a comment got no answer.
func TestProcessLogsFailedJob(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kubewright binary")
	}
	tests := []struct {
		name     string
		status   int
		decision string
	}{
		{name: "GitHub 502 is retried", status: http.StatusBadGateway, decision: "retry"},
		{name: "GitHub 404 is permanent", status: http.StatusNotFound, decision: "permanent"},
	}
	kubewrightBinary(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pe := newProcEnv(t)
			pe.fake.AddRepo("acme", "shop", "")
			issue := pe.fake.AddIssue("acme", "shop")
			payload := helpPayload(t, "shop", issue, pe.fake.AddComment("acme", "shop", issue, procUser, "/ai help"))
			pe.fake.FailNext(http.MethodPost, "/repos/{owner}/{repo}/issues/{issue_number}/comments", tt.status, nil)
			c := startServe(t, "serve", pe, "KUBEWRIGHT_DATA_DIR="+t.TempDir())
			if code, body := deliver(t, c, "delivery-fails", payload); code != http.StatusAccepted {
				t.Fatalf("delivery: %d %q, want 202", code, body)
			}
			var got map[string]any
			for deadline := time.Now().Add(20 * time.Second); got == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				for line := range strings.Lines(c.out.String()) {
					var rec map[string]any
					if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "job failed" && rec["delivery"] == "delivery-fails" {
						got = rec
						break
					}
				}
			}
			if got == nil {
				t.Fatalf("no \"job failed\" log record for the delivery within 20s:\n%s", tail(c.out.String(), 4000))
			}
			for _, key := range []string{"stage", "reason", "error", "repo", "installation"} {
				if v, ok := got[key]; !ok || v == "" {
					t.Errorf("job failed record has no %q: %v", key, got)
				}
			}
			if got["decision"] != tt.decision {
				t.Errorf("decision %v, want %q: %v", got["decision"], tt.decision, got)
			}
		})
	}
}
