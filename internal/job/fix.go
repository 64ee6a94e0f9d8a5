package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-github/v88/github"
	"github.com/pmezard/go-difflib/difflib"

	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/author/agent"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/review/fix"
	"github.com/kubewright/kubewright/internal/workspace"
)

// fixPR runs `/ai fix`: the deterministic fixes of the findings a pull
// request introduces, committed to its branch when the branch lives in
// this repository (and is not the default branch), else posted as
// patches. Nothing from the branch runs; the fixes are validated before
// they are pushed, and a push never overwrites a commit pushed meanwhile.
func (r *Runner) fixPR(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) (err error) {
	if r.agents != nil && r.agents.Ledger != nil {
		// The repair agent's spend is kept while a retry may follow.
		defer func() { r.forgetSpend(ctx, q, err) }()
	}
	cfg, err := r.config(ctx, gh, q)
	if err != nil {
		return err
	}
	pr, _, err := gh.PullRequests.Get(ctx, q.owner, q.name, q.issue)
	if err != nil {
		return err
	}
	if pr.GetState() != "open" {
		return r.finishStatus(ctx, pub, q, "This pull request is closed: there is nothing to fix.")
	}
	if err := r.setStatus(ctx, pub, q, "🔄 In progress: validating the base and the head, then fixing what this pull request introduces.", running); err != nil {
		return err
	}
	head := pr.GetHead()
	same := sameRepository(q, pr)
	pushable := same && head.GetRef() != q.defaultBranch
	headWS, err := r.cloneHead(ctx, q, pr)
	if err != nil {
		return err
	}
	defer headWS.Close()
	baseWS, err := r.cloneBranch(ctx, q, r.clients.Endpoints().CloneURL(q.fullName()), pr.GetBase().GetRef())
	if err != nil {
		return err
	}
	defer baseWS.Close()
	v := r.validator(cfg)
	res, err := ReviewTrees(ctx, v, baseWS.Dir(), headWS.Dir())
	if err != nil {
		return err
	}
	intro := res.Review.Delta.Introduced
	if len(intro) == 0 {
		return r.finishStatus(ctx, pub, q, "✅ Nothing to fix: this pull request adds no findings.")
	}
	root, err := os.OpenRoot(headWS.Dir())
	if err != nil {
		return err
	}
	fixed := fix.ApplyAll(root.FS(), intro)
	root.Close()
	files := fixedFiles(fixed.Files)
	var run *AgentRun
	if r.agents != nil && len(fixed.Skipped) > 0 {
		if files, run, err = r.repairPR(ctx, log, q, cfg, pr, headWS.Dir(), res, files); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("None of the %d findings this pull request adds has a mechanical fix:\n\n%s%s", len(intro), skippedList(fixed.Skipped), modelLine(run)))
	}
	patches, err := patches(headWS.Dir(), files)
	if err != nil {
		return err
	}
	if !pushable {
		why := "its branch is in a fork, and kubewright never pushes to forks"
		if same {
			why = "its branch is the default branch"
		}
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("kubewright cannot commit to this pull request: %s. These patches fix %d of the %d findings it adds; apply them with `git apply`:\n\n%s%s%s",
			why, fixedCount(fixed, run), len(intro), publish.DiffBlock(patches), skippedSection(fixed.Skipped, run), modelLine(run)))
	}
	if err := writeFiles(headWS.Dir(), files); errors.Is(err, errThroughLink) {
		return r.finishStatus(ctx, pub, q, "❌ Nothing was pushed: "+safe(err)+".")
	} else if err != nil {
		return err
	}
	after, err := v(ctx, headWS.Dir())
	if err != nil {
		return err
	}
	if n := finding.AtLeast(after.Findings, finding.Error); n > finding.AtLeast(res.Head.Findings, finding.Error) {
		// A fix must never make things worse: publish nothing.
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("❌ The fixes did not validate (%d errors after, %d before), so nothing was pushed. Here they are for a person to judge:\n\n%s", n,
			finding.AtLeast(res.Head.Findings, finding.Error), publish.DiffBlock(patches)))
	}
	how := "deterministic fixes"
	if modelEdited(run) {
		how += " and the repair agent's edits (model)"
	}
	msg := fmt.Sprintf("kubewright: fix %d findings this pull request introduced\n\nRequested with /ai fix in #%d; %s, validated.", fixedCount(fixed, run), q.issue, how)
	sha, err := runStage(ctx, r, stagePush, func(ctx context.Context) (string, error) {
		sha, changed, err := headWS.Commit(msg, workspace.Signature{Name: r.bot.Name, Email: r.bot.Email},
			workspace.Signature{Name: q.user, Email: fmt.Sprintf("%d+%s@users.noreply.github.com", q.userID, q.user)})
		if err != nil || !changed {
			return sha, err
		}
		return sha, headWS.Update(ctx)
	})
	if errors.Is(err, workspace.ErrBranchMoved) {
		return r.finishStatus(ctx, pub, q, "The branch moved while kubewright was fixing it, so nothing was pushed. Comment `/ai fix` again.")
	}
	if err != nil {
		return err
	}
	log.Info("fixes pushed", "pr", q.issue, "commit", sha, "fixed", len(fixed.Applied), "skipped", len(fixed.Skipped), "model", modelEdited(run))
	return r.finishStatus(ctx, pub, q, fmt.Sprintf("✅ Pushed %.7s to `%s`: it fixes %d of the %d findings this pull request added, and validates.%s%s",
		sha, head.GetRef(), fixedCount(fixed, run), len(intro), skippedSection(fixed.Skipped, run), modelLine(run)))
}

