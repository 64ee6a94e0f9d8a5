package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The status comment of a delivery (queued, in progress, done: one comment
// edited in place) is recorded in the queue's database, so whichever
// replica runs or parks the job edits the same comment. Rows are pruned
// statusRetention after their last update.

// maxDeliveryID bounds the key: GitHub's delivery IDs are UUIDs.
const maxDeliveryID = 200

func checkDeliveryID(delivery string) error {
	switch {
	case delivery == "":
		return errors.New("status: the delivery ID is empty")
	case len(delivery) > maxDeliveryID:
		return fmt.Errorf("status: delivery ID of %d bytes is longer than %d", len(delivery), maxDeliveryID)
	}
	return nil
}

// LoadStatus returns the status comment recorded for a delivery.
func (q *Queue) LoadStatus(ctx context.Context, delivery string) (commentID int64, ahead int, ok bool, err error) {
	if err := checkDeliveryID(delivery); err != nil {
		return 0, 0, false, err
	}
	err = q.db.queryRow(ctx, `SELECT comment_id, ahead FROM kubewright_status WHERE delivery = $1`, delivery).Scan(&commentID, &ahead)
	if isNoRows(err) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("load the status of delivery %s: %w", delivery, err)
	}
	return commentID, ahead, true, nil
}

// SaveStatus records (upserts) it.
func (q *Queue) SaveStatus(ctx context.Context, delivery string, commentID int64, ahead int) error {
	if err := checkDeliveryID(delivery); err != nil {
		return err
	}
	_, err := q.db.exec(ctx, `INSERT INTO kubewright_status (delivery, comment_id, ahead, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (delivery) DO UPDATE SET comment_id = excluded.comment_id, ahead = excluded.ahead, updated_at = excluded.updated_at`,
		delivery, commentID, ahead, time.Now().Unix())
	if err != nil {
		return fmt.Errorf("save the status of delivery %s: %w", delivery, err)
	}
	return nil
}

// ForgetStatus deletes it.
func (q *Queue) ForgetStatus(ctx context.Context, delivery string) error {
	if err := checkDeliveryID(delivery); err != nil {
		return err
	}
	if _, err := q.db.exec(ctx, `DELETE FROM kubewright_status WHERE delivery = $1`, delivery); err != nil {
		return fmt.Errorf("forget the status of delivery %s: %w", delivery, err)
	}
	return nil
}
