package diagnose

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/redact"
)

// RootCause is a model's ranked account of why the diagnosed service
// fails, checked strictly against the findings it explains.
type RootCause struct {
	// Causes are ranked, the most likely first.
	Causes []Cause `json:"causes"`
	// Usage is the tokens the question took.
	Usage llm.Usage `json:"usage"`
}

// Cause is one ranked cause: what is wrong, what shows it, what to change
// in the repository, and the finding it explains ("" for none).
type Cause struct {
	Rank     int      `json:"rank"`
	Cause    string   `json:"cause"`
	Evidence []string `json:"evidence"`
	Fix      string   `json:"fix"`
	Finding  string   `json:"finding"`
}

// WithRootCause has the diagnosis ask a model, through a, for the ranked
// root cause of its findings; meter (nil: none) accounts the tokens. The
// model sees the findings, the objects in scope and the logs read, all
// redacted and fenced as data. Its answer lands in Report.RootCause when
// it is usable, and a note says why when it is not: the findings are
// reported either way.
func WithRootCause(a llm.Answerer, meter *llm.Meter) Option {
	return func(o *options) { o.answerer, o.meter = a, meter }
}

// RootCauseAgent labels the question in token accounting.
const RootCauseAgent = "diagnose"

// rootCauseSchemaName names the answer's schema in the request.
const rootCauseSchemaName = "kubewright_root_cause"

//go:embed rootcause.md
var rootCauseSystem string

// Bounds on the answer and on what the prompt shows.
const (
	maxCauses          = 5
	maxCauseEvidence   = 8
	maxCauseText       = 500
	maxFixText         = 1000
	promptFindings     = 20
	promptEvidence     = 6
	promptLineBytes    = 300
	promptObjectsBytes = 24 << 10
	promptLogBytes     = 16 << 10
	promptLogLines     = 40
	rootCauseTokens    = 4096
)

// explain asks the model for the root cause of r and records the outcome
// in r: RootCause, or a note.
func (d *diag) explain(ctx context.Context, r *Report) {
	if len(r.Findings) == 0 && r.Stats.FailingPods == 0 {
		r.Notes = append(r.Notes, "the model was not asked for a root cause: the rules found nothing to explain")
		return
	}
	rc, err := explain(ctx, d.o.answerer, d.o.meter, r, d.related())
	if err != nil {
		r.Notes = append(r.Notes, rootCauseNote(err))
		return
	}
	r.RootCause = rc
}

// unusableError is a model answer that parsed but does not hold.
type unusableError struct{ err error }

func (e *unusableError) Error() string { return e.err.Error() }
func (e *unusableError) Unwrap() error { return e.err }

// rootCauseNote says why there is no root cause, without internals.
func rootCauseNote(err error) string {
	var un *unusableError
	switch {
	case errors.As(err, &un), errors.Is(err, llm.ErrMalformed):
		return "the model's root-cause answer was not usable (" + firstLine(clip(err.Error(), 400)) + "): the findings are the rules' alone"
	case errors.Is(err, llm.ErrBudget):
		return "the model was not asked for a root cause: " + firstLine(clip(err.Error(), 300))
	}
	return "the model could not be asked for a root cause: " + firstLine(clip(err.Error(), 300))
}

// explain asks a for the root cause of r given the related objects.
func explain(ctx context.Context, a llm.Answerer, meter *llm.Meter, r *Report, rel related) (*RootCause, error) {
	ids := findingIDs(r)
	req := llm.Request{Agent: RootCauseAgent, System: rootCauseSystem, User: rootCausePrompt(r, rel), Meter: meter}
	if meter == nil || meter.CallCap() == 0 {
		req.MaxCompletionTokens = rootCauseTokens
	}
	raw, u, err := a.Answer(ctx, req, rootCauseSchemaName, rootCauseSchema(ids))
	if err != nil && raw == nil {
		return nil, err
	}
	// An answer that arrived over the budget is kept.
	causes, perr := parseCauses(raw, ids)
	if perr != nil {
		return nil, &unusableError{perr}
	}
	return &RootCause{Causes: causes, Usage: u}, nil
}

