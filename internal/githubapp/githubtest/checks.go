package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Annotation is a check run annotation as the client sent it.
type Annotation struct {
	Path        string `json:"path"`
	StartLine   int    `json:"start_line"`
	EndLine     int    `json:"end_line"`
	StartColumn *int   `json:"start_column,omitempty"`
	EndColumn   *int   `json:"end_column,omitempty"`
	Level       string `json:"annotation_level"` // notice, warning or failure
	Title       string `json:"title,omitempty"`
	Message     string `json:"message"`
	RawDetails  string `json:"raw_details,omitempty"`
}

// maxAnnotationsPerRequest is GitHub's limit on annotations in one request;
// a check run collects those of every request.
const maxAnnotationsPerRequest = 50

type checkRunInput struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	Conclusion  *string `json:"conclusion"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       *string      `json:"title"`
		Summary     *string      `json:"summary"`
		Text        *string      `json:"text"`
		Annotations []Annotation `json:"annotations"`
	} `json:"output"`
}

// apply copies the input onto the check run with GitHub's rules: a
// conclusion completes the run, a completed run needs a conclusion.
func (in *checkRunInput) apply(cr *CheckRun) *reply {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&cr.Name, in.Name)
	set(&cr.DetailsURL, in.DetailsURL)
	set(&cr.ExternalID, in.ExternalID)
	set(&cr.Status, in.Status)
	set(&cr.Conclusion, in.Conclusion)
	for _, ts := range []struct {
		src *string
		dst *time.Time
	}{{in.StartedAt, &cr.StartedAt}, {in.CompletedAt, &cr.CompletedAt}} {
		if ts.src != nil {
			t, err := time.Parse(time.RFC3339, *ts.src)
			if err != nil {
				r := invalid("CheckRun", "invalid", "timestamps must be ISO 8601: "+*ts.src)
				return &r
			}
			*ts.dst = t.UTC()
		}
	}
	if o := in.Output; o != nil {
		set(&cr.Title, o.Title)
		set(&cr.Summary, o.Summary)
		set(&cr.Text, o.Text)
		if len(o.Annotations) > maxAnnotationsPerRequest {
			r := invalid("CheckRun", "invalid", fmt.Sprintf("Only %d annotations are allowed per request, got %d", maxAnnotationsPerRequest, len(o.Annotations)))
			return &r
		}
		for i, a := range o.Annotations {
			if msg := a.problem(); msg != "" {
				r := invalid("CheckRun", "invalid", fmt.Sprintf("output.annotations[%d]: %s", i, msg))
				return &r
			}
		}
		cr.Annotations = append(cr.Annotations[:len(cr.Annotations):len(cr.Annotations)], o.Annotations...)
		cr.AnnotationsCount += len(o.Annotations)
	}
	if cr.Conclusion != "" {
		cr.Status = "completed"
	}
	if cr.Status == "completed" {
		if cr.Conclusion == "" {
			r := invalid("CheckRun", "missing_field", "conclusion is required when status is completed")
			return &r
		}
		if cr.CompletedAt.IsZero() {
			cr.CompletedAt = now()
		}
	}
	return nil
}

func (s *Server) createCheckRun(c *call) reply {
	var in checkRunInput
	if err := decodeBody(c, &in); err != nil {
		return invalid("CheckRun", "invalid", "Problems parsing JSON")
	}
	if in.Name == nil || *in.Name == "" || in.HeadSHA == "" {
		return invalid("CheckRun", "missing_field", "name and head_sha are required")
	}
	if !s.git.hasCommit(c.params["owner"], c.params["repo"], in.HeadSHA) {
		return invalid("CheckRun", "invalid", "No commit found for SHA: "+in.HeadSHA)
	}
	cr := &CheckRun{HeadSHA: in.HeadSHA, Status: "queued", StartedAt: now()}
	if rep := in.apply(cr); rep != nil {
		return *rep
	}
	s.refreshHeads(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	cr.ID = s.id()
	rp.checkRuns = append(rp.checkRuns, cr)
	return reply{status: http.StatusCreated, body: s.checkRunJSON(rp, cr)}
}

func (s *Server) updateCheckRun(c *call) reply {
	var in checkRunInput
	if err := decodeBody(c, &in); err != nil {
		return invalid("CheckRun", "invalid", "Problems parsing JSON")
	}
	id, err := strconv.ParseInt(c.params["check_run_id"], 10, 64)
	if err != nil {
		return notFound()
	}
	s.refreshHeads(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	for _, cr := range rp.checkRuns {
		if cr.ID == id {
			next := *cr
			if rep := in.apply(&next); rep != nil {
				return *rep
			}
			*cr = next
			return reply{status: http.StatusOK, body: s.checkRunJSON(rp, cr)}
		}
	}
	return notFound()
}

// problem is what GitHub refuses in an annotation, "" if nothing.
func (a Annotation) problem() string {
	switch {
	case a.Path == "" || a.Message == "":
		return "path and message are required"
	case a.StartLine < 1 || a.EndLine < a.StartLine:
		return fmt.Sprintf("start_line %d and end_line %d must be lines, start first", a.StartLine, a.EndLine)
	case (a.StartColumn != nil || a.EndColumn != nil) && a.StartLine != a.EndLine:
		return "start_column and end_column are only allowed when start_line equals end_line"
	case a.Level != "notice" && a.Level != "warning" && a.Level != "failure":
		return "annotation_level must be notice, warning or failure"
	}
	return ""
}

func (s *Server) listAnnotations(c *call) reply {
	id, err := strconv.ParseInt(c.params["check_run_id"], 10, 64)
	if err != nil {
		return notFound()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	for _, cr := range rp.checkRuns {
		if cr.ID != id {
			continue
		}
		list := make([]any, 0, len(cr.Annotations))
		for _, a := range cr.Annotations {
			orNil := func(v any, ok bool) any {
				if !ok {
					return nil
				}
				return v
			}
			list = append(list, map[string]any{
				"path": a.Path, "blob_href": fmt.Sprintf("%s/%s/%s/blob/%s/%s", s.URL, rp.owner, rp.name, cr.HeadSHA, a.Path),
				"start_line": a.StartLine, "end_line": a.EndLine,
				"start_column": orNil(a.StartColumn, a.StartColumn != nil), "end_column": orNil(a.EndColumn, a.EndColumn != nil),
				"annotation_level": a.Level, "title": orNil(a.Title, a.Title != ""), "message": a.Message,
				"raw_details": orNil(a.RawDetails, a.RawDetails != ""),
			})
		}
		return paginate(s, c, list)
	}
	return notFound()
}
