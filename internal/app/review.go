package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// ReviewSettings are `kubewright review`'s flags.
type ReviewSettings struct {
	// Root is a directory of the git repository to review.
	Root string
	// Base is the revision the change is compared with (a branch, a tag,
	// a commit); Head the revision reviewed, "" for the working tree as
	// it is (uncommitted changes included).
	Base, Head string
	// Validation wires the stages (CRDs, the dry-run).
	Validation ValidationSettings
}

// LocalReview is a review of two revisions of a local repository.
type LocalReview struct {
	*job.Reviewed
	// BaseCommit is the commit compared with; HeadCommit the one reviewed
	// ("" for the working tree).
	BaseCommit, HeadCommit string
}

// Review reviews a change locally the way a pull request is reviewed:
// the base's .github/kubewright.yaml (the trusted side) for both sides,
// both validated, the findings compared, fixes and the Flux diff
// prepared. Revisions are exported to temporary directories; the
// checkout is only read.
func Review(ctx context.Context, s ReviewSettings) (*LocalReview, error) {
	tmp, err := os.MkdirTemp("", "kubewright-review-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// PATH may be a directory inside the repository: both sides are
	// that directory of their revision.
	top, err := workspace.TopLevel(s.Root)
	if err != nil {
		return nil, &SettingError{err}
	}
	abs, err := filepath.Abs(s.Root)
	if err != nil {
		return nil, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, err
	}
	if top, err = filepath.EvalSymlinks(top); err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(top, abs)
	if err != nil {
		return nil, err
	}
	out := &LocalReview{}
	if out.BaseCommit, err = workspace.Export(ctx, top, s.Base, filepath.Join(tmp, "base"), workspace.CloneOptions{}); err != nil {
		return nil, &SettingError{fmt.Errorf("--base: %w", err)}
	}
	baseDir, headDir := filepath.Join(tmp, "base", rel), abs
	if err := os.MkdirAll(baseDir, 0o755); err != nil { // a directory the change adds
		return nil, err
	}
	if s.Head != "" {
		if out.HeadCommit, err = workspace.Export(ctx, top, s.Head, filepath.Join(tmp, "head"), workspace.CloneOptions{}); err != nil {
			return nil, &SettingError{fmt.Errorf("--head: %w", err)}
		}
		headDir = filepath.Join(tmp, "head", rel)
		if err := os.MkdirAll(headDir, 0o755); err != nil {
			return nil, err
		}
	}
	// The settings are the base's, at the repository's root.
	cfg, err := config.LoadRepo(filepath.Join(tmp, "base"))
	if err != nil {
		return nil, fmt.Errorf("the base's settings: %w", err)
	}
	vs := s.Validation
	vs.RequireDryRun = vs.RequireDryRun || cfg.Validate.Requires(config.RequireDryRun)
	val, err := NewValidation(ctx, vs)
	if err != nil {
		return nil, &SettingError{err}
	}
	defer val.Close()
	v := func(ctx context.Context, dir string, extra ...validate.Check) (*validate.Report, error) {
		return val.Validate(ctx, dir, cfg, extra...)
	}
	if out.Reviewed, err = job.ReviewTrees(ctx, v, baseDir, headDir); err != nil {
		return nil, err
	}
	return out, nil
}
