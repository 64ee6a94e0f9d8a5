// Package sandbox runs untrusted code: code a model wrote, or a build that
// executes it (go test, init functions, test binaries). A run has no
// network (its own network namespace, loopback only), no view of the bot's
// processes (its own PID namespace, a /proc of its own), an unprivileged
// user, a clean environment, and a filesystem of read-only system
// directories plus exactly the directories the caller mounts. It is bounded
// in wall time, CPU time, memory, processes, file size, disk and output.
//
// The mechanism is bubblewrap (bwrap). Detect probes it once at start-up:
// it runs a trivial command inside and checks what the command sees (the
// user, its capabilities, the network interfaces, the PID namespace, the
// limits). Where that fails, the Sandbox is unavailable and says why; a
// caller then does not run the code at all. Nothing here ever falls back
// to running a command outside the sandbox.
//
// Limits. cgroups would bound a run's memory and processes together; on
// the machines this was built on there is no delegated cgroup v2 hierarchy
// (and the v1 controllers belong to the host), so the limits are rlimits,
// set by prlimit(1) on bwrap and inherited by everything inside:
//
//	RLIMIT_CPU    CPU seconds of each process (SIGKILL when spent)
//	RLIMIT_DATA   memory of each process (heap and anonymous mappings;
//	              unlike RLIMIT_AS it does not count the address space Go
//	              reserves but never uses)
//	RLIMIT_NPROC  processes and threads of the run's user, all together
//	RLIMIT_FSIZE  the largest file a process may write
//	RLIMIT_NOFILE open files of each process; RLIMIT_CORE 0
//
// RLIMIT_NPROC is not enforced for uid 0, user namespace or not: the
// kernel checks the real user outside. So when kubewright runs as root,
// each run gets a user id of its own from a pool (UID 1900000000 and up by
// default, see WithUIDs), which also keeps one run's processes from
// counting against another's. When kubewright is not root, runs use its own
// user id and the process limit counts kubewright's own threads too.
//
// Wall time is the caller's context: when it ends, bwrap is killed and
// --die-with-parent takes the PID namespace, and every process in it, with
// it. Disk is bounded by the size of /tmp (a tmpfs), the largest file, and
// a poll of the writable mounts that ends the run when they hold more than
// Limits.Disk.
package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Bubblewrap is the one mechanism there is.
const Bubblewrap = "bubblewrap"

const (
	// defaultUIDBase and defaultUIDs are the pool of host user ids runs
	// get when kubewright is root: above the ranges distributions give
	// users (1000+), systemd's dynamic users and containers' subordinate
	// ids (100000+), below 2^31.
	defaultUIDBase = 1_900_000_000
	defaultUIDs    = 64
	// innerID is the user and group a run sees itself as: nobody.
	innerID = 65534
	// probeTimeout bounds Detect.
	probeTimeout = 30 * time.Second
	// minVersion is the oldest bubblewrap with every flag used here
	// (--disable-userns came in 0.8.0).
	minVersion = "0.8.0"
)

// ErrUnavailable is wrapped by every error of a Sandbox that could not be
// set up.
var ErrUnavailable = errors.New("no sandbox")

// Sandbox runs commands in bubblewrap. Build it with Detect; it is safe
// for concurrent use.
type Sandbox struct {
	bwrap, prlimit string
	version        string
	limits         Limits
	pool           bool // runs get their own uid (kubewright is root)
	uidBase        int
	uids           chan int // free slots, when pool
	err            error    // why it is unavailable, or nil
}

// Option adjusts Detect.
type Option func(*options)

type options struct {
	bwrap, prlimit string
	limits         Limits
	uidBase, uids  int
}

// WithBwrap sets the bwrap binary (default: "bwrap" on PATH).
func WithBwrap(path string) Option { return func(o *options) { o.bwrap = path } }

// WithPrlimit sets the prlimit binary (default: "prlimit" on PATH).
func WithPrlimit(path string) Option { return func(o *options) { o.prlimit = path } }

// WithLimits sets the limits of every run; zero fields keep the defaults
// (DefaultLimits).
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l.Or(o.limits) } }

