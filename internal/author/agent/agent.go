// Package agent is the LLM author. It proposes, nothing else: each call
// renders one agent's prompt from the SystemModel, the draft and the
// repository's files (read from a directory, never written), asks the
// model, and returns the proposal with every edit checked against the
// write policy (accepted edits as draft files, refused ones with the
// reason). A Session makes the three calls a job needs: the first edit
// (the agent Route picks from the intent), a repair (given the findings
// validation added and the files involved) and a review (given the change
// and its findings). The job applies what is accepted, validates it and
// decides how many repairs follow.
package agent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/prompts"
)

// Proposer is the model: one call, one structured proposal.
type Proposer interface {
	Propose(ctx context.Context, req llm.Request) (*llm.Proposal, llm.Usage, error)
}

var _ Proposer = (*llm.Client)(nil)

// maxJobBytes caps what all accepted edits of a session may add up to.
const maxJobBytes = 4 << 20

// Settings are the repository's agent settings (.github/kubewright.yaml),
// passed in as values.
type Settings struct {
	// AllowWorkflows is allowWorkflows: the policy's Check admits
	// .github/workflows/ (the prompt still tells agents never to write it).
	AllowWorkflows bool
	// Paths are agents.paths: more directories agents may edit.
	Paths []string
	// ServicesDir is agents.servicesDir: where a new service goes
	// (default: where the existing services live, else the root).
	ServicesDir string
	// MaxAttempts is the bound the job holds the attempts to, for the
	// prompts ("repair attempt 2 of 3").
	MaxAttempts int
}

// Input is what a session works on.
type Input struct {
	// Intent is the request in the user's words (for containerize, what
	// the job asked for).
	Intent string
	// Issue is the title and body of the issue it came from (untrusted).
	Issue string
	// Model is the analysis of the repository.
	Model *analyze.SystemModel
	// Draft is the deterministic draft, already applied to Dir.
	Draft *draft.Draft
	// Repo is the repository as it was; Dir the working copy (Repo plus
	// the draft and the edits applied so far). Prompts read files from
	// Dir; edits are checked against both; neither is written.
	Repo, Dir string
	// Agent is the first edit's agent and NewService the name of the
	// service service-codegen creates (Route's answers); empty for a
	// session that only repairs and reviews.
	Agent, NewService string
	Settings          Settings
	// Meter accounts tokens against the job's budgets (nil: counted, not
	// limited).
	Meter *llm.Meter
}

// Proposal is one call's answer, checked against the write policy.
type Proposal struct {
	Agent string `json:"agent"`
	// Answered: the model gave a usable proposal. When false, Err says why
	// (a budget, the provider, a malformed answer, a cancellation).
	Answered bool `json:"answered"`
	// Err is set without an answer, and with one whose tokens took the job
	// over its budget (llm.ErrBudget): no call may follow.
	Err         error    `json:"-"`
	Summary     string   `json:"summary,omitempty"`
	Assumptions []string `json:"assumptions,omitempty"`
	Risks       []string `json:"risks,omitempty"`
	// Files are the accepted edits in order, a deletion as Delete: apply
	// them to the working copy with the session's Policy.
	Files   []draft.File `json:"-"`
	Refused []Refusal    `json:"refused,omitempty"`
	Usage   llm.Usage    `json:"usage"`
}

// Changed are the paths of the accepted edits.
func (p *Proposal) Changed() []string {
	var out []string
	for _, f := range p.Files {
		out = append(out, f.Path)
	}
	return out
}

// Session is the LLM author of one job: the write policy its edits are
// held to (widened when service-codegen claims a new directory), the
// bytes accepted so far and the secrets redacted from its prompts.
type Session struct {
	p     Proposer
	in    Input
	gate  *gate
	red   *redactor
	meter *llm.Meter
	// data is the prompt data every call shares: the request, the model,
	// the conventions and the allowed paths.
	data prompts.Data
	// newDir is where service-codegen is asked to create the service.
	newDir string
}

// NewSession starts the LLM author for one job.
func NewSession(p Proposer, in Input) *Session {
	if in.Meter == nil {
		in.Meter = llm.NewMeter(llm.Budget{}) // no limits, but every call is counted
	}
	if in.Model == nil {
		in.Model = &analyze.SystemModel{}
	}
	g := &gate{policy: draft.Policy{AllowWorkflows: in.Settings.AllowWorkflows}, repo: in.Repo, dir: in.Dir,
		maxJob: maxJobBytes, servicesIn: servicesDir(in.Settings.ServicesDir, in.Model)}
	for _, s := range in.Model.Services {
		if s.Path != "" && s.Path != "." {
			g.policy.Dirs = append(g.policy.Dirs, s.Path)
		}
	}
	g.policy.Dirs = append(g.policy.Dirs, in.Settings.Paths...)
	s := &Session{p: p, in: in, gate: g, red: &redactor{}, meter: in.Meter}
	if in.Agent == AgentServiceCodegen {
		g.newService = true
		s.newDir = path.Join(g.servicesIn, serviceDirName(in.NewService, in.Model))
	}
	s.data = prompts.Data{
		Intent: s.red.text(in.Intent), Issue: s.red.text(in.Issue), Model: modelJSON(in.Model, s.red),
		Conventions: conventions(in.Model, tree{in.Dir}, s.newDir), MaxAttempts: in.Settings.MaxAttempts,
	}
	return s
}

