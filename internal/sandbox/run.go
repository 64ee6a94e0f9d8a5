package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mount puts a host directory (or file) into the sandbox.
type Mount struct {
	// Source is the host path. The run's user must be able to reach it:
	// hand writable directories over with Session.Give, and keep
	// read-only ones readable by others.
	Source string
	// Dest is the absolute path inside.
	Dest string
	// Writable mounts are read-write; their contents count against
	// Limits.Disk.
	Writable bool
}

// Spec is one command to run.
type Spec struct {
	// Args is the command, Args[0] an absolute path inside the sandbox.
	Args []string
	// Dir is the working directory inside (default /).
	Dir string
	// Env is the whole environment the command gets.
	Env []string
	// Mounts are the directories the command sees besides the system's.
	Mounts []Mount
	// Limits lay over the Sandbox's (zero fields keep them).
	Limits Limits
}

// Result is how a run ended.
type Result struct {
	// Output is stdout and stderr interleaved, at most Limits.Output.
	Output []byte
	// Truncated: output past Limits.Output was dropped.
	Truncated bool
	// ExitCode is the command's exit status (-1 when the run was killed).
	ExitCode int
	// Exceeded names the limit that ended the run or that a process
	// reported running into; empty when none did.
	Exceeded Limit
	// Limits are the limits the run had.
	Limits Limits
	// Duration is the wall time of the run.
	Duration time.Duration
}

// waitDelay is how long the output pipes may stay open after bwrap was
// killed.
const waitDelay = 5 * time.Second

// Session is one unprivileged user for a series of runs that share
// writable directories (a module's build, vet and test). Close it to give
// the user back.
type Session struct {
	sb  *Sandbox
	uid int // the host uid runs get, when the sandbox pools them
	tmp string
	etc []Mount
}

// Session leases a user for runs; it waits (bounded by ctx) while every
// user of the pool is busy.
func (s *Sandbox) Session(ctx context.Context) (*Session, error) {
	if !s.Available() {
		return nil, s.Err()
	}
	return s.session(ctx)
}

func (s *Sandbox) session(ctx context.Context) (*Session, error) {
	sess := &Session{sb: s, uid: -1}
	if s.pool {
		select {
		case sess.uid = <-s.uids:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a sandbox user: %w", ctx.Err())
		}
	}
	if err := sess.writeEtc(); err != nil {
		sess.Close()
		return nil, err
	}
	return sess, nil
}

// OwnUser reports whether the session's runs have a host user of their
// own (kubewright is root): files kubewright owns are then read-only to
// them wherever they are mounted.
func (s *Session) OwnUser() bool { return s.uid >= 0 }

// Close removes the session's files and gives its user back.
func (s *Session) Close() {
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
		s.tmp = ""
	}
	if s.uid >= 0 {
		s.sb.uids <- s.uid
		s.uid = -1
	}
}

// etcFiles are the whole of /etc inside: enough for os/user and for
// resolving localhost, nothing of the host's.
var etcFiles = map[string]string{
	"passwd": "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
	"group":  "root:x:0:\nnogroup:x:65534:\n",
	"hosts":  "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
}

func (s *Session) writeEtc() error {
	tmp, err := os.MkdirTemp("", "kubewright-sandbox-")
	if err != nil {
		return fmt.Errorf("sandbox files: %w", err)
	}
	s.tmp = tmp
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("sandbox files: %w", err)
	}
	for name, content := range etcFiles {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("sandbox files: %w", err)
		}
		s.etc = append(s.etc, Mount{Source: p, Dest: "/etc/" + name})
	}
	return nil
}

// Give hands a directory the caller created for this session to the
// session's user, so that runs can write in it: every directory and every
// file with a single link is chowned (never through a symbolic link, and
// never a file linked elsewhere too, such as a shared cache's). Without a
// user pool it does nothing: the runs are kubewright's own user.
func (s *Session) Give(dir string) error {
	if s.uid < 0 {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				return nil
			}
		default:
			return nil
		}
		if err := os.Lchown(p, s.uid, s.uid); err != nil {
			return fmt.Errorf("give %s to the sandbox user: %w", p, err)
		}
		return nil
	})
}

