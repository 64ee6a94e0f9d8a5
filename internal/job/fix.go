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

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/review/fix"
	"github.com/kubewright/kubewright/internal/workspace"
)

// fixPR runs `/ai fix`: the deterministic fixes of the findings a pull
// request introduces, committed to its branch when the branch lives in
// this repository (and is not the default branch), else posted as
// patches. Nothing from the branch runs; the fixes are validated before
// they are pushed, and a push never overwrites a commit pushed meanwhile.
func (r *Runner) fixPR(ctx context.Context, log *slog.Logger, gh *github.Client, pub Publisher, q task) error {
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
	if len(fixed.Applied) == 0 {
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("None of the %d findings this pull request adds has a mechanical fix:\n\n%s", len(intro), skippedList(fixed.Skipped)))
	}
	patches, err := patches(headWS.Dir(), fixed.Files)
	if err != nil {
		return err
	}
	if !pushable {
		why := "its branch is in a fork, and kubewright never pushes to forks"
		if same {
			why = "its branch is the default branch"
		}
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("kubewright cannot commit to this pull request: %s. These patches fix %d of the %d findings it adds; apply them with `git apply`:\n\n```diff\n%s```\n%s",
			why, len(fixed.Applied), len(intro), patches, skippedSection(fixed.Skipped)))
	}
	if err := writeFiles(headWS.Dir(), fixed.Files); err != nil {
		return err
	}
	after, err := v(ctx, headWS.Dir())
	if err != nil {
		return err
	}
	if n := finding.AtLeast(after.Findings, finding.Error); n > finding.AtLeast(res.Head.Findings, finding.Error) {
		// A fix must never make things worse: publish nothing.
		return r.finishStatus(ctx, pub, q, fmt.Sprintf("❌ The fixes did not validate (%d errors after, %d before), so nothing was pushed. Here they are for a person to judge:\n\n```diff\n%s```", n,
			finding.AtLeast(res.Head.Findings, finding.Error), patches))
	}
	msg := fmt.Sprintf("kubewright: fix %d findings this pull request introduced\n\nRequested with /ai fix in #%d; deterministic fixes, validated.", len(fixed.Applied), q.issue)
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
	log.Info("fixes pushed", "pr", q.issue, "commit", sha, "fixed", len(fixed.Applied), "skipped", len(fixed.Skipped))
	return r.finishStatus(ctx, pub, q, fmt.Sprintf("✅ Pushed %.7s to `%s`: it fixes %d of the %d findings this pull request added, and validates.%s",
		sha, head.GetRef(), len(fixed.Applied), len(intro), skippedSection(fixed.Skipped)))
}

// writeFiles writes the fixed files into the work tree, inside it only.
func writeFiles(dir string, files map[string][]byte) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for p, content := range files {
		if err := root.MkdirAll(filepath.Dir(filepath.FromSlash(p)), 0o755); err != nil {
			return err
		}
		if err := root.WriteFile(filepath.FromSlash(p), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// patches renders the fixed files as one unified diff against the work tree.
func patches(dir string, files map[string][]byte) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, p := range names {
		old, err := root.ReadFile(filepath.FromSlash(p))
		from := "a/" + p
		if errors.Is(err, os.ErrNotExist) {
			old, from = nil, "/dev/null"
		} else if err != nil {
			return "", err
		}
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(old)), B: difflib.SplitLines(string(files[p])),
			FromFile: from, ToFile: "b/" + p, Context: 3})
		if err != nil {
			return "", err
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

func skippedSection(s []fix.Skipped) string {
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
