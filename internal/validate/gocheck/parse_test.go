package gocheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

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
			if fd.Stage != validate.StageGo || fd.ID == "" || len(fd.Message) > goMaxMessage+8 {
				t.Fatalf("bad finding %+v", fd)
			}
			if strings.Contains(fd.Message, "/work/repo/") || strings.HasPrefix(fd.File, "/") || strings.HasPrefix(fd.File, "../") {
				t.Fatalf("finding %+v leaks the workspace path or leaves the repository", fd)
			}
		}
	})
}

// FuzzGoReplaces: whatever go.mod a model writes, the replace check
// returns findings on that go.mod only, and lets through only replacements
// that stay inside the module.
func FuzzGoReplaces(f *testing.F) {
	for _, s := range []string{
		"module m\n\ngo 1.26\n\nreplace a => ../x\n",
		"module m\nreplace (\n\ta => /etc\n\tb v1.0.0 => ./vendored/b\n\tc => c v1.2.3\n)\n",
		"module m\nreplace a => C:\\\\x\n",
		"module m\nreplace a => ./../../y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := goCheckReplaces(data, "svc/go.mod")
		for _, fd := range got {
			if fd.ID != goIDModule || fd.File != "svc/go.mod" || fd.Line < 1 || !strings.Contains(fd.Message, "outside the module") {
				t.Fatalf("bad finding %+v", fd)
			}
		}
	})
}
