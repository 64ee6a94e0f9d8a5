package job

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/author/rules"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/gocheck"
)

// The pipeline every command composes, over a repository directory (a
// clone for a GitHub job, the user's checkout for the CLI):
//
//	analyze → author (the deterministic draft, into a private stage) →
//	validate → first edit and repair by the model (bounded, whenever a
//	model is configured) → the change applied to the repository
//
// Publishing (commit, push, pull request, check run, status) is the
// Runner's tail (publishPR); the CLI prints instead.

// TreeValidator validates the tree in dir with the default stages plus
// the extra ones given (the Go build check of generated modules).
type TreeValidator func(ctx context.Context, dir string, extra ...validate.Check) (*validate.Report, error)

// walk is what one walk needs, whoever runs it: the Runner (each step
// under its stage's deadline) or the CLI.
type walk struct {
	r        *Runner // nil: the CLI's walk, without stage deadlines
	cfg      *config.Repo
	validate TreeValidator
	// model proposes the first edit and the repairs; nil: no model is
	// configured, so a draft that does not validate is published as it is.
	model   agent.Proposer
	meter   *llm.Meter
	goCheck gocheck.Check
	// noBuild: the tree came from a pull request, so nothing in it is
	// built, whatever the model edits (the Go build check stays off).
	noBuild bool
	// attempts bounds the model's attempts (agents.maxAttempts).
	attempts int
	log      *slog.Logger
}

// step runs fn as stage s: under its deadline in a job, directly in the
// CLI.
func step[T any](ctx context.Context, w *walk, s stage, fn func(context.Context) (T, error)) (T, error) {
	if w.r == nil {
		return fn(ctx)
	}
	return runStage(ctx, w.r, s, fn)
}

// settings are the repository's agent settings, as the author takes them.
func (w *walk) settings() agent.Settings {
	return agent.Settings{AllowWorkflows: w.cfg.AllowWorkflows, Paths: w.cfg.Agents.Paths,
		ServicesDir: w.cfg.Agents.ServicesDir, MaxAttempts: w.attempts}
}

// Change is what a walk proposed for a repository and what became of it.
type Change struct {
	// Plan is the analysis and the deterministic draft as it applied.
	Plan *Plan `json:"plan,omitempty"`
	// Run is the model's part; nil when no model took part.
	Run *AgentRun `json:"run,omitempty"`
	// Report is the validation of the final change (nil: not validated).
	Report *validate.Report `json:"-"`
	// Files is what was applied to the repository (or would be, in a dry
	// run), with the draft's kept files; Diff is its unified diff.
	Files []draft.FileResult `json:"files"`
	Diff  string             `json:"-"`
}

// containerizeIntent is what the model is told a containerize's change is
// for: the user asked for the command, not in words of their own.
const containerizeIntent = "Containerize this repository: kubewright's deterministic draft (Dockerfiles, k8s/ and gitops/) must pass validation."

// containerize walks `containerize`: analyze root, apply the deterministic
// draft in a stage, validate it, and when a model is configured and the
// draft added errors (findings the repository did not have before it),
// repair them. The change is then applied to root.
func (w *walk) containerize(ctx context.Context, root string, flags author.Options) (*Change, error) {
	st, err := draft.NewStage(root)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	aopts := MergeOptions(w.cfg, flags)
	type authored struct {
		model *analyze.SystemModel
		draft *draft.Draft
		plan  *Plan
	}
	a, err := step(ctx, w, stageAuthor, func(ctx context.Context) (authored, error) {
		m, err := analyze.New().Analyze(ctx, root)
		if err != nil {
			return authored{}, err
		}
		plan, d, err := draftInto(ctx, m, st.Dir(), w.cfg, aopts, false, false)
		return authored{m, d, plan}, err
	})
	if err != nil {
		return nil, err
	}
	ch := &Change{Plan: a.plan, Files: a.plan.Files}
	if !a.plan.writes() {
		return ch, nil
	}
	if ch.Report, err = w.validate(ctx, st.Dir()); err != nil {
		return nil, err
	}
	pol := writePolicy(w.cfg)
	if w.model != nil && finding.AtLeast(ch.Report.Findings, finding.Error) > 0 {
		run, err := w.repairDraft(ctx, root, st, a.model, a.draft, aopts, ch.Report)
		if err != nil {
			return nil, err
		}
		if run != nil {
			// The agents' edits were held to their own policy; the change
			// is applied with the job's (which may allow the image CI
			// workflow the draft wrote).
			ch.Run, ch.Report, pol = run, run.Report, run.Policy
			pol.ImageWorkflow = w.cfg.Containerize.ImageCI()
		}
	}
	files, err := st.Changes()
	if err != nil {
		return nil, err
	}
	applied, err := draft.Apply(root, files, draft.ApplyOptions{Force: true, Policy: pol})
	if err != nil {
		return nil, err
	}
	ch.Files, ch.Diff = mergeResults(a.plan.Files, applied.Files), applied.Diff
	return ch, nil
}

