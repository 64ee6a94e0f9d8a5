package validate

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
)

// The Go stage runs the real go command over tiny modules written into
// temporary directories. They use only the standard library, so nothing
// is downloaded, except TestGoCheckFixture, which checks the generated
// inventory service the agent tests use and needs its two requirements.

const goTestMod = "module example.com/svc\n\ngo 1.26\n"

// goTestRepo writes files (repository-relative) into a new repository and
// returns its Input.
func goTestRepo(t *testing.T, files map[string]string) *Input {
	t.Helper()
	dir := t.TempDir()
	var rels []string
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rel)
	}
	return &Input{Dir: dir, Files: rels}
}

// goLineOf is the 1-based line of src that holds marker.
func goLineOf(t *testing.T, src, marker string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("no %q in source", marker)
	return 0
}

type goWant struct {
	id   string
	file string
	line int
	msg  string // a substring of the message
}

// goAssert holds got to want (in finding.Sort order) and every finding to
// the stage's invariants.
func goAssert(t *testing.T, repo string, got []finding.Finding, want []goWant) {
	t.Helper()
	for _, f := range got {
		if f.Stage != StageGo || f.Severity != finding.Error || f.Hint == "" {
			t.Errorf("finding %v: want stage %q, severity error and a hint (got %q, %q, %q)", f, StageGo, f.Stage, f.Severity, f.Hint)
		}
		for _, s := range []string{f.Message, f.Hint, f.File} {
			if strings.Contains(s, repo) {
				t.Errorf("finding %v names the workspace's absolute path %s", f, repo)
			}
		}
		if filepath.IsAbs(f.File) {
			t.Errorf("finding %v: file is absolute", f)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d:\n%s", len(got), len(want), goDump(got))
	}
	for i, w := range want {
		f := got[i]
		if f.ID != w.id || f.File != w.file || f.Line != w.line || !strings.Contains(f.Message, w.msg) {
			t.Errorf("finding %d = %s %s:%d %q\nwant %s %s:%d containing %q", i, f.ID, f.File, f.Line, f.Message, w.id, w.file, w.line, w.msg)
		}
	}
}

func goDump(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	return b.String()
}

func TestGoCheck(t *testing.T) {
	const goodMain = `package main

import (
	"fmt"

	"example.com/svc/internal/calc"
)

func main() { fmt.Println(calc.Add(1, 2)) }
`
	const goodCalc = `package calc

// Add adds.
func Add(a, b int) int { return a + b }
`
	const goodCalcTest = `package calc

import "testing"

func TestAdd(t *testing.T) {
	if got := Add(1, 2); got != 3 {
		t.Errorf("Add(1, 2) = %d, want 3", got)
	}
}
`
	const compileMain = `package main

func main() {
	println(undefinedThing) // BUG
}
`
	const compileCalc = `package calc

func Add(a, b int) int { return "sum" } // BUG
`
	const vetMain = `package main

import "fmt"

func main() {
	fmt.Printf("%d items\n", "three") // BUG
}
`
	const failingCalcTest = `package calc

import "testing"

func TestAdd(t *testing.T) {
	if got := Add(1, 2); got != 4 {
		t.Errorf("got %d, want 4", got) // BUG
	}
	t.Run("negative", func(t *testing.T) {
		t.Fatalf("negative numbers are not handled") // SUB
	})
}

func TestSilent(t *testing.T) { // SILENT
	t.Fail()
}
`
	const panicTest = `package main

import "testing"

func TestPanics(t *testing.T) {
	var m map[string]int
	m["a"] = 1 // BUG
}
`
	const brokenTest = `package main

import "testing"

func TestBroken(t *testing.T) {
	_ = notDeclared // BUG
}
`
	const goodRootMain = "package main\n\nfunc main() {}\n"

	cases := []struct {
		name  string
		files map[string]string
		mods  []string // default {"svc"}
		want  func(t *testing.T) []goWant
	}{
		{
			name: "good module passes",
			files: map[string]string{
				"svc/go.mod": goTestMod, "svc/main.go": goodMain,
				"svc/internal/calc/calc.go": goodCalc, "svc/internal/calc/calc_test.go": goodCalcTest,
			},
			want: func(*testing.T) []goWant { return nil },
		},
		{
			name: "compile errors in two packages",
			files: map[string]string{
				"svc/go.mod": goTestMod, "svc/main.go": compileMain, "svc/internal/calc/calc.go": compileCalc,
			},
			want: func(t *testing.T) []goWant {
				return []goWant{
					{goIDBuild, "svc/internal/calc/calc.go", goLineOf(t, compileCalc, "BUG"), `cannot use "sum"`},
					{goIDBuild, "svc/main.go", goLineOf(t, compileMain, "BUG"), "undefined: undefinedThing"},
				}
			},
		},
		{
			name:  "vet reports a format mismatch",
			files: map[string]string{"svc/go.mod": goTestMod, "svc/main.go": vetMain},
			want: func(t *testing.T) []goWant {
				return []goWant{{goIDVet, "svc/main.go", goLineOf(t, vetMain, "BUG"), "format %d has arg"}}
			},
		},
		{
			name: "failing tests in a subpackage",
			files: map[string]string{
				"svc/go.mod": goTestMod, "svc/main.go": goodMain,
				"svc/internal/calc/calc.go": goodCalc, "svc/internal/calc/calc_test.go": failingCalcTest,
			},
			want: func(t *testing.T) []goWant {
				f := "svc/internal/calc/calc_test.go"
				return []goWant{
					{goIDTest, f, goLineOf(t, failingCalcTest, "BUG"), "TestAdd: got 3, want 4"},
					{goIDTest, f, goLineOf(t, failingCalcTest, "SUB"), "TestAdd/negative: negative numbers are not handled"},
					{goIDTest, f, goLineOf(t, failingCalcTest, "SILENT"), "TestSilent failed without a message"},
				}
			},
		},
		{
			name:  "a test panics",
			files: map[string]string{"svc/go.mod": goTestMod, "svc/main.go": goodRootMain, "svc/main_test.go": panicTest},
			want: func(t *testing.T) []goWant {
				return []goWant{{goIDTest, "svc/main_test.go", goLineOf(t, panicTest, "BUG"), "TestPanics panicked: assignment to entry in nil map"}}
			},
		},
		{
			name:  "the tests do not compile",
			files: map[string]string{"svc/go.mod": goTestMod, "svc/main.go": goodRootMain, "svc/main_test.go": brokenTest},
			want: func(t *testing.T) []goWant {
				return []goWant{{goIDTest, "svc/main_test.go", goLineOf(t, brokenTest, "BUG"), "undefined: notDeclared"}}
			},
		},
		{
			name:  "no go.mod",
			files: map[string]string{"svc/main.go": goodRootMain},
			want: func(*testing.T) []goWant {
				return []goWant{{goIDModule, "svc/go.mod", 0, "svc has no go.mod"}}
			},
		},
		{
			name:  "go directive newer than the toolchain",
			files: map[string]string{"svc/go.mod": "module example.com/svc\n\ngo 1.99\n", "svc/main.go": goodRootMain},
			want: func(*testing.T) []goWant {
				return []goWant{{goIDModule, "svc/go.mod", 0, "go mod tidy failed:\ngo: go.mod requires go >= 1.99"}}
			},
		},
		{
			name:  "a module at the repository root",
			files: map[string]string{"go.mod": goTestMod, "main.go": compileMain},
			mods:  []string{"."},
			want: func(t *testing.T) []goWant {
				return []goWant{{goIDBuild, "main.go", goLineOf(t, compileMain, "BUG"), "undefined: undefinedThing"}}
			},
		},
		{
			name:  "module directories outside the repository",
			files: map[string]string{"svc/go.mod": goTestMod, "svc/main.go": goodRootMain},
			mods:  []string{"svc/../../elsewhere", "/etc"},
			want: func(*testing.T) []goWant {
				return []goWant{
					{goIDModule, "", 0, `module directory "/etc" is absolute`},
					{goIDModule, "", 0, `module directory "svc/../../elsewhere" leaves the repository`},
				}
			},
		},
		{
			name: "modules found in the files, testdata and vendor skipped",
			files: map[string]string{
				"a/go.mod": goTestMod, "a/main.go": goodRootMain,
				"b/go.mod": goTestMod, "b/main.go": compileMain,
				"b/testdata/fixture/go.mod": goTestMod, "b/testdata/fixture/main.go": compileMain,
				"vendor/x/go.mod": goTestMod, "vendor/x/main.go": compileMain,
			},
			mods: []string{},
			want: func(t *testing.T) []goWant {
				return []goWant{{goIDBuild, "b/main.go", goLineOf(t, compileMain, "BUG"), "undefined: undefinedThing"}}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := goTestRepo(t, tc.files)
			mods := tc.mods
			if mods == nil {
				mods = []string{"svc"}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			got := GoCheck{Modules: mods}.Check(ctx, in)
			goAssert(t, in.Dir, got, tc.want(t))
		})
	}
}

// goProcessGone reports whether pid has exited (a zombie that its new
// parent has not reaped yet counts as gone).
func goProcessGone(pid int) bool {
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		i := bytes.LastIndexByte(b, ')')
		return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
	}
	return syscall.Kill(pid, 0) != nil
}

func TestGoCheckTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	// The test starts a child process (in the go command's process group)
	// and, when hang is true, never returns.
	hangTest := func(hang bool) string {
		return fmt.Sprintf(`package svc

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestHang(t *testing.T) {
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(%q, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if %t {
		time.Sleep(time.Hour)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}
`, pidFile, hang)
	}
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod, "svc/hang_test.go": hangTest(false)})

	// A first run that finishes fills the build cache, so the limit below
	// is spent on the hanging test rather than on compiling.
	if got := (GoCheck{Modules: []string{"svc"}}).Check(context.Background(), in); len(got) != 0 {
		t.Fatalf("warm-up run: %s", goDump(got))
	}
	if err := os.Remove(pidFile); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.Dir, "svc", "hang_test.go"), []byte(hangTest(true)), 0o644); err != nil {
		t.Fatal(err)
	}

	const limit = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit+10*time.Second)
	defer cancel()
	got := GoCheck{Modules: []string{"svc"}, Timeout: limit}.Check(ctx, in)
	if ctx.Err() != nil {
		t.Fatalf("the check outlived its caller's deadline (%v): the hanging test was not killed", ctx.Err())
	}
	goAssert(t, in.Dir, got, []goWant{{goIDTimeout, "svc/go.mod", 0, "did not finish within 3s"}})

	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the hanging test never started (the limit ran out before go test ran): %v", err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	// The kill is sent before Check returns; wait for the kernel to finish it.
	deadline := time.Now().Add(10 * time.Second)
	for !goProcessGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d, started by the hanging test, outlived the check", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGoCheckCancelled(t *testing.T) {
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod, "svc/main.go": "package main\n\nfunc main() {}\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := GoCheck{Modules: []string{"svc"}}.Check(ctx, in)
	goAssert(t, in.Dir, got, []goWant{{goIDTimeout, "svc/go.mod", 0, "was cancelled"}})
}

