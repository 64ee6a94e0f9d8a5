package job

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/request"
	"github.com/kubewright/kubewright/internal/review"
	"github.com/kubewright/kubewright/internal/review/fix"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// Reviewer is what a review writes, part of Publisher: one pull-request
// review per head commit, the history of earlier ones, and the
// kubewright/review check run.
type Reviewer interface {
	PostReview(ctx context.Context, t publish.Thread, rv publish.Review) (*publish.PostedReview, error)
	History(ctx context.Context, t publish.Thread) (*publish.ReviewHistory, error)
	ResolveThreads(ctx context.Context, r publish.Repo, threadIDs ...string) error
	MinimizeOutdated(ctx context.Context, r publish.Repo, nodeIDs ...string) error
	ReviewCheckRun(ctx context.Context, r publish.Repo, sha string, c publish.ReviewCheck) error
}

var _ Reviewer = (*publish.Publisher)(nil)

// maxReviewFiles bounds the changed files read to decide whether a pull
// request needs a review (GitHub lists at most 3,000).
const maxReviewFiles = 3000

// Reviewed is one review, computed the same way for a pull request and
// for `kubewright review`: both sides validated with the same settings,
// then compared.
type Reviewed struct {
	Base, Head *validate.Report
	Review     *review.Review
}

// ReviewTrees validates baseDir and headDir with v (the same trusted
// settings for both) and compares them. Nothing in either tree runs.
func ReviewTrees(ctx context.Context, v TreeValidator, baseDir, headDir string) (*Reviewed, error) {
	base, err := v(ctx, baseDir)
	if err != nil {
		return nil, fmt.Errorf("validate the base: %w", err)
	}
	head, err := v(ctx, headDir)
	if err != nil {
		return nil, fmt.Errorf("validate the head: %w", err)
	}
	root, err := os.OpenRoot(headDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return &Reviewed{Base: base, Head: head, Review: review.Assemble(review.Sides{Base: base, Head: head, HeadFS: root.FS()})}, nil
}

// reviewPR reviews a pull request: automatically when it opens or moves
// (trigger pull_request), or on `/ai review`. The head is cloned and only
// read, from a fork too; the settings are the default branch's.
func (r *Runner) reviewPR(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) error {
	auto := q.trigger == request.PullRequest
	cfg, err := r.config(ctx, gh, q)
	if err != nil {
		return err
	}
	pr, _, err := gh.PullRequests.Get(ctx, q.owner, q.name, q.issue)
	if err != nil {
		return err
	}
	if auto {
		switch {
		case cfg.Review.Off:
			log.Info("review skipped: review.off is set")
			return nil
		case pr.GetState() != "open":
			return nil
		case pr.GetDraft() && !cfg.Review.Drafts:
			log.Info("review skipped: draft pull request (review.drafts is not set)")
			return nil
		}
		touched, err := r.touchesManifests(ctx, gh, q, cfg)
		if err != nil {
			return err
		}
		if !touched {
			log.Info("review skipped: the pull request changes no Dockerfile, kustomization, k8s/ or gitops/ file")
			return nil
		}
	}
	head := pr.GetHead()
	headWS, err := r.cloneHead(ctx, q, pr)
	if err != nil {
		return err
	}
	defer headWS.Close()
	baseWS, err := r.cloneBranch(ctx, q, r.clients.Endpoints().CloneURL(q.fullName()), pr.GetBase().GetRef())
	if err != nil {
		return err
	}
	defer baseWS.Close()
	res, err := ReviewTrees(ctx, r.validator(cfg), baseWS.Dir(), headWS.Dir())
	if err != nil {
		return err
	}
	sha := headWS.BaseCommit()
	t := q.thread()
	var risks []string
	if r.agents != nil {
		if risks, err = r.riskNotes(ctx, r.walk(ctx, q, cfg, log).meter, res.Review); err != nil {
			log.Warn("review agent: no risk notes", "error", r.clean(err.Error()))
		}
		if r.agents.Ledger != nil {
			r.forgetSpend(ctx, q, nil) // the notes are advice: no retry spends on them
		}
	}
	posted, err := r.postReview(ctx, pub, q, t, sha, res, q.defaultBranch, risks...)
	if err != nil {
		return err
	}
	intro := res.Review.Delta.Introduced
	conclusion, title := "success", "No new findings"
	if n := finding.AtLeast(intro, finding.Error); n > 0 {
		conclusion, title = "failure", count(n, "new error")
	} else if len(intro) > 0 {
		conclusion, title = "neutral", count(len(intro), "new warning")
	}
	if err := pub.ReviewCheckRun(ctx, q.repo(), sha, publish.ReviewCheck{Findings: intro, Title: title, Conclusion: conclusion,
		Summary: fmt.Sprintf("Findings this pull request introduces, with the settings of `%s`. Findings already on the base branch are not counted.", q.defaultBranch)}); err != nil {
		return err
	}
	log.Info("pull request reviewed", "pr", q.issue, "head", sha, "introduced", len(intro), "fixed", len(res.Review.Delta.Fixed),
		"inline", posted.Inline, "existing", posted.Existing)
	if auto {
		return nil
	}
	return r.finishStatus(ctx, pub, q, fmt.Sprintf("Reviewed `%s` at %.7s: %s. The findings are in the review and the `%s` check run.",
		head.GetRef(), sha, strings.ToLower(title), publish.ReviewCheckName))
}

// cloneHead clones a pull request's head from the base repository
// (refs/pull/N/head, which GitHub keeps for forks too): the installation
// needs no access to a fork, and the head is only read.
func (r *Runner) cloneHead(ctx context.Context, q task, pr *github.PullRequest) (*workspace.Workspace, error) {
	url := r.clients.Endpoints().CloneURL(q.fullName())
	if sameRepository(q, pr) {
		return r.cloneBranch(ctx, q, url, pr.GetHead().GetRef())
	}
	return r.cloneBranch(ctx, q, url, fmt.Sprintf("refs/pull/%d/head", pr.GetNumber()))
}

// sameRepository: the pull request's branch lives in the repository.
func sameRepository(q task, pr *github.PullRequest) bool {
	full := pr.GetHead().GetRepo().GetFullName()
	return full == "" || strings.EqualFold(full, q.fullName())
}

// postReview posts the review of sha: comments already posted by an
// earlier review and still open are not posted again, and the comments
// of findings that are gone are resolved.
func (r *Runner) postReview(ctx context.Context, rv Reviewer, q task, t publish.Thread, sha string, res *Reviewed, branch string, risks ...string) (*publish.PostedReview, error) {
	hist, err := rv.History(ctx, t)
	if err != nil {
		return nil, err
	}
	current := map[string]bool{}
	for _, c := range res.Review.Comments {
		current[c.Key] = true
	}
	open := map[string]bool{}
	var resolve, minimize []string
	for _, th := range hist.Threads {
		if th.Resolved {
			continue
		}
		if current[th.Key] && !th.Outdated {
			open[th.Key] = true
			continue
		}
		if !current[th.Key] {
			resolve = append(resolve, th.ID)
			if th.Outdated && !th.Minimized {
				minimize = append(minimize, th.NodeID)
			}
		}
	}
	view := publish.ReviewView{Head: sha, Introduced: res.Review.Delta.Introduced, Fixed: res.Review.Delta.Fixed, Kept: len(res.Review.Delta.Kept),
		FluxDiff: res.Review.Diff.Markdown(review.RenderOptions{}), Settings: "settings from " + config.RepoConfigPath + " on " + branch, Risks: risks}
	var comments []publish.ReviewComment
	newCount := 0
	for _, c := range res.Review.Comments {
		if open[c.Key] {
			view.Repeated++
			continue
		}
		newCount++
		comments = append(comments, publish.ReviewComment{Path: c.Path, Line: c.Line, StartLine: c.StartLine, Key: c.Key, Body: CommentBody(c)})
	}
	if n := len(hist.Reviews); n > 0 && hist.Reviews[n-1].Head != sha {
		view.Since = &publish.ReviewSince{Head: hist.Reviews[n-1].Head, New: newCount, Resolved: len(resolve)}
	}
	posted, err := rv.PostReview(ctx, t, publish.Review{Head: sha, Body: publish.ReviewBody(view), Comments: comments})
	if err != nil {
		return nil, err
	}
	if posted.Existing {
		return posted, nil // a redelivery: the threads were settled then
	}
	if len(resolve) > 0 {
		if err := rv.ResolveThreads(ctx, q.repo(), resolve...); err != nil {
			return nil, err
		}
	}
	if len(minimize) > 0 {
		if err := rv.MinimizeOutdated(ctx, q.repo(), minimize...); err != nil {
			return nil, err
		}
	}
	return posted, nil
}

// CommentBody renders one review comment with its fix: a suggestion,
// or a patch for a fix that creates a file.
func CommentBody(c review.Comment) string {
	v := publish.CommentView{Findings: c.Findings, Unfixable: c.Unfixable}
	if c.Fix != nil {
		v.FixTitle, v.FixNote = c.Fix.Title, c.Fix.Note
		if s, ok := c.Fix.Suggestion(); ok {
			v.Suggestion = s
		} else {
			v.Patch = patchOf(*c.Fix)
		}
	}
	return publish.FindingComment(v)
}

// patchOf is a fix that creates a file, as a diff.
func patchOf(f fix.Fix) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- /dev/null\n+++ b/%s\n@@ -0,0 +1,%d @@\n", f.File, strings.Count(f.Replacement, "\n"))
	for _, l := range strings.SplitAfter(strings.TrimSuffix(f.Replacement, "\n"), "\n") {
		b.WriteString("+" + strings.TrimSuffix(l, "\n") + "\n")
	}
	return b.String()
}