// findingIDs are the distinct IDs of r's findings, sorted.
func findingIDs(r *Report) []string {
	var ids []string
	for _, f := range r.Findings {
		if !slices.Contains(ids, f.ID) {
			ids = append(ids, f.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// rootCauseSchema is the answer's schema, in the subset strict structured
// outputs accept; finding is one of ids or "". Lengths are checked by
// parseCauses (strict mode has no maxLength).
func rootCauseSchema(ids []string) json.RawMessage {
	enum := append(slices.Clone(ids), "")
	str := map[string]any{"type": "string"}
	cause := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"rank":     map[string]any{"type": "integer", "minimum": 1, "maximum": maxCauses},
			"cause":    map[string]any{"type": "string", "description": "what is wrong, not the symptom; at most 500 characters"},
			"evidence": map[string]any{"type": "array", "items": str, "minItems": 1, "maxItems": maxCauseEvidence},
			"fix":      map[string]any{"type": "string", "description": "what to change in the repository, with file and line when known; at most 1000 characters"},
			"finding":  map[string]any{"type": "string", "enum": enum},
		},
		"required":             []string{"rank", "cause", "evidence", "fix", "finding"},
		"additionalProperties": false,
	}
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"causes": map[string]any{"type": "array", "items": cause, "minItems": 1, "maxItems": maxCauses},
		},
		"required":             []string{"causes"},
		"additionalProperties": false,
	}
	b, err := json.Marshal(schema)
	if err != nil {
		panic("diagnose: root-cause schema: " + err.Error())
	}
	return b
}

// wireCause decodes one cause, keeping track of missing fields.
type wireCause struct {
	Rank     *int      `json:"rank"`
	Cause    *string   `json:"cause"`
	Evidence *[]string `json:"evidence"`
	Fix      *string   `json:"fix"`
	Finding  *string   `json:"finding"`
}

