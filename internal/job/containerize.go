package job

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// maxAnnotations is GitHub's limit per check run request.
const maxAnnotations = 50

// containerize runs `containerize` (a pull request) or `plan` (a comment).
// The workspace is a clone of the default branch, so the repository's
// .github/kubewright.yaml is read from there, never from a PR branch.
func (r *Runner) containerize(ctx context.Context, log *slog.Logger, gh *github.Client, q request) error {
	plan := q.cmd.Name == "plan"
	if !plan {
		if err := r.setStatus(ctx, gh, q, q.delivery, "🔄 In progress: analyzing the repository, writing and validating the files."); err != nil {
			return err
		}
	}
	ws, err := r.cloneDefault(ctx, q)
	if err != nil {
		return err
	}
	defer ws.Close()
	branch := fmt.Sprintf("kubewright/containerize-%d", q.issue)
	if !plan {
		if err := ws.Branch(branch); err != nil {
			return err
		}
	}
	result, err := Containerize(ctx, ws.Dir(), ContainerizeOptions{
		Author: author.Options{Services: q.cmd.Args, Env: q.cmd.Env}, DryRun: plan,
	})
	if err != nil {
		// The repository's own files are at fault (bad config, unknown
		// service): say so on the issue and stop.
		msg := fmt.Sprintf("kubewright could not containerize this repository: %s", safe(err))
		if plan {
			return r.comment(ctx, gh, q, msg)
		}
		return r.finishStatus(ctx, gh, q, q.delivery, "❌ "+msg)
	}
	if plan {
		return r.comment(ctx, gh, q, planComment(result))
	}
	changed := 0
	for _, f := range result.Files {
		if f.Action == workspace.ActionCreate || f.Action == workspace.ActionUpdate {
			changed++
		}
	}
	if changed == 0 {
		return r.finishStatus(ctx, gh, q, q.delivery, "✅ Nothing to add: every file kubewright would write already exists. Use `kubewright containerize --force` locally to regenerate them.")
	}
	report, err := r.validate(ctx, ws.Dir())
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Containerize %s\n\nDockerfiles, k8s/ and gitops/ written by kubewright for #%d.", q.fullName(), q.issue)
	sha, _, err := ws.Commit(msg, workspace.Signature{Name: r.bot.Name, Email: r.bot.Email},
		workspace.Signature{Name: q.user, Email: fmt.Sprintf("%d+%s@users.noreply.github.com", q.userID, q.user)})
	if err != nil {
		return err
	}
	if err := ws.Push(ctx, branch); err != nil {
		return err
	}
	failed := finding.AtLeast(report.Findings, finding.Error) > 0
	// The workspace is the default branch, so this is its configuration.
	cfg, err := config.LoadRepo(ws.Dir())
	if err != nil {
		cfg = &config.Repo{} // already reported by Containerize if malformed
	}
	body := publish.PRBody(publish.Outcome{
		Issue: q.issue, Closes: cfg.PullRequest.CloseIssue, Branch: branch, Services: result.Services, Errors: result.Errors,
		Files: result.Files, Assumptions: result.Assumptions, Report: report,
	})
	pr, err := r.upsertPR(ctx, gh, q, branch, "Containerize: Dockerfiles, Kubernetes and Flux manifests", body, failed)
	if err != nil {
		return err
	}
	if err := r.checkRun(ctx, gh, q, sha, report); err != nil {
		return err
	}
	log.Info("pull request ready", "pr", pr.GetNumber(), "draft", failed)
	state := "All validation stages passed."
	if failed {
		state = "Validation found errors, so it is a draft; the findings are listed in it."
	}
	return r.finishStatus(ctx, gh, q, q.delivery, fmt.Sprintf("✅ Opened %s: %s", pr.GetHTMLURL(), state))
}

// cloneDefault clones the repository's default branch with an
// installation token: the only tree agents and authors start from.
func (r *Runner) cloneDefault(ctx context.Context, q request) (*workspace.Workspace, error) {
	token, err := r.clients.Token(ctx, q.installation)
	if err != nil {
		return nil, err
	}
	return workspace.Clone(ctx, r.clients.Endpoints().CloneURL(q.fullName()), token, q.defaultBranch)
}

// upsertPR updates the open pull request of branch, or opens one: a
// retried or redelivered job never opens a second.
func (r *Runner) upsertPR(ctx context.Context, gh *github.Client, q request, branch, title, body string, draft bool) (*github.PullRequest, error) {
	open, _, err := gh.PullRequests.List(ctx, q.owner, q.name, &github.PullRequestListOptions{Head: q.owner + ":" + branch, State: "open"})
	if err != nil {
		return nil, err
	}
	if len(open) > 0 {
		pr, _, err := gh.PullRequests.Edit(ctx, q.owner, q.name, open[0].GetNumber(), &github.PullRequest{Title: github.Ptr(title), Body: github.Ptr(body)})
		return pr, err
	}
	pr, _, err := gh.PullRequests.Create(ctx, q.owner, q.name, &github.NewPullRequest{
		Title: github.Ptr(title), Head: github.Ptr(branch), Base: github.Ptr(q.defaultBranch), Body: github.Ptr(body), Draft: github.Ptr(draft),
	})
	return pr, err
}

// checkRun records the validation of the pushed commit as a completed
// check run with one annotation per finding that has a file and line.
func (r *Runner) checkRun(ctx context.Context, gh *github.Client, q request, sha string, rep *validate.Report) error {
	conclusion, title := "success", "All validation stages passed"
	if n := finding.AtLeast(rep.Findings, finding.Error); n > 0 {
		conclusion, title = "failure", fmt.Sprintf("%d validation errors", n)
	}
	var ann []*github.CheckRunAnnotation
	for _, f := range rep.Findings {
		if f.File == "" || f.Line == 0 || len(ann) == maxAnnotations {
			continue
		}
		level := "notice"
		switch f.Severity {
		case finding.Error:
			level = "failure"
		case finding.Warning:
			level = "warning"
		}
		msg := f.Message
		if f.Hint != "" {
			msg += "\n" + f.Hint
		}
		ann = append(ann, &github.CheckRunAnnotation{
			Path: github.Ptr(f.File), StartLine: github.Ptr(f.Line), EndLine: github.Ptr(f.Line),
			AnnotationLevel: github.Ptr(level), Title: github.Ptr(f.ID), Message: github.Ptr(msg),
		})
	}
	_, _, err := gh.Checks.CreateCheckRun(ctx, q.owner, q.name, github.CreateCheckRunOptions{
		Name: "kubewright", HeadSHA: sha, Status: github.Ptr("completed"), Conclusion: github.Ptr(conclusion),
		Output: &github.CheckRunOutput{Title: github.Ptr(title), Summary: github.Ptr(publish.ValidationTable(rep)), Annotations: ann},
	})
	return err
}

func (r *Runner) comment(ctx context.Context, gh *github.Client, q request, body string) error {
	_, _, err := gh.Issues.CreateComment(ctx, q.owner, q.name, q.issue, &github.IssueComment{Body: github.Ptr(body)})
	return err
}

func planComment(p *Plan) string {
	var b strings.Builder
	b.WriteString("### kubewright plan\n\n")
	counts := map[string]int{}
	for _, f := range p.Files {
		counts[f.Action]++
	}
	fmt.Fprintf(&b, "%d services; %d files would be created, %d updated, %d kept.\n\n", len(p.Services), counts[workspace.ActionCreate], counts[workspace.ActionUpdate], counts[workspace.ActionKeep])
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
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}
