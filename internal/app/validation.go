package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/crds"
	"github.com/kubewright/kubewright/internal/progress"
	"github.com/kubewright/kubewright/internal/sandbox"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/dryrun"
	"github.com/kubewright/kubewright/internal/validate/gocheck"
	"github.com/kubewright/kubewright/internal/validate/schema"
	"github.com/kubewright/kubewright/internal/validate/suite"
)

// ValidationSettings are what serve and the CLI commands validate with.
// The zero value validates custom resources against the CRDs kubewright
// carries (internal/crds), runs a dry-run only when kube-apiserver
// binaries are found ($KUBEBUILDER_ASSETS, or where `make install` put
// them: dryrun.FindAssets), and no Go check.
type ValidationSettings struct {
	// CRDs are files or directories of CustomResourceDefinitions custom
	// resources are checked against, besides the embedded ones: a CRD
	// here replaces the embedded one of the same name or group/kind.
	CRDs []string
	// Assets is the directory with kube-apiserver and etcd for the
	// throwaway dry-run server; empty: $KUBEBUILDER_ASSETS, else where
	// `make install` put them (dryrun.InstalledAssetsDir).
	Assets string
	// Ephemeral asks for the throwaway server (--ephemeral): without its
	// binaries, construction fails instead of skipping the dry-run.
	Ephemeral bool
	// RequireDryRun makes a dry-run that cannot run a construction error.
	RequireDryRun bool
	// NoDryRun skips the dry-run stage (an error with RequireDryRun).
	NoDryRun bool
	// Kubeconfig and Context dry-run against a cluster instead (only
	// dry-run requests are sent); they exclude Ephemeral.
	Kubeconfig, Context string
	// PerJob gives every job (dryrun.JobScope) its own throwaway
	// server from a pool that keeps one spare started (serve). Otherwise
	// one server serves the process (the CLI: one process, one job).
	PerJob bool
	// Sandbox detects where generated Go code runs (GoCheck).
	Sandbox bool
	// GoProxy is the GOPROXY generated Go modules' requirements are
	// downloaded through (config.CheckGoProxy).
	GoProxy string
	// GoCacheSeed is a directory of kubewright's own (never one other
	// users can write) for a Go build cache warmed once, in the sandbox,
	// from the toolchain alone; every Go check starts from it. Empty:
	// each check compiles the standard library anew.
	GoCacheSeed string
	// Names are the settings as messages name them.
	Names SettingNames
	// Progress shows the stages and the first server start; nil: silent.
	Progress *progress.Reporter
	// Log gets the dry-run server's and the warm-up's logs; nil: discarded.
	Log *slog.Logger
}

// SettingNames are how the user set each setting, for messages.
type SettingNames struct {
	CRDs, Assets, GoProxy string
}

// cliNames are the CLI's flags.
var cliNames = SettingNames{CRDs: "--crds", Assets: "--assets", GoProxy: "--go-proxy"}

// Validation is validation wired from ValidationSettings: the options
// every validation shares, the dry-run server(s), and the Go check.
type Validation struct {
	opts    suite.Options
	pool    *dryrun.Pool      // PerJob
	eph     *dryrun.Ephemeral // one server for the process
	box     *sandbox.Sandbox
	boxErr  error
	goCheck gocheck.Check
	log     *slog.Logger

	warmOnce   sync.Once
	warmCancel context.CancelFunc
	warmDone   chan struct{}
}

