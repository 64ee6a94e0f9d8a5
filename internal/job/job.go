// Package job is one job's walk: a delivery in, a pull request (or a reply)
// out. It sequences the other packages — command, workspace, app
// (analyze + author), validate, publish — and is the only place that does.
package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// Clients is what the job needs from the GitHub App: a REST client and a
// git token per installation, and where GitHub is.
type Clients interface {
	Installation(installation int64) (*github.Client, error)
	Token(ctx context.Context, installation int64) (string, error)
	Endpoints() githubapp.Endpoints
}

var _ Clients = (*githubapp.Clients)(nil)

// Validator validates a checked-out repository under the repository's
// configuration (read once per job, from the default branch: any
// .github/kubewright.yaml in dir is ignored), with extra stages when given
// (the Go build check of generated services).
type Validator func(ctx context.Context, dir string, cfg *config.Repo, extra ...validate.Check) (*validate.Report, error)

// Runner runs deliveries. It implements queue.Handler.
type Runner struct {
	clients  Clients
	validate Validator
	prefix   string
	label    string
	cancel   Canceller
	store    StatusStore
	// pubFor writes to GitHub through an installation's client.
	pubFor   NewPublisher
	timeouts Timeouts
	clone    workspace.CloneOptions
	metrics  *jobMetrics
	bot      Identity
	log      *slog.Logger
	agents   *Agents
}

var (
	_ queue.Handler    = (*Runner)(nil)
	_ queue.Serializer = (*Runner)(nil)
)

// Exclusive: every job holds its repository except `/ai cancel`, which must
// reach the job it cancels while that job holds the repository.
func (r *Runner) Exclusive(d queue.Delivery) bool {
	if d.Event != "issue_comment" {
		return true
	}
	var ev github.IssueCommentEvent
	if json.Unmarshal(d.Payload, &ev) != nil {
		return true
	}
	res := command.Parse(ev.GetComment().GetBody(), command.Options{Prefix: r.prefix, Context: command.Anywhere})
	return res.Kind != command.KindCommand || res.Command.Name != "cancel"
}

// Canceller cancels the queued and running jobs of one issue or pull
// request ("owner/name#number"), except one delivery.
type Canceller interface {
	CancelSubject(ctx context.Context, subject, except string) (int, error)
}

// CancellerFunc adapts a function to Canceller.
type CancellerFunc func(ctx context.Context, subject, except string) (int, error)

func (f CancellerFunc) CancelSubject(ctx context.Context, subject, except string) (int, error) {
	return f(ctx, subject, except)
}

// Identity is the App's bot account, the author of its commits.
type Identity struct{ Name, Email string }

// Option configures a Runner.
type Option func(*Runner)

// WithPrefix sets the command prefix (default "/ai").
func WithPrefix(p string) Option { return func(r *Runner) { r.prefix = p } }

// WithTriggerLabel sets the issue label that starts a containerize when an
// issue is opened with it or it is added (default "kubewright").
func WithTriggerLabel(l string) Option { return func(r *Runner) { r.label = l } }

// WithCanceller enables `/ai cancel` (the queue).
func WithCanceller(c Canceller) Option { return func(r *Runner) { r.cancel = c } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(r *Runner) { r.log = l } }

// WithIdentity sets the commit author (default kubewright[bot]).
func WithIdentity(id Identity) Option { return func(r *Runner) { r.bot = id } }

// WithWorkRoot makes workspaces under dir (default: the system's
// temporary directory). New creates dir and removes the workspaces a dead
// process left there, those older than the job timeout.
func WithWorkRoot(dir string) Option { return func(r *Runner) { r.clone.Root = dir } }

// WithCloneLimits caps what one clone may write to disk (bytes, .git
// included) and how many files it may create (0: workspace's defaults).
func WithCloneLimits(maxBytes int64, maxFiles int) Option {
	return func(r *Runner) { r.clone.MaxBytes, r.clone.MaxFiles = maxBytes, maxFiles }
}

// New returns a Runner.
func New(clients Clients, v Validator, opts ...Option) *Runner {
	r := &Runner{clients: clients, validate: v, prefix: command.DefaultPrefix, label: "kubewright", store: NewMemoryStatus(),
		timeouts: DefaultTimeouts, metrics: newJobMetrics(),
		bot: Identity{Name: "kubewright[bot]", Email: "kubewright[bot]@users.noreply.github.com"},
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(r)
	}
	if r.pubFor == nil {
		r.pubFor = r.defaultPublisher
	}
	if root := r.clone.Root; root != "" {
		if err := os.MkdirAll(root, 0o700); err != nil {
			r.log.Error("work root: jobs will fail to clone", "dir", root, "error", err)
		} else if n, err := workspace.Sweep(root, r.timeouts.Job); err != nil {
			r.log.Warn("work root: sweep", "dir", root, "removed", n, "error", err)
		} else if n > 0 {
			r.log.Info("work root: removed workspaces left by a previous process", "dir", root, "removed", n)
		}
	}
	return r
}

