package job

import (
	"context"
	"fmt"

	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/request"
)

// StatusStore remembers each delivery's status comment, so that queued,
// in progress and done are one comment edited in place, by whichever
// replica runs or parks the job (see publish.StatusStore). The queue's
// database implements it (*queue.Queue); NewMemoryStatus is the
// one-process version. The Runner reads it (a position already shown, a
// status to update after a failure); its Publisher writes it.
type StatusStore = publish.StatusStore

// WithStatusStore keeps status comment IDs in s (the queue's database, so
// that every replica edits the same comment). The default is in memory.
func WithStatusStore(s StatusStore) Option { return func(r *Runner) { r.store = s } }

// NewMemoryStatus returns an empty in-memory StatusStore: one process
// only, forgotten on restart.
func NewMemoryStatus() StatusStore { return publish.NewMemoryStatus() }

// running is the queue position recorded while the job runs.
const running = publish.Running

var _ queue.Waiter = (*Runner)(nil)

// setStatus creates or edits the delivery's status comment and records
// its position.
func (r *Runner) setStatus(ctx context.Context, pub Publisher, q task, body string, ahead int) error {
	return pub.SetStatus(ctx, q.thread(), q.delivery, body, ahead)
}

// finishStatus writes the final state and forgets the comment. A job
// without a status comment gets the final state as a new comment.
func (r *Runner) finishStatus(ctx context.Context, pub Publisher, q task, body string) error {
	return pub.FinishStatus(ctx, q.thread(), q.delivery, body+r.pageLink(q))
}

// hasStatus reports whether the delivery has a status comment.
func (r *Runner) hasStatus(ctx context.Context, delivery string) bool {
	_, _, ok, err := r.store.LoadStatus(ctx, delivery)
	return ok && err == nil
}

// Waiting is called by the queue when a job is parked behind other jobs
// of its repository and when its position changes: the requester sees the
// position in the job's status comment. It is cheap on purpose: no
// permission or team lookup (authorization happens once, when the job
// runs). The position is shown only for a command that would run, from a
// commenter GitHub already associates with the repository (owner, member
// or collaborator); anyone else's job shows nothing until it runs and is
// answered.
func (r *Runner) Waiting(ctx context.Context, d queue.Delivery, ahead int) {
	req := d.Request
	if req.Trigger != request.Comment || !associated(req.Actor.Association) || !r.runsJob(req.Command, req.Intent, req.OnPullRequest) {
		return
	}
	if _, shown, ok, err := r.store.LoadStatus(ctx, d.ID); err == nil && ok && shown == ahead {
		return
	}
	gh, err := r.clients.Installation(d.Installation)
	if err != nil {
		return
	}
	q := task{owner: req.Repo.Owner, name: req.Repo.Name, issue: req.Number, delivery: d.ID}
	body := fmt.Sprintf("⏳ Queued: %d kubewright job(s) of this repository are ahead of this one.", ahead)
	if err := r.setStatus(ctx, r.pubFor(gh, r.store), q, body, ahead); err != nil {
		r.log.Warn("status comment", "delivery", d.ID, "error", r.clean(err.Error()))
	}
}

// associated: GitHub's author_association says the commenter owns the
// repository, belongs to its organization or collaborates on it.
func associated(a string) bool {
	switch a {
	case "OWNER", "MEMBER", "COLLABORATOR":
		return true
	}
	return false
}
