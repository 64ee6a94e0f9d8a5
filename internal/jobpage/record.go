// Package jobpage is the page of one job at /jobs/<id>: the request, the
// plan, the cluster's current state beside the proposed changes, the
// Mermaid diagram (rendered in the browser by the Mermaid script the
// binary carries), the validation table, the findings and the diff.
//
// Only people who may read the job's repository on GitHub see it: the
// viewer signs in with the App's OAuth credentials, and the callback asks
// GitHub, with the viewer's token, for the repository. The token is then
// dropped: a signed cookie keeps "login may read owner/repo until T", and
// another repository, or an expired grant, signs in again (GitHub
// approves a returning person without a prompt).
//
// Records come from the job runner through a [Store]; every text in them
// is data, escaped by html/template, and bounded when stored.
package jobpage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubewright/kubewright/internal/finding"
)

// Record is what a job page shows.
type Record struct {
	ID          string            `json:"id"`      // the job's delivery ID (X-GitHub-Delivery), [A-Za-z0-9-]{1,64}
	Repo        string            `json:"repo"`    // owner/name
	Number      int               `json:"number"`  // issue or pull request
	Request     string            `json:"request"` // the command line, e.g. "/ai scale cart 3"
	Actor       string            `json:"actor"`
	Status      string            `json:"status"`            // queued, running, done, failed
	Summary     string            `json:"summary,omitempty"` // one paragraph, plain text
	Current     []string          `json:"current,omitempty"` // current state lines (cluster), may be empty
	Proposed    []Change          `json:"proposed,omitempty"`
	Mermaid     string            `json:"mermaid,omitempty"` // Mermaid source, may be empty
	Stages      []Stage           `json:"stages,omitempty"`  // the validation table
	Findings    []finding.Finding `json:"findings,omitempty"`
	Diff        string            `json:"diff,omitempty"`         // unified diff
	PullRequest string            `json:"pull_request,omitempty"` // http(s) URL, may be empty
	Created     time.Time         `json:"created"`
	Updated     time.Time         `json:"updated"`
	// Omitted says what storing the record cut to stay within its bounds
	// ("diff cut at 256 KiB", "12 more findings"); the page shows it.
	Omitted []string `json:"omitted,omitempty"`
}

// Change is one proposed edit, at the line a person would change.
type Change struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Object string `json:"object,omitempty"` // Kind/namespace/name
	Field  string `json:"field,omitempty"`  // e.g. spec.replicas
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
}

// Stage is one row of the validation table; Skipped gives the reason a
// stage did not run ("" when it ran).
type Stage struct {
	Name     string `json:"name"`
	Skipped  string `json:"skipped,omitempty"`
	Errors   int    `json:"errors"`
	Warnings int    `json:"warnings"`
}

// Store keeps job records. Put replaces the record of the same ID unless
// the stored one is newer (Updated), so a late writer cannot roll a
// page back; it bounds the record first (see [Bound]).
type Store interface {
	Put(ctx context.Context, r Record) error
	Get(ctx context.Context, id string) (Record, bool, error)
}

// Bounds of a stored record. A record within them marshals to well under
// 2 MiB.
const (
	MaxDiff        = 256 << 10
	MaxFindings    = 200
	MaxChanges     = 200
	MaxCurrent     = 200
	MaxStages      = 50
	MaxMermaid     = 32 << 10
	maxRequest     = 1 << 10
	maxActor       = 100
	maxSummary     = 8 << 10
	maxLine        = 512 // a current-state line, a change's field
	maxMessage     = 1 << 10
	maxHint        = 512
	maxShort       = 256 // names, IDs, objects
	maxPullRequest = 2 << 10
)

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	repoPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	statuses    = map[string]bool{"queued": true, "running": true, "done": true, "failed": true}
)

// ValidID tells whether id can name a job page.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Check reports what makes r unstorable: its ID, repository, status or
// pull request URL.
func (r Record) Check() error {
	var errs []error
	if !ValidID(r.ID) {
		errs = append(errs, fmt.Errorf("job page ID %q: want 1 to 64 letters, digits or dashes (the delivery ID)", clip(r.ID, 80)))
	}
	if name := r.Repo[strings.IndexByte(r.Repo, '/')+1:]; !repoPattern.MatchString(r.Repo) || name == "." || name == ".." {
		errs = append(errs, fmt.Errorf("job page %s: repository %q is not owner/name", clip(r.ID, 80), clip(r.Repo, 200)))
	}
	if !statuses[r.Status] {
		errs = append(errs, fmt.Errorf("job page %s: status %q: use queued, running, done or failed", clip(r.ID, 80), clip(r.Status, 40)))
	}
	if r.PullRequest != "" && !httpURL(r.PullRequest) {
		errs = append(errs, fmt.Errorf("job page %s: pull request %q is not an http(s) URL", clip(r.ID, 80), clip(r.PullRequest, 200)))
	}
	if r.Number < 0 {
		errs = append(errs, fmt.Errorf("job page %s: number %d is negative", clip(r.ID, 80), r.Number))
	}
	return errors.Join(errs...)
}