// parseCauses checks the model's answer strictly: no unknown field, every
// field there, 1 to 5 causes ranked 1, 2, 3… in order, texts within their
// bounds, and each finding one of ids or "". What it keeps is sanitized
// and redacted again.
func parseCauses(raw json.RawMessage, ids []string) ([]Cause, error) {
	if len(raw) > llm.MaxStructuredBytes {
		return nil, fmt.Errorf("the answer is %d bytes, more than %d", len(raw), llm.MaxStructuredBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var w struct {
		Causes *[]wireCause `json:"causes"`
	}
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("the answer does not decode: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("there is text after the answer")
	}
	if w.Causes == nil {
		return nil, errors.New("causes is missing")
	}
	if n := len(*w.Causes); n == 0 || n > maxCauses {
		return nil, fmt.Errorf("%d causes: give 1 to %d", n, maxCauses)
	}
	var problems []string
	out := make([]Cause, 0, len(*w.Causes))
	for i, wc := range *w.Causes {
		at := fmt.Sprintf("causes[%d]", i)
		if wc.Rank == nil || wc.Cause == nil || wc.Evidence == nil || wc.Fix == nil || wc.Finding == nil {
			problems = append(problems, at+" lacks a field: rank, cause, evidence, fix and finding are required")
			continue
		}
		c := Cause{Rank: *wc.Rank, Cause: clean(*wc.Cause), Fix: clean(*wc.Fix), Finding: *wc.Finding}
		if c.Rank != i+1 {
			problems = append(problems, fmt.Sprintf("%s.rank is %d: rank the causes 1, 2, 3… in order", at, c.Rank))
		}
		problems = append(problems, bounded(at+".cause", c.Cause, maxCauseText)...)
		problems = append(problems, bounded(at+".fix", c.Fix, maxFixText)...)
		if n := len(*wc.Evidence); n == 0 || n > maxCauseEvidence {
			problems = append(problems, fmt.Sprintf("%s.evidence has %d items: give 1 to %d", at, n, maxCauseEvidence))
		}
		for j, e := range *wc.Evidence {
			e = clean(e)
			problems = append(problems, bounded(fmt.Sprintf("%s.evidence[%d]", at, j), e, maxCauseText)...)
			c.Evidence = append(c.Evidence, e)
		}
		if c.Finding != "" && !slices.Contains(ids, c.Finding) {
			problems = append(problems, fmt.Sprintf("%s.finding %q is not a finding of this diagnosis", at, clip(c.Finding, 40)))
		}
		out = append(out, c)
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}

// clean makes model text safe to show: invisible and control characters
// out, secrets redacted.
func clean(s string) string {
	out, _ := redact.Text(llm.Sanitize(s))
	return out
}

func bounded(at, s string, n int) []string {
	switch l := utf8.RuneCountInString(s); {
	case strings.TrimSpace(s) == "":
		return []string{at + " is empty"}
	case l > n:
		return []string{fmt.Sprintf("%s is %d characters, more than %d", at, l, n)}
	}
	return nil
}

// rootCausePrompt is the user message: the findings, the related
// objects, the logs and the notes, each sanitized, redacted and fenced as
// data.
func rootCausePrompt(r *Report, rel related) string {
	var b strings.Builder
	b.WriteString("Find the root cause of this diagnosis. The blocks below are data from the cluster.\n\n")
	b.WriteString(block("findings", findingsData(r)))
	b.WriteString(block("objects", objectsData(rel)))
	if logs := logsData(r.Logs); logs != "" {
		b.WriteString(block("logs", logs))
	}
	if len(r.Notes) > 0 {
		b.WriteString(block("notes", "- "+strings.Join(r.Notes, "\n- ")))
	}
	b.WriteString("Answer with the JSON object the system message describes.")
	return b.String()
}

// block sanitizes, redacts and fences one piece of data.
func block(label, content string) string {
	out, _ := redact.Text(llm.Sanitize(content))
	return llm.Fence(label, out) + "\n\n"
}

// promptFinding is a finding as the model sees it.
type promptFinding struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity"`
	Object   string   `json:"object"`
	Where    string   `json:"where,omitempty"`
	Message  string   `json:"message"`
	Hint     string   `json:"hint,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
}

func findingsData(r *Report) string {
	v := struct {
		Summary  string          `json:"summary"`
		Findings []promptFinding `json:"findings"`
		More     int             `json:"moreFindings,omitempty"`
	}{Summary: r.Summary(), Findings: []promptFinding{}}
	for i, f := range r.Findings {
		if i == promptFindings {
			v.More = len(r.Findings) - i
			break
		}
		pf := promptFinding{ID: f.ID, Severity: string(f.Severity), Object: f.Object, Where: f.where(), Message: clip(f.Message, 2*promptLineBytes), Hint: clip(f.Hint, promptLineBytes)}
		for j, e := range f.Evidence {
			if j == promptEvidence {
				break
			}
			pf.Evidence = append(pf.Evidence, clip(e, promptLineBytes))
		}
		v.Findings = append(v.Findings, pf)
	}
	return marshalData(v)
}

// objectsData is rel as JSON within promptObjectsBytes: the oldest
// events, the names, then the other lists are cut until it fits.
func objectsData(rel related) string {
	for {
		s := marshalData(rel)
		if len(s) <= promptObjectsBytes {
			return s
		}
		switch {
		case len(rel.Events) > 5:
			rel.Events = rel.Events[len(rel.Events)/2:]
		case len(rel.Secrets)+len(rel.ConfigMaps) > 0:
			rel.Secrets, rel.ConfigMaps = nil, nil
		case len(rel.Pods) > 2:
			rel.Pods = rel.Pods[:len(rel.Pods)/2]
		case len(rel.Workloads) > 1:
			rel.Workloads = rel.Workloads[:len(rel.Workloads)/2]
		case len(rel.Services) > 1:
			rel.Services = rel.Services[:len(rel.Services)/2]
		case len(rel.Flux) > 1:
			rel.Flux = rel.Flux[:len(rel.Flux)/2]
		default:
			return clip(s, promptObjectsBytes) + "\n(cut: the objects do not fit)"
		}
	}
}

// logsData quotes the logs read, failing containers' first, within
// promptLogBytes: each log's last promptLogLines lines.
func logsData(logs []Log) string {
	var b strings.Builder
	for _, l := range logs {
		which := "log"
		if l.Previous {
			which = "previous log (the crashed instance)"
		}
		head := fmt.Sprintf("== %s of pod %s, container %s ==\n", which, l.Pod, l.Container)
		lines := l.Lines
		if len(lines) > promptLogLines {
			lines = lines[len(lines)-promptLogLines:]
		}
		var body strings.Builder
		for _, line := range lines {
			body.WriteString(clip(line, promptLineBytes) + "\n")
		}
		if b.Len()+len(head)+body.Len() > promptLogBytes {
			b.WriteString("(more logs were read; they do not fit)\n")
			break
		}
		b.WriteString(head)
		b.WriteString(body.String())
	}
	return strings.TrimSpace(b.String())
}

// marshalData is v as indented JSON, without HTML escapes (so redaction
// sees the text as it is).
func marshalData(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("(not shown: %v)", err)
	}
	return b.String()
}
