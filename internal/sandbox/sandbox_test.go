package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/sandbox/sandboxtest"
)

// The tests run real bubblewrap. The commands inside are /bin/sh with
// constant scripts, and this test binary itself (copied where the
// sandbox's user can read it) in a helper mode chosen by SANDBOX_HELPER.

const plantedSecret = "planted-webhook-secret-7f3a9c1e5b"

var (
	detectOnce sync.Once
	detected   *Sandbox
	detectErr  error
)

// testSandbox is the machine's sandbox; the tests fail without one (make
// test installs bubblewrap).
func testSandbox(t testing.TB) *Sandbox {
	t.Helper()
	detectOnce.Do(func() { detected, detectErr = Detect(context.Background()) })
	if detectErr != nil {
		t.Fatalf("no sandbox on this machine (apt-get install bubblewrap): %v", detectErr)
	}
	return detected
}

var (
	helperOnce sync.Once
	helperDir  string
	helperErr  error
)

// helper returns a mount of this test binary, readable by the sandbox's
// user, and its path inside.
func helper(t *testing.T) (Mount, string) {
	t.Helper()
	helperOnce.Do(func() {
		helperDir, helperErr = os.MkdirTemp("", "kubewright-sandbox-helper-")
		if helperErr != nil {
			return
		}
		if helperErr = os.Chmod(helperDir, 0o755); helperErr != nil {
			return
		}
		var b []byte
		if b, helperErr = os.ReadFile(os.Args[0]); helperErr == nil {
			helperErr = os.WriteFile(filepath.Join(helperDir, "helper"), b, 0o755)
		}
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return Mount{Source: helperDir, Dest: "/helper"}, "/helper/helper"
}

func TestMain(m *testing.M) {
	if mode := os.Getenv("SANDBOX_HELPER"); mode != "" {
		os.Exit(helperMain(mode))
	}
	code := m.Run()
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	os.Exit(code)
}

// helperMain is the test binary inside the sandbox.
func helperMain(mode string) int {
	switch mode {
	case "alloc": // more than the memory limit, touched
		var keep [][]byte
		for i := 0; i < 64; i++ {
			b := make([]byte, 64<<20)
			for j := range b {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep))
	case "threads": // OS threads until none can start
		var wg sync.WaitGroup
		for i := 0; i < 4096; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var ts syscall.Timespec
				ts.Sec = 5
				_ = syscall.Nanosleep(&ts, nil) // blocks a thread
			}()
		}
		wg.Wait()
	case "spin":
		for n := 0; ; n++ {
			_ = n
		}
	case "bigfile":
		if err := os.WriteFile("/tmp/big", make([]byte, 4<<20), 0o644); err != nil {
			fmt.Println(err)
			return 1
		}
	case "fill": // files in the writable mount until killed
		for i := 0; ; i++ {
			if err := os.WriteFile(fmt.Sprintf("/out/f%d", i), make([]byte, 1<<20), 0o644); err != nil {
				fmt.Println(err)
				return 1
			}
		}
	case "noise":
		chunk := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < 4096; i++ {
			fmt.Print(chunk)
		}
	case "escape":
		return escape()
	default:
		fmt.Println("unknown helper mode", mode)
		return 2
	}
	return 0
}

// escape tries what a hostile test would and prints what it got.
func escape() int {
	var report []string
	// Every process it can see, its environment.
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			report = append(report, p+": "+err.Error())
			continue
		}
		report = append(report, p+": "+strings.ReplaceAll(string(b), "\x00", " "))
	}
	// Up the process tree.
	for pid := os.Getppid(); pid > 0; {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			break
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		report = append(report, fmt.Sprintf("parent %d: %s", pid, strings.ReplaceAll(string(env), "\x00", " ")))
		if len(f) < 2 {
			break
		}
		pid, _ = strconv.Atoi(f[1])
	}
	key := os.Getenv("KEY_PATH")
	b, err := os.ReadFile(key)
	report = append(report, fmt.Sprintf("key %s: %q %v", key, b, err))
	c, err := net.DialTimeout("tcp", os.Getenv("DIAL"), 2*time.Second)
	if err == nil {
		fmt.Fprintln(c, "hello from the sandbox")
		c.Close()
	}
	report = append(report, fmt.Sprintf("dial %s: %v", os.Getenv("DIAL"), err))
	fmt.Println(strings.Join(report, "\n"))
	return 0
}

