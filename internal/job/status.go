package job

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/queue"
)

// statusComments remembers the status comment of each delivery so queued,
// in progress and done are one comment edited in place. It lives in the
// process: after a restart the next state starts a new comment.
type statusComments struct {
	mu  sync.Mutex
	ids map[string]statusRef
}

type statusRef struct {
	id    int64
	ahead int
}

var _ queue.Waiter = (*Runner)(nil)

// setStatus creates or edits the delivery's status comment.
func (r *Runner) setStatus(ctx context.Context, gh *github.Client, q request, delivery, body string) error {
	r.status.mu.Lock()
	ref, ok := r.status.ids[delivery]
	r.status.mu.Unlock()
	if ok {
		_, _, err := gh.Issues.EditComment(ctx, q.owner, q.name, ref.id, &github.IssueComment{Body: github.Ptr(body)})
		return err
	}
	c, _, err := gh.Issues.CreateComment(ctx, q.owner, q.name, q.issue, &github.IssueComment{Body: github.Ptr(body)})
	if err != nil {
		return err
	}
	r.status.mu.Lock()
	r.status.ids[delivery] = statusRef{id: c.GetID(), ahead: -1}
	r.status.mu.Unlock()
	return nil
}

// finishStatus writes the final state and forgets the comment.
func (r *Runner) finishStatus(ctx context.Context, gh *github.Client, q request, delivery, body string) error {
	err := r.setStatus(ctx, gh, q, delivery, body)
	r.status.mu.Lock()
	delete(r.status.ids, delivery)
	r.status.mu.Unlock()
	return err
}

// Waiting is called by the queue while a containerize waits for another job
// of its repository: the requester sees the queue position. Only authorized
// containerize commands get a status; the comment is edited when the
// position changes.
func (r *Runner) Waiting(ctx context.Context, d queue.Delivery, ahead int) {
	if d.Event != "issue_comment" {
		return
	}
	var ev github.IssueCommentEvent
	if json.Unmarshal(d.Payload, &ev) != nil || isBot(ev.GetComment().GetUser()) {
		return
	}
	res := command.Parse(ev.GetComment().GetBody(), command.Options{Prefix: r.prefix, Context: command.Anywhere})
	if res.Kind != command.KindCommand || res.Command.Name != "containerize" {
		return
	}
	r.status.mu.Lock()
	ref, seen := r.status.ids[d.ID]
	r.status.mu.Unlock()
	if seen && ref.ahead == ahead {
		return
	}
	owner, name := ev.GetRepo().GetOwner().GetLogin(), ev.GetRepo().GetName()
	gh, err := r.clients.Installation(d.Installation)
	if err != nil {
		return
	}
	if !seen {
		ok, err := r.authorized(ctx, gh, owner, name, ev.GetComment().GetUser().GetLogin(), ev.GetRepo().GetDefaultBranch())
		if err != nil || !ok {
			return // the job itself will refuse politely
		}
	}
	q := request{owner: owner, name: name, issue: ev.GetIssue().GetNumber()}
	body := fmt.Sprintf("⏳ Queued: %d kubewright job(s) of this repository are ahead of this one.", ahead)
	if err := r.setStatus(ctx, gh, q, d.ID, body); err != nil {
		r.log.Warn("status comment", "delivery", d.ID, "error", err)
		return
	}
	r.status.mu.Lock()
	if ref, ok := r.status.ids[d.ID]; ok {
		ref.ahead = ahead
		r.status.ids[d.ID] = ref
	}
	r.status.mu.Unlock()
}