// goSecrets are set in the parent process by TestGoCheckEnvScrubbed.
var goSecrets = map[string]string{
	"GITHUB_TOKEN":           "ghs_secret0123456789abcdef",
	"KUBEWRIGHT_LLM_API_KEY": "sk-kubewright-secret-0123456789",
	"OPENAI_API_KEY":         "sk-openai-secret-0123456789",
}

// goAllowedEnv are the only variables a module's tests may see: the
// scrubbed environment, HOME, and PWD, which the go command adds itself.
var goAllowedEnv = []string{"PATH", "HOME", "PWD", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE",
	"GOTOOLCHAIN", "CGO_ENABLED", "GOFLAGS", "GOWORK"}

func TestScrubbedGoEnv(t *testing.T) {
	for k, v := range goSecrets {
		t.Setenv(k, v)
	}
	env, err := ScrubbedGoEnv()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	for _, k := range goAllowedEnv {
		allowed[k] = true
	}
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
		if !allowed[k] || k == "HOME" || k == "PWD" {
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

func TestGoCheckEnvScrubbed(t *testing.T) {
	for k, v := range goSecrets {
		t.Setenv(k, v)
	}
	marker := filepath.Join(t.TempDir(), "env.txt")
	parentHome, _ := os.UserHomeDir()
	envTest := fmt.Sprintf(`package svc

import (
	"os"
	"strings"
	"testing"
)

func TestEnvironment(t *testing.T) {
	allowed := map[string]bool{}
	for _, k := range strings.Split(%q, ",") {
		allowed[k] = true
	}
	var names []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		names = append(names, k)
		if !allowed[k] {
			t.Errorf("unexpected variable %%s", k)
		}
		if strings.Contains(v, "secret") {
			t.Errorf("variable %%s holds a secret", k)
		}
	}
	for _, k := range []string{"GITHUB_TOKEN", "KUBEWRIGHT_LLM_API_KEY", "OPENAI_API_KEY"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Errorf("%%s is visible", k)
		}
	}
	want := map[string]string{"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOPROXY": "off", "GOWORK": "off"}
	for k, v := range want {
		if got := os.Getenv(k); got != v {
			t.Errorf("%%s = %%q, want %%q", k, got, v)
		}
	}
	if !strings.Contains(os.Getenv("GOFLAGS"), "-mod=readonly") {
		t.Errorf("GOFLAGS = %%q, want -mod=readonly", os.Getenv("GOFLAGS"))
	}
	home := os.Getenv("HOME")
	if home == "" || home == %q {
		t.Errorf("HOME = %%q, want a directory of its own", home)
	}
	if err := os.WriteFile(%q, []byte(home+"\n"+strings.Join(names, ",")), 0o644); err != nil {
		t.Fatal(err)
	}
}
`, strings.Join(goAllowedEnv, ","), parentHome, marker)
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod, "svc/env_test.go": envTest})
	got := GoCheck{Modules: []string{"svc"}}.Check(context.Background(), in)
	goAssert(t, in.Dir, got, nil)

	b, err := os.ReadFile(marker)
	if err != nil {
		t.Fatalf("the module's test did not run: %v", err)
	}
	home, names, _ := strings.Cut(string(b), "\n")
	if !strings.Contains(names, "GOTOOLCHAIN") {
		t.Errorf("the module saw %s, want the scrubbed environment", names)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("the module's HOME %s was not removed (%v)", home, err)
	}
}