// Handle runs one delivery. Events that need nothing from the bot end
// without error; GitHub's transient failures come back as errors (retried),
// rate limits as a snooze until the limit resets, other client errors as
// permanent.
func (r *Runner) Handle(ctx context.Context, d queue.Delivery) (err error) {
	start := time.Now()
	r.metrics.running.Inc()
	defer func() {
		r.metrics.running.Dec()
		r.metrics.observe(d.Event, start, err)
	}()
	ctx, cancel := context.WithTimeout(ctx, r.timeouts.Job)
	defer cancel()
	// Every validation of the job (an agent's baseline and attempts) uses
	// one dry-run server of the pool, stopped when the job ends.
	ctx, end := validate.JobScope(ctx)
	defer end()
	return r.handle(ctx, d)
}

func (r *Runner) handle(ctx context.Context, d queue.Delivery) error {
	log := r.log.With("delivery", d.ID, "event", d.Event, "installation", d.Installation, "repo", d.Repo)
	ctx = withLogger(ctx, log)
	var err error
	switch d.Event {
	case "issue_comment":
		var ev github.IssueCommentEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			log.Warn("job failed", "stage", "decode", "reason", "PayloadInvalid", "decision", "permanent", "error", err)
			return queue.Permanent(fmt.Errorf("decode issue_comment: %w", err))
		}
		err = r.onComment(ctx, log, d, &ev)
	case "issues":
		var ev github.IssuesEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			log.Warn("job failed", "stage", "decode", "reason", "PayloadInvalid", "decision", "permanent", "error", err)
			return queue.Permanent(fmt.Errorf("decode issues: %w", err))
		}
		err = r.onIssue(ctx, log, d, &ev)
	default:
		// installation and pull_request events need no work yet: clients
		// are created on demand and review comes with the review command.
		log.Debug("nothing to do for this event")
		return nil
	}
	out := classify(err)
	if out != nil {
		r.logFailure(log, err, out)
	}
	return out
}

func (r *Runner) onComment(ctx context.Context, log *slog.Logger, d queue.Delivery, ev *github.IssueCommentEvent) error {
	if ev.GetAction() != "created" {
		return nil
	}
	c := ev.GetComment()
	if isBot(c.GetUser()) {
		return nil // the App's own replies and other bots never trigger work
	}
	where := command.Issue
	if ev.GetIssue().IsPullRequest() {
		where = command.PullRequest
	}
	res := command.Parse(c.GetBody(), command.Options{Prefix: r.prefix, Context: where})
	if res.Kind == command.KindIgnore {
		return nil
	}
	gh, err := r.clients.Installation(d.Installation)
	if err != nil {
		return err
	}
	gh, pub := r.timed(gh), r.pubFor(gh, r.store)
	q := request{owner: ev.GetRepo().GetOwner().GetLogin(), name: ev.GetRepo().GetName(), issue: ev.GetIssue().GetNumber(),
		installation: d.Installation, delivery: d.ID, subject: d.Subject, settings: &settings{}}
	intent := freeText(res)
	switch {
	case intent != "" && r.agents == nil:
		return r.comment(ctx, pub, q, res.Reply.Text+"\n\nFree-text requests are carried out by kubewright's LLM agents, and this installation has no model configured (KUBEWRIGHT_LLM_MODEL).")
	case intent != "" && where == command.PullRequest:
		return r.comment(ctx, pub, q, "Free-text requests work on issues: kubewright opens a pull request for them. Comment on an issue instead.")
	case intent != "":
		res = command.Result{Kind: command.KindCommand, Command: &command.Command{Name: "do", Line: res.Reply.Line, Raw: res.Reply.Raw}}
	case res.Kind == command.KindReply:
		return r.comment(ctx, pub, q, res.Reply.Text)
	}
	q.user, q.userID, q.cmd = c.GetUser().GetLogin(), c.GetUser().GetID(), res.Command
	if q.defaultBranch, err = defaultBranchOf(ctx, gh, ev.GetRepo()); err != nil {
		return err
	}
	allowed, note, err := r.authorized(ctx, gh, q)
	if err != nil {
		return err
	}
	if !allowed {
		log.Info("refused: commenter lacks write permission", "user", q.user)
		what := fmt.Sprintf("`%s %s`", r.prefix, res.Command.Name)
		if intent != "" {
			what = "a free-text request"
		}
		// The refusal replaces the queue position if one was shown.
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("Sorry @%s, %s needs write, maintain or admin permission on this repository (or membership of a team listed under commands.teams in .github/kubewright.yaml), so nothing was run.%s", q.user, what, note))
	}
	if err := pub.React(ctx, q.repo(), c.GetID(), "eyes"); err != nil {
		return err
	}
	return r.settle(ctx, pub, q, r.run(ctx, log, gh, pub, q, intent))
}

