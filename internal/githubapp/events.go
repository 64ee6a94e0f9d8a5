package githubapp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/command"
)

// The events kubewright acts on, and which of their payloads. Everything
// else is acknowledged (202 "ignored") and dropped at the door, so the
// queue only ever holds work: what internal/job does something with.
const (
	eventIssueComment = "issue_comment"
	eventIssues       = "issues"
	eventPing         = "ping"
)

// DefaultTriggerLabel is the issue label that starts a containerize
// unless configured otherwise (the job's default too).
const DefaultTriggerLabel = "kubewright"

// relevantEvent reports whether kubewright handles the event at all, so
// the rest are dropped before their payload is buffered or parsed.
// pull_request, pull_request_review_comment and the installation events
// need no work yet: clients are created on demand, and review comes with
// its command.
func relevantEvent(event string) bool {
	switch event {
	case eventIssueComment, eventIssues, eventPing:
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

// relevant reports whether a parsed event is one internal/job acts on; if
// not, why (for the reply and the log).
//
//   - issue_comment: created, by someone who is not a bot, holding a line
//     that starts with the prefix (a command, help, a usage reply or a
//     free-text request: all of them get an answer). An edited comment
//     never runs a command again, a deleted one has nothing to run.
//   - issues: opened with the trigger label, or given it (labeled), by
//     someone who is not a bot.
func (f filter) relevant(payload any) (bool, string) {
	switch e := payload.(type) {
	case *github.IssueCommentEvent:
		if why := onlyAction(e.GetAction(), "created"); why != "" {
			return false, why
		}
		c := e.GetComment()
		if isBot(c.GetUser()) {
			return false, "comment by a bot"
		}
		if command.Parse(c.GetBody(), command.Options{Prefix: f.prefix}).Kind == command.KindIgnore {
			return false, "comment holds no " + f.prefix + " command"
		}
		return true, ""
	case *github.IssuesEvent:
		if why := onlyAction(e.GetAction(), "opened", "labeled"); why != "" {
			return false, why
		}
		if f.label == "" {
			return false, "no trigger label is configured"
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
			return false, "issue does not carry the trigger label " + f.label
		}
		if isBot(e.GetSender()) {
			return false, "label set by a bot"
		}
		return true, ""
	default:
		return false, "event is not handled"
	}
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

// issueSubject is "owner/name#number" for issue, comment and pull request
// events, "" otherwise.
func issueSubject(repo string, payload any) string {
	n := 0
	switch e := payload.(type) {
	case *github.IssueCommentEvent:
		n = e.GetIssue().GetNumber()
	case *github.IssuesEvent:
		n = e.GetIssue().GetNumber()
	case *github.PullRequestEvent:
		n = e.GetNumber()
	case *github.PullRequestReviewCommentEvent:
		n = e.GetPullRequest().GetNumber()
	}
	if repo == "" || n == 0 {
		return ""
	}
	return fmt.Sprintf("%s#%d", repo, n)
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