// WithUIDs sets the pool of host user ids runs get when kubewright is
// root: n ids from base. n bounds how many runs go at once.
func WithUIDs(base, n int) Option { return func(o *options) { o.uidBase, o.uids = base, n } }

// Detect finds bubblewrap and prlimit and probes them: a trivial command
// must run inside as an unprivileged user without capabilities, in a PID
// namespace of its own, with loopback as its only network interface and
// the limits in force. The Sandbox is never nil: when the error is not
// nil, it is unavailable (Available false, Status says why), every Run
// fails with ErrUnavailable, and callers must not run the code elsewhere.
func Detect(ctx context.Context, opts ...Option) (*Sandbox, error) {
	o := options{bwrap: "bwrap", prlimit: "prlimit", limits: DefaultLimits(), uidBase: defaultUIDBase, uids: defaultUIDs}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Sandbox{limits: o.limits, uidBase: o.uidBase}
	s.err = s.detect(ctx, o)
	if s.err != nil {
		s.err = fmt.Errorf("%w: %w", ErrUnavailable, s.err)
	}
	return s, s.err
}

func (s *Sandbox) detect(ctx context.Context, o options) error {
	var err error
	if s.bwrap, err = lookPath(o.bwrap); err != nil {
		return fmt.Errorf("bubblewrap not found (%w): install it (apt-get install bubblewrap)", err)
	}
	if s.prlimit, err = lookPath(o.prlimit); err != nil {
		return fmt.Errorf("prlimit not found (%w): install util-linux", err)
	}
	if o.uids < 1 || o.uidBase < 1 || o.uidBase > 1<<31-1-o.uids {
		return fmt.Errorf("user id pool %d+%d: use a base between 1 and 2^31 and at least one id", o.uidBase, o.uids)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.bwrap, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %w: %s", s.bwrap, err, firstLine(out))
	}
	s.version = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "bubblewrap"))
	if !versionAtLeast(s.version, minVersion) {
		return fmt.Errorf("bubblewrap %s is too old: kubewright needs %s or newer (upgrade the bubblewrap package)", s.version, minVersion)
	}
	if os.Geteuid() == 0 {
		s.pool = true
		s.uids = make(chan int, o.uids)
		for i := range o.uids {
			s.uids <- o.uidBase + i
		}
	}
	return s.probe(ctx)
}