// repairDraft asks the repair agent to fix the errors a containerize
// draft added to the repository (report: the draft's validation). It
// returns nil when the errors were all the repository's own.
func (w *walk) repairDraft(ctx context.Context, root string, st *draft.Stage, m *analyze.SystemModel, d *draft.Draft, aopts author.Options, report *validate.Report) (*AgentRun, error) {
	base, err := w.validate(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("validate the repository before the draft: %w", err)
	}
	known := keys(base.Findings)
	current := added(report.Findings, known)
	if finding.AtLeast(current, finding.Error) == 0 {
		return nil, nil
	}
	return w.repairStage(ctx, st, agent.Input{Intent: containerizeIntent, Model: m, Draft: d, Repo: root, Dir: st.Dir(), Settings: w.settings()},
		aopts, known, current, report)
}

// repairStage runs the repair agent over the change the stage holds
// (report is its validation, current the errors and warnings it added
// over known), at most w.attempts times, validating each answer. When
// the model stops before an answer validates, the stage goes back to
// the change it held, which stays proposed.
func (w *walk) repairStage(ctx context.Context, st *draft.Stage, in agent.Input, aopts author.Options, known map[string]bool, current []finding.Finding, report *validate.Report) (*AgentRun, error) {
	fallback, err := st.Changes()
	if err != nil {
		return nil, err
	}
	in.Meter = w.meter
	return step(ctx, w, stageAgents, func(ctx context.Context) (*AgentRun, error) {
		sess := agent.NewSession(w.model, in)
		run := &AgentRun{Agent: agent.AgentRepair, Model: in.Model, Report: report, NewFindings: current}
		a := &attempts{w: w, st: st, sess: sess, run: run, aopts: aopts, known: known, fallback: fallback, fallbackReport: report}
		if err := a.loop(ctx, false, current); err != nil {
			return nil, err
		}
		if err := a.finish(ctx); err != nil {
			return nil, err
		}
		if run.Outcome == Stopped && ctx.Err() != nil {
			return nil, ctx.Err() // stopped by the stage's deadline
		}
		return run, nil
	})
}

