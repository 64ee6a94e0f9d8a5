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
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/validate/gocheck"
)

// Agents is what the model's part of a job needs: the model, the budgets
// and the ledger that keeps the per-installation daily totals.
type Agents struct {
	Model   agent.Proposer
	Budget  llm.Budget
	Ledger  llm.Ledger
	GoCheck gocheck.Check
}

// WithAgents enables `/ai <free text>` and the repair of containerize
// drafts that do not validate. Without it free-text comments get the help
// and a note that no model is configured, and a draft with errors becomes
// a draft pull request as it is.
func WithAgents(a Agents) Option { return func(r *Runner) { r.agents = &a } }

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
func (r *Runner) do(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task, intent string) (err error) {
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
	branch := fmt.Sprintf("kubewright/ai-%d", q.issue)
	if err := ws.Branch(branch); err != nil {
		return err
	}
	w := r.walk(ctx, q, cfg, log)
	if r.agents.Ledger != nil {
		defer func() { r.forgetSpend(ctx, q, err) }()
	}
	// A request that means Day-2 operations ("scale order-service to 5")
	// is carried out by the operations' code; the model only names them.
	if a, ok := r.agents.Model.(llm.Answerer); ok {
		list, err := r.mapIntent(ctx, w, a, ws.Dir(), intent)
		switch {
		case errors.Is(err, llm.ErrMalformed) || errors.Is(err, errIntent):
			// Not knowing whether it means operations, the agents may not
			// take it: they would edit the files the operations own.
			return r.finishStatus(ctx, pub, q, "❌ kubewright could not tell which of its operations this request means: "+safe(err)+
				". Use a command (`"+r.prefix+" help` lists them), or rephrase the request.")
		case err != nil:
			return err
		case len(list) > 0:
			return r.operateIntent(ctx, log, pub, q, ws, cfg, intent, list)
		}
	}
	ch, err := w.do(ctx, ws.Dir(), intent, issue.GetTitle()+"\n\n"+issue.GetBody(), author.Options{}, false)
	if err != nil {
		return err
	}
	res := ch.Run
	log.Info("agents finished", "outcome", res.Outcome, "agent", res.Agent, "attempts", len(res.Attempts), "failure", res.Failure,
		"prompt_tokens", res.Usage.PromptTokens, "completion_tokens", res.Usage.CompletionTokens, "redactions", res.Redactions,
		"reason", r.clean(res.Reason))
	if len(res.Files) == 0 {
		return r.finishStatus(ctx, pub, q, "❌ "+publish.AgentComment(runView(res)))
	}
	report := ReportView(res.Report)
	failed := res.Outcome == Failing
	state := "All validation stages passed."
	switch {
	case failed:
		state = fmt.Sprintf("Validation still found %d errors after the repair attempts, so it is a draft; the attempt log is in it.", finding.AtLeast(res.NewFindings, finding.Error))
	case res.Outcome == Stopped:
		state = publish.Sentence(res.Reason)
	}
	return r.publishPR(ctx, log, pub, q, ws, pullRequest{
		branch: branch, draft: failed, report: report, state: state,
		commit: fmt.Sprintf("%s\n\nRequested in #%d; proposed by kubewright's %s agent and validated.", title(intent), q.issue, res.Agent),
		title:  "kubewright: " + title(intent),
		body: publish.PRBody(publish.PR{Issue: q.issue, Closes: cfg.PullRequest.CloseIssue, Branch: branch,
			Files: filesView(ch.Files), Assumptions: res.Assumptions, Report: report, Run: runView(res)}),
	})
}

// walk is the pipeline for one job: the job's configuration, validation
// under the validate stage's deadline and, when agents are configured,
// the model (each call under the model deadline) and a token meter that
// keeps the installation's daily and the job's own spend in the ledger.
func (r *Runner) walk(ctx context.Context, q task, cfg *config.Repo, log *slog.Logger) *walk {
	w := &walk{r: r, cfg: cfg, validate: r.validator(cfg), attempts: cfg.Agents.Attempts(), log: log}
	if r.agents == nil {
		return w
	}
	mopts := []llm.MeterOption{llm.WithLedger(r.agents.Ledger, strconv.FormatInt(q.installation, 10))}
	if r.agents.Ledger != nil {
		mopts = append(mopts, llm.WithJobLedger(r.agents.Ledger, jobKey(q.delivery)))
	}
	w.model = timedProposer{p: r.agents.Model, limit: r.timeouts.Model}
	w.meter = llm.NewMeter(Budget(r.agents.Budget, cfg), mopts...)
	w.goCheck = r.agents.GoCheck
	return w
}

// jobKey is the ledger key of a job's own token spend.
func jobKey(delivery string) string { return "job/" + delivery }

// forgetSpend drops the job's token record once no attempt will follow:
// it succeeded or failed for good. A retried job keeps it.
func (r *Runner) forgetSpend(ctx context.Context, q task, err error) {
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
	s := clipTitle(strings.Join(strings.Fields(intent), " "))
	if s == "" {
		return "Agent change"
	}
	return upperFirst(s)
}