// Edit asks the first agent (Input.Agent) for the change the intent asks
// for, starting from the draft.
func (s *Session) Edit(ctx context.Context) *Proposal {
	t := tree{s.in.Dir}
	d := s.data
	d.Allowed, d.Attempt = allowed(s.gate), 1
	score := relevance(s.in.Intent, s.in.Agent, s.in.Model.Services)
	var omitted, more []string
	if s.in.Draft != nil {
		d.Draft, omitted = pick(draftFiles(t, s.in.Draft, s.red), score, draftBytes)
	}
	d.Files, more = pick(sourceFiles(t, s.in.Model, s.in.Agent == AgentServiceCodegen, s.red), score, filesBytes)
	// The notes stay with every later call: the repair agent knows the
	// files exist too.
	if len(omitted) > 0 {
		s.data.Conventions = append(s.data.Conventions, "Also in the draft, not shown: "+strings.Join(omitted, ", "))
	}
	if len(more) > 0 {
		s.data.Conventions = append(s.data.Conventions, "Other repository files, not shown: "+strings.Join(more, ", "))
	}
	d.Conventions = s.data.Conventions
	return s.propose(ctx, s.in.Agent, d, true)
}

// Repair asks the repair agent to fix findings (the errors and warnings
// the change added) in attempt n, shown the current content of the files
// they point at and of the files the last attempt edited.
func (s *Session) Repair(ctx context.Context, n int, findings []finding.Finding, edited []string) *Proposal {
	d := s.data
	d.Allowed, d.Attempt = allowed(s.gate), n
	d.Findings = promptFindings(findings, s.red)
	d.Files = filesOf(tree{s.in.Dir}, findings, edited, s.red)
	return s.propose(ctx, AgentRepair, d, true)
}

// Review asks the review agent about the final change (the files as they
// will be committed) and the findings it adds. Its edits are refused by
// design; its summary and risks are for the pull request.
func (s *Session) Review(ctx context.Context, files []draft.File, findings []finding.Finding) *Proposal {
	var diff strings.Builder
	for _, f := range files {
		if diff.Len() > diffBytes {
			fmt.Fprintf(&diff, "… (%s and later files not shown)\n", f.Path)
			break
		}
		if f.Delete {
			fmt.Fprintf(&diff, "deleted: %s\n", f.Path)
			continue
		}
		fmt.Fprintf(&diff, "--- %s\n%s\n", f.Path, s.red.file(f.Path, string(f.Content)))
	}
	d := prompts.Data{Intent: s.data.Intent, Issue: s.data.Issue, Conventions: s.data.Conventions, Diff: diff.String()}
	for _, f := range findings {
		d.Findings = append(d.Findings, prompts.Finding{ID: f.ID, Severity: string(f.Severity), File: f.File, Line: f.Line, Message: s.red.text(f.Message)})
	}
	return s.propose(ctx, AgentReview, d, false)
}

// propose renders an agent's prompt, asks the model and checks the edits
// (or, for the review, refuses them all).
func (s *Session) propose(ctx context.Context, agentName string, d prompts.Data, edits bool) *Proposal {
	out := &Proposal{Agent: agentName}
	system, user, err := prompts.Render(agentName, d)
	if err != nil {
		out.Err = err
		return out
	}
	prop, u, err := s.p.Propose(ctx, llm.Request{Agent: agentName, System: system, User: user, Meter: s.meter})
	out.Usage, out.Err = u, err
	if prop == nil || err != nil && !errors.Is(err, llm.ErrBudget) {
		return out
	}
	out.Answered = true
	out.Summary, out.Assumptions, out.Risks = prop.Summary, prop.Assumptions, prop.Risks
	if !edits {
		for _, e := range prop.Edits {
			out.Refused = append(out.Refused, Refusal{Path: e.Path, Action: e.Action, Reason: "the " + agentName + " agent may not edit files"})
		}
		return out
	}
	out.Files, out.Refused = s.gate.accept(prop.Edits)
	return out
}

// Policy is the write policy the session's edits were held to: the draft
// policy widened to the service directories, agents.paths and the new
// service directory once claimed. Apply accepted edits with it.
func (s *Session) Policy() draft.Policy { return s.gate.policy }

// Created is the new service directory service-codegen claimed ("" when
// none): the deterministic author then writes its Dockerfile, k8s/ and
// gitops/ entries, as for any detected service.
func (s *Session) Created() string { return s.gate.created }

// Redactions counts the secrets removed from the session's prompts.
func (s *Session) Redactions() int { return s.red.n }

// Meter is the session's token meter.
func (s *Session) Meter() *llm.Meter { return s.meter }

// servicesDir is where new services go: configured, else the parent the
// existing services share, else the root.
func servicesDir(configured string, m *analyze.SystemModel) string {
	if configured != "" {
		return configured
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