// Run runs one command in a session of its own, handing the writable
// mounts to its user first.
func (s *Sandbox) Run(ctx context.Context, spec Spec) (Result, error) {
	sess, err := s.Session(ctx)
	if err != nil {
		return Result{Limits: spec.Limits.Or(s.limits), ExitCode: -1}, err
	}
	defer sess.Close()
	for _, m := range spec.Mounts {
		if m.Writable {
			if err := sess.Give(m.Source); err != nil {
				return Result{Limits: spec.Limits.Or(s.limits), ExitCode: -1}, err
			}
		}
	}
	return sess.Run(ctx, spec)
}

// Run runs one command in the sandbox. A command that fails is no error
// (see ExitCode and Exceeded); the error is for a sandbox that could not
// be set up (it wraps ErrUnavailable) and for the context ending (it wraps
// ctx.Err(), and the Result holds the output so far, Exceeded LimitTime).
func (s *Session) Run(ctx context.Context, spec Spec) (Result, error) {
	lim := spec.Limits.Or(s.sb.limits)
	res := Result{Limits: lim, ExitCode: -1}
	if len(spec.Args) == 0 || !path.IsAbs(spec.Args[0]) {
		return res, errors.New("sandbox: the command must be an absolute path inside the sandbox")
	}
	args, err := s.args(spec, lim)
	if err != nil {
		return res, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("sandbox: %w", err)
	}
	defer statusR.Close()

	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmd := exec.CommandContext(rctx, s.sb.prlimit, args...)
	cmd.Env = spec.Env
	cmd.Dir = "/"
	out := &capped{max: lim.Output}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{statusW} // fd 3: bwrap's --json-status-fd
	cmd.SysProcAttr = groupAttr()
	if s.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.uid), Groups: []uint32{}}
	}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = waitDelay

	start := time.Now()
	if err := cmd.Start(); err != nil {
		statusW.Close()
		return res, fmt.Errorf("%w: start %s: %v", ErrUnavailable, s.sb.prlimit, err)
	}
	statusW.Close()
	status := make(chan bool, 1)
	go func() { status <- childStarted(statusR) }()

	stopDisk := watchDisk(spec.Mounts, lim.Disk, s.uid, func() { cancel(errDisk) })
	err = cmd.Wait()
	stopDisk()
	res.Duration = time.Since(start)
	res.Output, res.Truncated = out.bytes()
	var started bool
	select {
	case started = <-status:
	case <-time.After(time.Second): // a holder of the status pipe outlived bwrap
		statusR.Close()
		started = <-status
	}

	var exitErr *exec.ExitError
	switch {
	case errors.Is(context.Cause(rctx), errDisk):
		res.Exceeded = LimitDisk
		return res, nil
	case ctx.Err() != nil:
		res.Exceeded = LimitTime
		return res, fmt.Errorf("sandbox run: %w", ctx.Err())
	case !started:
		return res, fmt.Errorf("%w: the sandbox could not be set up: %s", ErrUnavailable, setupError(res.Output, err))
	case err == nil:
		res.ExitCode = 0
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
		res.Exceeded = reported(res.Output, res.ExitCode)
	default:
		return res, fmt.Errorf("sandbox run: %w", err)
	}
	return res, nil
}

var errDisk = errors.New("disk limit")

