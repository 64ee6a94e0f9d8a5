package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/google/go-github/v88/github"
	"github.com/riverqueue/river/rivertype"

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
// branch, and a validated change becomes a pull request. The job's token
// spend is kept under its delivery, so a retried attempt has only what
// the earlier ones left.
func (r *Runner) do(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q request, intent string) (err error) {
	cfg, err := r.config(ctx, gh, q)
	if err != nil {
		return err
	}
	if err := r.setStatus(ctx, pub, q, "🔄 In progress: kubewright's agents are working on this request, starting from the deterministic draft.", running); err != nil {
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
	mopts := []llm.MeterOption{llm.WithLedger(r.agents.Ledger, strconv.FormatInt(q.installation, 10))}
	if r.agents.Ledger != nil {
		mopts = append(mopts, llm.WithJobLedger(r.agents.Ledger, jobKey(q.delivery)))
		defer func() { r.forgetSpend(ctx, q, err) }()
	}
	meter := llm.NewMeter(Budget(r.agents.Budget, cfg), mopts...)
	res, err := runStage(ctx, r, stageAgents, func(ctx context.Context) (*agent.Result, error) {
		res, err := agent.Run(ctx, timedProposer{p: r.agents.Model, limit: r.timeouts.Model}, ws.Dir(), agent.Options{
			Intent: intent, Issue: issue.GetTitle() + "\n\n" + issue.GetBody(), Config: cfg,
			Author: MergeOptions(cfg, author.Options{}), Meter: meter, Validate: r.validator(cfg), GoCheck: r.agents.GoCheck,
			Log: log,
		})
		if err == nil && res.Outcome == agent.Stopped && ctx.Err() != nil {
			return nil, ctx.Err() // stopped by the stage's deadline
		}
		return res, err
	})
	if err != nil {
		return err
	}
	log.Info("agents finished", "outcome", res.Outcome, "agent", res.Agent, "attempts", len(res.Attempts),
		"prompt_tokens", res.Usage.PromptTokens, "completion_tokens", res.Usage.CompletionTokens, "redactions", res.Redactions,
		"reason", r.clean(res.Reason))
	if len(res.Files) == 0 {
		return r.finishStatus(ctx, pub, q, "❌ "+publish.AgentComment(runView(res)))
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
	sha, err := r.commitAndPush(ctx, ws, q, branch, msg)
	if err != nil {
		return err
	}
	run := runView(res)
	body := publish.AgentPRBody(publish.AgentPR{Issue: q.issue, Closes: cfg.PullRequest.CloseIssue, Branch: branch, Run: run, Files: filesView(applied.Files)})
	failed := res.Outcome == agent.Failing
	pr, err := pub.UpsertPR(ctx, q.repo(), publish.PullRequest{Head: branch, Base: q.defaultBranch, Title: "kubewright: " + title(intent), Body: body, Draft: failed})
	if err != nil {
		return err
	}
	if run.Report != nil {
		if err := pub.CheckRun(ctx, q.repo(), sha, run.Report); err != nil {
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
	return r.finishStatus(ctx, pub, q, fmt.Sprintf("✅ Opened %s: %s", pr.GetHTMLURL(), state))
}

// jobKey is the ledger key of a job's own token spend.
func jobKey(delivery string) string { return "job/" + delivery }

// forgetSpend drops the job's token record once no attempt will follow:
// it succeeded or failed for good. A retried job keeps it.
func (r *Runner) forgetSpend(ctx context.Context, q request, err error) {
	out := classify(err)
	var perm *rivertype.JobCancelError
	if out != nil && !errors.As(out, &perm) {
		return
	}
	f, ok := r.agents.Ledger.(llm.Forgetter)
	if !ok {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeouts.GitHub)
	defer cancel()
	if ferr := f.Forget(fctx, jobKey(q.delivery)); ferr != nil {
		r.log.Warn("token ledger: forget the job's spend", "delivery", q.delivery, "error", ferr)
	}
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
