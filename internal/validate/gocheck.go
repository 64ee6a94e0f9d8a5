package validate

// The Go stage holds generated (or changed) Go modules to what a reviewer
// would run first: `go mod tidy`, then `go build ./...`, `go vet ./...` and
// `go test -count=1 ./...`, each in a subprocess in the module's directory.
// The steps run with a scrubbed environment (ScrubbedGoEnv: no tokens, no
// kubewright settings, a throwaway HOME), in their own process group so a
// timeout kills the test binaries too, and stop at the first step that
// fails. Only tidy may download modules; the later steps run with
// GOFLAGS=-mod=readonly and GOPROXY=off.
//
// The stage runs the module's own code (tests, init functions): it is meant
// for code kubewright's agents wrote, in a workspace on a machine that holds
// nothing the scrubbed environment does not hand out.
//
// Rules (ID, default severity, what):
//
//	KW-GO-001  error  the module cannot be resolved: no go.mod, a module directory outside the repository, or `go mod tidy` fails
//	KW-GO-002  error  `go build ./...` fails: one finding per compile error
//	KW-GO-003  error  `go vet ./...` reports a problem: one finding per report
//	KW-GO-004  error  `go test ./...` fails: one finding per failing test message, per panic, or per compile error in the tests
//	KW-GO-005  error  the steps did not finish within the timeout (or validation was cancelled)
//	KW-GO-006  error  the go toolchain could not be run (not installed, `go env` failed): nothing in the repository causes it
//
// Findings point at the file and line the go command names, repository
// relative; output that names no location becomes one finding on the
// module's go.mod with the first lines of the output. Absolute paths of the
// workspace never reach a message.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
)

// Rule IDs of the Go stage.
const (
	goIDModule    = "KW-GO-001"
	goIDBuild     = "KW-GO-002"
	goIDVet       = "KW-GO-003"
	goIDTest      = "KW-GO-004"
	goIDTimeout   = "KW-GO-005"
	goIDToolchain = "KW-GO-006"
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

// GoCheck builds, vets and tests Go modules (directories holding go.mod,
// repository-relative) in subprocesses.
type GoCheck struct {
	// Modules are the repository-relative module directories to check, e.g.
	// "inventory-service" ("." for the repository root). Empty means every
	// directory of Input.Files holding a go.mod, outside testdata, vendor
	// and directories Go ignores (".x", "_x").
	Modules []string
	// Timeout bounds all steps of one module together (default 5m).
	Timeout time.Duration
	// GoBin is the go binary (default "go", resolved with exec.LookPath at
	// check time).
	GoBin string
	// Env are extra variables (KEY=VALUE) laid over ScrubbedGoEnv, e.g. a
	// GOPROXY or GOMODCACHE of the caller's choosing. HOME, GOFLAGS, and
	// GOPROXY for the steps after tidy are always set by the check.
	Env []string
}

// Name is StageGo.
func (GoCheck) Name() string { return StageGo }

// Check runs the steps over every module and reports what fails.
func (c GoCheck) Check(ctx context.Context, in *Input) []finding.Finding {
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
		out = append(out, c.checkModule(ctx, in.Dir, env, m)...)
	}
	finding.Sort(out)
	return out
}

// env resolves the go binary and builds the environment the steps start
// from (ScrubbedGoEnv with Env laid over it).
func (c GoCheck) env() (goEnv, error) {
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
	return goEnv{bin: resolved, vars: vars, version: base.version}, nil
}

// goEnv is a resolved go binary and the environment its steps start from.
type goEnv struct {
	bin     string
	vars    []string
	version string // GOVERSION, e.g. go1.26.8
}

// goStep is one go command run over a module.
type goStep struct {
	name    string   // "go build", as messages say it
	args    []string // after the go binary
	id      string   // rule of its failures
	goflags string
	offline bool // GOPROXY=off
	hint    string
}