// args are prlimit's arguments: the limits, then bwrap and its own.
func (s *Session) args(spec Spec, lim Limits) ([]string, error) {
	args := append(lim.prlimitArgs(), "--", s.sb.bwrap,
		"--unshare-all", "--unshare-user", "--disable-userns",
		"--uid", fmt.Sprint(innerID), "--gid", fmt.Sprint(innerID),
		"--cap-drop", "ALL", "--die-with-parent", "--new-session",
		"--hostname", "sandbox", "--json-status-fd", "3")
	sys, err := systemMounts()
	if err != nil {
		return nil, err
	}
	args = append(args, sys...)
	for _, m := range s.etc {
		args = append(args, "--ro-bind", m.Source, m.Dest)
	}
	args = append(args, "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
		"--size", fmt.Sprint(lim.Tmp), "--tmpfs", "/tmp")
	for _, m := range spec.Mounts {
		if !path.IsAbs(m.Dest) || path.Clean(m.Dest) != m.Dest || m.Dest == "/" {
			return nil, fmt.Errorf("sandbox: mount destination %q: use a clean absolute path below /", m.Dest)
		}
		flag := "--ro-bind"
		if m.Writable {
			flag = "--bind"
		}
		args = append(args, flag, m.Source, m.Dest)
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	args = append(args, "--remount-ro", "/", "--chdir", dir, "--")
	return append(args, spec.Args...), nil
}

// systemMounts are the read-only system directories: /usr/bin and the
// libraries, and /bin, /sbin, /lib* as the host has them (symbolic links
// into /usr, or directories).
func systemMounts() ([]string, error) {
	var args []string
	for _, d := range []string{"/usr/bin", "/usr/lib", "/usr/lib64", "/usr/libexec"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			args = append(args, "--ro-bind", d, d)
		}
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no /usr/bin", ErrUnavailable)
	}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib64", "/lib32"} {
		st, err := os.Lstat(d)
		switch {
		case err != nil:
		case st.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(d)
			if err != nil {
				return nil, err
			}
			args = append(args, "--symlink", target, d)
		case st.IsDir():
			args = append(args, "--ro-bind", d, d)
		}
	}
	return args, nil
}

// childStarted reads bwrap's status documents: true when it reported the
// command's exit code, which it does only for a command that ran (not when
// the sandbox could not be set up or the command not started). The
// command itself never holds the pipe.
func childStarted(r io.Reader) bool {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	return bytes.Contains(b, []byte(`"exit-code"`))
}

// setupError is bwrap's (or prlimit's) complaint.
func setupError(out []byte, err error) string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "bwrap: ") || strings.HasPrefix(l, "prlimit: ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) == 0 {
		return fmt.Sprintf("%v: %s", err, firstLine(out))
	}
	return strings.Join(lines, "; ")
}

// killGroup kills the process group led by pid (prlimit, which became
// bwrap, and bwrap's first child); a group that is gone is no error. What
// runs inside is in a session of its own and dies with the PID namespace
// when bwrap does (--die-with-parent).
func killGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// capped keeps the first max bytes written to it.
type capped struct {
	mu      sync.Mutex
	max     int
	buf     bytes.Buffer
	dropped int64
}

func (w *capped) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := min(max(w.max-w.buf.Len(), 0), len(p))
	w.buf.Write(p[:room])
	w.dropped += int64(len(p) - room)
	return len(p), nil
}

func (w *capped) bytes() ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes()), w.dropped > 0
}

// WatchDisk polls dirs every DiskPoll until stopped, and calls over once
// the files in them take more than limit bytes; for bounding what a
// command outside the sandbox writes, such as downloads.
func WatchDisk(dirs []string, limit int64, over func()) (stop func()) {
	return watchDirs(dirs, limit, -1, over)
}

// watchDisk polls the writable mounts until stopped, and calls over once
// they hold more than limit bytes.
func watchDisk(mounts []Mount, limit int64, uid int, over func()) (stop func()) {
	var dirs []string
	for _, m := range mounts {
		if m.Writable {
			dirs = append(dirs, m.Source)
		}
	}
	return watchDirs(dirs, limit, uid, over)
}

func watchDirs(dirs []string, limit int64, uid int, over func()) (stop func()) {
	if len(dirs) == 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(DiskPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if usage(dirs, limit, uid) > limit {
					over()
					return
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// usage is the disk space files under dirs take, counted up to just past
// limit: allocated blocks (a sparse file counts what it holds), each file
// once however many links it has, and not the files a caller linked in
// from elsewhere (a shared cache's, owned by someone else than the run's
// user uid, when there is one).
func usage(dirs []string, limit int64, uid int) int64 {
	var n int64
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return nil
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok {
				n += info.Size()
			} else if st.Nlink <= 1 || !seen[inode{uint64(st.Dev), st.Ino}] && (uid < 0 || int(st.Uid) == uid) {
				seen[inode{uint64(st.Dev), st.Ino}] = st.Nlink > 1
				n += st.Blocks * 512
			}
			if n > limit {
				return filepath.SkipAll
			}
			return nil
		})
	}
	return n
}
