package job

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-github/v88/github"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/jobpage"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/notify"
	"github.com/kubewright/kubewright/internal/ops"
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
// operation, validated like any other).
func (r *Runner) diagnose(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) error {
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
	if r.agents != nil {
		if a, ok := r.agents.Model.(llm.Answerer); ok {
			opts = append(opts, diagnose.WithRootCause(a, r.walk(ctx, q, cfg, log).meter))
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
	if rerr != nil {
		return r.finishStatus(ctx, pub, q, body+"\n\nNo fix: kubewright could not read the repository's manifests: "+safe(rerr))
	}
	words, why := fixFor(ctx, rep, service, ws, repo)
	if words == nil {
		return r.finishStatus(ctx, pub, q, body+"\n\nNo pull request: none of these findings has a fix kubewright can make in the repository; their hints say what to change.")
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

func clipWord(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