// TestGoCheckFixture checks the generated inventory service the agent
// tests use: it must tidy, build, vet and test clean. Its requirements come
// through the normal GOPROXY (from the module cache after a first run).
func TestGoCheckFixture(t *testing.T) {
	src := filepath.Join("..", "author", "agent", "testdata", "inventory-service")
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
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	got := GoCheck{Modules: []string{"inventory-service"}}.Check(ctx, &Input{Dir: repo, Files: files})
	goAssert(t, repo, got, nil)
	if _, err := os.Stat(filepath.Join(dst, "go.sum")); err != nil {
		t.Errorf("go mod tidy wrote no go.sum: %v", err)
	}
}

func TestGoCheckMissingToolchain(t *testing.T) {
	in := goTestRepo(t, map[string]string{"svc/go.mod": goTestMod})
	got := GoCheck{Modules: []string{"svc"}, GoBin: filepath.Join(t.TempDir(), "no-such-go")}.Check(context.Background(), in)
	goAssert(t, in.Dir, got, []goWant{{goIDToolchain, "svc/go.mod", 0, "cannot run the go toolchain"}})
}

// goTestPaths is a module "svc" in a temporary repository, with test
// files on disk for the declaration look-ups.
func goTestPaths(t *testing.T) (goPaths, string) {
	t.Helper()
	repo := t.TempDir()
	files := map[string]string{
		"svc/go.mod":                     goTestMod,
		"svc/store/store_test.go":        "package store\n\nimport \"testing\"\n\nfunc TestStore(t *testing.T) {\n\tt.Fail()\n}\n",
		"svc/handlers_test.go":           "package main\n\nimport \"testing\"\n\n\nfunc TestHandlers(t *testing.T) {}\n",
		"svc/testdata/x/other_test.go":   "package x\n\nfunc TestStore(t *testing.T) {}\n",
		"svc/nested/go.mod":              goTestMod,
		"svc/nested/handlers2_test.go":   "package main\n",
		"svc/internal/deep/util_test.go": "package deep\n",
	}
	for rel, content := range files {
		p := filepath.Join(repo, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := goModulePaths(repo, "svc")
	if err != nil {
		t.Fatal(err)
	}
	p.home = "/tmp/kubewright-gohome-123"
	return p, repo
}

func TestGoParse(t *testing.T) {
	p, repo := goTestPaths(t)
	abs := filepath.ToSlash(filepath.Join(repo, "svc"))
	steps := goSteps("go1.26.8")
	tidy, build, vet, test := steps[0], steps[1], steps[2], steps[3]
	var many strings.Builder
	for i := 1; i <= goMaxFindings+5; i++ {
		fmt.Fprintf(&many, "./main.go:%d:2: undefined: x%d\n", i, i)
	}
	var long strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&long, "go: line %d of something odd\n", i)
	}
	cases := []struct {
		name      string
		step      goStep
		out       string
		truncated bool
		want      []goWant
		wantLen   int // when want lists only the first findings
	}{
		{
			name: "build errors with continuation lines",
			step: build,
			out: "# example.com/svc\n./main.go:7:9: cannot use x (variable of type int) as string value in return statement\n" +
				"./main.go:9:2: too many arguments in call to f\n\thave (int, int)\n\twant (int)\n" +
				"# example.com/svc/store\nstore/store.go:3:1: syntax error: non-declaration statement outside function body\n",
			want: []goWant{
				{goIDBuild, "svc/main.go", 7, "cannot use x"},
				{goIDBuild, "svc/main.go", 9, "too many arguments in call to f\nhave (int, int)\nwant (int)"},
				{goIDBuild, "svc/store/store.go", 3, "syntax error"},
			},
		},
		{
			name: "absolute paths become repository-relative",
			step: build,
			out:  abs + "/main.go:3:1: imported and not used: \"os\" in " + abs + "/main.go and " + filepath.ToSlash(repo) + "/other\n",
			want: []goWant{{goIDBuild, "svc/main.go", 3, `imported and not used: "os" in svc/main.go and other`}},
		},
		{
			name: "a location outside the repository stays in the message",
			step: build,
			out:  "/root/go/pkg/mod/example.com/dep@v1.0.0/dep.go:4:2: undefined: y\n",
			want: []goWant{{goIDBuild, "svc/go.mod", 0, "/root/go/pkg/mod/example.com/dep@v1.0.0/dep.go:4: undefined: y"}},
		},
		{
			name: "vet reports and type errors in tests",
			step: vet,
			out: "# example.com/svc\n# [example.com/svc]\n./main.go:6:14: fmt.Printf format %d has arg \"s\" of wrong type string\n" +
				"# example.com/svc/store\n# [example.com/svc/store]\nvet: store/store_test.go:5:40: undefined: nope\n" +
				"vet: store/store.go:2:1: undefined: other\n",
			want: []goWant{
				{goIDVet, "svc/main.go", 6, "fmt.Printf format %d"},
				{goIDVet, "svc/store/store.go", 2, "undefined: other"},
				{goIDTest, "svc/store/store_test.go", 5, "undefined: nope"},
			},
		},
		{
			name: "test logs resolve to their package's file",
			step: test,
			out: "--- FAIL: TestStore (0.00s)\n    store_test.go:6: got 1,\n        want 2\n    --- FAIL: TestStore/sub (0.00s)\n        store_test.go:9: inner\n" +
				"FAIL\nFAIL\texample.com/svc/store\t0.004s\n" +
				"--- FAIL: TestHandlers (0.00s)\n    handlers_test.go:12: got 500, want 200\nFAIL\nFAIL\texample.com/svc\t0.003s\n" +
				"ok  \texample.com/svc/internal/deep\t0.002s\nFAIL\n",
			want: []goWant{
				{goIDTest, "svc/handlers_test.go", 12, "TestHandlers: got 500, want 200"},
				{goIDTest, "svc/store/store_test.go", 6, "TestStore: got 1,\nwant 2"},
				{goIDTest, "svc/store/store_test.go", 9, "TestStore/sub: inner"},
			},
		},
		{
			name: "a test log whose package is not printed",
			step: test,
			out:  "--- FAIL: TestStore (0.00s)\n    store_test.go:6: boom\n",
			want: []goWant{{goIDTest, "svc/store/store_test.go", 6, "TestStore: boom"}},
		},
		{
			name: "a failure without a message points at the test",
			step: test,
			out:  "--- FAIL: TestStore (0.00s)\nFAIL\nFAIL\texample.com/svc/store\t0.004s\nFAIL\n",
			want: []goWant{{goIDTest, "svc/store/store_test.go", 5, "TestStore failed without a message"}},
		},
		{
			name: "a panic located by its frame in the module",
			step: test,
			out: "--- FAIL: TestHandlers (0.00s)\npanic: runtime error: index out of range [3] with length 0 [recovered, repanicked]\n\n" +
				"goroutine 7 [running]:\ntesting.tRunner.func1.2({0x5, 0x6})\n\t/usr/local/go/src/testing/testing.go:1974 +0x232\n" +
				"example.com/svc.handle(...)\n\t" + abs + "/handlers.go:41\nexample.com/svc.TestHandlers(0xc0)\n\t" + abs + "/handlers_test.go:9 +0x65\n" +
				"FAIL\texample.com/svc\t0.005s\nFAIL\n",
			want: []goWant{{goIDTest, "svc/handlers.go", 41, "TestHandlers panicked: runtime error: index out of range"}},
		},
		{
			name: "a panic with no frame in the module points at its test",
			step: test,
			out: "--- FAIL: TestHandlers (0.00s)\npanic: test timed out\n\ngoroutine 1 [running]:\n\t/usr/local/go/src/testing/testing.go:1974 +0x232\n" +
				"FAIL\texample.com/svc\t0.005s\n",
			want: []goWant{{goIDTest, "svc/handlers_test.go", 6, "TestHandlers panicked: test timed out"}},
		},
		{
			name: "a panic outside any test",
			step: test,
			out:  "panic: init failed\n\ngoroutine 1 [running]:\nexample.com/svc.init.0()\n\t" + abs + "/main.go:12 +0x1\nFAIL\texample.com/svc\t0.005s\n",
			want: []goWant{{goIDTest, "svc/main.go", 12, "panic: init failed"}},
		},
		{
			name: "compile errors in tests during go test",
			step: test,
			out:  "# example.com/svc [example.com/svc.test]\n./handlers_test.go:8:2: undefined: h\nFAIL\texample.com/svc [build failed]\nFAIL\n",
			want: []goWant{{goIDTest, "svc/handlers_test.go", 8, "undefined: h"}},
		},
		{
			name: "unparseable output quotes its first lines",
			step: build,
			out:  "go: inconsistent vendoring in " + abs + ":\n" + long.String(),
			want: []goWant{{goIDBuild, "svc/go.mod", 0, "go build failed:\ngo: inconsistent vendoring in svc:\ngo: line 1 of something odd"}},
		},
		{
			name:      "unparseable output, cut",
			step:      test,
			out:       "signal: killed\n",
			truncated: true,
			want:      []goWant{{goIDTest, "svc/go.mod", 0, "go test failed:\nsignal: killed\n(output cut at 64 KiB)"}},
		},
		{
			name: "no output at all",
			step: vet,
			want: []goWant{{goIDVet, "svc/go.mod", 0, "go vet failed and printed nothing"}},
		},
		{
			name: "tidy names a line of go.mod",
			step: tidy,
			out:  "go: errors parsing go.mod:\n" + abs + "/go.mod:3: unknown directive: requir\n",
			want: []goWant{{goIDModule, "svc/go.mod", 3, "go mod tidy failed:\ngo: errors parsing go.mod:\nsvc/go.mod:3: unknown directive: requir"}},
		},
		{
			name: "tidy mentions the throwaway HOME",
			step: tidy,
			out:  "go: could not create module cache: mkdir /tmp/kubewright-gohome-123/go: permission denied\n",
			want: []goWant{{goIDModule, "svc/go.mod", 0, "mkdir $HOME/go: permission denied"}},
		},
		{
			name: "repeated reports are one finding",
			step: vet,
			out:  "./main.go:6:14: bad\n./main.go:6:14: bad\n",
			want: []goWant{{goIDVet, "svc/main.go", 6, "bad"}},
		},
		{
			name:    "findings are capped",
			step:    build,
			out:     many.String(),
			want:    []goWant{{goIDBuild, "svc/main.go", 1, "undefined: x1"}},
			wantLen: goMaxFindings + 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := goParse(tc.step, p, []byte(tc.out), tc.truncated)
			finding.Sort(got)
			if tc.wantLen > 0 {
				if len(got) != tc.wantLen {
					t.Fatalf("got %d findings, want %d", len(got), tc.wantLen)
				}
				var rest []finding.Finding
				more := false
				for _, f := range got {
					if f.File == "svc/go.mod" && strings.Contains(f.Message, "5 more problems not shown") {
						more = true
						continue
					}
					rest = append(rest, f)
				}
				if !more {
					t.Errorf("no finding says how many were left out:\n%s", goDump(got))
				}
				got = rest[:len(tc.want)]
			}
			goAssert(t, repo, got, tc.want)
		})
	}
}

