// Package gocheck is the Go stage of validation: it holds generated (or
// changed) Go modules to what a reviewer would run first: `go mod tidy`,
// then `go build ./...`, `go vet ./...` and `go test -count=1 ./...`, and
// stops at the first step that fails.
//
// Those steps run the module's own code (tests, init functions, anything a
// test starts), so they run only in the sandbox (internal/sandbox): no
// network, no view of kubewright's processes, environment or files, an
// unprivileged user, limits on time, CPU, memory, processes and disk.
// Where there is no sandbox the stage runs nothing and says so (KW-GO-007,
// a warning: nothing in the repository causes it). It never falls back to
// running the code unsandboxed.
//
// Each module is checked in a scratch copy (regular files only; symbolic
// links stay out):
//
//  1. Resolve, outside the sandbox: `go mod tidy` in the copy, with the
//     downloads going through the operator's proxy (Check.Proxy; "off"
//     forbids them) into a module cache of the check's own (or
//     Check.ModCache). Resolving executes nothing of the module's or of
//     its dependencies': the go command only reads go.mod files and
//     import lines, GOTOOLCHAIN=local keeps it from fetching another
//     toolchain, GOVCS=*:off from running git or hg, GOENV=off and a
//     throwaway HOME from reading settings, CGO_ENABLED=0, GOWORK=off, and
//     a replace directive that points at a directory outside the module
//     is refused first (KW-GO-001), so nothing outside the copy is read.
//     The tidied go.mod and go.sum are written back to the module.
//  2. Build, vet and test, inside the sandbox: the copy writable at
//     /sandbox/src/<module>, a build cache of the check's own (seeded from
//     Check.BuildCache, which no sandbox can write), the module cache
//     read-only, GOROOT read-only, GOPROXY=off, GOFLAGS=-mod=readonly, and
//     an environment of go settings only. Nothing the sandbox writes
//     comes back: the copy is removed.
//
// Rules (ID, default severity, what):
//
//	KW-GO-001  error    the module cannot be resolved: no go.mod, a module directory outside the repository, a replace directive pointing outside the module, or `go mod tidy` fails
//	KW-GO-002  error    `go build ./...` fails: one finding per compile error
//	KW-GO-003  error    `go vet ./...` reports a problem: one finding per report
//	KW-GO-004  error    `go test ./...` fails: one finding per failing test message, per panic, or per compile error in the tests
//	KW-GO-005  error    the steps did not finish within the timeout (or validation was cancelled)
//	KW-GO-006  error    the go toolchain could not be run (not installed, `go env` failed): nothing in the repository causes it
//	KW-GO-007  warning  not executed: there is no sandbox on this machine (or it could not be set up), so the module was neither built nor tested
//	KW-GO-008  error    a step ran into one of the sandbox's limits (memory, processes and threads, CPU time, file size, disk) or the module is too large to copy
//
// Findings point at the file and line the go command names, repository
// relative; output that names no location becomes one finding on the
// module's go.mod with the first lines of the output. Absolute paths of the
// workspace, the sandbox and the caches never reach a message.
package gocheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/sandbox"
	"github.com/kubewright/kubewright/internal/validate"
)

// Rule IDs of the Go stage.
const (
	goIDModule    = "KW-GO-001"
	goIDBuild     = "KW-GO-002"
	goIDVet       = "KW-GO-003"
	goIDTest      = "KW-GO-004"
	goIDTimeout   = "KW-GO-005"
	goIDToolchain = "KW-GO-006"
	goIDNoSandbox = "KW-GO-007"
	goIDLimit     = "KW-GO-008"
)

const (
	// goDefaultTimeout bounds all steps of one module together.
	goDefaultTimeout = 5 * time.Minute
	// goOutputCap is how much of one step's output (stdout and stderr
	// together) is kept.
	goOutputCap = 64 << 10
	// goFallbackLines is how many lines of output a finding without a
	// location quotes.
	goFallbackLines = 20
	// goMaxFindings bounds the findings of one step.
	goMaxFindings = 50
	// goMaxMessage bounds one finding's message.
	goMaxMessage = 2000
	// goWaitDelay is how long a step's pipes may stay open after its
	// process group was killed (a process that left the group).
	goWaitDelay = 5 * time.Second
)

