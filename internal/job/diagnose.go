package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-github/v88/github"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/jobpage"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/notify"
	"github.com/kubewright/kubewright/internal/ops"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/review/fix"
	"github.com/kubewright/kubewright/internal/validate/build"
	"github.com/kubewright/kubewright/internal/workspace"
)

// WithNotifier posts every diagnosis `/ai diagnose` makes to a
// Slack-compatible incoming webhook as well.
func WithNotifier(w *notify.Webhook) Option { return func(r *Runner) { r.notifier = w } }

// diagnose answers `/ai diagnose SERVICE [--fix]`: a read-only look at
// the cluster, each finding traced to the line of the default branch
// that defines its object, and with --fix the pull request that carries
// out the repository fix of the first finding that has one (a Day-2
// operation, a deterministic fixer or, with a model, the repair agent),
// validated like any other change.
func (r *Runner) diagnose(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) (err error) {
	service, fix, err := diagnoseArgs(q.cmd.Words)
	if err != nil {
		return r.finishStatus(ctx, pub, q, "❌ "+err.Error())
	}
	if r.cluster == nil {
		return r.finishStatus(ctx, pub, q, "`"+r.prefix+" diagnose` reads the cluster Flux applies this repository to, and this installation has no cluster configured (KUBEWRIGHT_KUBECONFIG, read-only).")
	}
	cfg, err := r.config(ctx, gh, q)
	if err != nil {
		return err
	}
	if err := r.setStatus(ctx, pub, q, fmt.Sprintf("🔄 In progress: reading how `%s` runs (read-only) and tracing what fails to the repository.", service), running); err != nil {
		return err
	}
	history := 0
	if fix {
		history = rollbackHistory // a fix may restore the service's last good revision
	}
	ws, err := r.cloneDefaultWith(ctx, q, history)
	if err != nil {
		return err
	}
	defer ws.Close()
	repo, rerr := ops.Load(ws.Dir())
	in, loadFindings, err := build.Load(ctx, ws.Dir())
	if err != nil {
		return r.finishStatus(ctx, pub, q, "❌ kubewright could not read the repository's manifests: "+safe(err))
	}
	// Where the repository puts the service (its own namespace, or the
	// targetNamespace of the Flux Kustomization applying it).
	ns := "default"
	if nss := diagnose.RepoNamespaces(in, service); len(nss) > 0 {
		ns = nss[0]
	}
	opts := []diagnose.Option{diagnose.WithInput(in, loadFindings)}
	// One walk, so the root cause and the repair share the job's budget.
	w := r.walk(ctx, q, cfg, log)
	if r.agents != nil {
		if r.agents.Ledger != nil {
			defer func() { r.forgetSpend(ctx, q, err) }()
		}
		if a, ok := r.agents.Model.(llm.Answerer); ok {
			opts = append(opts, diagnose.WithRootCause(a, w.meter))
		}
	}
	rep, err := diagnose.Diagnose(ctx, *r.cluster, ns, service, ws.Dir(), opts...)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return r.finishStatus(ctx, pub, q, "❌ kubewright could not diagnose `"+service+"`: "+safe(err))
	}
	link := func(file string, line int) string {
		return fmt.Sprintf("%s/%s/blob/%s/%s#L%d", r.clients.Endpoints().Web, q.fullName(), ws.BaseCommit(), file, line)
	}
	body := rep.Markdown(link)
	r.putPage(ctx, q, func(p *jobpage.Record) {
		p.Summary = rep.Summary()
		for _, f := range rep.Findings {
			p.Findings = append(p.Findings, f.Finding)
		}
		p.Current = append(p.Current[:0], rep.Notes...)
	})
	log.Info("diagnosed", "namespace", ns, "service", service, "findings", len(rep.Findings), "requests", rep.Stats.Requests)
	if r.notifier != nil {
		// A team channel hears of it too; the job's answer does not wait
		// on the channel, nor fail with it.
		if err := r.notifier.Post(ctx, notify.Diagnosis(rep)); err != nil {
			log.Warn("diagnosis notification", "error", r.clean(err.Error()))
		}
	}
	if !fix {
		return r.finishStatus(ctx, pub, q, body)
	}
	var words []string
	var why string
	if rerr == nil {
		words, why = fixFor(ctx, rep, service, ws, repo)
	} else {
		log.Warn("diagnose --fix: no Day-2 operation", "error", r.clean(rerr.Error()))
		body += "\n\nkubewright could not read the repository's manifests to plan a Day-2 operation: " + safe(rerr)
	}
	if words == nil {
		return r.fixDiagnosis(ctx, log, pub, q, ws, w, service, rep, body)
	}
	op, err := ops.Parse(words[0], words[1:])
	if err == nil && op.Name() == "rollback" && !hasFlag(words, "--to") {
		err = fmt.Errorf("rollback needs a revision")
	}
	if op == nil || err != nil {
		return r.finishStatus(ctx, pub, q, body+"\n\nNo pull request: "+safe(err))
	}
	plan, err := repo.Plan(ctx, op, ops.Options{Usage: r.usage, TreeAt: r.treeAt(ws)})
	if err != nil {
		return r.finishStatus(ctx, pub, q, body+fmt.Sprintf("\n\nNo pull request: kubewright could not plan `%s`: %s", op, safe(err)))
	}
	view := operationView(plan)
	view.Issue, view.Closes = q.issue, cfg.PullRequest.CloseIssue
	view.Notes = append([]string{why}, view.Notes...)
	view.Diagnosis = body
	return r.publishOperation(ctx, log, pub, q, ws, cfg, plan, view)
}

