package job

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/command"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/jobpage"
	"github.com/kubewright/kubewright/internal/ops"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/workspace"
)

// rollbackHistory is how many commits of the default branch a rollback
// fetches: the revisions it can restore, and where it looks for the
// service's last change when --to is left out.
const rollbackHistory = 200

// WithUsage answers `resources --from-metrics` (a Prometheus client,
// internal/ops/metrics). Without it the operation says no Prometheus is
// configured.
func WithUsage(u ops.UsageSource) Option { return func(r *Runner) { r.usage = u } }

// operate runs a Day-2 operation, `/ai scale|image|autoscale|resources|
// rollback`, as a validated pull request, or answers `/ai plan
// <operation>` with the plan and the diff and writes nothing. internal/ops
// parses the words and plans the edits; the cluster, when one is
// configured, is only read.
func (r *Runner) operate(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) error {
	name, planOnly := q.cmd.Name, false
	if q.cmd.Name == command.Plan {
		name, planOnly = q.cmd.Op, true
	}
	words := q.cmd.Words
	rollback := name == command.Rollback
	pickTo := rollback && !hasFlag(words, "--to")
	if pickTo {
		// Parsed once the service's history is known.
		words = append(slices.Clone(words), "--to", "HEAD")
	}
	op, err := ops.Parse(string(name), words)
	if err != nil {
		return r.finishStatus(ctx, pub, q, "❌ "+err.Error())
	}
	cfg, err := r.config(ctx, gh, q)
	if err != nil {
		return err
	}
	if !planOnly {
		if err := r.setStatus(ctx, pub, q, fmt.Sprintf("🔄 In progress: planning `%s`, then validating the change.", strings.Join(append([]string{string(name)}, q.cmd.Words...), " ")), running); err != nil {
			return err
		}
	}
	history := 0
	if rollback {
		history = rollbackHistory
	}
	ws, err := r.cloneDefaultWith(ctx, q, history)
	if err != nil {
		return err
	}
	defer ws.Close()
	// What the requester wrote, until a picked revision completes it.
	shown := strings.Join(append([]string{string(name)}, q.cmd.Words...), " ")
	refuse := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("❌ kubewright could not plan `%s`: %s", shown, safe(err)))
	}
	repo, err := ops.Load(ws.Dir())
	if err != nil {
		return refuse(err)
	}
	if pickTo {
		to, err := r.beforeLastChange(ctx, ws, repo, op)
		if err != nil {
			return refuse(err)
		}
		words[len(words)-1] = to
		if op, err = ops.Parse(string(name), words); err != nil {
			return refuse(err)
		}
		shown = op.String()
	}
	opts := ops.Options{Usage: r.usage, TreeAt: r.treeAt(ws)}
	plan, err := repo.Plan(ctx, op, opts)
	if err != nil {
		return refuse(err)
	}
	view := operationView(plan)
	view.Issue, view.Closes = q.issue, cfg.PullRequest.CloseIssue
	view.State = r.investigate(ctx, log, repo, plan.Service, ws.Dir())
	r.putPage(ctx, q, func(p *jobpage.Record) { pageOperation(p, view) })
	if planOnly {
		return r.finishStatus(ctx, pub, q, publish.OperationPlan(view, r.prefix))
	}
	return r.publishOperation(ctx, log, pub, q, ws, cfg, plan, view)
}

// publishOperation applies a plan to the clone, validates it with every
// stage and opens its pull request (a draft when validation finds
// errors).
func (r *Runner) publishOperation(ctx context.Context, log *slog.Logger, pub Publisher, q task, ws *workspace.Workspace, cfg *config.Repo, plan *ops.Plan, view publish.Operation) error {
	log.Info("operation planned", "op", plan.Op, "service", plan.Service, "changes", len(plan.Changes), "files", len(plan.Files))
	return r.publishChange(ctx, log, pub, q, ws, cfg, prChange{
		branch: fmt.Sprintf("kubewright/%s-%s-%d", plan.Op, plan.Service, q.issue),
		apply:  plan.Apply,
		commit: fmt.Sprintf("%s\n\n%s\n\nRequested in #%d; planned by kubewright and validated.", upperFirst(plan.Command), plan.Summary, q.issue),
		title:  "kubewright: " + plan.Command,
	}, view)
}

// prChange is an edit of the default branch a Day-2 pull request carries.
type prChange struct {
	branch        string
	apply         func(dir string) error
	commit, title string
}

// publishChange applies c to the clone on its branch, validates the tree
// with every stage and opens (or updates) the pull request, a draft when
// validation found errors.
func (r *Runner) publishChange(ctx context.Context, log *slog.Logger, pub Publisher, q task, ws *workspace.Workspace, cfg *config.Repo, c prChange, view publish.Operation) error {
	if err := ws.Branch(c.branch); err != nil {
		return err
	}
	if c.apply != nil {
		if err := c.apply(ws.Dir()); errors.Is(err, errThroughLink) {
			return r.finishStatus(ctx, pub, q, "❌ No pull request: "+safe(err)+".")
		} else if err != nil {
			return err
		}
	}
	v, err := r.verdict(ctx, cfg, ws)
	if err != nil {
		return err
	}
	view.Branch, view.Report = c.branch, v.report
	r.putPage(ctx, q, func(p *jobpage.Record) { pageOperation(p, view) })
	return r.publishPR(ctx, log, pub, q, ws, pullRequest{
		branch: c.branch, draft: v.report.Added > 0, report: v.report, state: v.state,
		commit: c.commit, title: c.title, body: publish.OperationBody(view),
	})
}