// probe runs cat over what the sandbox promises and checks it.
func (s *Sandbox) probe(ctx context.Context) error {
	cat, err := systemBinary("cat")
	if err != nil {
		return err
	}
	sess, err := s.session(ctx)
	if err != nil {
		return err
	}
	defer sess.Close()
	res, err := sess.Run(ctx, Spec{Args: []string{cat, "/proc/self/status", "/proc/self/limits", "/proc/net/dev"}, Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("probe: cat exited with %d: %s", res.ExitCode, firstLine(res.Output))
	}
	return checkProbe(res.Output, s.limits)
}

var (
	reStatus = regexp.MustCompile(`(?m)^(Uid|Gid|CapEff|CapPrm|CapBnd|Pid):\s+(.*)$`)
	reLimit  = regexp.MustCompile(`(?m)^Max (processes|cpu time|file size|data size)\s+(\S+)\s+(\S+)`)
	reIface  = regexp.MustCompile(`(?m)^\s*([^\s:|]+):\s+\d`)
)

// checkProbe holds what the probe printed to the promises.
func checkProbe(out []byte, l Limits) error {
	fields := map[string]string{}
	for _, m := range reStatus.FindAllSubmatch(out, -1) {
		fields[string(m[1])] = string(m[2])
	}
	id := strconv.Itoa(innerID)
	for _, k := range []string{"Uid", "Gid"} {
		for _, v := range strings.Fields(fields[k]) {
			if v != id {
				return fmt.Errorf("probe: the sandbox runs as %s %q, want %d (nobody)", strings.ToLower(k), fields[k], innerID)
			}
		}
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if v := fields[k]; strings.Trim(v, "0") != "" || v == "" {
			return fmt.Errorf("probe: the sandbox keeps capabilities (%s %q)", k, v)
		}
	}
	if pid, err := strconv.Atoi(fields["Pid"]); err != nil || pid > 16 {
		return fmt.Errorf("probe: the sandbox shares the PID namespace (cat is pid %q)", fields["Pid"])
	}
	var ifaces []string
	_, netdev, _ := bytes.Cut(out, []byte("Inter-|"))
	for _, m := range reIface.FindAllSubmatch(netdev, -1) {
		ifaces = append(ifaces, string(m[1]))
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		return fmt.Errorf("probe: the sandbox sees network interfaces %v, want only lo", ifaces)
	}
	want := map[string]int64{"processes": int64(l.Procs), "cpu time": int64(l.cpuSeconds()), "file size": l.FileSize, "data size": l.Memory}
	seen := 0
	for _, m := range reLimit.FindAllSubmatch(out, -1) {
		soft, err := strconv.ParseInt(string(m[2]), 10, 64)
		if err != nil || soft != want[string(m[1])] {
			return fmt.Errorf("probe: the sandbox's %s limit is %s, want %d", m[1], m[2], want[string(m[1])])
		}
		seen++
	}
	if seen != len(want) {
		return fmt.Errorf("probe: the sandbox's limits were not all set:\n%s", out)
	}
	return nil
}

// Available reports whether runs can happen.
func (s *Sandbox) Available() bool { return s != nil && s.err == nil }

// Err is why the sandbox is unavailable, or nil.
func (s *Sandbox) Err() error {
	if s == nil {
		return fmt.Errorf("%w: none configured", ErrUnavailable)
	}
	return s.err
}

// Limits are the limits every run gets unless its Spec lowers or raises
// them.
func (s *Sandbox) Limits() Limits { return s.limits }

// Status is what start-up logs and /readyz show.
type Status struct {
	Available bool   `json:"available"`
	Mechanism string `json:"mechanism,omitempty"`
	Version   string `json:"version,omitempty"`
	// Isolation lists what a run is confined by; Reason says why there
	// is no sandbox.
	Isolation string `json:"isolation,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Status describes the sandbox.
func (s *Sandbox) Status() Status {
	if !s.Available() {
		st := Status{Reason: strings.TrimPrefix(s.Err().Error(), ErrUnavailable.Error()+": ")}
		if s != nil && s.version != "" {
			st.Mechanism, st.Version = Bubblewrap, s.version
		}
		return st
	}
	user := "its own unprivileged user"
	if !s.pool {
		user = "kubewright's own unprivileged user"
	}
	l := s.limits
	return Status{Available: true, Mechanism: Bubblewrap, Version: s.version,
		Isolation: fmt.Sprintf("namespaces user+pid+net+ipc+uts+mount, %s, no capabilities, rlimits cpu=%s memory=%s/process tasks=%d file=%s, /tmp %s, disk %s",
			user, l.CPU, Bytes(l.Memory), l.Procs, Bytes(l.FileSize), Bytes(l.Tmp), Bytes(l.Disk))}
}

// String is one line: "bubblewrap 0.8.0 (...)" or "unavailable: reason".
func (st Status) String() string {
	if !st.Available {
		return "unavailable: " + st.Reason
	}
	return fmt.Sprintf("%s %s (%s)", st.Mechanism, st.Version, st.Isolation)
}

// lookPath resolves a binary to an absolute path.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// systemBinary finds a binary in the system directories the sandbox
// mounts.
func systemBinary(name string) (string, error) {
	for _, dir := range []string{"/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s in /usr/bin or /bin (install coreutils)", name)
}

// versionAtLeast compares dotted versions ("0.8.0"); anything unparseable
// is too old.
func versionAtLeast(v, min string) bool {
	parse := func(s string) ([3]int, bool) {
		var out [3]int
		parts := strings.SplitN(s, ".", 3)
		for i, p := range parts {
			n, err := strconv.Atoi(strings.TrimFunc(p, func(r rune) bool { return r < '0' || r > '9' }))
			if err != nil {
				return out, false
			}
			out[i] = n
		}
		return out, len(parts) >= 2
	}
	a, ok := parse(v)
	b, _ := parse(min)
	if !ok {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

func firstLine(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if sc.Scan() {
		return strings.TrimSpace(sc.Text())
	}
	return ""
}