// Check builds, vets and tests Go modules (directories holding go.mod,
// repository-relative) in the sandbox.
type Check struct {
	// Modules are the repository-relative module directories to check, e.g.
	// "inventory-service" ("." for the repository root). Empty means every
	// directory of Input.Files holding a go.mod, outside testdata, vendor
	// and directories Go ignores (".x", "_x").
	Modules []string
	// Timeout bounds all steps of one module together (default 5m).
	Timeout time.Duration
	// GoBin is the go binary (default "go", resolved with exec.LookPath at
	// check time). Its GOROOT is mounted into the sandbox read-only.
	GoBin string
	// Env are extra variables (KEY=VALUE) laid over ScrubbedGoEnv for
	// resolving requirements, e.g. GOSUMDB or GOPRIVATE. HOME, the caches,
	// GOFLAGS, GOVCS, GOTOOLCHAIN, GOWORK, GOENV, GOAUTH, GOINSECURE,
	// GONOPROXY and CGO_ENABLED are always the check's; GOPROXY is
	// Proxy's when that is set. The sandbox gets none of them.
	Env []string
	// Sandbox runs build, vet and test. Nil or unavailable: the stage
	// runs nothing and reports KW-GO-007.
	Sandbox *sandbox.Sandbox
	// Proxy is the GOPROXY requirements are downloaded through (outside
	// the sandbox): empty for the process's own (`go env GOPROXY`), "off"
	// to allow no downloads (only what ModCache already holds).
	Proxy string
	// ModCache is a module cache shared by checks: downloads land in it
	// (written by the go command outside the sandbox only) and the
	// sandbox reads it read-only. Every directory on its path must let
	// other users through (the sandbox's user binds it).
	// Empty: a fresh one per module, removed afterwards.
	ModCache string
	// BuildCache is a Go build cache each module's own build cache starts
	// from (its files are linked or copied in; no sandbox can write them).
	// WarmBuildCache fills one. Empty: every module builds from nothing.
	BuildCache string
	// Limits lay over the sandbox's own for the steps (zero fields keep
	// them).
	Limits sandbox.Limits
}

// Name is StageGo.
func (Check) Name() string { return validate.StageGo }

// Check runs the steps over every module and reports what fails.
func (c Check) Check(ctx context.Context, in *validate.Input) []finding.Finding {
	mods := c.Modules
	if len(mods) == 0 {
		mods = goModulesIn(in.Files)
	}
	if len(mods) == 0 {
		return nil
	}
	var out []finding.Finding
	env, err := c.env()
	if err != nil {
		for _, m := range mods {
			out = append(out, goFinding(goIDToolchain, path.Join(goSlashClean(m), "go.mod"), 0,
				fmt.Sprintf("cannot run the go toolchain: %v", err)))
		}
		finding.Sort(out)
		return out
	}
	for _, m := range mods {
		out = append(out, c.checkModule(ctx, in.Dir, env, m, nil)...)
	}
	finding.Sort(out)
	return out
}

// env resolves the go binary and builds the environment resolving starts
// from (ScrubbedGoEnv with Env laid over it).
func (c Check) env() (goEnv, error) {
	bin := c.GoBin
	if bin == "" {
		bin = "go"
	}
	resolved, err := exec.LookPath(bin)
	if err != nil {
		return goEnv{}, fmt.Errorf("find %q: %w (install Go, or set the go binary)", bin, err)
	}
	if abs, err := filepath.Abs(resolved); err == nil {
		resolved = abs
	}
	base, err := scrubbedGoEnv(resolved)
	if err != nil {
		return goEnv{}, err
	}
	vars := append([]string(nil), base.vars...)
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" {
			vars = goSetEnv(vars, kv)
		}
	}
	root := filepath.Clean(base.root)
	if base.root == "" || !filepath.IsAbs(root) {
		return goEnv{}, fmt.Errorf("%s env GOROOT = %q: not an absolute directory", resolved, base.root)
	}
	return goEnv{bin: resolved, vars: vars, version: base.version, root: root}, nil
}

// goEnv is a resolved go binary and the environment its steps start from.
type goEnv struct {
	bin     string
	vars    []string
	version string // GOVERSION, e.g. go1.26.8
	root    string // GOROOT
}

// goStep is one go command run over a module.
type goStep struct {
	name    string   // "go build", as messages say it
	args    []string // after the go binary
	id      string   // rule of its failures
	goflags string
	offline bool // GOPROXY=off; the steps that are offline run in the sandbox
	hint    string
}

func goSteps(version string) []goStep {
	newest := "the go toolchain's"
	if version != "" {
		newest = strings.TrimPrefix(version, "go")
	}
	return []goStep{
		{name: "go mod tidy", args: []string{"mod", "tidy"}, id: goIDModule, goflags: "-mod=mod -modcacherw",
			hint: fmt.Sprintf("make `go mod tidy` succeed: a valid go.mod whose go directive is no newer than %s, requiring modules and versions that exist; the repair agent gets this finding", newest)},
		{name: "go build", args: []string{"build", "-o", os.DevNull, "./..."}, id: goIDBuild, goflags: "-mod=readonly -buildvcs=false", offline: true,
			hint: "fix the compile error; the repair agent gets this finding"},
		{name: "go vet", args: []string{"vet", "./..."}, id: goIDVet, goflags: "-mod=readonly -buildvcs=false", offline: true,
			hint: "fix what go vet reports (format verbs, copied locks, lost context cancels); the repair agent gets this finding"},
		{name: "go test", args: []string{"test", "-count=1", "./..."}, id: goIDTest, goflags: "-mod=readonly -buildvcs=false", offline: true,
			hint: "fix the code or the test so `go test ./...` passes (not by deleting the test); the repair agent gets this finding"},
	}
}

