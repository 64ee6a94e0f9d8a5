package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The waiting line of a repository is the rows of kubewright_wait for it,
// in job-ID (insertion) order. A job that finds its repository busy joins
// the line and is parked: snoozed in River for a long fallback (a delivery
// arriving while the line waits is parked as it is inserted: intake.go).
// Whoever releases the repository wakes the first live job of the line
// (its River row becomes available at once, in its original place), so a
// parked job costs nothing while it waits and starts as soon as its turn
// comes, on any replica, since they share the database. The jobs whose
// position changed enough are nudged to park again and tell their
// handler (nudge), so positions are told as they change, not polled.
//
// The protocol, which loses no wake-up:
//   - a job joins the line before its last look at the lock, and the
//     first of the line tries the lock after joining;
//   - a finisher releases the lock before it wakes the first of the line;
//   - the wake (and the nudge, below) marks the row for a recheck before
//     it changes River's row; a job still recording its own snooze (River
//     completes jobs asynchronously, so it is "running" for a moment) is
//     made available by the queue once the snooze is recorded (the park
//     watch in client.go), when it finds its row marked;
//   - the fallback covers a finisher that died between release and wake.

// liveStates are the River states of a job that may still run.
const liveStates = "('available', 'pending', 'retryable', 'running', 'scheduled')"

// nudgeDepth bounds how far down a line a finisher looks for jobs whose
// position changed enough to be told: deeper ones learn it as they move
// up, or on their fallback.
const nudgeDepth = 64

type line struct {
	db    store
	log   *slog.Logger
	stats *counters
	// tell is false when the handler does not implement Waiter: positions
	// then need no updates.
	tell bool
}

// counters count the queue's work, for tests and benchmarks.
type counters struct {
	parks, wakes, nudges, lineQueries, lists atomic.Int64
}

// headQuery is the first live job of repository $1's line.
const headQuery = `SELECT w.job_id FROM kubewright_wait w JOIN river_job j ON j.id = w.job_id
	WHERE w.repo = $1 AND j.state IN ` + liveStates + ` ORDER BY w.job_id LIMIT 1`

// siblingsQuery counts the older jobs of repository $1 fetched in the same
// batch as job $2 (River stamps a batch with one attempted_at), still
// running and not in line: they decide first. $3 is the delivery kind.
// Only running jobs are read: the unary plus on id and the concatenation
// on kind keep SQLite from River's kind index, which would read every
// job's arguments.
const siblingsQuery = `SELECT count(*) FROM river_job o
	WHERE o.state = 'running' AND +o.id < $2 AND o.kind || '' = $3
	AND o.attempted_at = (SELECT attempted_at FROM river_job WHERE id = $2)
	AND o.args->>'repo' = $1
	AND NOT EXISTS (SELECT 1 FROM kubewright_wait w WHERE w.job_id = o.id)`

// undecidedQuery counts the older jobs of repository $1 (than $2; $3 is
// the delivery kind) that are running and not in line: each holds the
// repository or is about to decide whether it takes it. A job woken from
// its line must not overtake one (on a loaded machine an older sibling
// can take longer to decide than the younger one's short sleep).
const undecidedQuery = `SELECT count(*) FROM river_job o
	WHERE o.state = 'running' AND +o.id < $2 AND o.kind || '' = $3
	AND o.args->>'repo' = $1
	AND NOT EXISTS (SELECT 1 FROM kubewright_wait w WHERE w.job_id = o.id)`

// claimQuery is, for a job of repository $1 about to take it, the first
// of its line (0: none) and its siblings.
const claimQuery = `SELECT coalesce((` + headQuery + `), 0), (` + siblingsQuery + `)`

// undecided counts the older running jobs of repo that are not in line.
func (l *line) undecided(ctx context.Context, repo string, id int64) (int, error) {
	l.stats.lineQueries.Add(1)
	var n int
	if err := l.db.queryRow(ctx, undecidedQuery, repo, id, deliveryArgs{}.Kind()).Scan(&n); err != nil {
		return 0, fmt.Errorf("read the running jobs of %s: %w", repo, err)
	}
	return n, nil
}

// claim reads what a job about to take its repository must let go first.
func (l *line) claim(ctx context.Context, repo string, id int64) (head int64, siblings int, err error) {
	l.stats.lineQueries.Add(1)
	if err := l.db.queryRow(ctx, claimQuery, repo, id, deliveryArgs{}.Kind()).Scan(&head, &siblings); err != nil {
		return 0, 0, fmt.Errorf("read the waiting line of %s: %w", repo, err)
	}
	return head, siblings, nil
}

// head returns the first live job of the repository's line.
func (l *line) head(ctx context.Context, repo string) (int64, bool, error) {
	l.stats.lineQueries.Add(1)
	var id int64
	err := l.db.queryRow(ctx, headQuery, repo).Scan(&id)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read the waiting line of %s: %w", repo, err)
	}
	return id, true, nil
}

