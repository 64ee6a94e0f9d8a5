package dryrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv is the environment variable envtest reads for the directory
// holding kube-apiserver and etcd.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// ErrNoAssets is returned when no kube-apiserver/etcd binaries are found.
var ErrNoAssets = errors.New("no kube-apiserver/etcd binaries")

// InstallFix is the one command that puts kube-apiserver and etcd where
// FindAssets looks without flags, for messages.
const InstallFix = "run `make install` in a kubewright checkout (it puts kube-apiserver and etcd beside kubewright; the container image has them built in)"

// installedAssets is where `make install` puts kube-apiserver and etcd,
// relative to the directory of the kubewright binary it installs
// ($PREFIX/bin/kubewright, $PREFIX/lib/kubewright/assets).
const installedAssets = "../lib/kubewright/assets"

// InstalledAssetsDir is the directory `make install` puts kube-apiserver
// and etcd in for the running binary: ../lib/kubewright/assets from the
// directory of the executable (symlinks resolved), so an installed
// kubewright finds them wherever PREFIX was. Empty when the executable's
// path is unknown.
func InstalledAssetsDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Join(filepath.Dir(exe), filepath.FromSlash(installedAssets))
}

// FindAssets returns the directory holding kube-apiserver and etcd: flag if
// set, else $KUBEBUILDER_ASSETS, else InstalledAssetsDir. It checks both
// binaries are there; a directory named by flag or variable that lacks
// them is an error, never passed over for the installed one.
func FindAssets(flag string) (string, error) {
	return findAssets(flag, os.Getenv(AssetsEnv), InstalledAssetsDir())
}

func findAssets(flag, env, installed string) (string, error) {
	dir := flag
	if dir == "" {
		dir = env
	}
	if dir == "" {
		if installed == "" || checkAssets(installed) != nil {
			where := "beside the kubewright binary"
			if installed != "" {
				where = "in " + installed
			}
			return "", fmt.Errorf("%w: none %s, and neither --assets nor %s is set: %s", ErrNoAssets, where, AssetsEnv, InstallFix)
		}
		dir = installed
	} else if err := checkAssets(dir); err != nil {
		return "", err
	}
	return filepath.Abs(dir)
}

// checkAssets checks dir holds both binaries, executable.
func checkAssets(dir string) error {
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		st, err := os.Stat(filepath.Join(dir, bin))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("%w: %s has no executable %s (build them with `make testenv`)", ErrNoAssets, dir, bin)
		}
	}
	return nil
}

// Ephemeral is a throwaway kube-apiserver and etcd on 127.0.0.1. It starts
// on first use and is reused by every validation in the process until Stop
// (the CLI: one process, one job); serve hands each job its own through a
// Pool. Nothing reaches a real cluster, and the server never calls out:
// webhook admission is off, and the dry-run stage never installs anything
// that would make it dial (see Check).
type Ephemeral struct {
	assets string
	mu     sync.Mutex
	env    *envtest.Environment
	cfg    *rest.Config
	// Started is how long the last start took (for benchmarks and logs).
	Started time.Duration
	memo    InstallMemo
	// oneJob servers (a Pool's) never start again once stopped: a late
	// validation of an ended job must not bring up a server nobody stops.
	oneJob, retired bool
}

// disabledAdmission are the admission plugins the throwaway server runs
// without. ServiceAccount is envtest's default (no controller creates the
// default ServiceAccount). The rest would make the server call out or let
// one repository's objects change the admission of the next ones; the
// dry-run stage never installs their configuration objects, and with the
// plugins off even an object that slipped through could not take effect.
var disabledAdmission = []string{
	"ServiceAccount",
	"MutatingAdmissionWebhook",
	"ValidatingAdmissionWebhook",
	"ValidatingAdmissionPolicy",
	"MutatingAdmissionPolicy",
}

// Memo is the record of CRDs this server already has; pass it to
// Check so validations that reuse the server skip reinstalling them.
func (e *Ephemeral) Memo() *InstallMemo { return &e.memo }

// NewEphemeral returns an unstarted ephemeral control plane using the
// binaries in assets.
func NewEphemeral(assets string) *Ephemeral { return &Ephemeral{assets: assets} }

// Config starts the control plane if needed and returns a client config
// with client-side rate limits lifted (the server is ours alone).
func (e *Ephemeral) Config(ctx context.Context) (*rest.Config, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg != nil {
		return rest.CopyConfig(e.cfg), nil
	}
	if e.retired {
		return nil, errScopeEnded
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	never := false
	env := &envtest.Environment{
		// envtest would otherwise honour USE_EXISTING_CLUSTER and install
		// CRDs and namespaces on whatever cluster the kubeconfig names.
		UseExistingCluster:       &never,
		BinaryAssetsDirectory:    e.assets,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// The binaries found (FindAssets) and no others: envtest would take
	// $KUBEBUILDER_ASSETS and $TEST_ASSET_* over BinaryAssetsDirectory,
	// so --assets or the installed ones would lose to the environment
	// (and an empty KUBEBUILDER_ASSETS would mean $PATH).
	env.ControlPlane.GetAPIServer().Path = filepath.Join(e.assets, "kube-apiserver")
	env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(e.assets, "etcd")}
	env.ControlPlane.KubectlPath = filepath.Join(e.assets, "kubectl")
	// This server has one client, us: flow control and in-flight limits
	// only cost CPU here.
	api := env.ControlPlane.GetAPIServer().Configure()
	api.Set("enable-priority-and-fairness", "false")
	api.Set("max-requests-inflight", "0")
	api.Set("max-mutating-requests-inflight", "0")
	api.Set("profiling", "false")
	api.Set("disable-admission-plugins", strings.Join(disabledAdmission, ","))
	cfg, err := env.Start()
	if err != nil {
		// A start that failed half way (etcd up, apiserver not ready, or
		// the admin user not provisioned) must not leave processes behind.
		return nil, errors.Join(fmt.Errorf("start ephemeral kube-apiserver from %s: %w", e.assets, err), env.Stop())
	}
	e.Started = time.Since(start)
	cfg.QPS, cfg.Burst = 5000, 5000
	e.env, e.cfg = env, cfg
	return rest.CopyConfig(cfg), nil
}

// dirs are the certificate and data directories of the running server
// (they name its processes on their command lines), or nil when stopped.
func (e *Ephemeral) dirs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.env == nil {
		return nil
	}
	return []string{e.env.ControlPlane.APIServer.CertDir, e.env.ControlPlane.Etcd.DataDir}
}

// Stop shuts the control plane down and removes its data.
func (e *Ephemeral) Stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.retired = e.oneJob
	if e.env == nil {
		return nil
	}
	err := e.env.Stop()
	e.env, e.cfg = nil, nil
	e.memo = InstallMemo{}
	return err
}
