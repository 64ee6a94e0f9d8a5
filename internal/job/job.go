// Package job is the only sequencer: a typed request in (internal/request,
// parsed once at intake), a pull request, a review or a reply out. Every
// command composes the same steps — workspace (git), analyze, author,
// draft (apply), validate, repair (bounded, whenever a model is
// configured) and publish, the only GitHub writer — in one small file
// listed in commands.go; pipeline.go and repair.go hold the shared walk.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/riverqueue/river/rivertype"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/jobpage"
	"github.com/kubewright/kubewright/internal/notify"
	"github.com/kubewright/kubewright/internal/ops"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/request"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/dryrun"
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
	// usage answers resources --from-metrics; cluster is read, never
	// written, by operations and diagnose (nil: none configured).
	usage   ops.UsageSource
	cluster *diagnose.Cluster
	follow  FollowUp
	// watching holds what each follow-up watches between its reads.
	watching *watchList
	// pages records jobs for /jobs/<delivery>, linked under publicURL.
	pages     jobpage.Store
	publicURL string
	// notifier hears of every diagnosis (nil: none).
	notifier *notify.Webhook
}

var (
	_ queue.Handler    = (*Runner)(nil)
	_ queue.Serializer = (*Runner)(nil)
)

// Exclusive: every job holds its repository except `/ai cancel`, which must
// reach the job it cancels while that job holds the repository.
func (r *Runner) Exclusive(d queue.Delivery) bool {
	// A follow-up only reads the cluster and comments: it must not hold
	// the repository for the minutes it watches.
	return !d.Request.IsCommand(command.Cancel) && d.Request.Trigger != request.Merged
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
	r := &Runner{clients: clients, validate: v, prefix: command.DefaultPrefix, store: NewMemoryStatus(),
		timeouts: DefaultTimeouts, metrics: newJobMetrics(), follow: DefaultFollowUp, watching: &watchList{m: map[string]watched{}},
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
	ctx, end := dryrun.JobScope(ctx)
	defer end()
	return r.handle(ctx, d)
}

func (r *Runner) handle(ctx context.Context, d queue.Delivery) error {
	req := d.Request
	log := r.log.With("delivery", d.ID, "event", d.Event, "installation", d.Installation, "repo", d.Repo)
	ctx = withLogger(ctx, log)
	if err := req.Validate(); err != nil {
		// Intake stores only complete requests: this row was written by
		// something else (an older version, a hand-made insert).
		log.Warn("job failed", "stage", "decode", "reason", "RequestInvalid", "decision", "permanent", "error", err)
		return queue.Permanent(err)
	}
	err := r.serve(ctx, log, req)
	if errors.As(err, new(*rivertype.JobSnoozeError)) {
		return err // the job asked to run again later (a follow-up): no failure
	}
	out := classify(err)
	if out != nil {
		r.logFailure(log, err, out)
	}
	return out
}

// serve answers one request: a reply is posted as it is; a command or a
// free-text request is authorized, once, and run.
func (r *Runner) serve(ctx context.Context, log *slog.Logger, req request.Request) error {
	gh, err := r.clients.Installation(req.Installation)
	if err != nil {
		return err
	}
	gh, pub := r.timed(gh), r.pubFor(gh, r.store)
	q := task{owner: req.Repo.Owner, name: req.Repo.Name, issue: req.Number, user: req.Actor.Login, userID: req.Actor.ID,
		installation: req.Installation, cmd: req.Command, delivery: req.Delivery, subject: req.Subject(), settings: &settings{}, trigger: req.Trigger}
	switch {
	case req.Intent != "" && r.agents == nil:
		return r.comment(ctx, pub, q, replyText(req)+"Free-text requests are carried out by kubewright's LLM agents, and this installation has no model configured (KUBEWRIGHT_LLM_MODEL).")
	case req.Intent != "" && req.OnPullRequest:
		return r.comment(ctx, pub, q, "Free-text requests work on issues: kubewright opens a pull request for them. Comment on an issue instead.")
	case req.Command == nil && req.Intent == "" && req.Trigger != request.Merged:
		return r.comment(ctx, pub, q, req.Reply.Text)
	}
	if q.defaultBranch, err = defaultBranchOf(ctx, gh, req.Repo); err != nil {
		return err
	}
	if req.Trigger == request.Merged {
		// kubewright's own merged pull request: nothing from it runs; the
		// cluster is read to see the change land.
		return r.followUp(ctx, log, pub, q, req.Head, req.MergedAt)
	}
	if req.Trigger == request.PullRequest {
		// The review a pull request gets when it opens or moves is what
		// the installation asked for, whoever opened it: it reads the
		// head and runs nothing from it.
		return r.settle(ctx, pub, q, r.reviewPR(ctx, log, gh, pub, q))
	}
	allowed, note, err := r.authorized(ctx, gh, q)
	if err != nil {
		return err
	}
	if !allowed {
		log.Info("refused: requester lacks write permission", "user", q.user, "trigger", req.Trigger)
		if req.Trigger == request.Label {
			return nil // a label is not a conversation: nothing is posted
		}
		what := "a free-text request"
		if req.Command != nil {
			what = fmt.Sprintf("`%s %s`", r.prefix, req.Command.Name)
		}
		// The refusal replaces the queue position if one was shown.
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("Sorry @%s, %s needs write, maintain or admin permission on this repository (or membership of a team listed under commands.teams in .github/kubewright.yaml), so nothing was run.%s", q.user, what, note))
	}
	if req.CommentID != 0 {
		if err := pub.React(ctx, q.repo(), req.CommentID, "eyes"); err != nil {
			return err
		}
	}
	if req.Intent != "" {
		r.startPage(ctx, &q, req)
		err := r.do(ctx, log, gh, pub, q, req.Intent)
		r.endPage(ctx, q, err)
		return r.settle(ctx, pub, q, err)
	}
	run, ok := r.commands()[req.Command.Name]
	if !ok {
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("`%s %s` is not available yet in this version of kubewright.", r.prefix, req.Command.Name))
	}
	if req.Command.Name != command.Cancel {
		r.startPage(ctx, &q, req)
	}
	err = run(ctx, log, gh, pub, q)
	r.endPage(ctx, q, err)
	return r.settle(ctx, pub, q, err)
}

// replyText is the parser's reply to a free-text request (the unknown
// command and what it may have meant), followed by a blank line.
func replyText(req request.Request) string {
	if req.Reply == nil || req.Reply.Text == "" {
		return ""
	}
	return req.Reply.Text + "\n\n"
}

// cancelJobs cancels the other queued and running jobs of this issue.
func (r *Runner) cancelJobs(ctx context.Context, pub Publisher, q task) error {
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

// task is one request as the job runs it: who asked what, where, authorized
// once it runs, with the default branch's settings read once.
type task struct {
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
	// trigger is what started the job: a comment, a label, a pull request.
	trigger request.Trigger
	// page is the job's record for its page (nil: pages are off).
	page *page
}

func (q task) fullName() string { return q.owner + "/" + q.name }

// defaultBranchOf is the repository's default branch: from the payload,
// or asked of GitHub when the payload left it out.
func defaultBranchOf(ctx context.Context, gh *github.Client, repo request.Repo) (string, error) {
	if repo.DefaultBranch != "" {
		return repo.DefaultBranch, nil
	}
	full, _, err := gh.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return "", err
	}
	return full.GetDefaultBranch(), nil
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