// httpURL tells whether s is an absolute http or https URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// Bound returns r within the store's bounds: texts valid UTF-8 without
// NUL bytes and cut to their limits, lists cut to theirs, the diff cut at
// a line; what it cut is listed in Omitted. A Mermaid source over
// MaxMermaid is dropped whole (a cut one would not parse). Zero times
// become now.
func Bound(r Record, now time.Time) Record {
	out := r
	out.Omitted = nil
	for _, o := range r.Omitted {
		if len(out.Omitted) < 10 {
			out.Omitted = append(out.Omitted, clip(clean(o), maxShort))
		}
	}
	omit := func(format string, args ...any) { out.Omitted = append(out.Omitted, fmt.Sprintf(format, args...)) }
	out.Repo, out.Request, out.Actor = clean(r.Repo), clip(clean(r.Request), maxRequest), clip(clean(r.Actor), maxActor)
	out.Summary = clip(clean(r.Summary), maxSummary)

	out.Current = nil
	for i, l := range r.Current {
		if i == MaxCurrent {
			omit("%d more current-state lines", len(r.Current)-MaxCurrent)
			break
		}
		out.Current = append(out.Current, clip(clean(l), maxLine))
	}
	out.Proposed = nil
	for i, c := range r.Proposed {
		if i == MaxChanges {
			omit("%d more proposed changes", len(r.Proposed)-MaxChanges)
			break
		}
		out.Proposed = append(out.Proposed, Change{File: clip(clean(c.File), maxLine), Line: max(c.Line, 0),
			Object: clip(clean(c.Object), maxShort), Field: clip(clean(c.Field), maxShort),
			From: clip(clean(c.From), maxLine), To: clip(clean(c.To), maxLine)})
	}
	out.Stages = nil
	for i, s := range r.Stages {
		if i == MaxStages {
			omit("%d more validation stages", len(r.Stages)-MaxStages)
			break
		}
		out.Stages = append(out.Stages, Stage{Name: clip(clean(s.Name), maxShort), Skipped: clip(clean(s.Skipped), maxLine),
			Errors: max(s.Errors, 0), Warnings: max(s.Warnings, 0)})
	}
	out.Findings = nil
	for i, f := range r.Findings {
		if i == MaxFindings {
			omit("%d more findings", len(r.Findings)-MaxFindings)
			break
		}
		out.Findings = append(out.Findings, finding.Finding{ID: clip(clean(f.ID), maxShort), Severity: finding.Severity(clip(clean(string(f.Severity)), 16)),
			Stage: clip(clean(f.Stage), maxShort), File: clip(clean(f.File), maxLine), Line: max(f.Line, 0),
			Object: clip(clean(f.Object), maxShort), Message: clip(clean(f.Message), maxMessage), Hint: clip(clean(f.Hint), maxHint)})
	}
	out.Mermaid = clean(r.Mermaid)
	if len(out.Mermaid) > MaxMermaid {
		omit("the diagram (%d KiB, over %d KiB)", len(out.Mermaid)>>10, MaxMermaid>>10)
		out.Mermaid = ""
	}
	out.Diff = clean(r.Diff)
	if len(out.Diff) > MaxDiff {
		cut := strings.LastIndexByte(out.Diff[:MaxDiff], '\n') + 1
		omit("the diff after %d KiB (of %d KiB)", cut>>10, len(out.Diff)>>10)
		out.Diff = out.Diff[:cut]
	}
	if len(out.PullRequest) > maxPullRequest {
		out.PullRequest = ""
		omit("the pull request link (over %d bytes)", maxPullRequest)
	}
	if out.Updated.IsZero() {
		out.Updated = now
	}
	if out.Created.IsZero() {
		out.Created = out.Updated
	}
	out.Created, out.Updated = out.Created.UTC(), out.Updated.UTC()
	return out
}

// clean makes s valid UTF-8 without NUL bytes (PostgreSQL stores neither).
func clean(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
