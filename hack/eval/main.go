// Command eval measures kubewright on real repositories: for every fixture
// under testdata/repos and every repository in -repos DIR that has an
// expected-services file, it copies the repository, runs containerize and
// validate on the copy, and prints per repository the detection recall and
// precision against the expected services, port agreement, kube-score
// CRITICAL findings per generated object, and the validation findings on
// the generated files.
//
//	make eval EVAL_REPOS=/tmp/eval-repos
//
// The repositories themselves are never modified.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubewright/kubewright/internal/author/rules/kubescore"
	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/job"
	"github.com/kubewright/kubewright/internal/validate/dryrun"
	"github.com/kubewright/kubewright/internal/validate/suite"
)

func main() {
	repos := flag.String("repos", "", "directory of repositories to evaluate besides the fixtures (each needs an expected-services file)")
	expected := flag.String("expected", "testdata/eval", "directory of <repo>.yaml expected-services files")
	fixtures := flag.String("fixtures", "testdata/repos", "fixture repositories (\"\" to skip them)")
	noDryRun := flag.Bool("no-dry-run", false, "skip the server-side dry-run stage")
	timeout := flag.Duration("timeout", 10*time.Minute, "time allowed per repository")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), log, os.Stdout, options{repos: *repos, expected: *expected, fixtures: *fixtures, dryRun: !*noDryRun, timeout: *timeout}); err != nil {
		fmt.Fprintln(os.Stderr, "eval:", err)
		os.Exit(1)
	}
}

type options struct {
	repos, expected, fixtures string
	dryRun                    bool
	timeout                   time.Duration
}

// target is one repository to evaluate.
type target struct {
	name, dir string
	expected  *expectedFile
	source    string // the expected-services file
}