// join puts a job in its repository's line (again: a woken job that
// parks anew is no longer woken, and any recheck is being done) and
// returns the position it was last told (-1: never).
func (l *line) join(ctx context.Context, repo string, id int64) (int, error) {
	l.stats.lineQueries.Add(1)
	var reported int
	err := l.db.queryRow(ctx, `INSERT INTO kubewright_wait (job_id, repo, woken, reported, parked_at) VALUES ($1, $2, 0, -1, $3)
		ON CONFLICT (job_id) DO UPDATE SET woken = 0, recheck = 0 RETURNING reported`, id, repo, time.Now().Unix()).Scan(&reported)
	if err != nil {
		return 0, fmt.Errorf("join the waiting line of %s: %w", repo, err)
	}
	return reported, nil
}

// leave takes a job out of the line (it holds the repository now).
func (l *line) leave(ctx context.Context, id int64) error {
	l.stats.lineQueries.Add(1)
	if _, err := l.db.exec(ctx, `DELETE FROM kubewright_wait WHERE job_id = $1`, id); err != nil {
		return fmt.Errorf("leave the waiting line: %w", err)
	}
	return nil
}

// drop takes a cancelled job out of the line and returns its repository.
func (l *line) drop(ctx context.Context, id int64) (string, bool, error) {
	l.stats.lineQueries.Add(1)
	var repo string
	err := l.db.queryRow(ctx, `DELETE FROM kubewright_wait WHERE job_id = $1 RETURNING repo`, id).Scan(&repo)
	if isNoRows(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("leave the waiting line: %w", err)
	}
	return repo, true, nil
}

// positionQuery counts the line before job $2 of repository $1, and
// whether its first was woken.
const positionQuery = `SELECT
	(SELECT count(*) FROM kubewright_wait WHERE repo = $1 AND job_id < $2),
	coalesce((SELECT woken FROM kubewright_wait WHERE repo = $1 ORDER BY job_id LIMIT 1), 0)`

// ahead is how many jobs run or wait before a job that found its
// repository held: the line before it and the holder, unless the first of
// the line was woken (it is the next holder).
func (l *line) ahead(ctx context.Context, repo string, id int64) (int, error) {
	l.stats.lineQueries.Add(1)
	var before, headWoken int
	if err := l.db.queryRow(ctx, positionQuery, repo, id).Scan(&before, &headWoken); err != nil {
		return 0, fmt.Errorf("count the jobs ahead in %s: %w", repo, err)
	}
	if before > 0 && headWoken == 1 {
		return before, nil
	}
	return before + 1, nil
}

// told records the position a job was last told.
func (l *line) told(ctx context.Context, id int64, ahead int) error {
	l.stats.lineQueries.Add(1)
	if _, err := l.db.exec(ctx, `UPDATE kubewright_wait SET reported = $2 WHERE job_id = $1`, id, ahead); err != nil {
		return fmt.Errorf("record the position told: %w", err)
	}
	return nil
}

