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
	"strings"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/queue"
)

// Clients is what the job needs from the GitHub App: a REST client and a
// git token per installation, and where GitHub is.
type Clients interface {
	Installation(installation int64) (*github.Client, error)
	Token(ctx context.Context, installation int64) (string, error)
	Endpoints() githubapp.Endpoints
}

var _ Clients = (*githubapp.Clients)(nil)

// Validator validates a checked-out repository, with extra stages when
// given (the Go build check of generated services).
type Validator = agent.Validator

// Runner runs deliveries. It implements queue.Handler.
type Runner struct {
	clients  Clients
	validate Validator
	prefix   string
	label    string
	cancel   Canceller
	status   statusComments
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

// New returns a Runner.
func New(clients Clients, v Validator, opts ...Option) *Runner {
	r := &Runner{clients: clients, validate: v, prefix: command.DefaultPrefix, label: "kubewright", status: statusComments{ids: map[string]statusRef{}}, metrics: newJobMetrics(),
		bot: Identity{Name: "kubewright[bot]", Email: "kubewright[bot]@users.noreply.github.com"},
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(r)
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
	return r.handle(ctx, d)
}

func (r *Runner) handle(ctx context.Context, d queue.Delivery) error {
	log := r.log.With("delivery", d.ID, "event", d.Event, "installation", d.Installation, "repo", d.Repo)
	var err error
	switch d.Event {
	case "issue_comment":
		var ev github.IssueCommentEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			return queue.Permanent(fmt.Errorf("decode issue_comment: %w", err))
		}
		err = r.onComment(ctx, log, d, &ev)
	case "issues":
		var ev github.IssuesEvent
		if err := json.Unmarshal(d.Payload, &ev); err != nil {
			return queue.Permanent(fmt.Errorf("decode issues: %w", err))
		}
		err = r.onIssue(ctx, log, d, &ev)
	default:
		// installation and pull_request events need no work yet: clients
		// are created on demand and review comes with the review command.
		log.Debug("nothing to do for this event")
		return nil
	}
	return classify(err)
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
	owner, name := ev.GetRepo().GetOwner().GetLogin(), ev.GetRepo().GetName()
	issue := ev.GetIssue().GetNumber()
	gh, err := r.clients.Installation(d.Installation)
	if err != nil {
		return err
	}
	intent := freeText(res)
	switch {
	case res.Kind == command.KindIgnore:
		return nil
	case intent != "" && r.agents == nil:
		body := res.Reply.Text + "\n\nFree-text requests are carried out by kubewright's LLM agents, and this installation has no model configured (KUBEWRIGHT_LLM_MODEL)."
		_, _, err := gh.Issues.CreateComment(ctx, owner, name, issue, &github.IssueComment{Body: github.Ptr(body)})
		return err
	case intent != "" && where == command.PullRequest:
		body := "Free-text requests work on issues: kubewright opens a pull request for them. Comment on an issue instead."
		_, _, err := gh.Issues.CreateComment(ctx, owner, name, issue, &github.IssueComment{Body: github.Ptr(body)})
		return err
	case intent != "":
		res = command.Result{Kind: command.KindCommand, Command: &command.Command{Name: "do", Line: res.Reply.Line, Raw: res.Reply.Raw}}
	case res.Kind == command.KindReply:
		_, _, err := gh.Issues.CreateComment(ctx, owner, name, issue, &github.IssueComment{Body: github.Ptr(res.Reply.Text)})
		return err
	}
	user := c.GetUser().GetLogin()
	defaultBranch, err := defaultBranchOf(ctx, gh, ev.GetRepo())
	if err != nil {
		return err
	}
	allowed, err := r.authorized(ctx, gh, owner, name, user, defaultBranch)
	if err != nil {
		return err
	}
	if !allowed {
		log.Info("refused: commenter lacks write permission", "user", user)
		what := fmt.Sprintf("`%s %s`", r.prefix, res.Command.Name)
		if intent != "" {
			what = "a free-text request"
		}
		body := fmt.Sprintf("Sorry @%s, %s needs write, maintain or admin permission on this repository (or membership of a team listed under commands.teams in .github/kubewright.yaml), so nothing was run.", user, what)
		_, _, err := gh.Issues.CreateComment(ctx, owner, name, issue, &github.IssueComment{Body: github.Ptr(body)})
		return err
	}
	if _, _, err := gh.Reactions.CreateIssueCommentReaction(ctx, owner, name, c.GetID(), "eyes"); err != nil {
		return err
	}
	req := request{
		owner: owner, name: name, issue: issue, user: user, userID: c.GetUser().GetID(),
		defaultBranch: defaultBranch, installation: d.Installation, cmd: res.Command, delivery: d.ID,
	}
	switch res.Command.Name {
	case "containerize", "plan":
		return r.containerize(ctx, log, gh, req)
	case "validate":
		return r.validatePR(ctx, gh, req)
	case "cancel":
		return r.cancelJobs(ctx, gh, req, d)
	case "do":
		return r.do(ctx, log, gh, req, intent)
	default:
		body := fmt.Sprintf("`%s %s` is not available yet in this version of kubewright.", r.prefix, res.Command.Name)
		_, _, err := gh.Issues.CreateComment(ctx, owner, name, issue, &github.IssueComment{Body: github.Ptr(body)})
		return err
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
	owner, name := ev.GetRepo().GetOwner().GetLogin(), ev.GetRepo().GetName()
	gh, err := r.clients.Installation(d.Installation)
	if err != nil {
		return err
	}
	user := ev.GetSender().GetLogin()
	defaultBranch, err := defaultBranchOf(ctx, gh, ev.GetRepo())
	if err != nil {
		return err
	}
	ok, err := r.authorized(ctx, gh, owner, name, user, defaultBranch)
	if err != nil || !ok {
		if !ok && err == nil {
			log.Info("label ignored: sender may not run commands", "user", user)
		}
		return err
	}
	req := request{owner: owner, name: name, issue: ev.GetIssue().GetNumber(), user: user, userID: ev.GetSender().GetID(),
		defaultBranch: defaultBranch, installation: d.Installation, cmd: &command.Command{Name: "containerize"}, delivery: d.ID}
	return r.containerize(ctx, log, gh, req)
}

// cancelJobs cancels the other queued and running jobs of this issue.
func (r *Runner) cancelJobs(ctx context.Context, gh *github.Client, q request, d queue.Delivery) error {
	if r.cancel == nil {
		return r.comment(ctx, gh, q, "This kubewright runs without a queue, so there is nothing to cancel.")
	}
	subject := d.Subject
	if subject == "" {
		subject = fmt.Sprintf("%s#%d", q.fullName(), q.issue)
	}
	n, err := r.cancel.CancelSubject(ctx, subject, d.ID)
	if err != nil {
		return err
	}
	if n == 0 {
		return r.comment(ctx, gh, q, "Nothing to cancel: no kubewright job is queued or running for this issue.")
	}
	return r.comment(ctx, gh, q, fmt.Sprintf("Cancelled %d kubewright job(s) for this issue. A pull request already opened stays as it is.", n))
}

// request is one authorized command.
type request struct {
	owner, name   string
	issue         int
	user          string
	userID        int64
	defaultBranch string
	installation  int64
	cmd           *command.Command
	// delivery identifies the job's status comment.
	delivery string
}

func (q request) fullName() string { return q.owner + "/" + q.name }

// authorized: write, maintain or admin on the repository, or an active
// member of a team the repository's config (default branch) lists.
func (r *Runner) authorized(ctx context.Context, gh *github.Client, owner, name, user, defaultBranch string) (bool, error) {
	perm, resp, err := gh.Repositories.GetPermissionLevel(ctx, owner, name, user)
	if err != nil && (resp == nil || resp.StatusCode != http.StatusNotFound) {
		return false, err
	}
	if err == nil {
		switch perm.GetRoleName() {
		case "admin", "maintain", "write":
			return true, nil
		}
		switch perm.GetPermission() {
		case "admin", "write":
			return true, nil
		}
	}
	cfg, err := repoConfig(ctx, gh, owner, name, defaultBranch)
	if err != nil {
		return false, err
	}
	for _, team := range cfg.Commands.Teams {
		org, slug, _ := strings.Cut(team, "/")
		m, resp, err := gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, user)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				continue
			}
			return false, err
		}
		if m.GetState() == "active" {
			return true, nil
		}
	}
	return false, nil
}

// repoConfig reads .github/kubewright.yaml from the default branch, never
// from a pull request branch; a missing file is the empty configuration.
func repoConfig(ctx context.Context, gh *github.Client, owner, name, ref string) (*config.Repo, error) {
	file, _, resp, err := gh.Repositories.GetContents(ctx, owner, name, config.RepoConfigPath, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return &config.Repo{}, nil
		}
		return nil, err
	}
	content, err := file.GetContent()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", config.RepoConfigPath, err)
	}
	return config.ParseRepo(config.RepoConfigPath, []byte(content))
}

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

// classify maps GitHub errors to queue retry semantics.
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
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		if s := er.Response.StatusCode; s >= 400 && s < 500 && s != http.StatusTooManyRequests {
			return queue.Permanent(err)
		}
	}
	return err
}