// do walks a free-text request: analyze root, route the intent to an
// agent, apply the deterministic draft in a stage (the starting point),
// validate it as the baseline (its findings are not the model's to fix),
// then the first edit and the repairs, and the review. A change is
// applied to root (a dry run computes it only).
func (w *walk) do(ctx context.Context, root, intent, issue string, flags author.Options, dryRun bool) (*Change, error) {
	aopts := MergeOptions(w.cfg, flags)
	m, err := step(ctx, w, stageAuthor, func(ctx context.Context) (*analyze.SystemModel, error) {
		return analyze.New().Analyze(ctx, root)
	})
	if err != nil {
		return nil, err
	}
	agentName, newName, err := agent.Route(intent, m)
	if err != nil {
		return &Change{Run: &AgentRun{Outcome: Nothing, Intent: intent, Reason: err.Error(), Model: m}}, nil
	}
	st, err := draft.NewStage(root)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	type authored struct {
		plan  *Plan
		draft *draft.Draft
	}
	a, err := step(ctx, w, stageAuthor, func(ctx context.Context) (authored, error) {
		plan, d, err := draftInto(ctx, m, st.Dir(), w.cfg, aopts, false, false)
		return authored{plan, d}, err
	})
	if err != nil {
		return nil, err
	}
	run, err := step(ctx, w, stageAgents, func(ctx context.Context) (*AgentRun, error) {
		base, err := w.validate(ctx, st.Dir())
		if err != nil {
			return nil, fmt.Errorf("validate the draft: %w", err)
		}
		sess := agent.NewSession(w.model, agent.Input{Intent: intent, Issue: issue, Model: m, Draft: a.draft, Repo: root, Dir: st.Dir(),
			Agent: agentName, NewService: newName, Settings: w.settings(), Meter: w.meter})
		run := &AgentRun{Intent: intent, Agent: agentName, Model: m}
		at := &attempts{w: w, st: st, sess: sess, run: run, aopts: aopts, known: keys(base.Findings)}
		if err := at.loop(ctx, true, nil); err != nil {
			return nil, err
		}
		if err := at.finish(ctx); err != nil {
			return nil, err
		}
		if run.Outcome == Stopped && ctx.Err() != nil {
			return nil, ctx.Err() // stopped by the stage's deadline
		}
		return run, nil
	})
	if err != nil {
		return nil, err
	}
	ch := &Change{Plan: a.plan, Run: run, Report: run.Report}
	if len(run.Files) > 0 {
		applied, err := draft.Apply(root, run.Files, draft.ApplyOptions{Force: true, DryRun: dryRun, Policy: run.Policy})
		if err != nil {
			return nil, err
		}
		ch.Files, ch.Diff = applied.Files, applied.Diff
	}
	return ch, nil
}

// draftInto authors the deterministic draft for the analyzed repository
// and applies it to dir (the repository itself, or a stage of it) under
// the write policy: existing files that differ are kept unless force.
func draftInto(ctx context.Context, m *analyze.SystemModel, dir string, cfg *config.Repo, aopts author.Options, force, dryRun bool) (*Plan, *draft.Draft, error) {
	d, err := rules.New().Author(ctx, m, aopts)
	if err != nil {
		return nil, nil, fmt.Errorf("author: %w", err)
	}
	res, err := draft.Apply(dir, d.Files, draft.ApplyOptions{
		Force: force, DryRun: dryRun, Policy: writePolicy(cfg),
	})
	if err != nil {
		return nil, nil, err
	}
	services := m.Services
	if len(aopts.Services) > 0 {
		services = nil
		for _, s := range m.Services {
			for _, n := range aopts.Services {
				if s.Name == n {
					services = append(services, s)
				}
			}
		}
	}
	assumptions := d.Assumptions
	for _, f := range res.Files {
		if f.Action == draft.ActionKeep {
			assumptions = append(assumptions, fmt.Sprintf("%s exists and differs from kubewright's version: kept (use --force to overwrite)", f.Path))
		}
	}
	return &Plan{
		Name: m.Name, Services: services, Errors: m.Errors,
		Files: res.Files, Assumptions: assumptions, DryRun: dryRun, Diff: res.Diff,
	}, d, nil
}

// writes reports whether the draft creates or updates any file.
func (p *Plan) writes() bool {
	for _, f := range p.Files {
		if f.Action == draft.ActionCreate || f.Action == draft.ActionUpdate {
			return true
		}
	}
	return false
}

// mergeResults is the draft's file list with each file's final action
// (the repair may have edited or removed a draft file), then the files
// only the model's edits touched.
func mergeResults(drafted, final []draft.FileResult) []draft.FileResult {
	byPath := map[string]draft.FileResult{}
	for _, f := range final {
		byPath[f.Path] = f
	}
	seen := map[string]bool{}
	var out []draft.FileResult
	for _, f := range drafted {
		seen[f.Path] = true
		switch fin, ok := byPath[f.Path]; {
		case ok:
			f.Action = fin.Action
		case f.Action == draft.ActionCreate || f.Action == draft.ActionUpdate:
			continue // written by the draft, then undone by a repair
		}
		out = append(out, f)
	}
	for _, f := range final {
		if !seen[f.Path] {
			out = append(out, f)
		}
	}
	return out
}

// writePolicy is what the repository's settings let a job write: the
// image CI workflow only when containerize.ci asks for it.
func writePolicy(cfg *config.Repo) draft.Policy {
	return draft.Policy{AllowWorkflows: cfg.AllowWorkflows, ImageWorkflow: cfg.Containerize.ImageCI()}
}