// fixRepairIntent is what the repair agent is told `/ai fix` is for.
const fixRepairIntent = "Fix the findings this pull request introduces in its Dockerfiles and Kubernetes and Flux manifests, keeping what the pull request is for. Edit only what the findings need."

// repairPR asks the repair agent about the findings the deterministic
// fixes left, on a copy of the head with those fixes applied. The agent
// edits only the files kubewright authors (Dockerfiles, k8s/, gitops/,
// the repository's configured paths), never workflows or source code,
// and nothing of the head is built. It returns the whole change: the
// deterministic fixes plus the model's edits when they validate without
// new errors, the deterministic fixes alone otherwise.
func (r *Runner) repairPR(ctx context.Context, log *slog.Logger, q task, cfg *config.Repo, pr *github.PullRequest, head string, res *Reviewed, files []draft.File) ([]draft.File, *AgentRun, error) {
	st, err := draft.NewStage(head)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	if err := writeFiles(st.Dir(), files); err != nil {
		return nil, nil, err
	}
	w := r.walk(ctx, q, cfg, log)
	w.noBuild = true
	rep, err := w.validate(ctx, st.Dir())
	if err != nil {
		return nil, nil, err
	}
	known := keys(res.Base.Findings)
	current := added(rep.Findings, known)
	if len(current) == 0 {
		return files, nil, nil
	}
	set := agent.Settings{Paths: cfg.Agents.Paths, MaxAttempts: w.attempts}
	run, err := w.repairStage(ctx, st, agent.Input{Intent: fixRepairIntent, Issue: pr.GetTitle(), Repo: head, Dir: st.Dir(), Settings: set},
		author.Options{}, known, current, rep)
	if err != nil {
		return nil, nil, err
	}
	log.Info("repair agent on /ai fix", "outcome", run.Outcome, "attempts", len(run.Attempts), "left", len(run.NewFindings))
	if run.Outcome != Valid || !modelChanged(run) {
		return files, run, nil
	}
	return run.Files, run, nil
}

// modelEdited reports whether the model's edits are part of the fix.
func modelEdited(run *AgentRun) bool {
	return run != nil && run.Outcome == Valid && modelChanged(run)
}

// fixedCount is how many of the findings a pull request added the fix
// resolves: the deterministic fixes, and those the model's edits removed.
func fixedCount(fixed fix.Result, run *AgentRun) int {
	n := len(fixed.Applied)
	if modelEdited(run) {
		n += len(fixed.Skipped) - len(left(fixed.Skipped, run))
	}
	return n
}

