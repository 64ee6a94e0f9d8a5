package githubapp

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/request"
)

// The events kubewright acts on, and which of their payloads. Everything
// else is acknowledged (202 "ignored") and dropped at the door, so the
// queue only ever holds work: what internal/job does something with.
const (
	eventIssueComment = "issue_comment"
	eventIssues       = "issues"
	eventPullRequest  = "pull_request"
	eventPing         = "ping"
)

// DefaultTriggerLabel is the issue label that starts a containerize
// unless configured otherwise (the job's default too).
const DefaultTriggerLabel = "kubewright"

// relevantEvent reports whether kubewright handles the event at all, so
// the rest are dropped before their payload is buffered or parsed.
// pull_request_review_comment and the installation events need no work:
// clients are created on demand.
func relevantEvent(event string) bool {
	switch event {
	case eventIssueComment, eventIssues, eventPullRequest, eventPing:
		return true
	}
	return false
}

// WithCommandPrefix sets the command prefix comments are read with
// (default command.DefaultPrefix); a comment without a command line is
// dropped. It must be the prefix the job parses with.
func WithCommandPrefix(p string) Option {
	return func(h *handler) {
		if p != "" {
			h.filter.prefix = p
		}
	}
}

// WithTriggerLabel sets the issue label that starts a containerize
// (default DefaultTriggerLabel); other issue events are dropped, all of
// them when l is empty, as the job then starts nothing from labels.
func WithTriggerLabel(l string) Option {
	return func(h *handler) { h.filter.label = l }
}

// filter decides from a parsed payload whether the job would act on it,
// with the settings the job acts with.
type filter struct {
	prefix string // command prefix
	label  string // trigger label; empty: labels trigger nothing
}

func defaultFilter() filter {
	return filter{prefix: command.DefaultPrefix, label: DefaultTriggerLabel}
}

// RequestOptions are the settings a payload is read with: the ones the
// job runs with.
type RequestOptions struct {
	// Prefix starts a command (default command.DefaultPrefix).
	Prefix string
	// Label is the trigger label (default DefaultTriggerLabel); NoLabel
	// turns labels off.
	Label   string
	NoLabel bool
}

// ParseRequest turns one event's JSON payload into the request the job
// runs, as webhook intake does: for the Action (its event file) and for
// tests. why says why there is nothing to run; err that the payload does
// not parse.
func ParseRequest(event, deliveryID string, payload []byte, opts RequestOptions) (req request.Request, why string, err error) {
	f := defaultFilter()
	if opts.Prefix != "" {
		f.prefix = opts.Prefix
	}
	if opts.Label != "" {
		f.label = opts.Label
	}
	if opts.NoLabel {
		f.label = ""
	}
	parsed, err := github.ParseWebHook(event, payload)
	if err != nil {
		return req, "", fmt.Errorf("%s payload: %w", event, err)
	}
	installation, _ := subject(parsed)
	req, why = f.request(deliveryID, event, installation, parsed)
	return req, why, nil
}

// request turns a parsed event into the typed request internal/job runs,
// or says why there is none (for the reply and the log). Parsing happens
// here, once: the queue stores the request, not the payload.
//
//   - issue_comment: created, by someone who is not a bot, holding a line
//     that starts with the prefix (a command, help, a usage reply or a
//     free-text request: all of them get an answer). An edited comment
//     never runs a command again, a deleted one has nothing to run.
//   - issues: opened with the trigger label, or given it (labeled), by
//     someone who is not a bot: a containerize.
//   - pull_request: opened, synchronize (a push), reopened or
//     ready_for_review: a review. Pull requests by bots are reviewed too
//     (a dependency update can change a manifest); the job decides from
//     the repository's settings whether drafts and unrelated changes are
//     reviewed.
func (f filter) request(deliveryID, event string, installation int64, payload any) (request.Request, string) {
	req := request.Request{Delivery: deliveryID, Event: event, Installation: installation}
	switch e := payload.(type) {
	case *github.IssueCommentEvent:
		if why := onlyAction(e.GetAction(), "created"); why != "" {
			return req, why
		}
		c := e.GetComment()
		if isBot(c.GetUser()) {
			return req, "comment by a bot"
		}
		req.OnPullRequest = e.GetIssue().GetPullRequestLinks() != nil
		res := command.Parse(c.GetBody(), command.Options{Prefix: f.prefix, Context: req.Place()})
		var ok bool
		if req.Command, req.Intent, req.Reply, ok = request.FromComment(res); !ok {
			return req, "comment holds no " + f.prefix + " command"
		}
		req.Trigger, req.CommentID = request.Comment, c.GetID()
		req.Repo, req.Number = repoOf(e.GetRepo()), e.GetIssue().GetNumber()
		req.Actor = request.Actor{Login: c.GetUser().GetLogin(), ID: c.GetUser().GetID(), Association: c.GetAuthorAssociation()}
	case *github.IssuesEvent:
		if why := onlyAction(e.GetAction(), "opened", "labeled"); why != "" {
			return req, why
		}
		if f.label == "" {
			return req, "no trigger label is configured"
		}
		labeled := false
		if e.GetAction() == "labeled" {
			labeled = e.GetLabel().GetName() == f.label
		} else {
			for _, l := range e.GetIssue().Labels {
				labeled = labeled || l.GetName() == f.label
			}
		}
		if !labeled {
			return req, "issue does not carry the trigger label " + f.label
		}
		if isBot(e.GetSender()) {
			return req, "label set by a bot"
		}
		req.Trigger, req.Command = request.Label, &command.Command{Name: command.Containerize}
		req.Repo, req.Number = repoOf(e.GetRepo()), e.GetIssue().GetNumber()
		req.Actor = request.Actor{Login: e.GetSender().GetLogin(), ID: e.GetSender().GetID()}
	case *github.PullRequestEvent:
		if e.GetAction() == "closed" {
			return f.merged(req, e)
		}
		if why := onlyAction(e.GetAction(), "opened", "synchronize", "reopened", "ready_for_review"); why != "" {
			return req, why
		}
		if e.GetPullRequest().GetState() == "closed" {
			return req, "pull request is closed"
		}
		req.Trigger, req.Command, req.OnPullRequest = request.PullRequest, &command.Command{Name: command.Review}, true
		req.Repo, req.Number = repoOf(e.GetRepo()), e.GetNumber()
		if req.Number == 0 {
			req.Number = e.GetPullRequest().GetNumber()
		}
		req.Actor = request.Actor{Login: e.GetSender().GetLogin(), ID: e.GetSender().GetID()}
	default:
		return req, "event is not handled"
	}
	if err := req.Validate(); err != nil {
		return req, "payload is incomplete: " + err.Error()
	}
	return req, ""
}

