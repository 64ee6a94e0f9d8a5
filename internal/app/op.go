package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/ops"
	"github.com/kubewright/kubewright/internal/ops/metrics"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/workspace"
)

// OpSettings are `kubewright op`'s arguments.
type OpSettings struct {
	// Root is the repository (a directory of it: its manifests are read
	// from there down).
	Root string
	// Name is the operation ("scale") and Words its arguments as written
	// after it (["order-service", "5", "--force"]).
	Name  string
	Words []string
	// DryRun plans and prints, writing nothing.
	DryRun bool
	// Prometheus is the server resources --from-metrics asks.
	Prometheus string
	// Validation wires the stages the written change is validated with.
	Validation ValidationSettings
}

// OpResult is a planned operation and, when it was written, its
// validation.
type OpResult struct {
	Plan   *ops.Plan
	Report *validate.Report
}

// Operate plans a Day-2 operation on a local repository the way `/ai
// <operation>` does, and unless s.DryRun writes the edited files into
// the working tree and validates it with every stage. Rollback reads
// older revisions from the repository's git history.
func Operate(ctx context.Context, s OpSettings) (*OpResult, error) {
	words := s.Words
	pickTo := s.Name == "rollback" && !slices.ContainsFunc(words, func(w string) bool { return w == "--to" || strings.HasPrefix(w, "--to=") })
	if pickTo {
		words = append(slices.Clone(words), "--to", "HEAD")
	}
	op, err := ops.Parse(s.Name, words)
	if err != nil {
		return nil, &SettingError{err}
	}
	repo, err := ops.Load(s.Root)
	if err != nil {
		return nil, err
	}
	top, rel, err := gitTop(s.Root)
	if pickTo {
		if err != nil {
			return nil, &SettingError{fmt.Errorf("rollback without --to reads the service's history, and %w", err)}
		}
		paths, err := repo.HistoryPaths(op.(ops.Rollback).Service)
		if err != nil {
			return nil, err
		}
		for i, p := range paths {
			paths[i] = filepath.ToSlash(filepath.Join(rel, p))
		}
		_, parent, err := workspace.LastChangeAt(ctx, top, paths)
		if err != nil {
			return nil, err
		}
		words[len(words)-1] = parent
		if op, err = ops.Parse(s.Name, words); err != nil {
			return nil, &SettingError{err}
		}
	}
	opts := ops.Options{}
	if top != "" {
		tmp, err := os.MkdirTemp("", "kubewright-op-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		n := 0
		opts.TreeAt = func(ctx context.Context, rev string) (fs.FS, error) {
			n++
			dest := filepath.Join(tmp, fmt.Sprint(n))
			if _, err := workspace.Export(ctx, top, rev, dest, workspace.CloneOptions{}); err != nil {
				return nil, err
			}
			return os.DirFS(filepath.Join(dest, rel)), nil
		}
	}
	if s.Prometheus != "" {
		c, err := metrics.New(s.Prometheus, &http.Client{Timeout: time.Minute})
		if err != nil {
			return nil, &SettingError{fmt.Errorf("--prometheus: %w", err)}
		}
		opts.Usage = c
	}
	plan, err := repo.Plan(ctx, op, opts)
	if err != nil {
		return nil, err
	}
	out := &OpResult{Plan: plan}
	if s.DryRun {
		return out, nil
	}
	cfg, err := config.LoadRepo(s.Root)
	if err != nil {
		return nil, err
	}
	vs := s.Validation
	vs.RequireDryRun = vs.RequireDryRun || cfg.Validate.Requires(config.RequireDryRun)
	val, err := NewValidation(ctx, vs)
	if err != nil {
		return nil, &SettingError{err}
	}
	defer val.Close()
	if err := plan.Apply(s.Root); err != nil {
		return nil, err
	}
	if out.Report, err = val.Validate(ctx, s.Root, cfg); err != nil {
		return out, err
	}
	return out, nil
}

// gitTop is the top level of the git repository holding dir and dir's
// path below it; an error when dir is in none.
func gitTop(dir string) (top, rel string, err error) {
	top, err = workspace.TopLevel(dir)
	if err != nil {
		return "", "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", "", err
	}
	if top, err = filepath.EvalSymlinks(top); err != nil {
		return "", "", err
	}
	if rel, err = filepath.Rel(top, abs); err != nil {
		return "", "", err
	}
	if rel == "." {
		rel = ""
	}
	if strings.HasPrefix(rel, "..") {
		return "", "", errors.New("the directory is not inside its git repository")
	}
	return top, rel, nil
}