func goSteps(version string) []goStep {
	newest := "the go toolchain's"
	if version != "" {
		newest = strings.TrimPrefix(version, "go")
	}
	return []goStep{
		{name: "go mod tidy", args: []string{"mod", "tidy"}, id: goIDModule, goflags: "-mod=mod",
			hint: fmt.Sprintf("make `go mod tidy` succeed: a valid go.mod whose go directive is no newer than %s, requiring modules and versions that exist; the repair agent gets this finding", newest)},
		{name: "go build", args: []string{"build", "-o", os.DevNull, "./..."}, id: goIDBuild, goflags: "-mod=readonly -buildvcs=false", offline: true,
			hint: "fix the compile error; the repair agent gets this finding"},
		{name: "go vet", args: []string{"vet", "./..."}, id: goIDVet, goflags: "-mod=readonly -buildvcs=false", offline: true,
			hint: "fix what go vet reports (format verbs, copied locks, lost context cancels); the repair agent gets this finding"},
		{name: "go test", args: []string{"test", "-count=1", "./..."}, id: goIDTest, goflags: "-mod=readonly -buildvcs=false", offline: true,
			hint: "fix the code or the test so `go test ./...` passes (not by deleting the test); the repair agent gets this finding"},
	}
}

// checkModule runs the steps over one module, stopping at the first that fails.
func (c GoCheck) checkModule(ctx context.Context, repo string, env goEnv, mod string) []finding.Finding {
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
	if err := ctx.Err(); err != nil {
		return []finding.Finding{goCancelled(gomod, "go mod tidy", err)}
	}
	home, err := os.MkdirTemp("", "kubewright-gohome-")
	if err != nil {
		return []finding.Finding{goFinding(goIDToolchain, gomod, 0, fmt.Sprintf("create a HOME for the go command: %v", err))}
	}
	defer os.RemoveAll(home)
	p.home = home

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = goDefaultTimeout
	}
	mctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	for _, s := range goSteps(env.version) {
		vars := goSetEnv(append([]string(nil), env.vars...), "HOME="+home)
		vars = goSetEnv(vars, "GOFLAGS="+s.goflags)
		if s.offline {
			vars = goSetEnv(vars, "GOPROXY=off")
		}
		out, truncated, err := goRun(mctx, env.bin, p.abs, vars, s.args)
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
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return []finding.Finding{goFinding(goIDToolchain, gomod, 0, fmt.Sprintf("run %s: %s", s.name, p.clean(err.Error())))}
		}
		return goParse(s, p, out, truncated)
	}
	return nil
}

func goCancelled(gomod, step string, err error) finding.Finding {
	f := goFinding(goIDTimeout, gomod, 0, fmt.Sprintf("%s was cancelled before it finished (%v): the module was not fully checked", step, err))
	f.Hint = "validation was cancelled; run it again"
	return f
}

func goFinding(id, file string, line int, msg string) finding.Finding {
	f := finding.Finding{ID: id, Severity: finding.Error, Stage: StageGo, File: file, Line: line, Message: goTruncate(msg)}
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

// ---- environment ----

// goEnvKeys are the go settings a module's build inherits from the
// process's own `go env`; everything else it gets is fixed here.
var goEnvKeys = []string{"GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}

// goFixedEnv are set whatever the process has. GOWORK=off keeps a go.work
// above the module (the repository's, or a temporary directory's) from
// turning the check into a workspace build.
var goFixedEnv = []string{"GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off"}

type goEnvResult struct {
	vars    []string
	version string
}

var (
	goEnvMu    sync.Mutex
	goEnvCache = map[string]goEnvResult{}
)

// ScrubbedGoEnv is the whole environment a generated module's build gets,
// save HOME, which GoCheck sets to a temporary directory of its own for
// each module and removes afterwards: PATH, the process's GOCACHE,
// GOMODCACHE, GOPROXY, GOSUMDB, GONOSUMDB and GOPRIVATE as `go env` reports
// them (those that are set), GOTOOLCHAIN=local, CGO_ENABLED=0, GOFLAGS= and
// GOWORK=off. Nothing else of the process's environment (tokens, API keys,
// KUBEWRIGHT_*, GITHUB_*) is passed on. `go env` runs once per go binary;
// its answer is kept.
func ScrubbedGoEnv() ([]string, error) {
	bin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("find go: %w (install Go)", err)
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	r, err := scrubbedGoEnv(bin)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), r.vars...), nil
}

