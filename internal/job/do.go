package job

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// Agents is what free-text requests need: the model, the budgets and the
// ledger that keeps the per-installation daily totals.
type Agents struct {
	Model   agent.Proposer
	Budget  llm.Budget
	Ledger  llm.Ledger
	GoCheck validate.GoCheck
}

// WithAgents enables `/ai <free text>`. Without it such comments get the
// help and a note that no model is configured.
func WithAgents(a Agents) Option { return func(r *Runner) { r.agents = &a } }

// freeText is the request of a comment whose first word is not a command:
// `/ai add an inventory service` is one, `/ai containerise` (one word
// close to a command) stays a did-you-mean.
func freeText(res command.Result) string {
	if res.Kind != command.KindReply || res.Reply.Reason != command.ReasonUnknown {
		return ""
	}
	text := strings.TrimSpace(res.Reply.Unknown)
	if len(strings.Fields(text)) < 2 {
		return ""
	}
	return text
}

// Budget returns the server's budget lowered by the repository's
// agents.tokensPerJob (which can never raise it).
func Budget(server llm.Budget, cfg *config.Repo) llm.Budget {
	if n := cfg.Agents.TokensPerJob; n > 0 && (server.PerJob == 0 || n < server.PerJob) {
		server.PerJob = n
	}
	return server
}

// do runs a free-text request: the agents edit a clone of the default
// branch, and a validated change becomes a pull request.
func (r *Runner) do(ctx context.Context, log *slog.Logger, gh *github.Client, q request, intent string) error {
	if err := r.setStatus(ctx, gh, q, q.delivery, "🔄 In progress: kubewright's agents are working on this request, starting from the deterministic draft."); err != nil {
		return err
	}
	issue, _, err := gh.Issues.Get(ctx, q.owner, q.name, q.issue)
	if err != nil {
		return err
	}
	ws, err := r.cloneDefault(ctx, q)
	if err != nil {
		return err
	}
	defer ws.Close()
	// The clone is the default branch: its configuration, never a PR's.
	cfg, err := config.LoadRepo(ws.Dir())
	if err != nil {
		return r.finishStatus(ctx, gh, q, q.delivery, "❌ kubewright could not read its settings: "+safe(err))
	}
	meter := llm.NewMeter(Budget(r.agents.Budget, cfg), llm.WithLedger(r.agents.Ledger, strconv.FormatInt(q.installation, 10)))
	res, err := agent.Run(ctx, r.agents.Model, ws.Dir(), agent.Options{
		Intent: intent, Issue: issue.GetTitle() + "\n\n" + issue.GetBody(), Config: cfg,
		Author: MergeOptions(cfg, author.Options{}), Meter: meter, Validate: r.validate, GoCheck: r.agents.GoCheck,
		Log: log,
	})
	if err != nil {
		return err
	}
	log.Info("agents finished", "outcome", res.Outcome, "agent", res.Agent, "attempts", len(res.Attempts),
		"prompt_tokens", res.Usage.PromptTokens, "completion_tokens", res.Usage.CompletionTokens, "redactions", res.Redactions)
	if len(res.Files) == 0 {
		return r.finishStatus(ctx, gh, q, q.delivery, "❌ "+publish.AgentComment(res))
	}
	branch := fmt.Sprintf("kubewright/ai-%d", q.issue)
	if err := ws.Branch(branch); err != nil {
		return err
	}
	applied, err := workspace.Apply(ws.Dir(), res.Files, workspace.ApplyOptions{Force: true, Policy: res.Policy})
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("%s\n\nRequested in #%d; proposed by kubewright's %s agent and validated.", title(intent), q.issue, res.Agent)
	sha, _, err := ws.Commit(msg, workspace.Signature{Name: r.bot.Name, Email: r.bot.Email},
		workspace.Signature{Name: q.user, Email: fmt.Sprintf("%d+%s@users.noreply.github.com", q.userID, q.user)})
	if err != nil {
		return err
	}
	if err := ws.Push(ctx, branch); err != nil {
		return err
	}
	body := publish.AgentPRBody(publish.AgentOutcome{Issue: q.issue, Closes: cfg.PullRequest.CloseIssue, Branch: branch, Result: res, Files: applied.Files})
	failed := res.Outcome == agent.Failing
	pr, err := r.upsertPR(ctx, gh, q, branch, "kubewright: "+title(intent), body, failed)
	if err != nil {
		return err
	}
	if res.Report != nil {
		if err := r.checkRun(ctx, gh, q, sha, res.Report); err != nil {
			return err
		}
	}
	state := "All validation stages passed."
	switch {
	case failed:
		state = fmt.Sprintf("Validation still found %d errors after the repair attempts, so it is a draft; the attempt log is in it.", finding.AtLeast(res.NewFindings, finding.Error))
	case res.Outcome == agent.Stopped:
		state = publish.Sentence(res.Reason)
	}
	return r.finishStatus(ctx, gh, q, q.delivery, fmt.Sprintf("✅ Opened %s: %s", pr.GetHTMLURL(), state))
}

// title shortens a request to a commit and PR title.
func title(intent string) string {
	s := strings.Join(strings.Fields(intent), " ")
	if len(s) > 72 {
		s = strings.TrimSpace(s[:69]) + "..."
	}
	if s == "" {
		return "Agent change"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
