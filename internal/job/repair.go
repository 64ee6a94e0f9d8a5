package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/author/rules"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/gocheck"
)

// Outcome is how the model's part of a walk ended.
type Outcome string

const (
	// Valid: the change passed validation (no new errors).
	Valid Outcome = "valid"
	// Failing: attempts ran out with errors left: a draft pull request.
	Failing Outcome = "failing"
	// Stopped: a budget or the provider stopped the job before an answer
	// validated. A free-text request then proposes nothing; containerize
	// keeps its draft without the model's edits.
	Stopped Outcome = "stopped"
	// Nothing: no usable change from the model.
	Nothing Outcome = "nothing"
)

// Attempt is one round of model edits and validation, or the review.
type Attempt struct {
	N       int             `json:"n"`
	Agent   string          `json:"agent"`
	Summary string          `json:"summary,omitempty"`
	Changed []string        `json:"changed,omitempty"`
	Refused []agent.Refusal `json:"refused,omitempty"`
	// Findings are the errors and warnings the change added (findings the
	// repository had before are not the change's fault).
	Findings []finding.Finding `json:"findings"`
	Usage    llm.Usage         `json:"usage"`
}

// AgentRun is what the model did in one walk: a free-text request, or the
// repair of a containerize draft that did not validate.
type AgentRun struct {
	Outcome Outcome `json:"outcome"`
	// Intent is the free-text request ("" for containerize's repair).
	Intent string `json:"intent"`
	// Agent is the first edit's agent (repair for containerize).
	Agent string `json:"agent"`
	// Reason explains Stopped and Nothing for people; Failure names it
	// (BudgetExhausted, ModelFailed, ValidationFailed).
	Reason  string `json:"reason,omitempty"`
	Failure string `json:"failure,omitempty"`
	// Files is the whole change over the repository: the draft and the
	// model's edits.
	Files    []draft.File `json:"files"`
	Attempts []Attempt    `json:"attempts"`
	// Summary, Assumptions and Risks come from the agents and the review.
	Summary     string   `json:"summary,omitempty"`
	Assumptions []string `json:"assumptions,omitempty"`
	Risks       []string `json:"risks,omitempty"`
	// Report is the validation of Files; Findings there include the
	// repository's own, NewFindings only those the change added.
	Report      *validate.Report     `json:"-"`
	NewFindings []finding.Finding    `json:"newFindings,omitempty"`
	Model       *analyze.SystemModel `json:"model"`
	Calls       []llm.Call           `json:"calls"`
	Usage       llm.Usage            `json:"usage"`
	// Redactions counts secrets removed from the prompts.
	Redactions int `json:"redactions"`
	// Policy is the write policy the edits were held to, including the
	// service directories; the change is applied with it.
	Policy draft.Policy `json:"-"`
}

// Named reasons a run ends without a valid change.
const (
	reasonBudget     = "BudgetExhausted"
	reasonModel      = "ModelFailed"
	reasonValidation = "ValidationFailed"
)

// attempts is the model's part of a walk over a stage: the first edit
// (free text) or none (containerize, whose draft is attempt zero), then
// repairs of the findings the change added, validated each time, at most
// max attempts in all.
type attempts struct {
	w     *walk
	st    *draft.Stage
	sess  *agent.Session
	run   *AgentRun
	aopts author.Options
	// known are the findings of the baseline: not the model's to fix.
	known map[string]bool
	// fallback is the change to keep when the model stops without a
	// validated answer (containerize: its draft), nil for nothing, and
	// fallbackReport its validation.
	fallback       []draft.File
	fallbackReport *validate.Report
}