func scrubbedGoEnv(bin string) (goEnvResult, error) {
	goEnvMu.Lock()
	defer goEnvMu.Unlock()
	if r, ok := goEnvCache[bin]; ok {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"env", "-json", "GOVERSION"}, goEnvKeys...)...)
	cmd.Dir = os.TempDir() // no go.mod or go.work of the caller's
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return goEnvResult{}, fmt.Errorf("%s env: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	var vals map[string]string
	if err := json.Unmarshal(out, &vals); err != nil {
		return goEnvResult{}, fmt.Errorf("%s env -json: %w", bin, err)
	}
	pathVar := os.Getenv("PATH")
	if pathVar == "" {
		pathVar = "/usr/local/bin:/usr/bin:/bin"
	}
	// The go binary's own directory first, so a test that runs "go" gets
	// the same one.
	vars := []string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + pathVar}
	for _, k := range goEnvKeys {
		if v := vals[k]; v != "" {
			vars = append(vars, k+"="+v)
		}
	}
	vars = append(vars, goFixedEnv...)
	r := goEnvResult{vars: vars, version: vals["GOVERSION"]}
	goEnvCache[bin] = r
	return r, nil
}

// goSetEnv sets kv (KEY=VALUE) in vars, replacing an earlier KEY.
func goSetEnv(vars []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range vars {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			vars[i] = kv
			return vars
		}
	}
	return append(vars, kv)
}

// ---- modules and paths ----

// goModulesIn lists the directories of files that hold a go.mod, skipping
// testdata, vendor and directories the go command ignores.
func goModulesIn(files []string) []string {
	var mods []string
	for _, f := range files {
		if path.Base(f) != "go.mod" {
			continue
		}
		dir := path.Dir(f)
		skip := false
		for _, seg := range strings.Split(dir, "/") {
			if seg == "testdata" || seg == "vendor" || seg != "." && (strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_")) {
				skip = true
				break
			}
		}
		if !skip {
			mods = append(mods, dir)
		}
	}
	sort.Strings(mods)
	return mods
}

func goSlashClean(mod string) string {
	m := filepath.ToSlash(mod)
	if m == "" {
		return "."
	}
	return path.Clean(m)
}

// goPaths locates one module: repository-relative and on disk, and turns
// paths the go command prints back into repository-relative ones.
type goPaths struct {
	rel string // repository-relative, slash-separated, "." for the root
	abs string // absolute module directory
	// dirs are absolute directories as the go command may print them
	// (as given and with symbolic links resolved), each with what it
	// becomes in messages; longest first.
	dirs []goDirRename
	home string
}

type goDirRename struct{ from, to string }

// goModulePaths checks that mod stays inside the repository (a module
// directory may come from a model) and resolves it.
func goModulePaths(repo, mod string) (goPaths, error) {
	if mod == "" {
		mod = "."
	}
	if filepath.IsAbs(mod) || path.IsAbs(filepath.ToSlash(mod)) || filepath.VolumeName(mod) != "" {
		return goPaths{}, fmt.Errorf("module directory %q is absolute: give it relative to the repository root", mod)
	}
	rel := goSlashClean(mod)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return goPaths{}, fmt.Errorf("module directory %q leaves the repository: give it relative to the repository root", mod)
	}
	repoAbs, err := filepath.Abs(repo)
	if err != nil {
		return goPaths{}, fmt.Errorf("module directory %q: %w", mod, err)
	}
	p := goPaths{rel: rel, abs: filepath.Join(repoAbs, filepath.FromSlash(rel))}
	repoReal, rerr := filepath.EvalSymlinks(repoAbs)
	modReal, merr := filepath.EvalSymlinks(p.abs)
	if rerr == nil && merr == nil {
		r, err := filepath.Rel(repoReal, modReal)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return goPaths{}, fmt.Errorf("module directory %q is a symbolic link out of the repository", mod)
		}
	}
	add := func(from, to string) {
		if from != "" {
			p.dirs = append(p.dirs, goDirRename{filepath.ToSlash(from), to})
		}
	}
	add(p.abs, rel)
	if merr == nil && modReal != p.abs {
		add(modReal, rel)
	}
	add(repoAbs, ".")
	if rerr == nil && repoReal != repoAbs {
		add(repoReal, ".")
	}
	sort.SliceStable(p.dirs, func(i, j int) bool { return len(p.dirs[i].from) > len(p.dirs[j].from) })
	return p, nil
}