// checkModule runs the steps over one module, stopping at the first that
// fails. keep, when set, gets the module's build cache after every step
// passed (WarmBuildCache).
func (c Check) checkModule(ctx context.Context, repo string, env goEnv, mod string, keep func(gocache string) error) []finding.Finding {
	p, err := goModulePaths(repo, mod)
	if err != nil {
		f := goFinding(goIDModule, "", 0, err.Error())
		f.Hint = "name the module by its directory relative to the repository root, inside the repository"
		return []finding.Finding{f}
	}
	gomod := p.file("go.mod")
	if st, err := os.Stat(filepath.Join(p.abs, "go.mod")); err != nil || !st.Mode().IsRegular() {
		where := p.rel
		if where == "." {
			where = "the repository root"
		}
		f := goFinding(goIDModule, gomod, 0, fmt.Sprintf("%s has no go.mod, so it is no Go module", where))
		f.Hint = "write a go.mod (module path, go directive, requirements) at the root of the service"
		return []finding.Finding{f}
	}
	if !c.Sandbox.Available() {
		return []finding.Finding{goNoSandbox(gomod, c.Sandbox.Err())}
	}
	if err := ctx.Err(); err != nil {
		return []finding.Finding{goCancelled(gomod, "go mod tidy", err)}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = goDefaultTimeout
	}
	mctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	j, fs := c.newGoJob(env, &p)
	if j == nil {
		return fs
	}
	defer j.close()

	steps := goSteps(env.version)
	for _, s := range steps {
		var (
			out       []byte
			truncated bool
			exceeded  sandbox.Limit
			lim       sandbox.Limits
			notRun    bool // the command did not run at all
		)
		if !s.offline {
			var full bool
			out, truncated, full, err = j.resolve(mctx, s)
			if full {
				return []finding.Finding{goLimitFinding(s, gomod, sandbox.LimitDisk, j.limits())}
			}
			var exitErr *exec.ExitError
			notRun = err != nil && !errors.As(err, &exitErr)
			if err == nil {
				if err := j.writeBack(); err != nil {
					return []finding.Finding{goFinding(goIDModule, gomod, 0, fmt.Sprintf("write the tidied go.mod and go.sum: %s", p.clean(err.Error())))}
				}
			}
		} else {
			res, rerr := j.run(mctx, s)
			out, truncated, exceeded, lim = res.Output, res.Truncated, res.Exceeded, res.Limits
			switch {
			case rerr != nil:
				err, notRun = rerr, true
			case exceeded == sandbox.LimitDisk:
				return []finding.Finding{goLimitFinding(s, gomod, exceeded, lim)}
			case res.ExitCode != 0:
				err = fmt.Errorf("%s exited with %d", s.name, res.ExitCode)
			default:
				err = nil
			}
		}
		if err == nil {
			continue
		}
		if mctx.Err() != nil {
			if ctx.Err() != nil {
				return []finding.Finding{goCancelled(gomod, s.name, ctx.Err())}
			}
			f := goFinding(goIDTimeout, gomod, 0, fmt.Sprintf("%s did not finish within %s", s.name, timeout))
			f.Hint = "something blocks: a test or init that waits forever (a server never shut down, a channel nobody sends on, a call without a deadline); fix it so every step finishes in time"
			return []finding.Finding{f}
		}
		if errors.Is(err, sandbox.ErrUnavailable) {
			return []finding.Finding{goNoSandbox(gomod, errors.New(p.clean(err.Error())))}
		}
		if notRun {
			return []finding.Finding{goFinding(goIDToolchain, gomod, 0, fmt.Sprintf("run %s: %s", s.name, p.clean(err.Error())))}
		}
		fs := goParse(s, p, out, truncated)
		if !s.offline {
			fs = j.resolveHints(fs, out)
		}
		if exceeded != "" {
			fs = append([]finding.Finding{goLimitFinding(s, gomod, exceeded, lim)}, fs...)
		}
		return fs
	}
	if keep != nil {
		if err := keep(j.gocache); err != nil {
			return []finding.Finding{goFinding(goIDToolchain, gomod, 0, fmt.Sprintf("keep the build cache: %v", err))}
		}
	}
	return nil
}