// loop runs the attempts. With first, attempt 1 is the session's first
// edit; otherwise every attempt repairs, starting from current (the
// findings the draft added).
func (a *attempts) loop(ctx context.Context, first bool, current []finding.Finding) error {
	run := a.run
	var edited []string
	for n := 1; n <= a.w.attempts; n++ {
		var prop *agent.Proposal
		if n == 1 && first {
			prop = a.sess.Edit(ctx)
		} else {
			prop = a.sess.Repair(ctx, n, current, edited)
		}
		att := Attempt{N: n, Agent: prop.Agent, Usage: prop.Usage}
		if !prop.Answered {
			run.stop(prop.Err, a.fallback != nil)
			run.Attempts = append(run.Attempts, att)
			return nil
		}
		att.Summary = prop.Summary
		run.Assumptions = append(run.Assumptions, prop.Assumptions...)
		run.Risks = append(run.Risks, prop.Risks...)
		if n == 1 && first {
			run.Summary = prop.Summary
		}
		if len(prop.Files) > 0 {
			if _, err := draft.Apply(a.st.Dir(), prop.Files, draft.ApplyOptions{Force: true, Policy: a.sess.Policy()}); err != nil {
				return fmt.Errorf("apply attempt %d: %w", n, err)
			}
		}
		att.Changed, att.Refused = prop.Changed(), prop.Refused
		edited = att.Changed
		if n == 1 && first && run.Agent == agent.AgentServiceCodegen && a.sess.Created() != "" {
			// The new service gets its Dockerfile, k8s and gitops entries
			// from the deterministic author, as any detected service does.
			if err := authorNew(ctx, a.st, a.sess.Created(), a.aopts); err != nil {
				a.w.log.Warn("author the new service", "err", err)
			}
		}
		var extra []validate.Check
		if !a.w.noBuild {
			extra = goCheck(a.w.goCheck, a.st)
		}
		rep, err := a.w.validate(ctx, a.st.Dir(), extra...)
		if err != nil {
			return fmt.Errorf("validate attempt %d: %w", n, err)
		}
		current = added(rep.Findings, a.known)
		att.Findings = current
		run.Attempts = append(run.Attempts, att)
		run.Report, run.NewFindings = rep, current
		a.w.log.Info("attempt validated", "attempt", n, "agent", prop.Agent, "changed", len(att.Changed), "refused", len(att.Refused), "new_findings", len(current))
		if finding.AtLeast(current, finding.Error) == 0 {
			run.Outcome, run.Failure = Valid, ""
			return nil
		}
		run.Outcome, run.Failure = Failing, reasonValidation
		if stopped, _ := a.sess.Meter().Exhausted(); stopped || prop.Err != nil {
			// The answer arrived but took the job over a budget: no
			// repair call may follow.
			cerr := prop.Err
			if cerr == nil {
				cerr = llm.ErrBudget
			}
			run.stop(cerr, a.fallback != nil)
			return nil
		}
	}
	return nil
}

// finish settles the run after the loop: what the change is, whether the
// model changed anything, and the review of what it did.
func (a *attempts) finish(ctx context.Context) error {
	run := a.run
	defer func() {
		m := a.sess.Meter()
		run.Calls, run.Usage, run.Redactions, run.Policy = m.Calls(), m.Total(), a.sess.Redactions(), a.sess.Policy()
	}()
	if run.Outcome == Stopped && a.fallback != nil {
		if err := a.st.Restore(a.fallback); err != nil {
			return err
		}
		run.Report, run.NewFindings = a.fallbackReport, added(a.fallbackReport.Findings, a.known)
	}
	if run.Outcome == "" {
		run.Outcome = Nothing
	}
	files, err := a.st.Changes()
	if err != nil {
		return err
	}
	if run.Outcome == Stopped && a.fallback == nil {
		files = nil
	}
	run.Files = files
	if !modelChanged(run) {
		if run.Outcome != Stopped {
			run.Outcome, run.Failure = Nothing, ""
		}
		if run.Reason == "" {
			run.Reason = "the model proposed no change kubewright could apply"
		}
		if a.fallback == nil {
			run.Files = nil
		}
		return nil
	}
	if run.Outcome != Stopped {
		a.review(ctx)
	}
	return nil
}