// NewValidation wires validation from s. A missing or malformed setting
// fails here, with a message naming it and what to do.
func NewValidation(ctx context.Context, s ValidationSettings) (*Validation, error) {
	names := s.Names
	if names == (SettingNames{}) {
		names = cliNames
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &Validation{log: log}
	if s.Progress != nil {
		p := s.Progress
		v.opts.Progress = func(stage string) func() { return p.Start(stage).Done }
	}
	switch {
	case s.NoDryRun && s.RequireDryRun:
		return nil, fmt.Errorf("--no-dry-run skips the dry-run that --require dry-run (or validate.require in %s) makes mandatory: drop one of them", config.RepoConfigPath)
	case s.Ephemeral && s.Kubeconfig != "":
		return nil, errors.New("--ephemeral and --kubeconfig exclude each other")
	}
	if len(s.CRDs) > 0 {
		given, err := schema.LoadCRDs(s.CRDs...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names.CRDs, err)
		}
		v.opts.CRDs = given
	}
	// The embedded CRDs come last (suite.Options.BuiltinCRDs): the
	// tree's, these and the repository's validate.crds win over them.
	builtin, err := crds.Except(v.opts.CRDs)
	if err != nil {
		return nil, err
	}
	v.opts.BuiltinCRDs = builtin
	if err := v.dryRun(s, names); err != nil {
		return nil, err
	}
	if err := config.CheckGoProxy(s.GoProxy); err != nil {
		return nil, fmt.Errorf("%s: %w", names.GoProxy, err)
	}
	if s.Sandbox {
		v.box, v.boxErr = sandbox.Detect(ctx)
		v.goCheck = gocheck.Check{Sandbox: v.box, Proxy: s.GoProxy}
		if v.boxErr == nil && s.GoCacheSeed != "" {
			if err := os.MkdirAll(s.GoCacheSeed, 0o700); err != nil {
				return nil, fmt.Errorf("Go build cache seed %s: %w (the data directory must be writable)", s.GoCacheSeed, err)
			}
			// Set from the start: a seed still being warmed holds only
			// complete entries, and a check takes what is there.
			v.goCheck.BuildCache = s.GoCacheSeed
		}
	}
	return v, nil
}

// dryRun wires the dry-run stage: a cluster, a throwaway server (pooled
// or not), or none (shown as skipped).
func (v *Validation) dryRun(s ValidationSettings, names SettingNames) error {
	if s.NoDryRun {
		v.opts.DryRunSkipped = "switched off (--no-dry-run)"
		return nil
	}
	if s.Kubeconfig != "" {
		cfg, err := loadKubeconfig(s.Kubeconfig, s.Context)
		if err != nil {
			return err
		}
		v.opts.DryRun = dryrun.Check{Config: func(context.Context) (*rest.Config, error) { return cfg, nil }}
		return nil
	}
	assets, err := findAssets(s.Assets, s.Ephemeral || s.RequireDryRun, names.Assets)
	if err != nil {
		return err
	}
	if assets == "" {
		v.opts.DryRunSkipped = fmt.Sprintf("no kube-apiserver found: %s, or point %s at them", dryrun.InstallFix, names.Assets)
		v.log.Warn("server-side dry-run disabled: " + v.opts.DryRunSkipped)
		return nil
	}
	// envtest logs through controller-runtime's global logger, which
	// otherwise prints a stack trace to stderr on its first start.
	ctrllog.SetLogger(logr.FromSlogHandler(v.log.Handler()))
	if s.PerJob {
		// Each job (dryrun.JobScope) gets its own server, stopped when
		// the job ends: no repository's dry-run sees another's CRDs,
		// namespaces or objects. One spare is kept started.
		v.pool = dryrun.NewPool(assets, dryrun.WithPoolLogger(v.log))
		v.opts.DryRun = dryrun.Check{Config: v.pool.Config, Install: true}
		return nil
	}
	v.eph = dryrun.NewEphemeral(assets)
	v.opts.DryRun = dryrun.Check{Config: startingServer(s.Progress, v.eph.Config), Install: true, Memo: v.eph.Memo()}
	return nil
}

// Options are the options every validation starts from.
func (v *Validation) Options() suite.Options { return v.opts }

// Validate validates the tree in dir with repo's settings (the default
// branch's, never the tree's; nil: the tree's) and the extra checks; it
// is a job.Validator.
func (v *Validation) Validate(ctx context.Context, dir string, repo *config.Repo, extra ...validate.Check) (*validate.Report, error) {
	o := v.opts.With(extra...)
	o.Config = repo
	return suite.Validate(ctx, dir, o)
}

// ValidateTree validates dir with the tree's own settings; it is an
// agent.Validator.
func (v *Validation) ValidateTree(ctx context.Context, dir string, extra ...validate.Check) (*validate.Report, error) {
	return v.Validate(ctx, dir, nil, extra...)
}

// GoCheck builds, vets and tests generated Go modules in the sandbox
// (with the warmed build cache seed when one is set).
func (v *Validation) GoCheck() gocheck.Check { return v.goCheck }

// Sandbox is where generated code runs, or why it does not.
func (v *Validation) Sandbox() sandbox.Status { return v.box.Status() }