// goNoSandbox is the finding of a module that was not executed.
func goNoSandbox(gomod string, why error) finding.Finding {
	reason := "none is configured"
	if why != nil {
		reason = strings.TrimPrefix(why.Error(), sandbox.ErrUnavailable.Error()+": ")
	}
	f := goFinding(goIDNoSandbox, gomod, 0, fmt.Sprintf("go mod tidy, go build, go vet and go test were not executed: no sandbox (install bubblewrap) — %s", reason))
	f.Severity = finding.Warning
	f.Hint = "kubewright runs generated code only in a sandbox: install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces on the machine that runs it, then validate again; nothing in the repository causes this, but the module is untested until then"
	return f
}

// goLimitFinding says which of the sandbox's limits a step ran into.
func goLimitFinding(s goStep, gomod string, which sandbox.Limit, lim sandbox.Limits) finding.Finding {
	what := map[sandbox.Limit]string{
		sandbox.LimitMemory:   "ran out of memory",
		sandbox.LimitProcs:    "could not start another process or thread",
		sandbox.LimitCPU:      "had a process killed: it used up its CPU time (or the machine ran out of memory)",
		sandbox.LimitFileSize: "tried to write a file larger than allowed",
		sandbox.LimitDisk:     "wrote (or downloaded) more files than allowed and was stopped",
	}[which]
	if what == "" {
		what = "ran into a limit"
	}
	f := goFinding(goIDLimit, gomod, 0, fmt.Sprintf("%s %s: the sandbox allows %s", s.name, what, lim.Describe(which)))
	f.Hint = map[sandbox.Limit]string{
		sandbox.LimitMemory:   "find what allocates without bound (a test building a huge slice or map, a leak in a loop, reading a whole stream into memory) and bound it; the repair agent gets this finding",
		sandbox.LimitProcs:    "a test or init starts processes, or blocks OS threads, without bound (a fork loop, goroutines stuck in blocking syscalls); bound it; the repair agent gets this finding",
		sandbox.LimitCPU:      "a test spins without end (a busy loop, a retry without backoff or deadline); make it finish; the repair agent gets this finding",
		sandbox.LimitFileSize: "a test writes an unbounded file; write less (or into a bounded buffer); the repair agent gets this finding",
		sandbox.LimitDisk:     "a test or the build writes without bound, or the module requires more than fits; write less, clean up temporary files, require fewer or smaller modules; the repair agent gets this finding",
	}[which]
	if f.Hint == "" {
		f.Hint = s.hint
	}
	return f
}

func goCancelled(gomod, step string, err error) finding.Finding {
	f := goFinding(goIDTimeout, gomod, 0, fmt.Sprintf("%s was cancelled before it finished (%v): the module was not fully checked", step, err))
	f.Hint = "validation was cancelled; run it again"
	return f
}

func goFinding(id, file string, line int, msg string) finding.Finding {
	f := finding.Finding{ID: id, Severity: finding.Error, Stage: validate.StageGo, File: file, Line: line, Message: goTruncate(msg)}
	if id == goIDToolchain {
		f.Hint = "install Go on the machine that runs kubewright, or point GoBin at it; nothing in the repository causes this"
	}
	return f
}

func goTruncate(s string) string {
	if len(s) <= goMaxMessage {
		return s
	}
	cut := goMaxMessage
	for cut > 0 && (s[cut]&0xC0) == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + " …"
}

// goRun runs one go command in its own process group: a cancelled or
// timed-out context kills the whole group (the test binaries with it), and
// so does the end of the command, so nothing it started outlives it.
func goRun(ctx context.Context, bin, dir string, env, args []string) (out []byte, truncated bool, err error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	buf := &goOutput{max: goOutputCap}
	cmd.Stdout = buf
	cmd.Stderr = buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return goKillGroup(cmd.Process.Pid) }
	cmd.WaitDelay = goWaitDelay
	err = cmd.Run()
	if cmd.Process != nil {
		_ = goKillGroup(cmd.Process.Pid)
	}
	return buf.buf.Bytes(), buf.dropped > 0, err
}

// goKillGroup kills the process group led by pid; a group that is already
// gone is no error.
func goKillGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// goOutput keeps the first max bytes written to it.
type goOutput struct {
	mu      sync.Mutex
	max     int
	buf     bytes.Buffer
	dropped int
}

func (w *goOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := w.max - w.buf.Len()
	if room < 0 {
		room = 0
	}
	if room > len(p) {
		room = len(p)
	}
	w.buf.Write(p[:room])
	w.dropped += len(p) - room
	return len(p), nil
}