func TestGoModulesIn(t *testing.T) {
	got := goModulesIn([]string{"go.mod", "a/go.mod", "a/main.go", "b/c/go.mod", "b/testdata/go.mod", "vendor/x/go.mod",
		".hidden/go.mod", "_old/go.mod", "d/go.modx"})
	want := []string{".", "a", "b/c"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("goModulesIn = %q, want %q", got, want)
	}
}

func TestGoOutputCap(t *testing.T) {
	w := &goOutput{max: 10}
	for _, s := range []string{"12345", "67890abc", "def"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if w.buf.String() != "1234567890" || w.dropped != 6 {
		t.Errorf("kept %q, dropped %d; want 1234567890 and 6", w.buf.String(), w.dropped)
	}
}

func FuzzGoParse(f *testing.F) {
	for _, s := range []string{
		"./main.go:7:9: cannot use x\n\thave (int)\n",
		"--- FAIL: TestX (0.00s)\n    x_test.go:4: got 1\n        more\nFAIL\texample.com/svc\t0.01s\n",
		"panic: boom\n\ngoroutine 1 [running]:\n\t/abs/svc/x.go:3 +0x1\n",
		"vet: ../../etc/passwd.go:1:1: x\n",
		"    --- FAIL: TestX/a/b (0.00s)\n            a.go:1: deep\n",
	} {
		f.Add(s, 3)
	}
	p, err := goModulePaths("/work/repo", "svc")
	if err != nil {
		f.Fatal(err)
	}
	p.home = "/tmp/home"
	f.Fuzz(func(t *testing.T, out string, stepN int) {
		steps := goSteps("")
		s := steps[(stepN%len(steps)+len(steps))%len(steps)]
		got := goParse(s, p, []byte(out), false)
		if len(got) == 0 || len(got) > goMaxFindings+1 {
			t.Fatalf("%d findings for a failed step", len(got))
		}
		for _, fd := range got {
			if fd.Stage != StageGo || fd.ID == "" || len(fd.Message) > goMaxMessage+8 {
				t.Fatalf("bad finding %+v", fd)
			}
			if strings.Contains(fd.Message, "/work/repo/") || strings.HasPrefix(fd.File, "/") || strings.HasPrefix(fd.File, "../") {
				t.Fatalf("finding %+v leaks the workspace path or leaves the repository", fd)
			}
		}
	})
}