// file is the repository-relative path of a module-relative file.
func (p goPaths) file(name string) string {
	return path.Join(p.rel, name)
}

// clean replaces absolute workspace paths in s with repository-relative
// ones, and the throwaway HOME with $HOME.
func (p goPaths) clean(s string) string {
	var pairs []string
	if p.home != "" {
		pairs = append(pairs, filepath.ToSlash(p.home), "$HOME")
	}
	for _, d := range p.dirs {
		if d.to == "." {
			pairs = append(pairs, d.from+"/", "", d.from, ".")
		} else {
			pairs = append(pairs, d.from+"/", d.to+"/", d.from, d.to)
		}
	}
	if len(pairs) == 0 {
		return s
	}
	// Every replacement is shorter than what it replaces, so repeating
	// until nothing changes ends, and leaves no path that a replacement
	// happened to join together.
	r := strings.NewReplacer(pairs...)
	for {
		next := r.Replace(s)
		if next == s {
			return s
		}
		s = next
	}
}

// repoFile turns a path the go command printed (module-relative, maybe
// "./"-prefixed, or absolute) into a repository-relative one; false when
// it is outside the repository (the module cache, GOROOT).
func (p goPaths) repoFile(name string) (string, bool) {
	name = filepath.ToSlash(name)
	if path.IsAbs(name) {
		for _, d := range p.dirs {
			if strings.HasPrefix(name, d.from+"/") {
				return goInRepo(path.Join(d.to, strings.TrimPrefix(name, d.from+"/")))
			}
		}
		return "", false
	}
	return goInRepo(path.Join(p.rel, name))
}

// goInRepo passes a cleaned repository-relative path that stays inside the
// repository.
func goInRepo(f string) (string, bool) {
	if f == "." || f == ".." || strings.HasPrefix(f, "../") || path.IsAbs(f) {
		return "", false
	}
	return f, true
}

// ---- output parsing ----

var (
	// goReLoc is a compile or vet error: file.go:LINE[:COL]: message, at
	// the start of the line ("vet: " before type-check errors).
	goReLoc = regexp.MustCompile(`^(vet: )?([^\s:][^:]*\.go):(\d+)(?::(\d+))?: (.*)$`)
	// goReModLoc is an error located in a go.mod.
	goReModLoc = regexp.MustCompile(`(?:^|\s)(\S*go\.mod):(\d+)(?::\d+)?: `)
	// goReTestLog is a test's log line: indented file.go:LINE: message.
	goReTestLog = regexp.MustCompile(`^(\s+)([^\s:]+\.go):(\d+): (.*)$`)
	// goReFail is a failing test's header.
	goReFail = regexp.MustCompile(`^(\s*)--- FAIL: (\S+)`)
	// goRePkgEnd ends a package's test output: "FAIL\tpath\t0.01s",
	// "FAIL\tpath [build failed]", "ok  \tpath\t0.01s".
	goRePkgEnd = regexp.MustCompile(`^(?:FAIL|ok)\s+(\S+)`)
	// goRePanic starts a panic.
	goRePanic = regexp.MustCompile(`^panic: (.*?)(?: \[recovered.*\])?$`)
	// goReFrame is a stack frame's location line.
	goReFrame = regexp.MustCompile(`^\t(.+\.go):(\d+)(?: \+0x[0-9a-f]+)?$`)
)

// goFailedTest is a test named by a "--- FAIL" line.
type goFailedTest struct {
	name     string
	indent   int
	reported bool // a finding names it
}

// goPending is a finding whose file is known only once its package is: go
// test names a log line's file by its base name and prints the package
// after the test output.
type goPending struct {
	idx  int    // into out
	base string // the log line's file name, or "" when the test's declaration locates the finding
	test string
}

type goParser struct {
	step    goStep
	p       goPaths
	modPath string // the module path of go.mod
	out     []finding.Finding
	seen    map[string]bool
	more    int // findings left out past goMaxFindings
	last    int // index in out that continuation lines extend, or -1
	lastInd int // indentation of the line that made out[last]

	// The current package's test output.
	tests      []goFailedTest
	blockStart int   // first test of the current package
	stack      []int // failing tests enclosing the current line (into tests)
	pend       []goPending

	panicMsg string // an open panic not yet located
	panicAt  int    // the test it belongs to (into tests), or -1
}