// review asks the review agent about the final change, unless a budget
// is spent; its summary and risks go into the pull request.
func (a *attempts) review(ctx context.Context) {
	if stopped, _ := a.sess.Meter().Exhausted(); stopped {
		return
	}
	run := a.run
	prop := a.sess.Review(ctx, run.Files, run.NewFindings)
	att := Attempt{N: len(run.Attempts) + 1, Agent: prop.Agent, Usage: prop.Usage, Refused: prop.Refused}
	switch {
	case prop.Answered:
		att.Summary = prop.Summary
		run.Risks = append(run.Risks, prop.Risks...)
		if prop.Summary != "" {
			run.Summary = strings.TrimSpace(run.Summary + "\n\n" + prop.Summary)
		}
	case prop.Err != nil:
		att.Summary = "review skipped: " + safe(prop.Err)
	}
	att.Findings = run.NewFindings
	run.Attempts = append(run.Attempts, att)
}

// stop records why the loop ended before a validated answer; keeps says
// whether the draft stays proposed without the model's edits.
func (r *AgentRun) stop(err error, keeps bool) {
	r.Outcome, r.Failure = Stopped, reasonModel
	switch {
	case errors.Is(err, llm.ErrBudget):
		r.Reason, r.Failure = "stopped at the token budget: "+safe(err), reasonBudget
	case errors.Is(err, llm.ErrMalformed):
		r.Reason = "the model's answer was not a valid proposal, even after a corrective retry: " + safe(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		r.Reason = "cancelled"
	case err != nil:
		r.Reason = "the model provider failed: " + safe(err)
	}
	if keeps {
		r.Reason += "; kubewright's draft is proposed without the model's edits"
	} else {
		r.Reason += "; no change from the model passed validation, so nothing is proposed"
	}
}

// modelChanged reports whether any attempt applied a model edit.
func modelChanged(r *AgentRun) bool {
	for _, a := range r.Attempts {
		if len(a.Changed) > 0 {
			return len(r.Files) > 0
		}
	}
	return false
}

// keys indexes findings by what stays stable when lines move.
func keys(fs []finding.Finding) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		m[key(f)] = true
	}
	return m
}

func key(f finding.Finding) string { return f.ID + "|" + f.File + "|" + f.Object + "|" + f.Message }

// added are the errors and warnings not present in the baseline.
func added(fs []finding.Finding, known map[string]bool) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Severity.Rank() >= finding.Warning.Rank() && !known[key(f)] {
			out = append(out, f)
		}
	}
	return out
}

// goCheck returns the Go build stage for every Go module the change
// creates or edits outside the draft's parts, or nothing.
func goCheck(c gocheck.Check, st *draft.Stage) []validate.Check {
	files, err := st.Changes()
	if err != nil {
		return nil
	}
	mods := map[string]bool{}
	for _, f := range files {
		if f.Part != "" || f.Delete {
			continue
		}
		for dir := path.Dir(f.Path); ; dir = path.Dir(dir) {
			if _, err := os.Stat(filepath.Join(st.Dir(), filepath.FromSlash(dir), "go.mod")); err == nil {
				mods[dir] = true
				break
			}
			if dir == "." || dir == "/" {
				break
			}
		}
	}
	if len(mods) == 0 {
		return nil
	}
	c.Modules = nil
	for m := range mods {
		c.Modules = append(c.Modules, m)
	}
	sort.Strings(c.Modules)
	return []validate.Check{c}
}

// authorNew runs the deterministic author for a service the model created
// in the stage.
func authorNew(ctx context.Context, st *draft.Stage, dir string, opts author.Options) error {
	m, err := analyze.New().Analyze(ctx, st.Dir())
	if err != nil {
		return err
	}
	var names []string
	for _, s := range m.Services {
		if s.Path == dir {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("%s/ was not detected as a service", dir)
	}
	opts.Services = names
	d, err := rules.New().Author(ctx, m, opts)
	if err != nil {
		return err
	}
	_, err = draft.Apply(st.Dir(), d.Files, draft.ApplyOptions{})
	return err
}
