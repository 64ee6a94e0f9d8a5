package llm

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMeterJobLedger: a job's attempts share its budget through the job
// key: a second attempt starts from what the first spent, a broken job
// ledger stops calls, and the daily ledger still counts every call.
func TestMeterJobLedger(t *testing.T) {
	const job = "job/d-1"
	type attempt struct {
		steps         []step
		wantExhausted string
	}
	cases := []struct {
		name     string
		budget   Budget
		attempts []attempt
		wantJob  int // the job key's total at the end
	}{
		{
			name:   "second attempt gets what remains",
			budget: Budget{PerJob: 500},
			attempts: []attempt{
				{steps: []step{{before: true, prompt: 100, maxc: 100}, {use: Usage{PromptTokens: 200, CompletionTokens: 100}}}},
				{steps: []step{
					{before: true, prompt: 150, maxc: 100, wantErr: "job budget of 500 tokens: 300 spent (300 by earlier attempts), this call needs about 250", wantBudget: true},
				}, wantExhausted: "job budget of 500 tokens: 300 spent (300 by earlier attempts), this call needs about 250"},
			},
			wantJob: 300,
		},
		{
			name:   "the remainder is usable",
			budget: Budget{PerJob: 500},
			attempts: []attempt{
				{steps: []step{{use: Usage{PromptTokens: 300}}}},
				{steps: []step{{before: true, prompt: 150, maxc: 50}, {use: Usage{PromptTokens: 150, CompletionTokens: 40}}}},
				{steps: []step{{before: true, prompt: 5, maxc: 10, wantErr: "490 spent (490 by earlier attempts)", wantBudget: true}},
					wantExhausted: "job budget of 500 tokens: 490 spent"},
			},
			wantJob: 490,
		},
		{
			name:   "an answer over the remainder exhausts the retry",
			budget: Budget{PerJob: 500},
			attempts: []attempt{
				{steps: []step{{use: Usage{PromptTokens: 400}}}},
				{steps: []step{{before: true, prompt: 50, maxc: 50}, {use: Usage{PromptTokens: 50, CompletionTokens: 100},
					wantErr: "job budget of 500 tokens: 550 spent (400 by earlier attempts)", wantBudget: true}},
					wantExhausted: "550 spent"},
			},
			wantJob: 550,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ledger := NewMemoryLedger()
			for i, a := range tc.attempts {
				m := NewMeter(tc.budget, WithLedger(ledger, "7"), WithJobLedger(ledger, job))
				for j, s := range a.steps {
					var err error
					if s.before {
						err = m.Before("deployment", s.prompt, s.maxc)
					} else {
						err = m.After("deployment", s.use)
					}
					checkErr(t, fmt.Sprintf("attempt %d step %d", i+1, j+1), err, s.wantErr, s.wantBudget)
				}
				ex, why := m.Exhausted()
				if ex != (a.wantExhausted != "") || !strings.Contains(why, a.wantExhausted) {
					t.Errorf("attempt %d: Exhausted() = %v, %q; want %q", i+1, ex, why, a.wantExhausted)
				}
			}
			ctx := context.Background()
			if n, _ := ledger.Spent(ctx, job, JobDay); n != tc.wantJob {
				t.Errorf("job total %d, want %d", n, tc.wantJob)
			}
			if n, _ := ledger.Spent(ctx, "7", time.Now().UTC().Format(dayFormat)); n != tc.wantJob {
				t.Errorf("daily total %d, want %d (every call counts for the day too)", n, tc.wantJob)
			}
		})
	}

	m := NewMeter(Budget{PerJob: 100}, WithJobLedger(brokenLedger{}, job))
	checkErr(t, "broken job ledger", m.Before("review", 1, 1), "llm review: read what earlier attempts of the job spent: database is down", false)
}