// fixDiagnosis opens the pull request for a diagnosis none of whose
// findings a Day-2 operation fixes: the deterministic fix of the most
// severe finding that has one (review/fix, the same fixers as review
// suggestions), else, with a model configured, the repair agent's edit
// for the most severe finding traced to the repository. Without either
// it answers with the diagnosis and why there is no pull request.
func (r *Runner) fixDiagnosis(ctx context.Context, log *slog.Logger, pub Publisher, q task, ws *workspace.Workspace, w *walk, service string, rep *diagnose.Report, body string) error {
	fx, f, reasons, err := deterministicFix(ws.Dir(), rep)
	if err != nil {
		return err
	}
	view := publish.Operation{Issue: q.issue, Closes: w.cfg.PullRequest.CloseIssue, Diagnosis: body,
		Command: "diagnose " + service + " --fix", Undo: "revert this pull request; Flux applies the revert"}
	noPR := func(why string) error {
		msg := "\n\nNo pull request: " + why
		if len(reasons) > 0 {
			msg += "\n\nThe deterministic fixers did not apply:\n\n" + strings.Join(reasons, "\n")
		}
		return r.finishStatus(ctx, pub, q, body+msg)
	}
	if fx != nil {
		before, err := readFile(ws.Dir(), fx.File)
		if err != nil {
			return err
		}
		after, err := fx.Apply(before)
		if err != nil {
			return err
		}
		view.Summary = fx.Title
		view.Notes = []string{fmt.Sprintf("%s: %s (%s:%d); the fix is deterministic.", f.ID, f.Message, f.File, f.Line)}
		if fx.Note != "" {
			view.Notes = append(view.Notes, "Check before merging: "+fx.Note+".")
		}
		view.Changes = []publish.OpChange{{File: fx.File, Line: fx.StartLine, Object: f.Object, Field: f.Field,
			From: oneLine(before, fx.StartLine, fx.EndLine), To: strings.TrimSpace(fx.Replacement)}}
		log.Info("diagnosis fixed", "finding", f.ID, "file", fx.File, "by", "fixer")
		return r.publishFiles(ctx, log, pub, q, ws, w.cfg, service, fx.Title,
			[]draft.File{{Path: fx.File, Content: after, Part: draft.PartOf(fx.File)}}, view)
	}
	target, ok := firstTraced(rep)
	if w.model == nil || !ok {
		return noPR("none of these findings has a fix kubewright can make in the repository; their hints say what to change.")
	}
	run, err := r.repairDiagnosis(ctx, ws, w, target)
	if err != nil {
		return err
	}
	if !modelEdited(run) {
		return noPR("no deterministic fix applies, and the repair agent (model) proposed no change that validates." + reasonTail(run))
	}
	view.Summary = fmt.Sprintf("The repair agent (model) wrote this change for %s (%s:%d); kubewright only validated it: read the diff before merging.", target.ID, target.File, target.Line)
	view.ModelSummary, view.ModelRisks = repairSummary(run), run.Risks
	log.Info("diagnosis fixed", "finding", target.ID, "files", len(run.Files), "by", "model")
	return r.publishFiles(ctx, log, pub, q, ws, w.cfg, service, "the repair agent's change for "+target.ID, run.Files, view)
}