func TestDetect(t *testing.T) {
	sb := testSandbox(t)
	st := sb.Status()
	t.Logf("sandbox: %s", st)
	if !st.Available || st.Mechanism != Bubblewrap || st.Version == "" || !strings.Contains(st.String(), "bubblewrap") {
		t.Errorf("status %+v (%s)", st, st)
	}
	if os.Geteuid() == 0 && !strings.Contains(st.Isolation, "its own unprivileged user") {
		t.Errorf("as root, runs should get users of their own: %s", st.Isolation)
	}
}

func TestDetectUnavailable(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		opts []Option
		want string
	}{
		{"no bwrap", []Option{WithBwrap(filepath.Join(dir, "bwrap"))}, "bubblewrap not found"},
		{"no prlimit", []Option{WithPrlimit(filepath.Join(dir, "prlimit"))}, "prlimit not found"},
		{"not bubblewrap", []Option{WithBwrap("/bin/true")}, "too old"},
		{"empty user pool", []Option{WithUIDs(1000, 0)}, "user id pool"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb, err := Detect(context.Background(), tc.opts...)
			if err == nil || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Detect = %v, want ErrUnavailable with %q", err, tc.want)
			}
			if sb == nil || sb.Available() || sb.Status().Available || !strings.Contains(sb.Status().String(), tc.want) {
				t.Errorf("status %+v", sb.Status())
			}
			if _, err := sb.Run(context.Background(), Spec{Args: []string{"/bin/true"}}); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Run on an unavailable sandbox = %v, want ErrUnavailable", err)
			}
		})
	}
	var none *Sandbox
	if none.Available() || !errors.Is(none.Err(), ErrUnavailable) || none.Status().Available {
		t.Error("a nil Sandbox must be unavailable")
	}
}

