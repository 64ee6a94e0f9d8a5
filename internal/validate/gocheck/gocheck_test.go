package gocheck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/sandbox"
	"github.com/kubewright/kubewright/internal/validate"
)

// The Go stage runs the real go command, in the real sandbox (bubblewrap),
// over tiny modules written into temporary directories. They use only the
// standard library, so nothing is downloaded, except TestGoCheckFixture,
// which checks the generated inventory service the agent tests use and
// needs its two requirements. The module cache and a build cache seed
// (the standard library, the fixture's dependencies) are kept across test
// runs under the temporary directory, never the developer's own caches.

var (
	goCheckOnce sync.Once
	goCheckBase Check
	goCheckErr  error
)

// goTestCheck is a Check on the machine's sandbox with the shared
// caches; the test fails without a sandbox (make test installs
// bubblewrap).
func goTestCheck(t *testing.T) Check {
	t.Helper()
	goCheckOnce.Do(func() {
		sb, err := sandbox.Detect(context.Background())
		if err != nil {
			goCheckErr = fmt.Errorf("no sandbox on this machine: %w (make test installs bubblewrap)", err)
			return
		}
		base := filepath.Join(os.TempDir(), fmt.Sprintf("kubewright-test-go-%d", os.Geteuid()))
		mods, seed := filepath.Join(base, "gomodcache"), filepath.Join(base, "gocache-seed-"+strings.TrimPrefix(runtime.Version(), "go"))
		for _, d := range []string{base, mods, seed} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				goCheckErr = err
				return
			}
			if err := os.Chmod(d, 0o755); err != nil {
				goCheckErr = err
				return
			}
		}
		c := Check{Sandbox: sb, ModCache: mods, Timeout: 20 * time.Minute}
		if err := c.WarmBuildCache(context.Background(), seed, filepath.Join("..", "..", "job", "testdata", "inventory-service")); err != nil {
			goCheckErr = err
			return
		}
		goCheckBase = Check{Sandbox: sb, ModCache: mods, BuildCache: seed}
	})
	if goCheckErr != nil {
		t.Fatal(goCheckErr)
	}
	return goCheckBase
}

const goTestMod = "module example.com/svc\n\ngo 1.26\n"

// goTestRepo writes files (repository-relative) into a new repository and
// returns its Input.
func goTestRepo(t *testing.T, files map[string]string) *validate.Input {
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
	return &validate.Input{Dir: dir, Files: rels}
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
		sev := finding.Error
		if f.ID == goIDNoSandbox {
			sev = finding.Warning
		}
		if f.Stage != validate.StageGo || f.Severity != sev || f.Hint == "" {
			t.Errorf("finding %v: want stage %q, severity %s and a hint (got %q, %q, %q)", f, validate.StageGo, sev, f.Stage, f.Severity, f.Hint)
		}
		for _, s := range []string{f.Message, f.Hint, f.File} {
			for _, leak := range []string{repo, "kubewright-gocheck-", "/sandbox/", os.TempDir() + "/kubewright-test-go"} {
				if strings.Contains(s, leak) {
					t.Errorf("finding %v names an absolute path (%s)", f, leak)
				}
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
	check := goTestCheck(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := goTestRepo(t, tc.files)
			c := check
			c.Modules = tc.mods
			if c.Modules == nil {
				c.Modules = []string{"svc"}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			got := c.Check(ctx, in)
			goAssert(t, in.Dir, got, tc.want(t))
		})
	}
}
