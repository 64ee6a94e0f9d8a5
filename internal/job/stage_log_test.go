package job

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestStagesAreLoggedWithTheJob: each finished stage is logged with the
// job's own fields (delivery, repository), not the runner's bare logger.
func TestStagesAreLoggedWithTheJob(t *testing.T) {
	var out bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&out, nil))
	r := New(nil, nil, WithLogger(base), WithTimeouts(Timeouts{Validate: time.Hour}))
	ctx := withLogger(context.Background(), base.With("delivery", "d-7", "repo", "acme/shop"))
	if _, err := runStage(ctx, r, stageValidate, func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	for line := range strings.Lines(out.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "stage done" {
			rec = m
		}
	}
	if rec == nil {
		t.Fatalf("no \"stage done\" record in %q", out.String())
	}
	if rec["stage"] != "validate" || rec["delivery"] != "d-7" || rec["repo"] != "acme/shop" || rec["duration"] == nil {
		t.Errorf("stage record %v, want stage validate with the job's delivery, repo and a duration", rec)
	}
}
