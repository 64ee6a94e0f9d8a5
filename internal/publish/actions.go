package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/finding"
)

// ErrReadOnly is returned for what a read-only token cannot do (open a
// pull request): in a workflow run on a fork's pull request GitHub hands
// the job a token that cannot write.
var ErrReadOnly = errors.New("the workflow's token is read-only: kubewright reports through annotations and the job summary instead")

// Workflow is the publisher of a GitHub Actions run whose token cannot
// write (a fork's pull request, or `permissions: read-all`): findings
// become workflow-command annotations on stdout, the texts go to the job
// summary. It is redacted like Publisher.
type Workflow struct {
	mu      sync.Mutex
	out     io.Writer // workflow commands (the step's stdout)
	summary io.Writer // $GITHUB_STEP_SUMMARY
	// Counts of the annotations written, by level.
	errors, warnings, notices int
}

// NewWorkflow writes workflow commands to out and Markdown to summary.
func NewWorkflow(out, summary io.Writer) *Workflow {
	return &Workflow{out: out, summary: summary}
}

// Annotations reports how many error, warning and notice annotations
// were written.
func (w *Workflow) Annotations() (errs, warns, notices int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errors, w.warnings, w.notices
}

// Comment writes body to the job summary.
func (w *Workflow) Comment(_ context.Context, _ Thread, body string) error {
	return w.section(body)
}

// React does nothing: a run has no comment to react to.
func (w *Workflow) React(context.Context, Repo, int64, string) error { return nil }

// SetStatus does nothing: the run's log shows progress.
func (w *Workflow) SetStatus(context.Context, Thread, string, string, int) error { return nil }

// FinishStatus writes the final state to the job summary.
func (w *Workflow) FinishStatus(_ context.Context, _ Thread, _ string, body string) error {
	return w.section(body)
}

// UpsertPR cannot be done with a read-only token.
func (w *Workflow) UpsertPR(context.Context, Repo, PullRequest) (*github.PullRequest, error) {
	return nil, ErrReadOnly
}

// CheckRun writes the report's findings as annotations and its table to
// the summary.
func (w *Workflow) CheckRun(_ context.Context, _ Repo, _ string, rep *Report) error {
	if rep == nil {
		return nil
	}
	w.annotate(rep.Findings)
	return w.section("### kubewright validation\n\n" + ValidationTable(rep))
}

// PostReview writes the review's body to the summary and each comment's
// findings as annotations on their lines.
func (w *Workflow) PostReview(_ context.Context, _ Thread, rv Review) (*PostedReview, error) {
	var b strings.Builder
	b.WriteString(rv.Body)
	for _, c := range rv.Comments {
		loc := c.Path
		if c.Line > 0 {
			loc = fmt.Sprintf("%s:%d", c.Path, c.Line)
		}
		fmt.Fprintf(&b, "\n\n**`%s`**\n\n%s", strings.ReplaceAll(loc, "`", "'"), c.Body)
	}
	return &PostedReview{Inline: 0, Moved: rv.Comments}, w.section(b.String())
}

// History is empty: a run keeps no earlier reviews.
func (w *Workflow) History(context.Context, Thread) (*ReviewHistory, error) {
	return &ReviewHistory{}, nil
}

// ResolveThreads does nothing.
func (w *Workflow) ResolveThreads(context.Context, Repo, ...string) error { return nil }

// MinimizeOutdated does nothing.
func (w *Workflow) MinimizeOutdated(context.Context, Repo, ...string) error { return nil }

// ReviewCheckRun writes the findings as annotations.
func (w *Workflow) ReviewCheckRun(_ context.Context, _ Repo, _ string, c ReviewCheck) error {
	w.annotate(c.Findings)
	return nil
}

// annotate writes one workflow command per finding (at most 50 per
// level are shown by GitHub; all are written).
func (w *Workflow) annotate(fs []finding.Finding) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range fs {
		level := "notice"
		switch f.Severity {
		case finding.Error:
			level = "error"
			w.errors++
		case finding.Warning:
			level = "warning"
			w.warnings++
		default:
			w.notices++
		}
		props := []string{}
		if f.File != "" {
			props = append(props, "file="+escapeProperty(f.File))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
			}
		}
		props = append(props, "title="+escapeProperty(f.ID))
		msg := f.Message
		if f.Hint != "" {
			msg += "\n" + f.Hint
		}
		fmt.Fprintf(w.out, "::%s %s::%s\n", level, strings.Join(props, ","), escapeData(secretFree(msg)))
	}
}

// section appends text to the job summary.
func (w *Workflow) section(text string) error {
	if w.summary == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := io.WriteString(w.summary, strings.TrimRight(secretFree(text), "\n")+"\n\n")
	return err
}

// escapeData escapes a workflow command's message as the runner reads it.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
