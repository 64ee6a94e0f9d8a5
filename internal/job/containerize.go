package job

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/jobpage"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// containerize runs `containerize` (a pull request) or `plan` (a comment).
// The workspace is a clone of the default branch, and the configuration
// is the default branch's, read once for the whole job. A draft that adds
// validation errors goes to the repair agent when a model is configured.
func (r *Runner) containerize(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) (err error) {
	plan := q.cmd.Name == "plan"
	cfg, err := r.config(ctx, gh, q)
	if err != nil {
		return err
	}
	if !plan {
		if err := r.setStatus(ctx, pub, q, "🔄 In progress: analyzing the repository, writing and validating the files.", running); err != nil {
			return err
		}
	}
	ws, err := r.cloneDefault(ctx, q)
	if err != nil {
		return err
	}
	defer ws.Close()
	flags := author.Options{Services: q.cmd.Args, Env: q.cmd.Env}
	if plan {
		p, err := runStage(ctx, r, stageAuthor, func(ctx context.Context) (*Plan, error) {
			return Containerize(ctx, ws.Dir(), ContainerizeOptions{Author: flags, DryRun: true, Config: cfg})
		})
		if msg, ok := r.authorFailure(ctx, err); ok {
			return r.finishStatus(ctx, pub, q, msg)
		}
		if err != nil {
			return err
		}
		return r.finishStatus(ctx, pub, q, planComment(p))
	}
	branch := fmt.Sprintf("kubewright/containerize-%d", q.issue)
	if err := ws.Branch(branch); err != nil {
		return err
	}
	w := r.walk(ctx, q, cfg, log)
	if r.agents != nil && r.agents.Ledger != nil {
		defer func() { r.forgetSpend(ctx, q, err) }()
	}
	ch, err := w.containerize(ctx, ws.Dir(), flags)
	if msg, ok := r.authorFailure(ctx, err); ok {
		return r.finishStatus(ctx, pub, q, "❌ "+msg)
	}
	if err != nil {
		return err
	}
	if !ch.Plan.writes() {
		return r.finishStatus(ctx, pub, q, "✅ Nothing to add: every file kubewright would write already exists. Use `kubewright containerize --force` locally to regenerate them.")
	}
	if ch.Run != nil {
		log.Info("repair finished", "outcome", ch.Run.Outcome, "attempts", len(ch.Run.Attempts), "failure", ch.Run.Failure,
			"prompt_tokens", ch.Run.Usage.PromptTokens, "completion_tokens", ch.Run.Usage.CompletionTokens, "reason", r.clean(ch.Run.Reason))
	}
	failed := finding.AtLeast(ch.Report.Findings, finding.Error) > 0
	var notAnalyzed []string
	for _, e := range ch.Plan.Errors {
		notAnalyzed = append(notAnalyzed, e.Error())
	}
	assumptions := ch.Plan.Assumptions
	if ch.Run != nil {
		assumptions = append(assumptions, ch.Run.Assumptions...)
	}
	report := ReportView(ch.Report)
	r.putPage(ctx, q, func(p *jobpage.Record) {
		p.Summary = fmt.Sprintf("Containerize %d services: Dockerfiles, Kubernetes manifests under k8s/ and Flux manifests under gitops/.", len(ch.Plan.Services))
		p.Mermaid = publish.Mermaid(servicesView(ch.Plan.Services))
		for _, f := range ch.Files {
			p.Proposed = append(p.Proposed, jobpage.Change{File: f.Path, Field: "(file)", To: f.Action})
		}
		pageReport(p, report)
	})
	state := "All validation stages passed."
	switch {
	case !failed && ch.Run != nil && ch.Run.Outcome == Valid:
		state = "All validation stages passed after kubewright's repair agent fixed the draft."
	case failed && ch.Run != nil && ch.Run.Outcome == Failing:
		state = fmt.Sprintf("Validation still found %d errors after the repair attempts, so it is a draft; the attempt log is in it.", finding.AtLeast(ch.Report.Findings, finding.Error))
	case failed:
		state = "Validation found errors, so it is a draft; the findings are listed in it."
	}
	return r.publishPR(ctx, log, pub, q, ws, pullRequest{
		branch: branch, draft: failed, report: report, state: state,
		commit: fmt.Sprintf("Containerize %s\n\nDockerfiles, k8s/ and gitops/ written by kubewright for #%d.", q.fullName(), q.issue),
		title:  "Containerize: Dockerfiles, Kubernetes and Flux manifests",
		body: publish.PRBody(publish.PR{
			Issue: q.issue, Closes: cfg.PullRequest.CloseIssue, Branch: branch, Services: servicesView(ch.Plan.Services), NotAnalyzed: notAnalyzed,
			Files: filesView(ch.Files), Assumptions: assumptions, Report: report, Run: runView(ch.Run),
		}),
	})
}

