package gocheck

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
)

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