// left are the skipped findings the fix leaves for a person.
func left(skipped []fix.Skipped, run *AgentRun) []fix.Skipped {
	if !modelEdited(run) {
		return skipped
	}
	remain := keys(run.NewFindings)
	var out []fix.Skipped
	for _, s := range skipped {
		if remain[key(s.Finding)] {
			out = append(out, s)
		}
	}
	return out
}

// modelLine says what the repair agent did, "" when it was not asked.
func modelLine(run *AgentRun) string {
	switch {
	case run == nil:
		return ""
	case modelEdited(run):
		return "\n\nThe repair agent (model) fixed what the fixers could not" + publish.ModelQuote(repairSummary(run)) + publish.ModelRisks(run.Risks)
	case run.Outcome == Failing:
		return "\n\nThe repair agent (model) was asked about the rest, and its edits still failed validation, so they are not part of this fix."
	default:
		return "\n\nThe repair agent (model) was asked about the rest and proposed nothing that validates. " + publish.Sentence(run.Reason)
	}
}

// repairSummary is the summary of the repair agent's last answer.
func repairSummary(run *AgentRun) string {
	for i := len(run.Attempts) - 1; i >= 0; i-- {
		if a := run.Attempts[i]; a.Agent == agent.AgentRepair && a.Summary != "" {
			return a.Summary
		}
	}
	return ""
}

// fixedFiles are the deterministic fixes as files, in path order.
func fixedFiles(m map[string][]byte) []draft.File {
	out := make([]draft.File, 0, len(m))
	for p, content := range m {
		out = append(out, draft.File{Path: p, Content: content, Part: draft.PartOf(p)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// writeFiles writes (and deletes) the fix's files in the work tree,
// inside it only, and never through a symbolic link: a pull request's
// head may hold links to files no fix may touch (its workflows).
func writeFiles(dir string, files []draft.File) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, f := range files {
		p := filepath.FromSlash(f.Path)
		if err := noLink(root, p); err != nil {
			return err
		}
		if f.Delete {
			if err := root.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			continue
		}
		if err := root.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := root.WriteFile(p, f.Content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// errThroughLink: a fix would write through a symbolic link.
var errThroughLink = errors.New("kubewright does not write through symbolic links")

// noLink refuses a path of root that is, or lies under, a symbolic link.
func noLink(root *os.Root, p string) error {
	parts := strings.Split(p, string(filepath.Separator))
	for i := range parts {
		sub := filepath.Join(parts[:i+1]...)
		fi, err := root.Lstat(sub)
		if errors.Is(err, os.ErrNotExist) {
			return nil // what does not exist yet is created as a plain file or directory
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s: %s is a symbolic link: %w", filepath.ToSlash(p), filepath.ToSlash(sub), errThroughLink)
		}
	}
	return nil
}

// patches renders the fix's files as one unified diff against the work
// tree.
func patches(dir string, files []draft.File) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	var b strings.Builder
	for _, f := range files {
		old, err := root.ReadFile(filepath.FromSlash(f.Path))
		from, to := "a/"+f.Path, "b/"+f.Path
		if errors.Is(err, os.ErrNotExist) {
			old, from = nil, "/dev/null"
		} else if err != nil {
			return "", err
		}
		var now []byte
		if f.Delete {
			to = "/dev/null"
		} else {
			now = f.Content
		}
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(old)), B: difflib.SplitLines(string(now)),
			FromFile: from, ToFile: to, Context: 3})
		if err != nil {
			return "", err
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

func skippedSection(s []fix.Skipped, run *AgentRun) string {
	s = left(s, run)
	if len(s) == 0 {
		return ""
	}
	return "\n\nLeft for a person (no mechanical fix):\n\n" + skippedList(s)
}

func skippedList(s []fix.Skipped) string {
	var b strings.Builder
	for i, k := range s {
		if i == 20 {
			fmt.Fprintf(&b, "- … and %d more\n", len(s)-20)
			break
		}
		fmt.Fprintf(&b, "- `%s` %s:%d: %s\n", k.Finding.ID, k.Finding.File, k.Finding.Line, k.Reason)
	}
	return b.String()
}
