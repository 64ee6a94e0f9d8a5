// Package request is a delivery as kubewright acts on it: the typed value
// intake builds once from a webhook (or the Action from its event file),
// the queue stores, and the job runs. Nothing downstream parses a payload
// or a comment again.
package request

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kubewright/kubewright/internal/command"
)

// Trigger says what started the request.
type Trigger string

const (
	// Comment: a line starting with the command prefix in an issue or
	// pull-request comment.
	Comment Trigger = "comment"
	// Label: the trigger label on an issue (opened with it or given it);
	// it runs containerize.
	Label Trigger = "label"
	// PullRequest: a pull request opened, pushed to, reopened or marked
	// ready for review; it runs review.
	PullRequest Trigger = "pull_request"
	// Merged: a pull request kubewright opened for a Day-2 operation
	// (branch kubewright/<operation>-<service>-<issue>) was merged; the
	// job follows the change up in the cluster. It carries no command.
	Merged Trigger = "merged"
)

// Repo is the repository a request is about.
type Repo struct {
	Owner string `json:"owner"`
	Name  string `json:"name"`
	// DefaultBranch is the payload's; empty when the payload left it out
	// (the job then asks GitHub).
	DefaultBranch string `json:"defaultBranch,omitempty"`
}

// FullName is "owner/name".
func (r Repo) FullName() string { return r.Owner + "/" + r.Name }

// Actor is the GitHub user who asked.
type Actor struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	// Association is GitHub's author_association of a comment (OWNER,
	// MEMBER, COLLABORATOR, …); it is a hint for the queue position, never
	// an authorization: the job asks GitHub for the permission.
	Association string `json:"association,omitempty"`
}

// Request is one thing to do: a command from the command table, a
// free-text request for the agents (Intent), or a reply to post as it is
// (help, a usage error, a did-you-mean). A free-text request keeps the
// parser's reply too: it is the answer when no model is configured.
type Request struct {
	// Delivery is X-GitHub-Delivery (or the Action's run ID): it keys the
	// job's status comment and token spend.
	Delivery     string  `json:"delivery"`
	Event        string  `json:"event"`
	Installation int64   `json:"installation,omitempty"`
	Trigger      Trigger `json:"trigger"`
	Repo         Repo    `json:"repo"`
	// Number is the issue or pull request.
	Number int `json:"number"`
	// OnPullRequest: the comment is on a pull request.
	OnPullRequest bool  `json:"onPullRequest,omitempty"`
	Actor         Actor `json:"actor"`
	// CommentID is the comment holding the command (Trigger Comment).
	CommentID int64 `json:"commentId,omitempty"`
	// Head is the merged pull request's branch and MergedAt when it was
	// merged (Trigger Merged): the follow-up watches the cluster for a
	// while after that.
	Head     string    `json:"head,omitempty"`
	MergedAt time.Time `json:"mergedAt,omitzero"`

	Command *command.Command `json:"command,omitempty"`
	// Intent is a free-text request: `/ai add an inventory service`
	// holds "add an inventory service".
	Intent string         `json:"intent,omitempty"`
	Reply  *command.Reply `json:"reply,omitempty"`
}

// Subject is "owner/name#number": the queue finds (and cancels) the jobs
// of one issue or pull request by it.
func (r Request) Subject() string {
	if r.Repo.Owner == "" || r.Repo.Name == "" || r.Number == 0 {
		return ""
	}
	return fmt.Sprintf("%s#%d", r.Repo.FullName(), r.Number)
}

// Place is where the request was made, as the command table spells it.
func (r Request) Place() command.Place {
	if r.OnPullRequest {
		return command.PullRequest
	}
	return command.Issue
}

// IsCommand reports whether the request runs the named command.
func (r Request) IsCommand(n command.Name) bool {
	return r.Command != nil && r.Command.Name == n
}

// Validate checks what a stored request must hold before a job runs it: a
// request that fails is a broken queue row, never retried.
func (r Request) Validate() error {
	var missing []string
	if r.Delivery == "" {
		missing = append(missing, "delivery")
	}
	if r.Repo.Owner == "" || r.Repo.Name == "" {
		missing = append(missing, "repository")
	}
	if r.Number <= 0 {
		missing = append(missing, "issue or pull request number")
	}
	if r.Actor.Login == "" {
		missing = append(missing, "actor")
	}
	if len(missing) > 0 {
		return fmt.Errorf("request is missing its %s", strings.Join(missing, ", "))
	}
	if r.Trigger == Merged {
		if r.Head == "" || r.Command != nil || r.Intent != "" || r.Reply != nil {
			return errors.New("a merged pull request's follow-up holds its branch and nothing else")
		}
		return nil
	}
	if (r.Command != nil) == (r.Intent != "" || r.Reply != nil) {
		return errors.New("request must hold either a command or a free-text intent or reply")
	}
	return nil
}

// FromComment turns the parsed body of a comment into what it asks for:
// a command, a free-text intent with the parser's reply (the first word is not a command and at
// least two words follow the prefix: `/ai add an inventory service`, while
// `/ai contanerize` stays a did-you-mean), or a reply. ok is false when
// the comment holds no command line.
func FromComment(res command.Result) (cmd *command.Command, intent string, reply *command.Reply, ok bool) {
	switch res.Kind {
	case command.KindCommand:
		return res.Command, "", nil, true
	case command.KindReply:
		if res.Reply.Reason == command.ReasonUnknown {
			text := strings.TrimSpace(res.Reply.Unknown)
			if len(strings.Fields(text)) >= 2 {
				return nil, text, res.Reply, true
			}
		}
		return nil, "", res.Reply, true
	}
	return nil, "", nil, false
}
