package publish

import (
	"context"
	"fmt"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/finding"
)

// ReviewCheckName is the check run that carries a review's findings, for
// branch protection to require.
const ReviewCheckName = "kubewright/review"

// maxReviewAnnotations bounds the annotations of the review check run:
// 50 per request, in at most 10 requests.
const maxReviewAnnotations = 10 * maxAnnotations

// ReviewCheck is the kubewright/review check run of a head commit.
type ReviewCheck struct {
	// Findings the pull request introduced; each with a file and a line
	// is an annotation. An error among them fails the check.
	Findings []finding.Finding
	Title    string // default: how many findings, by severity
	Summary  string // Markdown
	// Conclusion overrides the one the findings give (success, failure,
	// neutral, ...).
	Conclusion string
}

// ReviewCheckRun records the review of commit sha as a completed
// kubewright/review check run with one annotation per finding that has a
// file and a line (the first maxReviewAnnotations): the first 50 when it
// is created, the rest 50 per update, as GitHub takes them.
func (p *Publisher) ReviewCheckRun(ctx context.Context, r Repo, sha string, c ReviewCheck) error {
	errs, warns := finding.AtLeast(c.Findings, finding.Error), finding.AtLeast(c.Findings, finding.Warning)
	warns -= errs
	conclusion, title := "success", "No new findings"
	switch {
	case errs > 0:
		conclusion, title = "failure", fmt.Sprintf("%d new errors, %d new warnings", errs, warns)
	case len(c.Findings) > 0:
		title = fmt.Sprintf("%d new warnings, %d notes", warns, len(c.Findings)-warns)
	}
	if c.Conclusion != "" {
		conclusion = c.Conclusion
	}
	if c.Title != "" {
		title = c.Title
	}
	summary := c.Summary
	if summary == "" {
		summary = title + "."
	}
	output := func(ann []*github.CheckRunAnnotation) *github.CheckRunOutput {
		return &github.CheckRunOutput{Title: github.Ptr(p.clean(title)), Summary: github.Ptr(p.publishableText(summary)), Annotations: ann}
	}
	ann := p.reviewAnnotations(c.Findings)
	first := ann[:min(len(ann), maxAnnotations)]
	run, _, err := p.gh.Checks.CreateCheckRun(ctx, r.Owner, r.Name, github.CreateCheckRunOptions{
		Name: ReviewCheckName, HeadSHA: sha, Status: github.Ptr("completed"), Conclusion: github.Ptr(conclusion), Output: output(first),
	})
	if err != nil {
		return fmt.Errorf("create the %s check run of %.7s: %w", ReviewCheckName, sha, err)
	}
	for start := maxAnnotations; start < len(ann); start += maxAnnotations {
		batch := ann[start:min(start+maxAnnotations, len(ann))]
		if _, _, err := p.gh.Checks.UpdateCheckRun(ctx, r.Owner, r.Name, run.GetID(), github.UpdateCheckRunOptions{
			Name: ReviewCheckName, Output: output(batch),
		}); err != nil {
			return fmt.Errorf("add annotations %d-%d to the %s check run of %.7s: %w", start+1, start+len(batch), ReviewCheckName, sha, err)
		}
	}
	return nil
}

// reviewAnnotations are the findings with a file and a line, as check run
// annotations, redacted.
func (p *Publisher) reviewAnnotations(fs []finding.Finding) []*github.CheckRunAnnotation {
	var out []*github.CheckRunAnnotation
	for _, f := range fs {
		if f.File == "" || f.Line <= 0 || len(out) == maxReviewAnnotations {
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
		out = append(out, &github.CheckRunAnnotation{
			Path: github.Ptr(f.File), StartLine: github.Ptr(f.Line), EndLine: github.Ptr(f.Line),
			AnnotationLevel: github.Ptr(level), Title: github.Ptr(p.clean(f.ID)), Message: github.Ptr(p.clean(msg)),
		})
	}
	return out
}