// changeVerdict is the validation of a Day-2 change.
type changeVerdict struct {
	// report is compared with the default branch: Added counts the
	// errors the change adds, and the pull request is a draft for them.
	report *publish.Report
	state  string
}

// verdict validates the tree in ws after a Day-2 change. When that finds
// errors, the default branch's tree (the clone's base commit, exported
// beside it) is validated too, so that only the errors the change adds
// make the pull request a draft and fail its check.
func (r *Runner) verdict(ctx context.Context, cfg *config.Repo, ws *workspace.Workspace) (changeVerdict, error) {
	validate := r.validator(cfg)
	rep, err := validate(ctx, ws.Dir())
	if err != nil {
		return changeVerdict{}, err
	}
	v := changeVerdict{report: ReportView(rep), state: "All validation stages passed."}
	v.report.Compared = true
	all := finding.AtLeast(rep.Findings, finding.Error)
	if all == 0 {
		return v, nil
	}
	dir, err := ws.TempDir()
	if err != nil {
		return changeVerdict{}, err
	}
	if _, err := workspace.Export(ctx, ws.Dir(), ws.BaseCommit(), dir, r.clone); err != nil {
		return changeVerdict{}, fmt.Errorf("read the default branch to compare with: %w", err)
	}
	base, err := validate(ctx, dir)
	if err != nil {
		return changeVerdict{}, fmt.Errorf("validate the default branch: %w", err)
	}
	v.report.Added = finding.AtLeast(added(rep.Findings, keys(base.Findings)), finding.Error)
	if v.report.Added > 0 {
		v.state = "Validation found errors this change adds, so it is a draft; the findings are listed in it."
	} else {
		v.state = fmt.Sprintf("The change adds no validation error; the default branch's own %s are listed in it.", count(all, "error"))
	}
	return v, nil
}

// beforeLastChange is rollback's default revision: the commit before the
// newest one that changed the service (ops.Repo.HistoryPaths).
func (r *Runner) beforeLastChange(ctx context.Context, ws *workspace.Workspace, repo *ops.Repo, op ops.Operation) (string, error) {
	rb, _ := op.(ops.Rollback)
	paths, err := repo.HistoryPaths(rb.Service)
	if err != nil {
		return "", err
	}
	_, parent, err := ws.LastChange(ctx, paths)
	if errors.Is(err, workspace.ErrHistoryTooShort) {
		return "", fmt.Errorf("the last %d commits of the default branch do not show the change to %s before this one; name the revision with --to", rollbackHistory, rb.Service)
	}
	return parent, err
}

// treeAt reads the repository at a revision of the clone's history into
// a temporary directory, for rollback.
func (r *Runner) treeAt(ws *workspace.Workspace) ops.TreeAt {
	return func(ctx context.Context, rev string) (fs.FS, error) {
		dest, err := ws.TempDir()
		if err != nil {
			return nil, err
		}
		if _, err := workspace.Export(ctx, ws.Dir(), rev, dest, r.clone); err != nil {
			return nil, fmt.Errorf("%s is not a commit or tag in the last %d commits of the default branch", rev, rollbackHistory)
		}
		return os.DirFS(dest), nil
	}
}

// cloneDefaultWith is cloneDefault keeping history commits (0: the tip).
func (r *Runner) cloneDefaultWith(ctx context.Context, q task, history int) (*workspace.Workspace, error) {
	if history <= 1 {
		return r.cloneDefault(ctx, q)
	}
	saved := r.clone
	o := saved
	o.History = history
	return runStage(ctx, r, stageClone, func(ctx context.Context) (*workspace.Workspace, error) {
		token, err := r.clients.Token(ctx, q.installation)
		if err != nil {
			return nil, err
		}
		ws, err := workspace.Clone(ctx, r.clients.Endpoints().CloneURL(q.fullName()), token, q.defaultBranch, o)
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			ws.Close()
			return nil, ctx.Err()
		}
		return ws, nil
	})
}

// operationView is a plan as publish renders it.
func operationView(p *ops.Plan) publish.Operation {
	v := publish.Operation{Command: p.Command, Summary: p.Summary, Notes: p.Notes, Warnings: p.Warnings, Undo: p.Undo, Diff: p.Diff()}
	for _, c := range p.Changes {
		v.Changes = append(v.Changes, publish.OpChange{File: c.File, Line: c.Line, Object: c.Object, Field: c.Field, From: c.From, To: c.To, Why: c.Why})
	}
	if e := p.Evidence; e != nil {
		v.Evidence = e.Lines()
	}
	return v
}

// hasFlag reports whether words give flag (as "--to X" or "--to=X").
func hasFlag(words []string, flag string) bool {
	for _, w := range words {
		if w == flag || strings.HasPrefix(w, flag+"=") {
			return true
		}
	}
	return false
}