// reachableDir is a new directory the sandbox's user can reach (a
// t.TempDir is inside one only its owner can enter).
func reachableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kubewright-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunIsolation(t *testing.T) {
	sb := testSandbox(t)
	out := reachableDir(t)
	cases := []struct {
		name   string
		script string
		want   []string // substrings of the output
		not    []string
	}{
		{"unprivileged nobody", "id -u; id -g; grep -E '^Cap(Eff|Prm)' /proc/self/status", []string{"65534\n65534\n", "CapEff:\t0000000000000000"}, nil},
		{"loopback only", "cat /proc/net/dev", []string{"lo:"}, []string{"eth", "ens", "veth", "wlan"}},
		{"own pid namespace", "ls /proc | grep -c '^[0-9]'", nil, nil},
		{"clean environment", "env | sort", []string{"ONLY=this"}, []string{plantedSecret, "KUBEWRIGHT", "HOME=/root"}},
		{"no host directories", "ls -d /root /work /home /var /opt /etc/ssl /sys 2>&1; ls /etc", []string{"/root': No such file", "/work': No such file", "group\nhosts\npasswd"}, nil},
		{"read-only system", "touch /usr/bin/x /etc/x /x /dev/x 2>&1 | wc -l; touch /tmp/x && echo tmp-ok", []string{"4\ntmp-ok"}, nil},
		{"writable mount", "echo hi > /out/file && echo out-ok", []string{"out-ok"}, nil},
		{"no new user namespaces", "unshare -U true 2>&1 || echo refused", []string{"refused"}, nil},
	}
	t.Setenv("KUBEWRIGHT_WEBHOOK_SECRET", plantedSecret)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sb.Run(context.Background(), Spec{
				Args: []string{"/bin/sh", "-c", tc.script}, Env: []string{"PATH=/usr/bin:/bin", "ONLY=this"},
				Mounts: []Mount{{Source: out, Dest: "/out", Writable: true}},
			})
			if err != nil {
				t.Fatal(err)
			}
			got := string(res.Output)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("output has %q:\n%s", n, got)
				}
			}
			if tc.name == "own pid namespace" {
				if n, err := strconv.Atoi(strings.TrimSpace(got)); err != nil || n > 4 {
					t.Errorf("the sandbox sees %q processes, want its own few", got)
				}
			}
		})
	}
	st, err := os.Stat(filepath.Join(out, "file"))
	if err != nil {
		t.Fatalf("the writable mount was not written: %v", err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; os.Geteuid() == 0 && (uid == 0 || uid == 65534) {
		t.Errorf("the file belongs to uid %d on the host, want the run's own user", uid)
	}
}

// TestRunEscape: a hostile command finds no secret in any process's
// environment, cannot read a key file outside its mounts although the file
// is readable by everyone, and cannot reach a listener of the host.
func TestRunEscape(t *testing.T) {
	sb := testSandbox(t)
	t.Setenv("KUBEWRIGHT_WEBHOOK_SECRET", plantedSecret)
	keyDir := reachableDir(t)
	key := filepath.Join(keyDir, "app.private-key.pem")
	if err := os.WriteFile(key, []byte("-----BEGIN RSA PRIVATE KEY-----\n"+plantedSecret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(io.LimitReader(c, 1024))
		c.Close()
		conns <- string(b)
	}()
	m, bin := helper(t)
	res, err := sb.Run(context.Background(), Spec{
		Args: []string{bin}, Mounts: []Mount{m},
		Env: []string{"SANDBOX_HELPER=escape", "KEY_PATH=" + key, "DIAL=" + ln.Addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := string(res.Output)
	t.Logf("what the hostile command saw:\n%s", got)
	if res.ExitCode != 0 || !strings.Contains(got, "dial ") || !strings.Contains(got, "parent 1:") {
		t.Fatalf("the helper did not run through (exit %d):\n%s", res.ExitCode, got)
	}
	if strings.Contains(got, plantedSecret) {
		t.Errorf("the sandbox saw the secret:\n%s", got)
	}
	if !strings.Contains(got, "no such file or directory") {
		t.Errorf("the key file should not exist inside:\n%s", got)
	}
	select {
	case msg := <-conns:
		t.Errorf("the host's listener got a connection from the sandbox: %q", msg)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestRunLimits(t *testing.T) {
	sb := testSandbox(t)
	m, bin := helper(t)
	cases := []struct {
		mode    string
		limits  Limits
		writes  bool
		want    Limit
		exitNot int
	}{
		{mode: "alloc", limits: Limits{Memory: 512 << 20}, want: LimitMemory},
		{mode: "threads", limits: Limits{Procs: 64}, want: LimitProcs},
		{mode: "spin", limits: Limits{CPU: time.Second}, want: LimitCPU},
		{mode: "bigfile", limits: Limits{FileSize: 1 << 20}, want: LimitFileSize},
		{mode: "fill", limits: Limits{Disk: 16 << 20}, writes: true, want: LimitDisk},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			mounts := []Mount{m}
			if tc.writes {
				out := reachableDir(t)
				mounts = append(mounts, Mount{Source: out, Dest: "/out", Writable: true})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := sb.Run(ctx, Spec{Args: []string{bin}, Mounts: mounts, Env: []string{"SANDBOX_HELPER=" + tc.mode}, Limits: tc.limits})
			if err != nil {
				t.Fatalf("%v\n%s", err, res.Output)
			}
			if res.Exceeded != tc.want || res.ExitCode == 0 {
				t.Errorf("exceeded %q, exit %d; want %q:\n%.2000s", res.Exceeded, res.ExitCode, tc.want, res.Output)
			}
			if d := res.Limits.Describe(tc.want); d == "" || d == string(tc.want) {
				t.Errorf("no description of the %s limit", tc.want)
			}
		})
	}
}

func TestRunOutputCap(t *testing.T) {
	sb := testSandbox(t)
	m, bin := helper(t)
	res, err := sb.Run(context.Background(), Spec{Args: []string{bin}, Mounts: []Mount{m}, Env: []string{"SANDBOX_HELPER=noise"}, Limits: Limits{Output: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) != 1000 || !res.Truncated || res.ExitCode != 0 {
		t.Errorf("kept %d bytes (truncated %t, exit %d), want 1000, true, 0", len(res.Output), res.Truncated, res.ExitCode)
	}
}

// TestRunTimeout: when the context ends, the run ends, and nothing it
// started outlives it.
func TestRunTimeout(t *testing.T) {
	sb := testSandbox(t)
	marker := fmt.Sprintf("600.%d", time.Now().UnixNano()%1_000_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	res, err := sb.Run(ctx, Spec{Args: []string{"/bin/sh", "-c", "sleep " + marker + " & sleep " + marker + "; wait"}, Env: []string{"PATH=/usr/bin:/bin"}})
	if !errors.Is(err, context.DeadlineExceeded) || res.Exceeded != LimitTime {
		t.Fatalf("Run = %v, exceeded %q; want the deadline", err, res.Exceeded)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %s to end after its deadline", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := sandboxtest.Sleepers(marker)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("processes %v outlived the run", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunRejectsBadSpecs(t *testing.T) {
	sb := testSandbox(t)
	for _, spec := range []Spec{
		{Args: []string{"sh"}},
		{},
		{Args: []string{"/bin/true"}, Mounts: []Mount{{Source: "/tmp", Dest: "relative"}}},
		{Args: []string{"/bin/true"}, Mounts: []Mount{{Source: "/tmp", Dest: "/"}}},
	} {
		if _, err := sb.Run(context.Background(), spec); err == nil {
			t.Errorf("Run(%+v) = nil error", spec)
		}
	}
	// A mount whose source is missing fails the setup, not the command.
	_, err := sb.Run(context.Background(), Spec{Args: []string{"/bin/true"}, Mounts: []Mount{{Source: filepath.Join(t.TempDir(), "gone"), Dest: "/x"}}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "bwrap:") {
		t.Errorf("missing mount source: %v, want the setup error", err)
	}
}

func TestCheckProbe(t *testing.T) {
	l := DefaultLimits()
	good := fmt.Sprintf("Pid:\t2\nUid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"+
		"Max cpu time              %[1]d                  %[1]d                  seconds\nMax file size             %[2]d           %[2]d           bytes\n"+
		"Max data size             %[3]d           %[3]d           bytes\nMax processes             %[4]d                  %[4]d                  processes\n"+
		"Inter-|   Receive\n face |bytes\n    lo:       0       0\n", l.cpuSeconds(), l.FileSize, l.Memory, l.Procs)
	if err := checkProbe([]byte(good), l); err != nil {
		t.Fatalf("good probe: %v", err)
	}
	cases := map[string][2]string{
		"root":         {"Uid:\t65534\t65534\t65534\t65534", "Uid:\t0\t0\t0\t0"},
		"capabilities": {"CapEff:\t0000000000000000", "CapEff:\t000001ffffffffff"},
		"host pids":    {"Pid:\t2", "Pid:\t48213"},
		"network":      {"    lo:", "  eth0:       5       1\n    lo:"},
		"limits":       {"Max processes             512", "Max processes             unlimited"},
	}
	for name, r := range cases {
		if err := checkProbe([]byte(strings.Replace(good, r[0], r[1], 1)), l); err == nil {
			t.Errorf("%s: the probe passed", name)
		}
	}
}

func TestBytesAndVersions(t *testing.T) {
	for n, want := range map[int64]string{512: "512 B", 1 << 20: "1 MiB", 3 << 29: "1.5 GiB", 4 << 30: "4 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	for v, want := range map[string]bool{"0.8.0": true, "0.11.1": true, "1.0": true, "0.7.9": false, "0.6.1": false, "": false, "x": false} {
		if got := versionAtLeast(v, minVersion); got != want {
			t.Errorf("versionAtLeast(%q) = %t, want %t", v, got, want)
		}
	}
}

// TestNonRootMode runs the isolation and limit tests again as a user that
// is not root, where runs use that user (no pool) and bwrap needs
// unprivileged user namespaces. As that user, the tests above are it.
func TestNonRootMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("already not root: the other tests cover this mode")
	}
	_, bin := helper(t) // this binary, where any user can run it
	const uid = 1_899_999_000
	cmd := exec.Command(filepath.Join(helperDir, filepath.Base(bin)), "-test.run", "^(TestDetect|TestRunIsolation|TestRunEscape|TestRunLimits|TestRunTimeout)$", "-test.v")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "TMPDIR=" + os.TempDir()}
	cmd.Dir = os.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRunEscape") || !strings.Contains(string(out), "--- PASS: TestDetect") {
		t.Fatalf("as uid %d: %v\n%s", uid, err, out)
	}
	if !strings.Contains(string(out), "kubewright's own unprivileged user") {
		t.Errorf("as uid %d the sandbox should run as that user", uid)
	}
}

// BenchmarkSandboxTrue is the cost of one sandboxed command: set-up of
// the namespaces and mounts, /bin/true, tear-down.
func BenchmarkSandboxTrue(b *testing.B) {
	sb := testSandbox(b)
	ctx := context.Background()
	for b.Loop() {
		res, err := sb.Run(ctx, Spec{Args: []string{"/bin/true"}})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("%v %d %s", err, res.ExitCode, res.Output)
		}
	}
}