// makeAvailable makes parked River jobs fetchable now, in their original
// place: River fetches by scheduled_at, and a woken job must not queue
// again behind every delivery that arrived while it waited. A short park
// is "available" with a future scheduled_at (River skips the scheduler for
// snoozes shorter than its interval), a long one "scheduled".
func (l *line) makeAvailable(ctx context.Context, ids ...int64) (int64, error) {
	l.stats.lineQueries.Add(1)
	in, args := inList(ids)
	return l.db.exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = created_at
		WHERE id IN `+in+` AND (state IN ('scheduled', 'retryable') OR (state = 'available' AND scheduled_at > created_at))`, args...)
}

// inList is "($1, $2, ...)" and its arguments.
func inList(ids []int64) (string, []any) {
	ph := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		ph[i] = fmt.Sprintf("$%d", i+1)
		args[i] = id
	}
	return "(" + strings.Join(ph, ", ") + ")", args
}

// wake makes the first live job of the repository's line available; call
// it after releasing the repository. It reports whether a job waits.
func (l *line) wake(ctx context.Context, repo string) (bool, error) {
	for range 8 {
		id, ok, err := l.head(ctx, repo)
		if err != nil || !ok {
			return false, err
		}
		l.stats.lineQueries.Add(1)
		if _, err := l.db.exec(ctx, `UPDATE kubewright_wait SET woken = 1, recheck = 1 WHERE job_id = $1`, id); err != nil {
			return true, fmt.Errorf("wake the next job of %s: %w", repo, err)
		}
		n, err := l.makeAvailable(ctx, id)
		if err != nil {
			return true, fmt.Errorf("wake the next job of %s: %w", repo, err)
		}
		if n > 0 {
			l.stats.wakes.Add(1)
			l.log.Debug("woke the next job of the repository", "repo", repo, "next", id)
			return true, nil
		}
		// Not parked: running (its snooze is being recorded; the park
		// watch finishes the wake), or already fetchable. Only a state
		// that changed under us is worth another look.
		l.stats.lineQueries.Add(1)
		var state string
		err = l.db.queryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&state)
		if isNoRows(err) {
			continue
		}
		if err != nil {
			return true, fmt.Errorf("wake the next job of %s: %w", repo, err)
		}
		if state != "scheduled" && state != "retryable" {
			l.log.Debug("the next job of the repository is not parked", "repo", repo, "next", id, "state", state)
			return true, nil
		}
	}
	return true, nil
}

// recheck finishes a wake or nudge that met a job still recording its
// park: called once River has recorded the snooze.
func (l *line) recheck(ctx context.Context, id int64) error {
	l.stats.lineQueries.Add(1)
	var recheck int
	err := l.db.queryRow(ctx, `SELECT recheck FROM kubewright_wait WHERE job_id = $1`, id).Scan(&recheck)
	if isNoRows(err) || (err == nil && recheck == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check a parked job: %w", err)
	}
	if n, err := l.makeAvailable(ctx, id); err != nil {
		return fmt.Errorf("wake a parked job: %w", err)
	} else if n > 0 {
		l.stats.wakes.Add(1)
	}
	return nil
}

// nudge wakes, after a job of the repository finished (or others joined
// its line at intake), the first waiting jobs never told where they stand,
// and those whose position changed enough to tell: into the last three
// places, or to half what they were last told or less. Each parks again at
// once and tells its handler the new position, so a job is told O(log n)
// times in a line of n, and nothing is told while nothing moves.
func (l *line) nudge(ctx context.Context, repo string) error {
	if !l.tell {
		return nil
	}
	l.stats.lineQueries.Add(1)
	rs, err := l.db.query(ctx, `SELECT job_id, reported, woken FROM kubewright_wait WHERE repo = $1 ORDER BY job_id LIMIT `+fmt.Sprint(nudgeDepth), repo)
	if err != nil {
		return fmt.Errorf("read the waiting line of %s: %w", repo, err)
	}
	defer rs.Close()
	var ids []int64
	holder := 1 // the job holding the repository, unless the first is woken
	for k := 0; rs.Next(); k++ {
		var id int64
		var reported, woken int
		if err := rs.Scan(&id, &reported, &woken); err != nil {
			return fmt.Errorf("read the waiting line of %s: %w", repo, err)
		}
		if woken == 1 {
			if k == 0 {
				holder = 0 // the next holder, about to start
			}
			continue
		}
		if ahead := k + holder; reported < 0 || (ahead != reported && (ahead <= 3 || 2*ahead <= reported)) {
			ids = append(ids, id)
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read the waiting line of %s: %w", repo, err)
	}
	rs.Close()
	if len(ids) == 0 {
		return nil
	}
	in, args := inList(ids)
	l.stats.lineQueries.Add(1)
	if _, err := l.db.exec(ctx, `UPDATE kubewright_wait SET recheck = 1 WHERE job_id IN `+in, args...); err != nil {
		return fmt.Errorf("tell the waiting jobs of %s: %w", repo, err)
	}
	n, err := l.makeAvailable(ctx, ids...)
	if err != nil {
		return fmt.Errorf("tell the waiting jobs of %s: %w", repo, err)
	}
	l.stats.nudges.Add(n)
	l.log.Debug("nudged waiting jobs whose position changed", "repo", repo, "jobs", ids, "parked", n)
	return nil
}

// wakeAll wakes the first job of every line, for a queue starting: no job
// of this process holds a repository yet, and a job woken while another
// replica holds its repository only parks again.
func (l *line) wakeAll(ctx context.Context) error {
	rs, err := l.db.query(ctx, `SELECT DISTINCT repo FROM kubewright_wait`)
	if err != nil {
		return fmt.Errorf("read the waiting lines: %w", err)
	}
	var repos []string
	for rs.Next() {
		var r string
		if err := rs.Scan(&r); err != nil {
			rs.Close()
			return fmt.Errorf("read the waiting lines: %w", err)
		}
		repos = append(repos, r)
	}
	err = rs.Err()
	rs.Close()
	if err != nil {
		return fmt.Errorf("read the waiting lines: %w", err)
	}
	for _, r := range repos {
		if _, err := l.wake(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// parkedSet holds the jobs whose park River has yet to record.
type parkedSet struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

// maxParked bounds the set; a park beyond it relies on the fallback.
const maxParked = 100_000

func (p *parkedSet) add(id int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) < maxParked {
		p.ids[id] = struct{}{}
	}
}

func (p *parkedSet) take(id int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.ids[id]
	delete(p.ids, id)
	return ok
}