func run(ctx context.Context, log *slog.Logger, out io.Writer, o options) error {
	var targets []target
	for _, root := range []string{o.fixtures, o.repos} {
		if root == "" {
			continue
		}
		entries, err := os.ReadDir(root)
		if err != nil {
			return fmt.Errorf("read repositories: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(root, e.Name())
			exp, src, ok, err := findExpected(dir, o.expected, e.Name())
			if err != nil {
				return err
			}
			if !ok {
				log.Warn("no expected services: skipped", "repo", dir, "want", filepath.Join(o.expected, e.Name()+".yaml"))
				continue
			}
			targets = append(targets, target{name: e.Name(), dir: dir, expected: exp, source: src})
		}
	}
	if len(targets) == 0 {
		return errors.New("no repository to evaluate: give -repos DIR with repositories that have expected-services files")
	}
	bin, err := kubescore.Binary(".")
	if err != nil {
		return err
	}
	vopts, stop, err := validateOptions(o.dryRun)
	if err != nil {
		return err
	}
	defer stop()
	var results []result
	for _, t := range targets {
		log.Info("evaluating", "repo", t.name)
		r := evaluate(ctx, t, bin, vopts, o.timeout)
		if r.err != nil {
			log.Error("evaluation failed", "repo", t.name, "err", r.err)
		}
		results = append(results, r)
	}
	report(out, results)
	for _, r := range results {
		if r.err != nil {
			return fmt.Errorf("%d of %d repositories could not be evaluated", countErrs(results), len(results))
		}
	}
	return nil
}

func countErrs(rs []result) int {
	n := 0
	for _, r := range rs {
		if r.err != nil {
			n++
		}
	}
	return n
}

// validateOptions are what `kubewright validate` uses: the shared CRDs and,
// unless skipped, a throwaway kube-apiserver for the server-side dry-run.
func validateOptions(dryRun bool) (suite.Options, func(), error) {
	var opts suite.Options
	if crds := os.Getenv("KUBEWRIGHT_CRDS"); crds != "" {
		opts.CRDDirs = []string{crds}
	}
	if !dryRun {
		return opts, func() {}, nil
	}
	assets, err := dryrun.FindAssets("")
	if err != nil {
		return opts, nil, fmt.Errorf("%w (or pass -no-dry-run)", err)
	}
	eph := dryrun.NewEphemeral(assets)
	opts.DryRun = dryrun.Check{Config: func(ctx context.Context) (*rest.Config, error) { return eph.Config(ctx) }, Install: true, Memo: eph.Memo()}
	return opts, func() { _ = eph.Stop() }, nil
}

// result is the evaluation of one repository.
type result struct {
	target
	err      error
	duration time.Duration

	detected, matched          int
	portsChecked, portsAgreed  int
	langAgreed                 int
	missed, extra, portDiff    []string
	unsupported, unsupportedOK int
	unsupportedMissed          []string

	written    int
	kube       []kubescore.Finding
	validation []finding.Finding // on files containerize wrote
	skipped    []string          // validation stages skipped
}

func evaluate(ctx context.Context, t target, bin string, vopts suite.Options, timeout time.Duration) (r result) {
	r.target = t
	start := time.Now()
	defer func() { r.duration = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tmp, err := os.MkdirTemp("", "kubewright-eval-")
	if err != nil {
		r.err = err
		return r
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, t.name)
	if err := copyRepo(t.dir, dir); err != nil {
		r.err = fmt.Errorf("copy %s: %w", t.dir, err)
		return r
	}
	plan, err := job.Containerize(ctx, dir, job.ContainerizeOptions{})
	if err != nil {
		r.err = fmt.Errorf("containerize: %w", err)
		return r
	}
	r.score(plan)
	files := map[string][]byte{}
	written := map[string]bool{}
	for _, f := range plan.Files {
		if f.Action != draft.ActionCreate && f.Action != draft.ActionUpdate {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			r.err = err
			return r
		}
		files[f.Path], written[f.Path] = b, true
	}
	r.written = len(files)
	if r.kube, err = kubescore.Score(ctx, bin, files); err != nil {
		r.err = err
		return r
	}
	rep, err := suite.Validate(ctx, dir, vopts)
	if err != nil {
		r.err = fmt.Errorf("validate: %w", err)
		return r
	}
	for _, f := range rep.Findings {
		if written[f.File] && f.Severity.Rank() >= finding.Warning.Rank() {
			r.validation = append(r.validation, f)
		}
	}
	for _, s := range rep.Stages {
		if s.Skipped != "" {
			r.skipped = append(r.skipped, s.Name+": "+s.Skipped)
		}
	}
	return r
}

// score compares the detected services with the expected ones.
func (r *result) score(plan *job.Plan) {
	exp := r.expected.Services
	r.detected = len(plan.Services)
	pairs := match(plan.Services, exp)
	r.matched = len(pairs)
	used := map[int]bool{}
	for ei, e := range exp {
		di, ok := pairs[ei]
		if !ok {
			r.missed = append(r.missed, fmt.Sprintf("%s (%s, %s)", e.Path, e.Name, e.Language))
			continue
		}
		used[di] = true
		s := plan.Services[di]
		if s.Language == e.Language {
			r.langAgreed++
		}
		r.portsChecked++
		if s.Port == e.Port {
			r.portsAgreed++
		} else {
			r.portDiff = append(r.portDiff, fmt.Sprintf("%s: %d, expected %d (%s)", s.Name, s.Port, e.Port, orNone(s.PortSource)))
		}
	}
	for di, s := range plan.Services {
		if !used[di] {
			r.extra = append(r.extra, fmt.Sprintf("%s (%s, %s)", s.Name, s.Path, s.Language))
		}
	}
	sort.Strings(r.extra)
	r.unsupported = len(r.expected.Unsupported)
	r.unsupportedOK, r.unsupportedMissed = unsupportedFound(plan.Errors, r.expected.Unsupported)
}

func orNone(s string) string {
	if s == "" {
		return "no source"
	}
	return s
}

// maxCopy bounds what a repository copy may hold.
const (
	maxCopyFile  = 64 << 20
	maxCopyTotal = 2 << 30
)

// copyRepo copies a repository's regular files (not its git objects: of
// .git only config, where the remote is named), skipping symlinks and
// files larger than maxCopyFile.
func copyRepo(src, dst string) error {
	var total int64
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".git" && rel != "." {
				if b, err := os.ReadFile(filepath.Join(p, "config")); err == nil && len(b) < 1<<20 {
					if err := os.MkdirAll(filepath.Join(dst, rel), 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(dst, rel, "config"), b, 0o644); err != nil {
						return err
					}
				}
				return fs.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > maxCopyFile {
			return err
		}
		if total += info.Size(); total > maxCopyTotal {
			return fmt.Errorf("more than %d bytes of files", int64(maxCopyTotal))
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