// SandboxErr is why generated Go code will not run (nil: it will, or the
// sandbox was not asked for).
func (v *Validation) SandboxErr() error { return v.boxErr }

// Start starts a spare dry-run server and warms the Go build cache seed,
// both in the background.
func (v *Validation) Start() {
	if v.pool != nil {
		v.pool.Warm()
	}
	if v.goCheck.BuildCache == "" {
		return
	}
	v.warmOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		v.warmCancel, v.warmDone = cancel, make(chan struct{})
		go func() {
			defer close(v.warmDone)
			v.warm(ctx)
		}()
	})
}

// warm fills the seed from kubewright's own warm-up module only: no
// repository's or model's code ever builds into it.
func (v *Validation) warm(ctx context.Context) {
	c := v.goCheck
	c.BuildCache, c.Proxy = "", "off" // the warm-up module needs no downloads
	c.Timeout = goWarmTimeout
	v.log.Info("warming the Go build cache", "dir", v.goCheck.BuildCache)
	if err := c.WarmBuildCache(ctx, v.goCheck.BuildCache); err != nil {
		if ctx.Err() == nil {
			v.log.Warn("Go build cache not warmed: generated Go code compiles the standard library in each job", "err", err.Error())
		}
		return
	}
	v.log.Info("Go build cache warmed", "dir", v.goCheck.BuildCache)
}

// goWarmTimeout bounds the warm-up: compiling the standard library on a
// busy machine takes minutes.
const goWarmTimeout = 20 * time.Minute

// WaitWarm waits for the build cache warm-up Start began (if any) or for
// ctx.
func (v *Validation) WaitWarm(ctx context.Context) error {
	if v.warmDone == nil {
		return nil
	}
	select {
	case <-v.warmDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the warm-up and every dry-run server (spare or in use).
func (v *Validation) Close() error {
	if v.warmCancel != nil {
		v.warmCancel()
		<-v.warmDone
	}
	var err error
	if v.pool != nil {
		err = v.pool.Close()
	}
	if v.eph != nil {
		err = errors.Join(err, v.eph.Stop())
	}
	return err
}

// GoCacheSeedDir is the seed directory under dataDir for the running
// toolchain (a new Go release starts a new one).
func GoCacheSeedDir(dataDir string) string {
	return filepath.Join(dataDir, "gocache-seed-"+strings.TrimPrefix(runtime.Version(), "go"))
}

// findAssets resolves the kube-apiserver and etcd for the throwaway
// dry-run server: "" when none are configured or installed and the
// dry-run was not asked for (it is then skipped, and shown as skipped); an error naming
// the fix when a directory was named (setting or KUBEBUILDER_ASSETS) and
// lacks them, or the dry-run is required.
func findAssets(dir string, required bool, setting string) (string, error) {
	found, err := dryrun.FindAssets(dir)
	if err == nil {
		return found, nil
	}
	named := dir
	if named == "" {
		named = os.Getenv(dryrun.AssetsEnv)
	}
	switch {
	case !errors.Is(err, dryrun.ErrNoAssets):
		return "", fmt.Errorf("kube-apiserver and etcd in %s: %w", named, err)
	case named != "":
		return "", fmt.Errorf("no kube-apiserver and etcd in %s: build them with `make testenv` (they land in .cache/kube-assets) and pass that directory to %s", named, setting)
	case required:
		return "", fmt.Errorf("the dry-run is required but no kube-apiserver was found: %s; or pass %s DIR (or set %s), or dry-run against a cluster with --kubeconfig", dryrun.InstallFix, setting, dryrun.AssetsEnv)
	}
	return "", nil
}

// startingServer shows the first start of the throwaway kube-apiserver
// (the slow part of the dry-run) as its own step.
func startingServer(p *progress.Reporter, cfg func(context.Context) (*rest.Config, error)) func(context.Context) (*rest.Config, error) {
	if p == nil {
		return cfg
	}
	var once sync.Once
	return func(ctx context.Context) (*rest.Config, error) {
		first := false
		once.Do(func() { first = true })
		if !first {
			return cfg(ctx)
		}
		s := p.Start("starting kube-apiserver and etcd")
		defer s.Done()
		return cfg(ctx)
	}
}

func loadKubeconfig(path, kubeContext string) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg, nil
}