// goParse turns a failed step's output into findings.
func goParse(s goStep, p goPaths, raw []byte, truncated bool) []finding.Finding {
	text := strings.ReplaceAll(string(raw), "\r\n", "\n")
	if s.id == goIDModule {
		return goParseTidy(s, p, text, truncated)
	}
	ps := &goParser{step: s, p: p, modPath: goModulePath(p.abs), seen: map[string]bool{}, last: -1, panicAt: -1}
	for _, line := range strings.Split(text, "\n") {
		ps.line(line)
	}
	ps.endPackage("")
	if len(ps.out) == 0 {
		ps.out = append(ps.out, ps.fallback(text, truncated))
	}
	if ps.more > 0 {
		ps.out = append(ps.out, ps.finding(s.id, p.file("go.mod"), 0, fmt.Sprintf("%s: %d more problems not shown", s.name, ps.more)))
	}
	return ps.out
}

func (ps *goParser) line(line string) {
	// A panic collects frames until one in the module locates it, or
	// its package's output ends.
	if ps.panicMsg != "" {
		if m := goReFrame.FindStringSubmatch(line); m != nil {
			if f, ok := ps.p.repoFile(m[1]); ok && ps.inModule(f) {
				n, _ := strconv.Atoi(m[2])
				ps.panicLocated(f, n)
			}
			return
		}
		if !strings.HasPrefix(line, "FAIL") && !strings.HasPrefix(line, "ok ") && !goReFail.MatchString(line) {
			return
		}
		ps.closePanic()
	}

	if m := goRePkgEnd.FindStringSubmatch(line); m != nil && ps.step.id == goIDTest {
		ps.endPackage(m[1])
		return
	}
	if m := goReFail.FindStringSubmatch(line); m != nil {
		ind := len(m[1])
		for len(ps.stack) > 0 && ps.tests[ps.stack[len(ps.stack)-1]].indent >= ind {
			ps.stack = ps.stack[:len(ps.stack)-1]
		}
		ps.tests = append(ps.tests, goFailedTest{name: m[2], indent: ind})
		ps.stack = append(ps.stack, len(ps.tests)-1)
		ps.last = -1
		return
	}
	if m := goRePanic.FindStringSubmatch(line); m != nil {
		ps.panicMsg = m[1]
		ps.panicAt = -1
		if len(ps.stack) > 0 {
			ps.panicAt = ps.stack[len(ps.stack)-1]
		}
		ps.last = -1
		return
	}
	if m := goReTestLog.FindStringSubmatch(line); m != nil && ps.testLog(m) {
		return
	}
	// Continuation of the last message: deeper-indented lines.
	indent := len(line) - len(strings.TrimLeft(line, " \t"))
	if ps.last >= 0 && indent > ps.lastInd && strings.TrimSpace(line) != "" {
		ps.out[ps.last].Message = goTruncate(ps.out[ps.last].Message + "\n" + strings.TrimSpace(ps.p.clean(line)))
		return
	}
	ps.last = -1
	if m := goReLoc.FindStringSubmatch(line); m != nil {
		id := ps.step.id
		if m[1] != "" && strings.HasSuffix(m[2], "_test.go") {
			id = goIDTest // go vet type-checks the tests: they do not compile
		}
		n, _ := strconv.Atoi(m[3])
		if file, ok := ps.p.repoFile(m[2]); ok {
			ps.add(id, file, n, m[5])
		} else {
			ps.add(id, ps.p.file("go.mod"), 0, m[2]+":"+m[3]+": "+m[5])
		}
		ps.lastInd = 0
	}
}

// testLog reports a failing test's log line; false when no failing test
// encloses it.
func (ps *goParser) testLog(m []string) bool {
	ti := -1
	for k := len(ps.stack) - 1; k >= 0; k-- {
		if ps.tests[ps.stack[k]].indent < len(m[1]) {
			ti = ps.stack[k]
			break
		}
	}
	if ti < 0 {
		return false
	}
	ps.tests[ti].reported = true
	n, _ := strconv.Atoi(m[3])
	name := m[2]
	file, ok := ps.p.repoFile(name)
	if !ok {
		file, n = ps.p.file("go.mod"), 0
	}
	if idx := ps.add(goIDTest, file, n, ps.tests[ti].name+": "+m[4]); idx >= 0 {
		if ok && !strings.Contains(name, "/") {
			ps.pend = append(ps.pend, goPending{idx: idx, base: name, test: ps.tests[ti].name})
		} else if !ok {
			ps.pend = append(ps.pend, goPending{idx: idx, test: ps.tests[ti].name})
		}
	}
	ps.lastInd = len(m[1])
	return true
}

