// Package agent is the LLM author: it starts from the deterministic draft,
// asks one agent (chosen from the intent) for edits, applies them under the
// write policy in a private copy of the repository, validates, and feeds
// the findings back to the repair agent for a bounded number of attempts.
// The model only proposes file contents; this package decides what is
// written, and the caller decides what is committed.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/rules"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
	"github.com/kubewright/kubewright/prompts"
)

// Proposer is the model: one call, one structured proposal.
type Proposer interface {
	Propose(ctx context.Context, req llm.Request) (*llm.Proposal, llm.Usage, error)
}

var _ Proposer = (*llm.Client)(nil)

// Validator validates the repository at dir with the default stages plus
// the extra ones given (the Go build check for generated modules).
type Validator func(ctx context.Context, dir string, extra ...validate.Check) (*validate.Report, error)

// Options are the inputs of one run.
type Options struct {
	// Intent is the user's request in their words.
	Intent string
	// Issue is the title and body of the issue it came from (untrusted).
	Issue string
	// Author options, already merged with the repository's settings.
	Author author.Options
	// Config is the repository's .github/kubewright.yaml from the default
	// branch (nil: read it from the repository).
	Config *config.Repo
	// MaxAttempts overrides the configured bound (0: config, default 3).
	MaxAttempts int
	// Meter accounts tokens against the job's budgets (nil: counted, not
	// limited).
	Meter *llm.Meter
	// Validate is required.
	Validate Validator
	// GoCheck builds, vets and tests generated Go modules; its Modules
	// are filled in per attempt.
	GoCheck validate.GoCheck
	Log     *slog.Logger
}

// Outcome says what a run produced and what the caller should publish.
type Outcome string

const (
	// Valid: the change passed validation (no new errors).
	Valid Outcome = "valid"
	// Failing: attempts ran out with errors left: a draft pull request.
	Failing Outcome = "failing"
	// Stopped: a budget or the provider stopped the job; Files is the last
	// state that validated.
	Stopped Outcome = "stopped"
	// Nothing: no usable change: reply with a comment.
	Nothing Outcome = "nothing"
)

// Attempt is one round of edits and validation, for the PR body.
type Attempt struct {
	N       int       `json:"n"`
	Agent   string    `json:"agent"`
	Summary string    `json:"summary,omitempty"`
	Changed []string  `json:"changed,omitempty"`
	Refused []Refusal `json:"refused,omitempty"`
	// Findings are the errors and warnings the change added (findings the
	// repository had before are not the change's fault).
	Findings []finding.Finding `json:"findings"`
	Usage    llm.Usage         `json:"usage"`
}

// Result is a run's outcome.
type Result struct {
	Outcome Outcome `json:"outcome"`
	Intent  string  `json:"intent"`
	Agent   string  `json:"agent"`
	// Reason explains Stopped and Nothing for people.
	Reason   string        `json:"reason,omitempty"`
	Files    []author.File `json:"files"`
	Attempts []Attempt     `json:"attempts"`
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
	// service directories; apply Files with it.
	Policy workspace.Policy `json:"-"`
}

