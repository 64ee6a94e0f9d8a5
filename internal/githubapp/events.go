package githubapp

import (
	"fmt"

	"github.com/google/go-github/v88/github"
)

// The events kubewright subscribes to, and which of their actions it acts
// on. Everything else is acknowledged (202) and dropped at the door.
const (
	eventIssueComment             = "issue_comment"
	eventIssues                   = "issues"
	eventPullRequest              = "pull_request"
	eventPullRequestReviewComment = "pull_request_review_comment"
	eventInstallation             = "installation"
	eventInstallationRepositories = "installation_repositories"
	eventPing                     = "ping"
)

// relevantEvent reports whether kubewright handles the event at all, so
// the rest are dropped before their payload is parsed.
func relevantEvent(event string) bool {
	switch event {
	case eventIssueComment, eventIssues, eventPullRequest, eventPullRequestReviewComment,
		eventInstallation, eventInstallationRepositories, eventPing:
		return true
	}
	return false
}

// relevantAction reports whether a parsed event's action is one kubewright
// acts on; if not, why (for the reply and the log).
//
//   - issue_comment, pull_request_review_comment: created only; an edited
//     comment never runs a command again, a deleted one has nothing to run.
//   - issues: opened and labeled (the trigger label is per-repo config,
//     read by the job from the default branch, not here).
//   - pull_request: opened, synchronize, reopened (the head changed).
//   - installation, installation_repositories: every action, so the job
//     side can track which installations and repositories exist.
func relevantAction(payload any) (bool, string) {
	var action string
	var allowed []string
	switch e := payload.(type) {
	case *github.IssueCommentEvent:
		action, allowed = e.GetAction(), []string{"created"}
	case *github.PullRequestReviewCommentEvent:
		action, allowed = e.GetAction(), []string{"created"}
	case *github.IssuesEvent:
		action, allowed = e.GetAction(), []string{"opened", "labeled"}
	case *github.PullRequestEvent:
		action, allowed = e.GetAction(), []string{"opened", "synchronize", "reopened"}
	case *github.InstallationEvent, *github.InstallationRepositoriesEvent:
		return true, ""
	default:
		return false, "event is not handled"
	}
	for _, a := range allowed {
		if action == a {
			return true, ""
		}
	}
	if action == "" {
		return false, "payload has no action"
	}
	return false, "action " + clip(action) + " is not handled"
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
