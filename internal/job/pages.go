package job

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/kubewright/kubewright/internal/jobpage"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/request"
)

// WithPages records every command's job for its page (/jobs/<delivery>,
// internal/jobpage) in s, and links the page from the status comment
// under publicURL.
func WithPages(s jobpage.Store, publicURL string) Option {
	return func(r *Runner) { r.pages, r.publicURL = s, strings.TrimRight(publicURL, "/") }
}

// page is one job's record, filled in as the job goes.
type page struct {
	mu  sync.Mutex
	rec jobpage.Record
}

// startPage records a job that begins to run.
func (r *Runner) startPage(ctx context.Context, q *task, req request.Request) {
	if r.pages == nil {
		return
	}
	line := req.Intent
	if req.Command != nil {
		line = req.Command.Raw
		if line == "" {
			line = r.prefix + " " + string(req.Command.Name)
		}
	} else if line != "" {
		line = r.prefix + " " + line
	}
	now := time.Now()
	q.page = &page{rec: jobpage.Record{ID: q.delivery, Repo: q.fullName(), Number: q.issue, Request: line, Actor: q.user,
		Status: "running", Created: now}}
	r.putPage(ctx, *q, nil)
}

// putPage changes the job's record with edit and stores it. A failed
// write is logged: the page is a view, never a reason to fail the job.
func (r *Runner) putPage(ctx context.Context, q task, edit func(*jobpage.Record)) {
	if r.pages == nil || q.page == nil {
		return
	}
	q.page.mu.Lock()
	if edit != nil {
		edit(&q.page.rec)
	}
	q.page.rec.Updated = time.Now()
	rec := q.page.rec
	q.page.mu.Unlock()
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.pages.Put(pctx, rec); err != nil {
		r.log.Warn("job page", "delivery", q.delivery, "error", r.clean(err.Error()))
	}
}

// endPage records how the job ended.
func (r *Runner) endPage(ctx context.Context, q task, err error) {
	r.putPage(ctx, q, func(p *jobpage.Record) {
		p.Status = "done"
		if err != nil {
			p.Status = "failed"
		}
	})
}

// pageLink is the line that links a status comment to the job's page.
func (r *Runner) pageLink(q task) string {
	if r.pages == nil || q.page == nil || r.publicURL == "" {
		return ""
	}
	return "\n\n<sub>[The job's page](" + r.publicURL + "/jobs/" + q.delivery + "): the plan, the current state and the change side by side, the validation and the diff.</sub>"
}

// pageReport records a validation.
func pageReport(p *jobpage.Record, rep *publish.Report) {
	if rep == nil {
		return
	}
	p.Stages = p.Stages[:0]
	for _, s := range rep.Stages {
		p.Stages = append(p.Stages, jobpage.Stage{Name: s.Name, Skipped: s.Skipped, Errors: s.Errors, Warnings: s.Warnings})
	}
	p.Findings = rep.Findings
}

// pageOperation records an operation's plan, its state and its change.
func pageOperation(p *jobpage.Record, v publish.Operation) {
	p.Summary = v.Summary
	if v.State != nil {
		p.Current = append([]string(nil), v.State.Lines...)
		for _, f := range v.State.Findings {
			p.Current = append(p.Current, string(f.Severity)+" "+f.ID+": "+f.Message)
		}
	}
	p.Proposed = p.Proposed[:0]
	for _, c := range v.Changes {
		p.Proposed = append(p.Proposed, jobpage.Change{File: c.File, Line: c.Line, Object: c.Object, Field: c.Field, From: c.From, To: c.To})
	}
	p.Diff = v.Diff
	pageReport(p, v.Report)
}
