package publish

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/redact"
)

// Publisher writes to GitHub for one installation: comments, reactions,
// the status comment of a job, pull requests and check runs. Every text
// it sends (bodies, titles, summaries, annotations) is redacted on its
// way out, and every request is bounded by the request timeout.
type Publisher struct {
	gh      *github.Client
	store   StatusStore
	timeout time.Duration
	log     *slog.Logger
	bot     string // the App's bot login (WithBotLogin), "" if unknown
}

// Option configures a Publisher.
type Option func(*Publisher)

// WithStatusStore keeps status comment IDs in s (the queue's database, so
// that every replica edits the same comment). The default is a new
// in-memory store, private to the Publisher.
func WithStatusStore(s StatusStore) Option { return func(p *Publisher) { p.store = s } }

// WithTimeout bounds each GitHub request (0: the client's own timeout).
func WithTimeout(d time.Duration) Option { return func(p *Publisher) { p.timeout = d } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(p *Publisher) { p.log = l } }

// New returns a Publisher writing through gh, an installation's client.
func New(gh *github.Client, opts ...Option) *Publisher {
	p := &Publisher{gh: gh, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(p)
	}
	if p.store == nil {
		p.store = NewMemoryStatus()
	}
	if p.timeout > 0 && gh != nil {
		if c, err := gh.Clone(github.WithTimeout(p.timeout)); err == nil {
			p.gh = c
		} // else the App's client has a timeout of its own
	}
	return p
}

// Repo is a repository.
type Repo struct{ Owner, Name string }

// Thread is an issue or a pull request: where comments go.
type Thread struct {
	Repo
	Number int
}

// clean redacts secrets from text about to be published.
func (p *Publisher) clean(s string) string {
	out, n := redact.Text(s)
	if n > 0 {
		p.log.Info("redacted secrets from published text", "redactions", n)
	}
	return out
}

// Comment posts body on the thread.
func (p *Publisher) Comment(ctx context.Context, t Thread, body string) error {
	_, _, err := p.gh.Issues.CreateComment(ctx, t.Owner, t.Name, t.Number, &github.IssueComment{Body: github.Ptr(p.clean(body))})
	if err != nil {
		return fmt.Errorf("comment on %s/%s#%d: %w", t.Owner, t.Name, t.Number, err)
	}
	return nil
}

// React adds a reaction ("eyes", "+1", ...) to an issue comment.
func (p *Publisher) React(ctx context.Context, r Repo, commentID int64, content string) error {
	if _, _, err := p.gh.Reactions.CreateIssueCommentReaction(ctx, r.Owner, r.Name, commentID, content); err != nil {
		return fmt.Errorf("react %q to comment %d of %s/%s: %w", content, commentID, r.Owner, r.Name, err)
	}
	return nil
}

// PullRequest is a pull request to open or update.
type PullRequest struct {
	Head, Base  string // branches
	Title, Body string
	// Draft applies when the pull request is opened; an open one keeps
	// its state.
	Draft bool
}

// UpsertPR updates the open pull request of pr.Head, or opens one: a
// retried or redelivered job never opens a second.
func (p *Publisher) UpsertPR(ctx context.Context, r Repo, pr PullRequest) (*github.PullRequest, error) {
	title, body := p.clean(pr.Title), p.clean(pr.Body)
	open, _, err := p.gh.PullRequests.List(ctx, r.Owner, r.Name, &github.PullRequestListOptions{Head: r.Owner + ":" + pr.Head, State: "open"})
	if err != nil {
		return nil, fmt.Errorf("list the open pull requests of %s: %w", pr.Head, err)
	}
	if len(open) > 0 {
		out, _, err := p.gh.PullRequests.Edit(ctx, r.Owner, r.Name, open[0].GetNumber(), &github.PullRequest{Title: github.Ptr(title), Body: github.Ptr(body)})
		if err != nil {
			return nil, fmt.Errorf("update pull request #%d: %w", open[0].GetNumber(), err)
		}
		return out, nil
	}
	out, _, err := p.gh.PullRequests.Create(ctx, r.Owner, r.Name, &github.NewPullRequest{
		Title: github.Ptr(title), Head: github.Ptr(pr.Head), Base: github.Ptr(pr.Base), Body: github.Ptr(body), Draft: github.Ptr(pr.Draft),
	})
	if err != nil {
		return nil, fmt.Errorf("open a pull request from %s: %w", pr.Head, err)
	}
	return out, nil
}

// checkRunName is the name of kubewright's check run.
const checkRunName = "kubewright"

// maxAnnotations is GitHub's limit per check run request.
const maxAnnotations = 50

// CheckRun records a validation of commit sha as a completed check run,
// with one annotation per finding that has a file and line (the first
// maxAnnotations of them).
func (p *Publisher) CheckRun(ctx context.Context, r Repo, sha string, rep *Report) error {
	if _, _, err := p.gh.Checks.CreateCheckRun(ctx, r.Owner, r.Name, p.checkRunOptions(sha, rep)); err != nil {
		return fmt.Errorf("create the check run of %.7s: %w", sha, err)
	}
	return nil
}

func (p *Publisher) checkRunOptions(sha string, rep *Report) github.CreateCheckRunOptions {
	conclusion, title := "success", "All validation stages passed"
	switch all := finding.AtLeast(rep.Findings, finding.Error); {
	case rep.Compared && rep.Added > 0:
		conclusion, title = "failure", fmt.Sprintf("%d validation errors this change adds", rep.Added)
	case rep.Compared && all > 0:
		conclusion, title = "neutral", fmt.Sprintf("No new validation errors (the base branch has %d)", all)
	case all > 0:
		conclusion, title = "failure", fmt.Sprintf("%d validation errors", all)
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
			AnnotationLevel: github.Ptr(level), Title: github.Ptr(p.clean(f.ID)), Message: github.Ptr(p.clean(msg)),
		})
	}
	return github.CreateCheckRunOptions{
		Name: checkRunName, HeadSHA: sha, Status: github.Ptr("completed"), Conclusion: github.Ptr(conclusion),
		Output: &github.CheckRunOutput{Title: github.Ptr(p.clean(title)), Summary: github.Ptr(p.clean(ValidationTable(rep))), Annotations: ann},
	}
}
