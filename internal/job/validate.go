package job

import (
	"context"
	"fmt"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/workspace"
)

// validatePR validates a pull request's head and reports it as a check run
// on that commit. Nothing from the branch is executed: validation only
// reads files and sends manifests to the dry-run server.
func (r *Runner) validatePR(ctx context.Context, gh *github.Client, q request) error {
	pr, _, err := gh.PullRequests.Get(ctx, q.owner, q.name, q.issue)
	if err != nil {
		return err
	}
	token, err := r.clients.Token(ctx, q.installation)
	if err != nil {
		return err
	}
	head := pr.GetHead()
	url := r.clients.Endpoints().CloneURL(head.GetRepo().GetFullName())
	if head.GetRepo().GetFullName() == "" {
		url = r.clients.Endpoints().CloneURL(q.fullName())
	}
	ws, err := workspace.Clone(ctx, url, token, head.GetRef())
	if err != nil {
		return err
	}
	defer ws.Close()
	report, err := r.validate(ctx, ws.Dir())
	if err != nil {
		return err
	}
	if err := r.checkRun(ctx, gh, q, ws.BaseCommit(), report); err != nil {
		return err
	}
	verdict := "passes every validation stage"
	if n := finding.AtLeast(report.Findings, finding.Error); n > 0 {
		verdict = fmt.Sprintf("has %d validation errors; they are annotated in the `kubewright` check run", n)
	}
	return r.comment(ctx, gh, q, fmt.Sprintf("Validated `%s` at %.7s: it %s.\n\n%s", head.GetRef(), ws.BaseCommit(), verdict, publish.ValidationTable(report)))
}
