package queue

import (
	"context"
	"sync"
	"time"
)

// batcher groups concurrent enqueues into one transaction (group commit):
// the first caller's delivery starts a batch, deliveries arriving within
// batchWindow join it, and every caller is answered when the batch is
// durable. Under load this turns one commit per webhook into one commit per
// batch; alone, a delivery waits at most batchWindow extra.
type batcher struct {
	insertMany func(ctx context.Context, ds []Delivery) ([]bool, error)
	reqs       chan *pending
	done       chan struct{}
	closeOnce  sync.Once
}

type pending struct {
	ctx context.Context
	d   Delivery
	res chan batchResult
}

type batchResult struct {
	dup bool
	err error
}

const (
	batchWindow = time.Millisecond
	batchMax    = 256
)

func newBatcher(insertMany func(ctx context.Context, ds []Delivery) ([]bool, error)) *batcher {
	b := &batcher{insertMany: insertMany, reqs: make(chan *pending), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *batcher) insert(ctx context.Context, d Delivery) (bool, error) {
	p := &pending{ctx: ctx, d: d, res: make(chan batchResult, 1)}
	select {
	case b.reqs <- p:
	case <-b.done:
		return false, errClosed
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case r := <-p.res:
		return r.dup, r.err
	case <-ctx.Done():
		// The batch may still commit; the delivery is then a duplicate on
		// redelivery, which is what GitHub's retry will see.
		return false, ctx.Err()
	}
}

func (b *batcher) close() { b.closeOnce.Do(func() { close(b.done) }) }

func (b *batcher) loop() {
	for {
		var first *pending
		select {
		case first = <-b.reqs:
		case <-b.done:
			return
		}
		batch := []*pending{first}
		timer := time.NewTimer(batchWindow)
	collect:
		for len(batch) < batchMax {
			select {
			case p := <-b.reqs:
				batch = append(batch, p)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		b.flush(batch)
	}
}

// flush inserts a batch. The same delivery ID twice in one batch is
// inserted once; the later caller gets duplicate.
func (b *batcher) flush(batch []*pending) {
	var ds []Delivery
	owner := map[string]int{}
	idx := make([]int, len(batch))
	for i, p := range batch {
		if j, ok := owner[p.d.ID]; ok {
			idx[i] = -1 - j
			continue
		}
		owner[p.d.ID] = len(ds)
		idx[i] = len(ds)
		ds = append(ds, p.d)
	}
	// The batch outlives any one caller's context.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dups, err := b.insertMany(ctx, ds)
	for i, p := range batch {
		switch {
		case err != nil:
			p.res <- batchResult{err: err}
		case idx[i] >= 0:
			p.res <- batchResult{dup: dups[idx[i]]}
		default:
			p.res <- batchResult{dup: true}
		}
	}
}
