package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/llm"
)

// TestRunStage: a panic in a stage is an error, not a crash; a stage that
// returns in time keeps its value; the parent's cancellation is not the
// stage's overrun.
func TestRunStage(t *testing.T) {
	r := New(nil, nil, WithTimeouts(Timeouts{Validate: time.Hour}))
	if _, err := runStage(context.Background(), r, stageValidate, func(context.Context) (int, error) { panic("boom") }); err == nil || !strings.Contains(err.Error(), "internal error in validation") {
		t.Errorf("panic: %v", err)
	}
	if v, err := runStage(context.Background(), r, stageValidate, func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("= %d, %v", v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := runStage(ctx, r, stageValidate, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
	if se := describe(err, r.timeouts); se == nil || se.limit != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled job is reported as %v", err)
	}
}

// blockingModel answers only when its context is done.
type blockingModel struct{}

func (blockingModel) Propose(ctx context.Context, _ llm.Request) (*llm.Proposal, llm.Usage, error) {
	<-ctx.Done()
	return nil, llm.Usage{}, ctx.Err()
}

// TestTimedProposer: a model call past its deadline is an error naming the
// deadline, not a context error (which the agents would report as a
// cancellation); the job's own cancellation stays a cancellation.
func TestTimedProposer(t *testing.T) {
	p := timedProposer{p: blockingModel{}, limit: 50 * time.Millisecond}
	_, _, err := p.Propose(context.Background(), llm.Request{})
	if err == nil || err.Error() != "a model call did not finish in 50ms" || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("overrun: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.Propose(ctx, llm.Request{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled job: %v", err)
	}
}