// inModule reports whether the repository-relative file is in this module.
func (ps *goParser) inModule(f string) bool {
	return ps.p.rel == "." || f == ps.p.rel || strings.HasPrefix(f, ps.p.rel+"/")
}

func (ps *goParser) panicMessage() string {
	if ps.panicAt >= 0 {
		ps.tests[ps.panicAt].reported = true
		return ps.tests[ps.panicAt].name + " panicked: " + ps.panicMsg
	}
	return "panic: " + ps.panicMsg
}

func (ps *goParser) panicLocated(file string, line int) {
	ps.add(goIDTest, file, line, ps.panicMessage())
	ps.panicMsg = ""
	ps.last = -1
}

// closePanic reports an open panic that no frame of the module located:
// at its test's declaration, or on go.mod.
func (ps *goParser) closePanic() {
	if ps.panicMsg == "" {
		return
	}
	test := ""
	if ps.panicAt >= 0 {
		test = ps.tests[ps.panicAt].name
	}
	if idx := ps.add(goIDTest, ps.p.file("go.mod"), 0, ps.panicMessage()); idx >= 0 && test != "" {
		ps.pend = append(ps.pend, goPending{idx: idx, test: test})
	}
	ps.panicMsg = ""
	ps.last = -1
}

// endPackage closes one package's test output (importPath "" at the end of
// the output, when the package is unknown): failing tests that printed
// nothing get a finding, and pending files are resolved.
func (ps *goParser) endPackage(importPath string) {
	ps.closePanic()
	for i := ps.blockStart; i < len(ps.tests); i++ {
		t := ps.tests[i]
		if t.reported || ps.hasReportedChild(i) {
			continue
		}
		if idx := ps.add(goIDTest, ps.p.file("go.mod"), 0, t.name+" failed without a message (t.Fail, or a failure it did not log)"); idx >= 0 {
			ps.pend = append(ps.pend, goPending{idx: idx, test: t.name})
		}
	}
	dir, known := ps.pkgDir(importPath)
	for _, pd := range ps.pend {
		f := &ps.out[pd.idx]
		switch {
		case pd.base != "" && known:
			f.File = ps.p.file(path.Join(dir, pd.base))
		case pd.base != "":
			if loc, ok := ps.testDecl("", false, pd.test); ok && path.Base(loc.File) == pd.base {
				f.File = loc.File
			} else if file, ok := goFindFile(ps.p.abs, pd.base); ok {
				if rf, ok := ps.p.repoFile(file); ok {
					f.File = rf
				}
			}
		default:
			if loc, ok := ps.testDecl(dir, known, pd.test); ok {
				f.File, f.Line = loc.File, loc.Line
			}
		}
	}
	ps.pend = nil
	ps.blockStart = len(ps.tests)
	ps.stack = nil
	ps.last = -1
}

func (ps *goParser) hasReportedChild(i int) bool {
	prefix := ps.tests[i].name + "/"
	for _, t := range ps.tests[ps.blockStart:] {
		if t.reported && strings.HasPrefix(t.name, prefix) {
			return true
		}
	}
	return false
}

