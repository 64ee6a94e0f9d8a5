package job

import (
	"context"
	"fmt"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/publish"
)

// validatePR validates a pull request's head and reports it as a check run
// on that commit. Nothing from the branch is executed: validation only
// reads files and sends manifests to the dry-run server. The rules are the
// default branch's: a .github/kubewright.yaml the pull request adds or
// changes cannot switch off the checks that gate it.
func (r *Runner) validatePR(ctx context.Context, gh *github.Client, pub Publisher, q task) error {
	cfg, err := r.config(ctx, gh, q)
	if err != nil {
		return err
	}
	pr, _, err := gh.PullRequests.Get(ctx, q.owner, q.name, q.issue)
	if err != nil {
		return err
	}
	head := pr.GetHead()
	url := r.clients.Endpoints().CloneURL(head.GetRepo().GetFullName())
	if head.GetRepo().GetFullName() == "" {
		url = r.clients.Endpoints().CloneURL(q.fullName())
	}
	ws, err := r.cloneBranch(ctx, q, url, head.GetRef())
	if err != nil {
		return err
	}
	defer ws.Close()
	report, err := r.validator(cfg)(ctx, ws.Dir())
	if err != nil {
		return err
	}
	view := ReportView(report)
	if err := pub.CheckRun(ctx, q.repo(), ws.BaseCommit(), view); err != nil {
		return err
	}
	verdict := "passes every validation stage"
	if n := finding.AtLeast(report.Findings, finding.Error); n > 0 {
		verdict = fmt.Sprintf("has %d validation errors; they are annotated in the `kubewright` check run", n)
	}
	return r.finishStatus(ctx, pub, q, fmt.Sprintf("Validated `%s` at %.7s with the settings of `%s`: it %s.\n\n%s",
		head.GetRef(), ws.BaseCommit(), q.defaultBranch, verdict, publish.ValidationTable(view)))
}