// touchesManifests reports whether the pull request changes a file a
// review looks at: a Dockerfile or .dockerignore, a kustomization, a file
// under k8s/ or gitops/, or a path the repository's settings add.
func (r *Runner) touchesManifests(ctx context.Context, gh *github.Client, q task, cfg *config.Repo) (bool, error) {
	opts := &github.ListOptions{PerPage: 100}
	for seen := 0; seen < maxReviewFiles; {
		files, resp, err := gh.PullRequests.ListFiles(ctx, q.owner, q.name, q.issue, opts)
		if err != nil {
			return false, err
		}
		for _, f := range files {
			if ReviewsPath(f.GetFilename(), cfg) || (f.GetPreviousFilename() != "" && ReviewsPath(f.GetPreviousFilename(), cfg)) {
				return true, nil
			}
		}
		seen += len(files)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return false, nil
}

// ReviewsPath reports whether a change to the repository file p starts a
// review.
func ReviewsPath(p string, cfg *config.Repo) bool {
	base := path.Base(p)
	switch {
	case base == "Dockerfile", strings.HasPrefix(base, "Dockerfile."), strings.HasSuffix(base, ".Dockerfile"),
		base == ".dockerignore", strings.HasSuffix(base, ".dockerignore"):
		return true
	case base == "kustomization.yaml", base == "kustomization.yml", base == "Kustomization":
		return true
	case strings.HasPrefix(p, "k8s/"), strings.HasPrefix(p, "gitops/"), strings.Contains(p, "/k8s/"), strings.Contains(p, "/gitops/"):
		return true
	}
	if cfg != nil {
		for _, extra := range cfg.Review.Paths {
			if p == extra || strings.HasPrefix(p, extra+"/") {
				return true
			}
		}
	}
	return false
}

// count is "1 new error", "2 new errors".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