// pkgDir is the module-relative directory of an import path of the module.
func (ps *goParser) pkgDir(importPath string) (string, bool) {
	if importPath == "" || ps.modPath == "" {
		return "", false
	}
	if importPath == ps.modPath {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(importPath, ps.modPath+"/"); ok {
		return rest, true
	}
	return "", false
}

// testDecl locates a test function (the top-level name of a subtest) in
// the package directory when known, else anywhere in the module.
func (ps *goParser) testDecl(dir string, known bool, test string) (finding.Finding, bool) {
	top, _, _ := strings.Cut(test, "/")
	root, recursive := ps.p.abs, true
	if known {
		root, recursive = filepath.Join(ps.p.abs, filepath.FromSlash(dir)), false
	}
	file, line, ok := goFindFunc(root, top, recursive)
	if !ok {
		return finding.Finding{}, false
	}
	rf, ok := ps.p.repoFile(file)
	return finding.Finding{File: rf, Line: line}, ok
}

func (ps *goParser) finding(id, file string, line int, msg string) finding.Finding {
	f := goFinding(id, file, line, ps.p.clean(msg))
	f.Hint = ps.step.hint
	if id == goIDTest && ps.step.id != goIDTest {
		f.Hint = goSteps("")[3].hint
	}
	return f
}

// add appends a finding and returns its index; -1 when it repeats one or
// is past the limit.
func (ps *goParser) add(id, file string, line int, msg string) int {
	key := id + "\x00" + file + "\x00" + strconv.Itoa(line) + "\x00" + msg
	ps.last = -1
	if ps.seen[key] {
		return -1
	}
	ps.seen[key] = true
	if len(ps.out) >= goMaxFindings {
		ps.more++
		return -1
	}
	ps.out = append(ps.out, ps.finding(id, file, line, msg))
	ps.last = len(ps.out) - 1
	return ps.last
}

// fallback is the one finding for output that names no location.
func (ps *goParser) fallback(text string, truncated bool) finding.Finding {
	msg := ps.step.name + " failed"
	if lines := goFirstLines(ps.p.clean(text), goFallbackLines); lines != "" {
		msg += ":\n" + lines
	} else {
		msg += " and printed nothing"
	}
	if truncated {
		msg += "\n(output cut at 64 KiB)"
	}
	return ps.finding(ps.step.id, ps.p.file("go.mod"), 0, msg)
}

// goParseTidy reports a failed `go mod tidy`: one finding on go.mod (at the
// line the output names in it, if any) quoting the first lines.
func goParseTidy(s goStep, p goPaths, text string, truncated bool) []finding.Finding {
	gomod := p.file("go.mod")
	line := 0
	for _, m := range goReModLoc.FindAllStringSubmatch(text, -1) {
		if f, ok := p.repoFile(m[1]); ok && f == gomod {
			line, _ = strconv.Atoi(m[2])
			break
		}
	}
	msg := "go mod tidy failed"
	if lines := goFirstLines(p.clean(text), goFallbackLines); lines != "" {
		msg += ":\n" + lines
	}
	if truncated {
		msg += "\n(output cut at 64 KiB)"
	}
	f := goFinding(goIDModule, gomod, line, msg)
	f.Hint = s.hint
	return []finding.Finding{f}
}

func goFirstLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if len(keep) == n {
			keep = append(keep, "…")
			break
		}
		keep = append(keep, strings.TrimRight(l, " \t"))
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// goModulePath reads the module path from the module's go.mod.
func goModulePath(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		l, _, _ = strings.Cut(l, "//")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), "\"`")
		}
	}
	return ""
}

// goFindFunc finds "func Name(" in the _test.go files of dir (and below it
// when recursive, nested modules and testdata aside).
func goFindFunc(dir, name string, recursive bool) (file string, line int, ok bool) {
	if name == "" {
		return "", 0, false
	}
	decl := "func " + name + "("
	goWalk(dir, recursive, func(p string) bool {
		if !strings.HasSuffix(p, "_test.go") {
			return false
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return false
		}
		for i, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, decl) {
				file, line, ok = p, i+1, true
				return true
			}
		}
		return false
	})
	return file, line, ok
}

// goFindFile finds a file by base name in the module.
func goFindFile(dir, base string) (found string, ok bool) {
	goWalk(dir, true, func(p string) bool {
		if filepath.Base(p) == base {
			found, ok = p, true
		}
		return ok
	})
	return found, ok
}

// goWalk calls fn for the files of the module's packages under dir, in
// lexical order, until it returns true.
func goWalk(dir string, recursive bool, fn func(file string) bool) {
	errStop := errors.New("stop")
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p == dir {
				return nil
			}
			if !recursive || goSkipDir(p, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && fn(p) {
			return errStop
		}
		return nil
	})
}

// goSkipDir reports directories that hold none of the module's packages.
func goSkipDir(p, name string) bool {
	if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return true
	}
	_, err := os.Stat(filepath.Join(p, "go.mod"))
	return err == nil
}
