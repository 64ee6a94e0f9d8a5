package job

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/jobpage"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// Publisher is every write the job makes to GitHub, for one installation:
// replies, the 👀 reaction, the status comment, pull requests and check
// runs. publish.Publisher is the real one; it redacts every text it
// sends. The job only reads through its GitHub client (permission,
// configuration, issue, pull request, repository).
type Publisher interface {
	Comment(ctx context.Context, t publish.Thread, body string) error
	React(ctx context.Context, r publish.Repo, commentID int64, content string) error
	SetStatus(ctx context.Context, t publish.Thread, delivery, body string, ahead int) error
	FinishStatus(ctx context.Context, t publish.Thread, delivery, body string) error
	UpsertPR(ctx context.Context, r publish.Repo, pr publish.PullRequest) (*github.PullRequest, error)
	CheckRun(ctx context.Context, r publish.Repo, sha string, rep *publish.Report) error
	Reviewer
}

var (
	_ Publisher = (*publish.Publisher)(nil)
	_ Publisher = (*publish.Workflow)(nil) // the Actions step with a read-only token
)

// NewPublisher makes the Publisher of an installation's client; it keeps
// status comments in store, the Runner's (WithStatusStore), which the
// Runner reads too.
type NewPublisher func(gh *github.Client, store StatusStore) Publisher

// WithPublisher replaces how the Runner writes to GitHub (default:
// publish.New with the Runner's status store, GitHub timeout and logger).
func WithPublisher(f NewPublisher) Option { return func(r *Runner) { r.pubFor = f } }

func (r *Runner) defaultPublisher(gh *github.Client, store StatusStore) Publisher {
	return publish.New(gh, publish.WithStatusStore(store), publish.WithTimeout(r.timeouts.GitHub), publish.WithLogger(r.log), publish.WithBotLogin(r.bot.Name))
}

// clean redacts secrets from text about to be logged.
func (r *Runner) clean(s string) string {
	out, n := llm.Redact(s)
	if n > 0 {
		r.log.Info("redacted secrets from logged text", "redactions", n)
	}
	return out
}

// timed bounds each request of gh by the GitHub timeout.
func (r *Runner) timed(gh *github.Client) *github.Client {
	c, err := gh.Clone(github.WithTimeout(r.timeouts.GitHub))
	if err != nil {
		return gh // the App's client already has a timeout of its own
	}
	return c
}

func (r *Runner) comment(ctx context.Context, pub Publisher, q task, body string) error {
	return pub.Comment(ctx, q.thread(), body)
}

// pullRequest is what a walk publishes: the commit, the pull request and
// the sentence the status comment ends with.
type pullRequest struct {
	branch, commit, title, body string
	draft                       bool
	// report is the check run's content (nil: no check run).
	report *publish.Report
	state  string
}

// publishPR is the tail every command that changes the repository shares:
// commit the workspace's changes on the branch and push it, open or
// update the pull request, record the check run on the new commit, and
// finish the status comment with a link.
func (r *Runner) publishPR(ctx context.Context, log *slog.Logger, pub Publisher, q task, ws *workspace.Workspace, pr pullRequest) error {
	sha, err := r.commitAndPush(ctx, ws, q, pr.branch, pr.commit)
	if err != nil {
		return err
	}
	opened, err := pub.UpsertPR(ctx, q.repo(), publish.PullRequest{Head: pr.branch, Base: q.defaultBranch, Title: pr.title, Body: pr.body, Draft: pr.draft})
	if err != nil {
		return err
	}
	if pr.report != nil {
		if err := pub.CheckRun(ctx, q.repo(), sha, pr.report); err != nil {
			return err
		}
	}
	r.putPage(ctx, q, func(p *jobpage.Record) {
		p.PullRequest = opened.GetHTMLURL()
		pageReport(p, pr.report)
	})
	log.Info("pull request ready", "pr", opened.GetNumber(), "draft", pr.draft)
	return r.finishStatus(ctx, pub, q, fmt.Sprintf("✅ Opened %s: %s", opened.GetHTMLURL(), pr.state))
}

// The functions below hand publish plain data: it renders what the job
// gives it and imports none of the packages the job composes.

func (q task) thread() publish.Thread {
	return publish.Thread{Repo: q.repo(), Number: q.issue}
}

func (q task) repo() publish.Repo { return publish.Repo{Owner: q.owner, Name: q.name} }

// ReportView is a validation report as publish renders it.
func ReportView(rep *validate.Report) *publish.Report {
	if rep == nil {
		return nil
	}
	out := &publish.Report{Findings: rep.Findings}
	for _, s := range rep.Stages {
		out.Stages = append(out.Stages, publish.Stage{Name: s.Name, Errors: s.Errors, Warnings: s.Warnings, Skipped: s.Skipped})
	}
	return out
}

// servicesView is the analyzed services for the table and the diagram: a
// message broker is one node every service shares.
func servicesView(svcs []analyze.Service) []publish.Service {
	var out []publish.Service
	for _, s := range svcs {
		v := publish.Service{Name: s.Name, Path: s.Path, Language: s.Language, LanguageVersion: s.LanguageVersion,
			BuildTool: s.BuildTool, Port: s.Port, HealthPath: s.HealthPath, Calls: s.Calls}
		for _, b := range s.Backing {
			v.Backing = append(v.Backing, publish.Store{Kind: b.Kind, Shared: b.Kind == analyze.BackingRabbitMQ || b.Kind == analyze.BackingKafka})
		}
		out = append(out, v)
	}
	return out
}

// filesView is what happened to each file, in draft's words (which
// publish's Action* constants repeat).
func filesView(files []draft.FileResult) []publish.FileChange {
	var out []publish.FileChange
	for _, f := range files {
		out = append(out, publish.FileChange{Path: f.Path, Action: f.Action})
	}
	return out
}

// runView is the model's part of a walk as publish renders it (nil when
// no model took part).
func runView(res *AgentRun) *publish.AgentRun {
	if res == nil {
		return nil
	}
	out := &publish.AgentRun{
		Outcome: outcomeView(res.Outcome), Intent: res.Intent, Reason: res.Reason, Summary: res.Summary,
		Risks: res.Risks, NewFindings: res.NewFindings,
		Calls: len(res.Calls), PromptTokens: res.Usage.PromptTokens, CompletionTokens: res.Usage.CompletionTokens, Redactions: res.Redactions,
	}
	for _, a := range res.Attempts {
		v := publish.Attempt{N: a.N, Agent: a.Agent, Review: a.Agent == agent.AgentReview, Summary: a.Summary, Changed: a.Changed,
			Findings: a.Findings, PromptTokens: a.Usage.PromptTokens, CompletionTokens: a.Usage.CompletionTokens}
		for _, x := range a.Refused {
			v.Refused = append(v.Refused, publish.Refusal{Path: x.Path, Action: x.Action, Reason: x.Reason})
		}
		out.Attempts = append(out.Attempts, v)
	}
	return out
}

func outcomeView(o Outcome) publish.RunOutcome {
	switch o {
	case Valid:
		return publish.RunValid
	case Failing:
		return publish.RunFailing
	case Stopped:
		return publish.RunStopped
	}
	return publish.RunNothing
}