// publishFiles opens the pull request of a diagnosis fix given as files;
// what says what the fix is, in kubewright's words, for the commit.
func (r *Runner) publishFiles(ctx context.Context, log *slog.Logger, pub Publisher, q task, ws *workspace.Workspace, cfg *config.Repo, service, what string, files []draft.File, view publish.Operation) error {
	diff, err := patches(ws.Dir(), files)
	if err != nil {
		return err
	}
	view.Diff = diff
	return r.publishChange(ctx, log, pub, q, ws, cfg, prChange{
		branch: fmt.Sprintf("kubewright/fix-%s-%d", service, q.issue),
		apply:  func(dir string) error { return writeFiles(dir, files) },
		commit: fmt.Sprintf("Fix %s: %s\n\nFound by /ai diagnose %s --fix in #%d; validated by kubewright.", service, clip(what, 120), service, q.issue),
		title:  fmt.Sprintf("kubewright: fix %s (diagnose)", service),
	}, view)
}

// readFile reads a repository file of dir, inside it only (nil for a
// file that does not exist).
func readFile(dir, name string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b, err := root.ReadFile(filepath.FromSlash(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// deterministicFix is the fix of the most severe finding a fixer can
// fix, with the finding; reasons say why the findings that have a fixer
// got no fix.
func deterministicFix(dir string, rep *diagnose.Report) (*fix.Fix, diagnose.Finding, []string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, diagnose.Finding{}, nil, err
	}
	defer root.Close()
	var reasons []string
	for _, f := range rep.Findings {
		if f.File == "" || !fix.Fixable(f.ID) {
			continue
		}
		fx, err := fix.For(root.FS(), f.Finding)
		if err == nil {
			return &fx, f, nil, nil
		}
		if why, ok := fix.IsUnfixable(err); ok {
			reasons = append(reasons, fmt.Sprintf("- `%s` %s:%d: %s", f.ID, f.File, f.Line, why))
			continue
		}
		return nil, diagnose.Finding{}, nil, err
	}
	return nil, diagnose.Finding{}, reasons, nil
}

// firstTraced is the most severe finding traced to a repository file.
func firstTraced(rep *diagnose.Report) (diagnose.Finding, bool) {
	for _, f := range rep.Findings {
		if f.File != "" {
			return f, true
		}
	}
	return diagnose.Finding{}, false
}

// diagnoseRepairIntent is what the repair agent is told a diagnosis fix
// is for; the cause follows it.
const diagnoseRepairIntent = "A workload fails in the cluster, and kubewright traced the cause to a line of this repository. Change the repository so that, once Flux applies it, the cause is gone. Edit only what the cause needs."

// repairDiagnosis asks the repair agent for the repository change that
// removes the cause of f, on a copy of the clone. The cause (the
// finding, its hint and up to three lines of its redacted evidence) is
// part of the intent, so every attempt sees it, not only the first. Its
// edits are held to the files kubewright authors and validated like any
// change; nothing is built.
func (r *Runner) repairDiagnosis(ctx context.Context, ws *workspace.Workspace, w *walk, f diagnose.Finding) (*AgentRun, error) {
	st, err := draft.NewStage(ws.Dir())
	if err != nil {
		return nil, err
	}
	defer st.Close()
	w.noBuild = true
	rep, err := w.validate(ctx, st.Dir())
	if err != nil {
		return nil, err
	}
	intent := fmt.Sprintf("%s\n\nThe cause: %s %s at %s:%d: %s", diagnoseRepairIntent, f.ID, f.Object, f.File, f.Line, f.Message)
	if f.Hint != "" {
		intent += "\nHint: " + f.Hint
	}
	for i, e := range f.Evidence {
		if i == 3 {
			break
		}
		intent += "\nEvidence: " + clip(e, 300)
	}
	set := agent.Settings{Paths: w.cfg.Agents.Paths, MaxAttempts: w.attempts}
	return w.repairStage(ctx, st, agent.Input{Intent: intent, Repo: ws.Dir(), Dir: st.Dir(), Settings: set},
		author.Options{}, keys(rep.Findings), []finding.Finding{f.Finding}, rep)
}

// reasonTail is " Reason." of a run that ended without a change, or "".
func reasonTail(run *AgentRun) string {
	if run == nil || run.Reason == "" {
		return ""
	}
	return " " + publish.Sentence(run.Reason)
}

// oneLine is lines from..to of content, trimmed and joined, for a table
// cell ("" when the range is out of the file).
func oneLine(content []byte, from, to int) string {
	lines := strings.Split(string(content), "\n")
	if from < 1 || to > len(lines) || to < from {
		return ""
	}
	var parts []string
	for _, l := range lines[from-1 : to] {
		parts = append(parts, strings.TrimSpace(l))
	}
	return strings.Join(parts, " ")
}

// clip keeps s to n runes, marking a cut with "…".
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// diagnoseArgs reads SERVICE [--fix].
func diagnoseArgs(words []string) (service string, fix bool, err error) {
	const usage = "usage: diagnose SERVICE [--fix]"
	for _, w := range words {
		switch {
		case w == "--fix":
			fix = true
		case strings.HasPrefix(w, "-"):
			return "", false, fmt.Errorf("diagnose: unknown flag %q (%s)", clipWord(w), usage)
		case service != "":
			return "", false, fmt.Errorf("diagnose: one service at a time, not %q too (%s)", clipWord(w), usage)
		default:
			service = w
		}
	}
	if service == "" {
		return "", false, fmt.Errorf("diagnose: name the service (%s)", usage)
	}
	if len(validation.IsDNS1123Label(service)) > 0 {
		return "", false, fmt.Errorf("diagnose: %q is not a service name (lowercase letters, digits and '-')", clipWord(service))
	}
	return service, fix, nil
}

// fixFor picks the repository fix of the most severe finding that has
// one, as the words of a Day-2 operation, and says why:
//   - an OOM kill against a memory limit: the limit the repository sets
//     (at the finding's traced line) doubled;
//   - an image whose tag does not exist, or a container that crashes in
//     a loop: the service as it was before its last change.
func fixFor(ctx context.Context, rep *diagnose.Report, service string, ws *workspace.Workspace, repo *ops.Repo) (words []string, why string) {
	for _, f := range rep.Findings {
		switch f.ID {
		case "KW-DIAG-002":
			cur, ok := valueAt(ws.Dir(), f.File, f.Line)
			if !ok {
				continue
			}
			q, err := resource.ParseQuantity(cur)
			if err != nil {
				continue
			}
			q.Add(q)
			return []string{"resources", service, "--memory", "/" + q.String()}, fmt.Sprintf("%s: the container was OOMKilled at its memory limit of %s (%s:%d); the fix doubles the limit.", f.ID, cur, f.File, f.Line)
		case "KW-DIAG-003", "KW-DIAG-001":
			if f.ID == "KW-DIAG-003" && !strings.Contains(f.Message, "does not exist") {
				continue
			}
			parent := serviceHistory(ctx, ws, repo, service)
			if parent == "" {
				continue
			}
			what := "the image's tag does not exist"
			if f.ID == "KW-DIAG-001" {
				what = "the container crashes at start since the service's last change"
			}
			return []string{"rollback", service, "--to", parent}, fmt.Sprintf("%s: %s; the fix restores %s as it was before that change (a revert in git, which Flux applies).", f.ID, what, service)
		}
	}
	return nil, ""
}

// serviceHistory finds the revision before the service's last change
// ("" when the fetched history does not show it).
func serviceHistory(ctx context.Context, ws *workspace.Workspace, repo *ops.Repo, service string) string {
	paths, err := repo.HistoryPaths(service)
	if err != nil {
		return ""
	}
	_, parent, err := ws.LastChange(ctx, paths)
	if err != nil {
		return ""
	}
	return parent
}

// valueAt is the scalar on line of file ("memory: 256Mi" gives 256Mi).
func valueAt(dir, file string, line int) (string, bool) {
	if file == "" || line < 1 {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
	if err != nil {
		return "", false
	}
	lines := strings.Split(string(b), "\n")
	if line > len(lines) {
		return "", false
	}
	_, v, ok := strings.Cut(lines[line-1], ":")
	v = strings.Trim(strings.TrimSpace(strings.SplitN(v, "#", 2)[0]), `"'`)
	return v, ok && v != ""
}

func clipWord(s string) string { return clip(s, 40) }
