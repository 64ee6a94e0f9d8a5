package publish

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/go-github/v88/github"
)

// StatusStore remembers each delivery's status comment, so that queued,
// in progress and done are one comment edited in place, by whichever
// replica runs or parks the job. ahead is the queue position last shown
// (Running once the job runs). The queue's database implements it
// (*queue.Queue); NewMemoryStatus is the one-process version.
type StatusStore interface {
	LoadStatus(ctx context.Context, delivery string) (commentID int64, ahead int, ok bool, err error)
	SaveStatus(ctx context.Context, delivery string, commentID int64, ahead int) error
	ForgetStatus(ctx context.Context, delivery string) error
}

// Running is the queue position recorded while the job runs.
const Running = -1

// maxMemoryStatus bounds the in-memory store: a job that never finishes
// (its retries ran out) leaves an entry behind.
const maxMemoryStatus = 10_000

// memoryStatus is a StatusStore in process memory, for tests and the CLI.
type memoryStatus struct {
	mu  sync.Mutex
	ids map[string]statusRef
}

type statusRef struct {
	id    int64
	ahead int
}

var _ StatusStore = (*memoryStatus)(nil)

// NewMemoryStatus returns an empty in-memory StatusStore: one process
// only, forgotten on restart.
func NewMemoryStatus() StatusStore { return &memoryStatus{ids: map[string]statusRef{}} }

func (m *memoryStatus) LoadStatus(_ context.Context, delivery string) (int64, int, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref, ok := m.ids[delivery]
	return ref.id, ref.ahead, ok, nil
}

func (m *memoryStatus) SaveStatus(_ context.Context, delivery string, id int64, ahead int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ids[delivery]; !ok && len(m.ids) >= maxMemoryStatus {
		for k := range m.ids { // drop any one: a status lost is a new comment, no more
			delete(m.ids, k)
			break
		}
	}
	m.ids[delivery] = statusRef{id: id, ahead: ahead}
	return nil
}

func (m *memoryStatus) ForgetStatus(_ context.Context, delivery string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ids, delivery)
	return nil
}

// SetStatus creates or edits the delivery's status comment on the thread
// and records the queue position shown (Running while the job runs). A
// store that cannot be read or written costs a second comment at worst,
// never the job; a status comment someone deleted is started again.
func (p *Publisher) SetStatus(ctx context.Context, t Thread, delivery, body string, ahead int) error {
	body = p.clean(body)
	id, _, ok, err := p.store.LoadStatus(ctx, delivery)
	if err != nil {
		p.log.Warn("status store: load", "delivery", delivery, "error", err)
		ok = false
	}
	if ok {
		_, resp, err := p.gh.Issues.EditComment(ctx, t.Owner, t.Name, id, &github.IssueComment{Body: github.Ptr(body)})
		switch {
		case err == nil:
			p.saveStatus(ctx, delivery, id, ahead)
			return nil
		case resp == nil || resp.StatusCode != http.StatusNotFound:
			return fmt.Errorf("edit the status comment of %s/%s#%d: %w", t.Owner, t.Name, t.Number, err)
		}
		// Someone deleted the status comment: start another.
	}
	c, _, err := p.gh.Issues.CreateComment(ctx, t.Owner, t.Name, t.Number, &github.IssueComment{Body: github.Ptr(body)})
	if err != nil {
		return fmt.Errorf("post the status comment on %s/%s#%d: %w", t.Owner, t.Name, t.Number, err)
	}
	p.saveStatus(ctx, delivery, c.GetID(), ahead)
	return nil
}

func (p *Publisher) saveStatus(ctx context.Context, delivery string, id int64, ahead int) {
	if err := p.store.SaveStatus(ctx, delivery, id, ahead); err != nil {
		p.log.Warn("status store: save", "delivery", delivery, "error", err)
	}
}

// FinishStatus writes the final state and forgets the comment. A job
// without a status comment gets the final state as a new comment.
func (p *Publisher) FinishStatus(ctx context.Context, t Thread, delivery, body string) error {
	if err := p.SetStatus(ctx, t, delivery, body, Running); err != nil {
		return err
	}
	if err := p.store.ForgetStatus(ctx, delivery); err != nil {
		p.log.Warn("status store: forget", "delivery", delivery, "error", err)
	}
	return nil
}
