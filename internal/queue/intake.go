package queue

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"
)

// intake inserts deliveries. A delivery for a repository whose line
// already holds a waiting job will wait too: it is inserted parked and in
// line, so River never fetches it before its turn, and a burst on one
// repository does not hold back the others (their jobs are not fetched
// behind it). The first jobs of a line are nudged at once to tell their
// handler where they stand; deeper ones learn it as they move up.
type intake struct {
	ln       *line
	h        Handler
	fallback time.Duration
	log      *slog.Logger
}

// parkedMetadata marks a job parked at intake (River marks a snoozed one
// with "snoozes"): it is in line when it runs.
var parkedMetadata = []byte(`{"kubewright_parked":true}`)

// parkedFallback is how long a job parked at intake sleeps unless woken:
// it is never first in line then, and the first's own fallback restarts a
// line whose wake-up was lost.
const parkedFallback = 30

func insertMany[TTx any](ctx context.Context, in *intake, client *river.Client[TTx], ds []Delivery) ([]bool, error) {
	// Insert in delivery-ID order: replicas inserting overlapping
	// batches then take the unique-key locks in one order (no deadlock).
	order := make([]int, len(ds))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ds[order[a]].ID < ds[order[b]].ID })
	waiting, err := in.ln.waitingLines(ctx, ds)
	if err != nil {
		// Only an optimization: the jobs park when they run.
		in.log.Warn("could not read the waiting lines at intake", "error", err)
	}
	params := make([]river.InsertManyParams, len(ds))
	parked := make([]bool, len(ds))
	for i, j := range order {
		d := ds[j]
		opts := deliveryArgs{}.InsertOpts()
		if d.Subject != "" {
			opts.Tags = append(opts.Tags, subjectTag(d.Subject))
		}
		if waiting[d.Repo] && exclusive(in.h, d) {
			opts.ScheduledAt = time.Now().Add(in.fallback * parkedFallback)
			opts.Metadata = parkedMetadata
			parked[i] = true
		}
		params[i] = river.InsertManyParams{Args: deliveryArgs{d}, InsertOpts: &opts}
	}
	res, err := client.InsertMany(ctx, params)
	for attempt := 1; err != nil && isDeadlock(err) && attempt < 4; attempt++ {
		// Ordering makes deadlocks between replicas unlikely; should
		// PostgreSQL still pick this batch as the victim, retry it.
		time.Sleep(time.Duration(attempt*10) * time.Millisecond)
		res, err = client.InsertMany(ctx, params)
	}
	if err != nil {
		return nil, err
	}
	dups := make([]bool, len(res))
	lines := map[string][]int64{}
	for i, r := range res {
		dups[order[i]] = r.UniqueSkippedAsDuplicate
		if parked[i] && !r.UniqueSkippedAsDuplicate && r.Job != nil {
			repo := ds[order[i]].Repo
			lines[repo] = append(lines[repo], r.Job.ID)
		}
	}
	for repo, ids := range lines {
		if err := in.ln.parkNew(ctx, repo, ids); err != nil {
			// The deliveries are durable: let them be fetched and park
			// as they run.
			in.log.Warn("could not park deliveries at intake; they park when fetched", "repo", repo, "error", err)
			if _, err := in.ln.makeAvailable(ctx, ids...); err != nil {
				in.log.Error("deliveries parked at intake wait for their fallback", "repo", repo, "error", err, "fallback", in.fallback*parkedFallback)
			}
		}
	}
	return dups, nil
}

// waitingLinesQuery is one "SELECT $n WHERE EXISTS (first live job of
// repository $n's line)" per repository, joined with UNION ALL.
func waitingLinesQuery(n int) string {
	parts := make([]string, n)
	for i := range parts {
		p := fmt.Sprintf("$%d", i+1)
		parts[i] = `SELECT CAST(` + p + ` AS TEXT) WHERE EXISTS (SELECT 1 FROM kubewright_wait w JOIN river_job j ON j.id = w.job_id
			WHERE w.repo = ` + p + ` AND j.state IN ` + liveStates + `)`
	}
	return strings.Join(parts, " UNION ALL ")
}

// waitingLines returns the repositories of ds whose line holds a live job.
func (l *line) waitingLines(ctx context.Context, ds []Delivery) (map[string]bool, error) {
	seen := map[string]bool{}
	var repos []any
	for _, d := range ds {
		if d.Repo != "" && !seen[d.Repo] {
			seen[d.Repo] = true
			repos = append(repos, d.Repo)
		}
	}
	waiting := map[string]bool{}
	if len(repos) == 0 {
		return waiting, nil
	}
	l.stats.lineQueries.Add(1)
	rs, err := l.db.query(ctx, waitingLinesQuery(len(repos)), repos...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		var r string
		if err := rs.Scan(&r); err != nil {
			return nil, err
		}
		waiting[r] = true
	}
	return waiting, rs.Err()
}

// parkNew puts jobs inserted parked into their repository's line. Should
// the line have emptied meanwhile, the first of them is woken; the first
// of the line are told where they stand.
func (l *line) parkNew(ctx context.Context, repo string, ids []int64) error {
	values := make([]string, len(ids))
	args := []any{repo, time.Now().Unix()}
	for i, id := range ids {
		values[i] = fmt.Sprintf("($%d, $1, 0, 0, -1, $2)", i+3)
		args = append(args, id)
	}
	l.stats.lineQueries.Add(1)
	if _, err := l.db.exec(ctx, `INSERT INTO kubewright_wait (job_id, repo, woken, recheck, reported, parked_at) VALUES `+
		strings.Join(values, ", ")+` ON CONFLICT (job_id) DO NOTHING`, args...); err != nil {
		return fmt.Errorf("park deliveries of %s: %w", repo, err)
	}
	l.stats.parks.Add(int64(len(ids)))
	head, ok, err := l.head(ctx, repo)
	if err != nil {
		return err
	}
	if ok && head >= ids[0] {
		if _, err := l.wake(ctx, repo); err != nil {
			return err
		}
	}
	return l.nudge(ctx, repo)
}