// Run carries out one intent on the repository at root. It never writes
// to root: the caller applies Result.Files (workspace.Apply) once it has
// decided to publish them.
func Run(ctx context.Context, p Proposer, root string, opts Options) (*Result, error) {
	if opts.Validate == nil {
		return nil, errors.New("agent: no validator")
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if opts.Meter == nil {
		opts.Meter = llm.NewMeter(llm.Budget{}) // no limits, but every call is counted
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := opts.Config
	if cfg == nil {
		if cfg, err = config.LoadRepo(root); err != nil {
			return nil, err
		}
	}
	maxAttempts := opts.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = cfg.Agents.Attempts()
	}
	model, err := analyze.New().Analyze(ctx, root)
	if err != nil {
		return nil, err
	}
	agentName, newName, err := Route(opts.Intent, model)
	if err != nil {
		return &Result{Outcome: Nothing, Intent: opts.Intent, Reason: err.Error(), Model: model}, nil
	}
	st, err := newStage(root)
	if err != nil {
		return nil, err
	}
	defer st.close()

	// The deterministic draft is the starting point: what containerize
	// would write, with the repository's own files kept.
	draft, err := rules.New().Author(ctx, model, opts.Author)
	if err != nil {
		return nil, fmt.Errorf("author: %w", err)
	}
	pol := workspace.Policy{AllowWorkflows: cfg.AllowWorkflows}
	if _, err := workspace.Apply(st.dir, draft.Files, workspace.ApplyOptions{Policy: pol}); err != nil {
		return nil, err
	}
	g := &gate{policy: pol, maxJob: 4 << 20, servicesIn: servicesDir(cfg, model)}
	for _, s := range model.Services {
		if s.Path != "" && s.Path != "." {
			g.policy.Dirs = append(g.policy.Dirs, s.Path)
		}
	}
	g.policy.Dirs = append(g.policy.Dirs, cfg.Agents.Paths...)
	newDir := ""
	if agentName == AgentServiceCodegen {
		g.newService = true
		newDir = path.Join(g.servicesIn, serviceDirName(newName, model))
	}

	r := &redactor{}
	res := &Result{Intent: opts.Intent, Agent: agentName, Model: model}
	defer func() {
		res.Calls, res.Usage, res.Redactions = opts.Meter.Calls(), opts.Meter.Total(), r.n
	}()

	// Baseline: the repository plus the draft, before any model edit. Its
	// findings are not the model's to fix.
	base, err := opts.Validate(ctx, st.dir)
	if err != nil {
		return nil, fmt.Errorf("validate the draft: %w", err)
	}
	known := keys(base.Findings)

	data := prompts.Data{
		Intent: r.text(opts.Intent), Issue: r.text(opts.Issue), Model: modelJSON(model, r),
		Conventions: conventions(model, st, newDir), Allowed: allowed(g), MaxAttempts: maxAttempts, Attempt: 1,
	}
	score := relevance(opts.Intent, agentName, model.Services)
	var omitted []string
	data.Draft, omitted = pick(draftFiles(st, draft, r), score, draftBytes)
	var more []string
	data.Files, more = pick(sourceFiles(st, model, agentName == AgentServiceCodegen, r), score, filesBytes)
	if len(omitted) > 0 {
		data.Conventions = append(data.Conventions, "Also in the draft, not shown: "+strings.Join(omitted, ", "))
	}
	if len(more) > 0 {
		data.Conventions = append(data.Conventions, "Other repository files, not shown: "+strings.Join(more, ", "))
	}

	var (
		lastValid []author.File // the last state with model work and no new errors
		haveValid bool
		edited    []string
		current   []finding.Finding
	)
	for n := 1; n <= maxAttempts; n++ {
		name := agentName
		if n > 1 {
			name = AgentRepair
			data = prompts.Data{
				Intent: data.Intent, Issue: data.Issue, Model: data.Model, Conventions: data.Conventions, Allowed: allowed(g),
				Findings: promptFindings(current, r), Files: filesOf(st, current, edited, r), Attempt: n, MaxAttempts: maxAttempts,
			}
		}
		prop, usage, cerr := call(ctx, p, opts.Meter, name, data)
		att := Attempt{N: n, Agent: name, Usage: usage}
		if prop == nil {
			res.stop(cerr, haveValid)
			res.Attempts = append(res.Attempts, att)
			break
		}
		att.Summary = prop.Summary
		res.Assumptions = append(res.Assumptions, prop.Assumptions...)
		res.Risks = append(res.Risks, prop.Risks...)
		if n == 1 {
			res.Summary = prop.Summary
		}
		changed, refused, aerr := g.apply(st, prop.Edits)
		if aerr != nil {
			return nil, aerr
		}
		att.Changed, att.Refused = changed, refused
		edited = changed
		if n == 1 && agentName == AgentServiceCodegen && g.created != "" {
			// The new service gets its Dockerfile, k8s and gitops entries
			// from the deterministic author, as any detected service does.
			if err := authorNew(ctx, st, g.created, opts.Author); err != nil {
				log.Warn("author the new service", "err", err)
			}
		}
		rep, err := opts.Validate(ctx, st.dir, goCheck(opts.GoCheck, st, g)...)
		if err != nil {
			return nil, fmt.Errorf("validate attempt %d: %w", n, err)
		}
		current = added(rep.Findings, known)
		att.Findings = current
		res.Attempts = append(res.Attempts, att)
		res.Report, res.NewFindings = rep, current
		log.Info("attempt validated", "attempt", n, "agent", name, "changed", len(changed), "refused", len(refused), "new_findings", len(current))
		if finding.AtLeast(current, finding.Error) == 0 {
			if lastValid, err = st.changes(); err != nil {
				return nil, err
			}
			haveValid = true
			res.Outcome = Valid
			break
		}
		res.Outcome = Failing
		if stopped, _ := opts.Meter.Exhausted(); stopped || cerr != nil {
			// The answer arrived but took the job over a budget: no
			// repair call may follow.
			if cerr == nil {
				cerr = llm.ErrBudget
			}
			res.stop(cerr, haveValid)
			break
		}
	}

	switch res.Outcome {
	case Stopped:
		if haveValid {
			if err := st.restore(lastValid); err != nil {
				return nil, err
			}
		}
	case "":
		res.Outcome = Nothing
	}
	files, err := st.changes()
	if err != nil {
		return nil, err
	}
	if res.Outcome == Stopped && !haveValid {
		files = nil
	}
	res.Files = files
	res.Policy = g.policy
	if !modelChanged(res) {
		if res.Outcome != Stopped {
			res.Outcome = Nothing
		}
		if res.Reason == "" {
			res.Reason = "the model proposed no change kubewright could apply"
		}
		res.Files = nil
		return res, nil
	}
	if res.Outcome != Stopped || haveValid {
		review(ctx, p, opts.Meter, res, data, r)
	}
	return res, nil
}

// call renders an agent's prompt and asks the model.
func call(ctx context.Context, p Proposer, m *llm.Meter, agentName string, d prompts.Data) (*llm.Proposal, llm.Usage, error) {
	system, user, err := prompts.Render(agentName, d)
	if err != nil {
		return nil, llm.Usage{}, err
	}
	prop, u, err := p.Propose(ctx, llm.Request{Agent: agentName, System: system, User: user, Meter: m})
	if err != nil && prop != nil && !errors.Is(err, llm.ErrBudget) {
		prop = nil
	}
	return prop, u, err
}

// stop records why the loop ended before validating an answer.
func (r *Result) stop(err error, haveValid bool) {
	r.Outcome = Stopped
	switch {
	case errors.Is(err, llm.ErrBudget):
		r.Reason = "stopped at the token budget: " + firstLine(err)
	case errors.Is(err, llm.ErrMalformed):
		r.Reason = "the model's answer was not a valid proposal, even after a corrective retry: " + firstLine(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		r.Reason = "cancelled"
	case err != nil:
		r.Reason = "the model provider failed: " + firstLine(err)
	}
	if haveValid {
		r.Reason += "; the last change that passed validation is kept"
	} else {
		r.Reason += "; no change from the model passed validation, so nothing is proposed"
	}
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// review asks the review agent about the final change; its edits are
// refused by design, its summary and risks go into the PR.
func review(ctx context.Context, p Proposer, m *llm.Meter, res *Result, prev prompts.Data, r *redactor) {
	if stopped, _ := m.Exhausted(); stopped {
		return
	}
	var diff strings.Builder
	for _, f := range res.Files {
		if diff.Len() > diffBytes {
			fmt.Fprintf(&diff, "… (%s and later files not shown)\n", f.Path)
			break
		}
		if f.Delete {
			fmt.Fprintf(&diff, "deleted: %s\n", f.Path)
			continue
		}
		fmt.Fprintf(&diff, "--- %s\n%s\n", f.Path, r.file(f.Path, string(f.Content)))
	}
	d := prompts.Data{Intent: prev.Intent, Issue: prev.Issue, Conventions: prev.Conventions, Diff: diff.String()}
	for _, f := range res.NewFindings {
		d.Findings = append(d.Findings, prompts.Finding{ID: f.ID, Severity: string(f.Severity), File: f.File, Line: f.Line, Message: r.text(f.Message)})
	}
	prop, u, err := call(ctx, p, m, AgentReview, d)
	att := Attempt{N: len(res.Attempts) + 1, Agent: AgentReview, Usage: u}
	if prop != nil {
		att.Summary = prop.Summary
		for _, e := range prop.Edits {
			att.Refused = append(att.Refused, Refusal{Path: e.Path, Action: e.Action, Reason: "the review agent may not edit files"})
		}
		res.Risks = append(res.Risks, prop.Risks...)
		if prop.Summary != "" {
			res.Summary = strings.TrimSpace(res.Summary + "\n\n" + prop.Summary)
		}
	} else if err != nil {
		att.Summary = "review skipped: " + firstLine(err)
	}
	att.Findings = res.NewFindings
	res.Attempts = append(res.Attempts, att)
}

// modelChanged reports whether any attempt applied a model edit.
func modelChanged(r *Result) bool {
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

// added are the errors and warnings not present before the model's edits.
func added(fs []finding.Finding, known map[string]bool) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Severity.Rank() >= finding.Warning.Rank() && !known[key(f)] {
			out = append(out, f)
		}
	}
	return out
}

// goCheck returns the Go build stage for every Go module the model has
// created or changed, or nothing.
func goCheck(c validate.GoCheck, st *stage, g *gate) []validate.Check {
	files, err := st.changes()
	if err != nil {
		return nil
	}
	mods := map[string]bool{}
	for _, f := range files {
		if f.Part != "" || f.Delete {
			continue
		}
		for dir := path.Dir(f.Path); ; dir = path.Dir(dir) {
			if exists(filepath.Join(st.dir, filepath.FromSlash(dir), "go.mod")) {
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

// authorNew runs the deterministic author for a service the model created.
func authorNew(ctx context.Context, st *stage, dir string, opts author.Options) error {
	m, err := analyze.New().Analyze(ctx, st.dir)
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
	_, err = workspace.Apply(st.dir, d.Files, workspace.ApplyOptions{})
	return err
}

// servicesDir is where new services go: configured, else the parent the
// existing services share, else the root.
func servicesDir(cfg *config.Repo, m *analyze.SystemModel) string {
	if cfg.Agents.ServicesDir != "" {
		return cfg.Agents.ServicesDir
	}
	parent := ""
	for i, s := range m.Services {
		d := path.Dir(s.Path)
		if d == "." {
			d = ""
		}
		if i == 0 {
			parent = d
		} else if parent != d {
			return ""
		}
	}
	return parent
}

// serviceDirName follows the repository's naming: "inventory" becomes
// "inventory-service" when the others are named that way.
func serviceDirName(name string, m *analyze.SystemModel) string {
	suffixed := 0
	for _, s := range m.Services {
		if strings.HasSuffix(path.Base(s.Path), "-service") {
			suffixed++
		}
	}
	if suffixed > 0 && suffixed*2 >= len(m.Services) {
		return name + "-service"
	}
	return name
}