// run runs one authorized command.
func (r *Runner) run(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q request, intent string) error {
	switch q.cmd.Name {
	case "containerize", "plan":
		return r.containerize(ctx, log, gh, pub, q)
	case "validate":
		return r.validatePR(ctx, gh, pub, q)
	case "cancel":
		return r.cancelJobs(ctx, pub, q)
	case "do":
		return r.do(ctx, log, gh, pub, q, intent)
	default:
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("`%s %s` is not available yet in this version of kubewright.", r.prefix, q.cmd.Name))
	}
}

// onIssue starts a containerize when an issue is opened with the trigger
// label or the label is added, by someone allowed to run commands.
func (r *Runner) onIssue(ctx context.Context, log *slog.Logger, d queue.Delivery, ev *github.IssuesEvent) error {
	triggered := false
	switch ev.GetAction() {
	case "labeled":
		triggered = ev.GetLabel().GetName() == r.label
	case "opened":
		for _, l := range ev.GetIssue().Labels {
			triggered = triggered || l.GetName() == r.label
		}
	}
	if !triggered || r.label == "" || isBot(ev.GetSender()) {
		return nil
	}
	gh, err := r.clients.Installation(d.Installation)
	if err != nil {
		return err
	}
	gh, pub := r.timed(gh), r.pubFor(gh, r.store)
	q := request{owner: ev.GetRepo().GetOwner().GetLogin(), name: ev.GetRepo().GetName(), issue: ev.GetIssue().GetNumber(),
		user: ev.GetSender().GetLogin(), userID: ev.GetSender().GetID(), installation: d.Installation,
		cmd: &command.Command{Name: "containerize"}, delivery: d.ID, subject: d.Subject, settings: &settings{}}
	if q.defaultBranch, err = defaultBranchOf(ctx, gh, ev.GetRepo()); err != nil {
		return err
	}
	ok, _, err := r.authorized(ctx, gh, q)
	if err != nil {
		return err
	}
	if !ok {
		log.Info("label ignored: sender may not run commands", "user", q.user)
		return nil
	}
	return r.settle(ctx, pub, q, r.containerize(ctx, log, gh, pub, q))
}

// cancelJobs cancels the other queued and running jobs of this issue.
func (r *Runner) cancelJobs(ctx context.Context, pub Publisher, q request) error {
	if r.cancel == nil {
		return r.comment(ctx, pub, q, "This kubewright runs without a queue, so there is nothing to cancel.")
	}
	subject := q.subject
	if subject == "" {
		subject = fmt.Sprintf("%s#%d", q.fullName(), q.issue)
	}
	n, err := r.cancel.CancelSubject(ctx, subject, q.delivery)
	if err != nil {
		return err
	}
	if n == 0 {
		return r.comment(ctx, pub, q, "Nothing to cancel: no kubewright job is queued or running for this issue.")
	}
	return r.comment(ctx, pub, q, fmt.Sprintf("Cancelled %d kubewright job(s) for this issue. A pull request already opened stays as it is.", n))
}

// request is one command, authorized once it runs.
type request struct {
	owner, name   string
	issue         int
	user          string
	userID        int64
	defaultBranch string
	installation  int64
	cmd           *command.Command
	// delivery identifies the job's status comment and token spend.
	delivery string
	// subject is the queue's "owner/name#number" of the delivery.
	subject string
	// settings is the default branch's configuration, read once.
	settings *settings
}

func (q request) fullName() string { return q.owner + "/" + q.name }

// defaultBranchOf is the repository's default branch: from the payload,
// or asked of GitHub when the payload leaves it out.
func defaultBranchOf(ctx context.Context, gh *github.Client, repo *github.Repository) (string, error) {
	if b := repo.GetDefaultBranch(); b != "" {
		return b, nil
	}
	full, _, err := gh.Repositories.Get(ctx, repo.GetOwner().GetLogin(), repo.GetName())
	if err != nil {
		return "", err
	}
	return full.GetDefaultBranch(), nil
}

func isBot(u *github.User) bool {
	return u.GetType() == "Bot" || strings.HasSuffix(u.GetLogin(), "[bot]")
}

// classify maps errors to queue retry semantics: GitHub's rate limits
// snooze, its client errors and a stage that cannot succeed on a retry
// (a broken configuration, a repository over the caps, a deterministic
// stage past its deadline) are permanent, the rest is retried.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return queue.RetryAfter(time.Until(rl.Rate.Reset.Time) + time.Second)
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		if d := abuse.GetRetryAfter(); d > 0 {
			return queue.RetryAfter(d)
		}
		return queue.RetryAfter(time.Minute)
	}
	if se := describe(err, Timeouts{}); se != nil && se.permanent() {
		return queue.Permanent(err)
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		if s := er.Response.StatusCode; s >= 400 && s < 500 && s != http.StatusTooManyRequests {
			return queue.Permanent(err)
		}
	}
	return err
}