// authorFailure is the message for a failure of the author stage that
// the repository's own files caused (unknown service, a project that does
// not parse): said on the issue, not retried. ok is false for any other
// error.
func (r *Runner) authorFailure(ctx context.Context, err error) (msg string, ok bool) {
	se := describe(err, r.timeouts)
	if err == nil || se == nil || se.stage != stageAuthor || se.limit != 0 || ctx.Err() != nil {
		return "", false
	}
	return fmt.Sprintf("kubewright could not containerize this repository: %s", se.message()), true
}

// cloneDefault clones the repository's default branch with an
// installation token: the only tree agents and authors start from.
func (r *Runner) cloneDefault(ctx context.Context, q task) (*workspace.Workspace, error) {
	return r.cloneBranch(ctx, q, r.clients.Endpoints().CloneURL(q.fullName()), q.defaultBranch)
}

// cloneBranch clones one branch into the work root, under the clone
// stage's deadline and the clone caps.
func (r *Runner) cloneBranch(ctx context.Context, q task, url, branch string) (*workspace.Workspace, error) {
	return runStage(ctx, r, stageClone, func(ctx context.Context) (*workspace.Workspace, error) {
		token, err := r.clients.Token(ctx, q.installation)
		if err != nil {
			return nil, err
		}
		ws, err := workspace.Clone(ctx, url, token, branch, r.clone)
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil { // abandoned past the deadline: nobody will close it
			ws.Close()
			return nil, ctx.Err()
		}
		return ws, nil
	})
}

// commitAndPush commits the workspace's changes on the checked-out branch
// and force-pushes it, under the push stage's deadline.
func (r *Runner) commitAndPush(ctx context.Context, ws *workspace.Workspace, q task, branch, msg string) (string, error) {
	return runStage(ctx, r, stagePush, func(ctx context.Context) (string, error) {
		sha, _, err := ws.Commit(msg, workspace.Signature{Name: r.bot.Name, Email: r.bot.Email},
			workspace.Signature{Name: q.user, Email: fmt.Sprintf("%d+%s@users.noreply.github.com", q.userID, q.user)})
		if err != nil {
			return "", err
		}
		return sha, ws.Push(ctx, branch)
	})
}

// validator validates under cfg, each validation under the validate
// stage's deadline.
func (r *Runner) validator(cfg *config.Repo) TreeValidator {
	return func(ctx context.Context, dir string, extra ...validate.Check) (*validate.Report, error) {
		return runStage(ctx, r, stageValidate, func(ctx context.Context) (*validate.Report, error) {
			return r.validate(ctx, dir, cfg, extra...)
		})
	}
}

func planComment(p *Plan) string {
	var b strings.Builder
	b.WriteString("### kubewright plan\n\n")
	counts := map[string]int{}
	for _, f := range p.Files {
		counts[f.Action]++
	}
	fmt.Fprintf(&b, "%d services; %d files would be created, %d updated, %d kept.\n\n", len(p.Services), counts[draft.ActionCreate], counts[draft.ActionUpdate], counts[draft.ActionKeep])
	b.WriteString("| Service | Language | Port | Backing services |\n|---|---|---|---|\n")
	for _, s := range p.Services {
		var backing []string
		for _, k := range s.Backing {
			backing = append(backing, k.Kind)
		}
		fmt.Fprintf(&b, "| `%s` | %s %s | %d | %s |\n", s.Name, s.Language, s.LanguageVersion, s.Port, strings.Join(backing, ", "))
	}
	diff := p.Diff
	const max = 50000
	if len(diff) > max {
		diff = diff[:max] + "\n… (truncated)\n"
	}
	fmt.Fprintf(&b, "\n<details><summary>Diff</summary>\n\n```diff\n%s```\n\n</details>\n\nComment `/ai containerize` to open the pull request.\n", diff)
	return b.String()
}

// safe turns an error into a message fit for a public comment: the first
// line only, without local paths.
func safe(err error) string {
	if err == nil {
		return ""
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}