// opBranch is the branch of a Day-2 operation's pull request.
var opBranch = regexp.MustCompile(`^kubewright/(scale|image|autoscale|resources|rollback)-[a-z0-9]([-a-z0-9]*[a-z0-9])?-[0-9]{1,10}$`)

// merged is the follow-up of a merged operation's pull request: only
// kubewright's own branches of the repository itself (never a fork's
// branch that happens to share the name).
func (f filter) merged(req request.Request, e *github.PullRequestEvent) (request.Request, string) {
	pr := e.GetPullRequest()
	switch {
	case !pr.GetMerged():
		return req, "pull request closed without a merge"
	case !opBranch.MatchString(pr.GetHead().GetRef()):
		return req, "merged pull request is not a kubewright operation's"
	case pr.GetHead().GetRepo().GetFullName() != e.GetRepo().GetFullName():
		return req, "merged pull request comes from another repository"
	}
	req.Trigger, req.Head, req.MergedAt = request.Merged, pr.GetHead().GetRef(), pr.GetMergedAt().Time
	if req.MergedAt.IsZero() {
		req.MergedAt = time.Now().UTC() // a payload without merged_at: the follow-up starts now
	}
	req.Repo, req.Number = repoOf(e.GetRepo()), pr.GetNumber()
	req.Actor = request.Actor{Login: e.GetSender().GetLogin(), ID: e.GetSender().GetID()}
	if err := req.Validate(); err != nil {
		return req, "payload is incomplete: " + err.Error()
	}
	return req, ""
}

// repoOf is the payload's repository.
func repoOf(r *github.Repository) request.Repo {
	owner, name := r.GetOwner().GetLogin(), r.GetName()
	if owner == "" || name == "" {
		owner, name, _ = strings.Cut(r.GetFullName(), "/")
	}
	return request.Repo{Owner: owner, Name: name, DefaultBranch: r.GetDefaultBranch()}
}

// onlyAction is "" when action is one of allowed, else why not.
func onlyAction(action string, allowed ...string) string {
	if slices.Contains(allowed, action) {
		return ""
	}
	if action == "" {
		return "payload has no action"
	}
	return "action " + clip(action) + " is not handled"
}

// isBot: the App's own comments and other bots never trigger work.
func isBot(u *github.User) bool {
	return u.GetType() == "Bot" || strings.HasSuffix(u.GetLogin(), "[bot]")
}

// subject returns the installation and "owner/name" repository a parsed
// event is about; zero values when the payload does not name them.
func subject(payload any) (installation int64, repo string) {
	if e, ok := payload.(interface{ GetInstallation() *github.Installation }); ok {
		installation = e.GetInstallation().GetID()
	}
	if e, ok := payload.(interface{ GetRepo() *github.Repository }); ok {
		repo = fullName(e.GetRepo())
	}
	return installation, repo
}

func fullName(r *github.Repository) string {
	if r == nil {
		return ""
	}
	if n := r.GetFullName(); n != "" {
		return n
	}
	if owner, name := r.GetOwner().GetLogin(), r.GetName(); owner != "" && name != "" {
		return owner + "/" + name
	}
	return ""
}
