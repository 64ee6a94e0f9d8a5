package analyze

import (
	"bytes"
	"errors"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// GoDetector finds Go services: every main package (with a func main) of
// every module (go.mod) in the repository. A directory holding its own go.mod
// belongs to that nested module, never to the enclosing one.
type GoDetector struct{}

func (GoDetector) Name() string { return "go" }

// goDefaultVersion is the Go version assumed when go.mod has no go directive.
const goDefaultVersion = "1.26"

// goDefaultPort is the port assumed for a server whose address is not visible.
const goDefaultPort = 8080

// Detect returns one Service per main package, modules in path order.
func (GoDetector) Detect(r *Repo) ([]Service, []ServiceError) {
	var mods []string
	for _, f := range r.Named("go.mod") {
		if dir := path.Dir(f); !goIgnoredDir(dir) {
			mods = append(mods, dir)
		}
	}
	var svcs []Service
	var errs []ServiceError
	for _, dir := range mods {
		s, err := detectGoModule(r, dir, mods)
		if err != nil {
			errs = append(errs, *err)
			continue
		}
		svcs = append(svcs, s...)
	}
	return svcs, errs
}

// goIgnoredDir reports whether the go command ignores dir: a path element
// named testdata or starting with "." or "_".
func goIgnoredDir(dir string) bool {
	if dir == "." || dir == "" {
		return false
	}
	for _, e := range strings.Split(dir, "/") {
		if e == "testdata" || strings.HasPrefix(e, ".") || strings.HasPrefix(e, "_") {
			return true
		}
	}
	return false
}

// goExampleDir reports whether a package directory (relative to its
// module) holds example programs or repository tooling rather than a
// deployable binary: any path element named example(s) or hack.
func goExampleDir(rel string) bool {
	for _, e := range strings.Split(rel, "/") {
		if e == "example" || e == "examples" || e == "hack" {
			return true
		}
	}
	return false
}

// goModuleOf returns the innermost module directory among mods holding file.
func goModuleOf(file string, mods []string) string {
	best := ""
	for _, m := range mods {
		switch {
		case m == ".":
			if best == "" {
				best = m
			}
		case strings.HasPrefix(file, m+"/") && (best == "" || best == "." || len(m) > len(best)):
			best = m
		}
	}
	return best
}

// goFile is one non-test Go source file of a module.
type goFile struct {
	path    string // repository path
	rel     string // relative to the module root
	content []byte
	syntax  *ast.File // full parse, nil if it failed
	imports []string
}

// goPackage is the set of files in one directory of a module.
type goPackage struct {
	dir    string // repository path
	main   bool   // package main with a func main
	files  []*goFile
	locals []string // module-local packages imported, as repository dirs
}

func (p *goPackage) imports(prefix string) bool {
	for _, f := range p.files {
		for _, ip := range f.imports {
			if ip == prefix || strings.HasPrefix(ip, prefix+"/") {
				return true
			}
		}
	}
	return false
}

// goModule is a parsed module with its packages.
type goModule struct {
	dir  string
	file *modfile.File
	path string
	pkgs map[string]*goPackage
}

func detectGoModule(r *Repo, dir string, mods []string) ([]Service, *ServiceError) {
	modPath := Join(dir, "go.mod")
	content, err := r.ReadFile(modPath)
	if err != nil {
		return nil, &ServiceError{Path: dir, File: modPath, Message: "cannot read go.mod: " + err.Error(), Hint: "make go.mod a regular file under 2 MiB"}
	}
	mf, err := modfile.Parse(modPath, content, nil)
	if err != nil {
		se := goModError(dir, modPath, err)
		return nil, &se
	}
	if mf.Module == nil || mf.Module.Mod.Path == "" {
		return nil, &ServiceError{Path: dir, File: modPath, Line: 1, Message: "go.mod has no module directive", Hint: "add `module <import path>` as the first line"}
	}
	m := &goModule{dir: dir, file: mf, path: mf.Module.Mod.Path, pkgs: map[string]*goPackage{}}
	loadGoPackages(r, m, mods)

	var bins []*goPackage
	for _, d := range goSortedKeys(m.pkgs) {
		if m.pkgs[d].main && !goExampleDir(Rel(dir, d)) {
			bins = append(bins, m.pkgs[d])
		}
	}
	var svcs []Service
	for _, b := range bins {
		svcs = append(svcs, goService(r, m, b, len(bins)))
	}
	return svcs, nil
}

// goModError turns a modfile parse failure into a ServiceError at the first
// offending line.
func goModError(dir, file string, err error) ServiceError {
	se := ServiceError{Path: dir, File: file, Message: "invalid go.mod: " + err.Error(), Hint: "run `go mod tidy` or fix the directive on that line"}
	var first *modfile.Error
	var list modfile.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		first = &list[0]
	} else {
		errors.As(err, &first)
	}
	if first != nil {
		se.Line = first.Pos.Line
		msg := ""
		if first.Err != nil {
			msg = first.Err.Error()
		}
		switch {
		case first.ModPath != "":
			msg = first.Verb + " " + first.ModPath + ": " + msg
		case first.Verb != "":
			msg = first.Verb + ": " + msg
		}
		se.Message = "invalid go.mod: " + msg
	}
	return se
}

// loadGoPackages reads the module's non-test Go files that the linux build
// would compile and groups them by directory.
func loadGoPackages(r *Repo, m *goModule, mods []string) {
	fset := token.NewFileSet()
	for _, f := range r.Under(m.dir) {
		if !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		rd := "."
		if d := path.Dir(f); d != m.dir {
			rd = Rel(m.dir, d)
		}
		if goModuleOf(f, mods) != m.dir || goIgnoredDir(rd) || !goFileNameMatches(path.Base(f)) {
			continue
		}
		content, err := r.ReadFile(f)
		if err != nil {
			continue
		}
		syn, _ := parser.ParseFile(fset, f, content, parser.ParseComments|parser.SkipObjectResolution)
		if syn == nil || syn.Name == nil || !goBuildMatches(syn) {
			continue
		}
		gf := &goFile{path: f, rel: Rel(m.dir, f), content: content, syntax: syn}
		for _, is := range syn.Imports {
			if ip, err := strconv.Unquote(is.Path.Value); err == nil {
				gf.imports = append(gf.imports, ip)
			}
		}
		d := path.Dir(f)
		p := m.pkgs[d]
		if p == nil {
			p = &goPackage{dir: d}
			m.pkgs[d] = p
		}
		p.files = append(p.files, gf)
		if syn.Name.Name == "main" && goHasMain(syn) {
			p.main = true
		}
	}
	for _, p := range m.pkgs {
		seen := map[string]bool{}
		for _, f := range p.files {
			for _, ip := range f.imports {
				var rel string
				switch {
				case ip == m.path:
					rel = "."
				case strings.HasPrefix(ip, m.path+"/"):
					rel = strings.TrimPrefix(ip, m.path+"/")
				default:
					continue
				}
				d := Join(m.dir, rel)
				if _, ok := m.pkgs[d]; ok && !seen[d] && d != p.dir {
					seen[d] = true
					p.locals = append(p.locals, d)
				}
			}
		}
		sort.Strings(p.locals)
	}
}

func goHasMain(f *ast.File) bool {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" {
			return true
		}
	}
	return false
}

var (
	goKnownOS   = map[string]bool{"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true, "hurd": true, "illumos": true, "ios": true, "js": true, "linux": true, "nacl": true, "netbsd": true, "openbsd": true, "plan9": true, "solaris": true, "wasip1": true, "windows": true, "zos": true}
	goKnownArch = map[string]bool{"386": true, "amd64": true, "arm": true, "arm64": true, "loong64": true, "mips": true, "mipsle": true, "mips64": true, "mips64le": true, "ppc64": true, "ppc64le": true, "riscv64": true, "s390x": true, "sparc64": true, "wasm": true}
)

// goTarget reports whether a build tag holds for the container target
// (linux on amd64 or arm64, gc with cgo, any go1.N release tag).
func goTarget(tag string) bool {
	switch tag {
	case "linux", "unix", "amd64", "arm64", "gc", "cgo":
		return true
	}
	return strings.HasPrefix(tag, "go1.")
}

// goFileNameMatches applies the _GOOS / _GOARCH / _GOOS_GOARCH file name
// constraints for the container target.
func goFileNameMatches(name string) bool {
	parts := strings.Split(strings.TrimSuffix(name, ".go"), "_")
	if len(parts) < 2 {
		return true
	}
	parts = parts[1:]
	n := len(parts)
	if n >= 2 && goKnownOS[parts[n-2]] && goKnownArch[parts[n-1]] {
		return goTarget(parts[n-2]) && goTarget(parts[n-1])
	}
	if goKnownOS[parts[n-1]] || goKnownArch[parts[n-1]] {
		return goTarget(parts[n-1])
	}
	return true
}

// goBuildMatches evaluates the file's build constraint lines (those before
// the package clause); `ignore`, `tools` and other custom tags are false.
func goBuildMatches(f *ast.File) bool {
	for _, g := range f.Comments {
		if g.Pos() >= f.Package {
			break
		}
		for _, c := range g.List {
			if !constraint.IsGoBuild(c.Text) && !constraint.IsPlusBuild(c.Text) {
				continue
			}
			x, err := constraint.Parse(c.Text)
			if err == nil && !x.Eval(goTarget) {
				return false
			}
		}
	}
	return true
}

func goSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// goFrameworks are checked in order against the binary's imports.
var goFrameworks = []struct{ name, prefix string }{
	{"gin", "github.com/gin-gonic/gin"},
	{"echo", "github.com/labstack/echo"},
	{"fiber", "github.com/gofiber/fiber"},
	{"chi", "github.com/go-chi/chi"},
	{"gorilla/mux", "github.com/gorilla/mux"},
	{"grpc", "google.golang.org/grpc"},
}

// goService describes one main package of module m; nbins is how many main
// packages the module has.
func goService(r *Repo, m *goModule, bin *goPackage, nbins int) Service {
	rel := Rel(m.dir, bin.dir)
	if bin.dir == m.dir {
		rel = "."
	}
	s := Service{
		Path:      m.dir,
		Detector:  "go",
		Language:  LangGo,
		BuildTool: "go",
		Project:   "go.mod",
	}
	if rel == "." {
		s.Entrypoint = "."
	} else {
		s.Entrypoint = "./" + rel
	}
	if nbins == 1 || rel == "." {
		s.Name = DNSLabel(goModuleName(m.path))
	} else {
		s.Name = DNSLabel(path.Base(rel))
	}
	if r.Exists(Join(m.dir, "go.sum")) {
		s.Lockfile = "go.sum"
	}
	if m.file.Go != nil && m.file.Go.Version != "" {
		s.LanguageVersion = goMajorMinor(m.file.Go.Version)
	} else {
		s.LanguageVersion = goDefaultVersion
		s.Assumptions = append(s.Assumptions, "Go "+goDefaultVersion+" assumed: go.mod has no go directive")
	}

	// code: the main package, then the module-local packages it imports
	// (transitively), in path order.
	code := []*goPackage{bin}
	seen := map[string]bool{bin.dir: true}
	for i := 0; i < len(code); i++ {
		for _, d := range code[i].locals {
			if !seen[d] {
				seen[d] = true
				code = append(code, m.pkgs[d])
			}
		}
	}
	sort.SliceStable(code[1:], func(i, j int) bool { return code[1+i].dir < code[1+j].dir })

	// Env: the main package and every non-main package of the module.
	envPkgs := []*goPackage{bin}
	for _, d := range goSortedKeys(m.pkgs) {
		if p := m.pkgs[d]; !p.main {
			envPkgs = append(envPkgs, p)
		}
	}
	scan := map[*goFile]*goScan{}
	scanOf := func(f *goFile) *goScan {
		if sc, ok := scan[f]; ok {
			return sc
		}
		sc := scanGoFile(f)
		scan[f] = sc
		return sc
	}
	defaults := map[string]string{}
	for _, p := range envPkgs {
		for _, f := range p.files {
			s.Env = MergeEnv(s.Env, ScanEnv(LangGo, f.rel, f.content)...)
			for k, v := range scanOf(f).envDefaults {
				if _, ok := defaults[k]; !ok {
					defaults[k] = v
				}
			}
		}
	}
	for i := range s.Env {
		if d, ok := defaults[s.Env[i].Name]; ok && s.Env[i].Default == "" && !s.Env[i].Secret {
			s.Env[i].Default = d
		}
	}

	// Framework and server evidence. gRPC counts only as a server
	// (grpc.NewServer), never as a client import.
	server := false
	grpcServer, grpcHealth := goGRPC(code)
	for _, fw := range goFrameworks {
		if fw.name == "grpc" && !grpcServer {
			continue
		}
		for _, p := range code {
			if p.imports(fw.prefix) {
				s.Framework, server = fw.name, true
				break
			}
		}
		if server {
			break
		}
	}
	if grpcServer {
		s.GRPC, server = true, true
		if grpcHealth != "" {
			s.GRPCHealth, s.GRPCHealthSource = true, grpcHealth
		}
	}
	var hits [3][]goPortHit
	for _, p := range code {
		for _, f := range p.files {
			sc := scanOf(f)
			if sc.serves {
				server = true
			}
			for _, h := range sc.hits {
				hits[h.kind] = append(hits[h.kind], h)
			}
		}
	}
	if len(hits[goPortListen]) > 0 {
		server = true
	}
	if !server {
		s.Framework = "worker"
	} else {
		if s.Framework == "" {
			s.Framework = "tcp"
			for _, p := range code {
				if p.imports("net/http") {
					s.Framework = "net/http"
					break
				}
			}
		}
		s.Port, s.PortSource = goPort(r, m, bin, code, hits)
		if s.Port == 0 {
			s.Port, s.PortSource = goDefaultPort, "default for "+s.Framework
			s.Assumptions = append(s.Assumptions, "port "+itoa(goDefaultPort)+" assumed: no listen address or PORT default is visible")
		}
		s.HealthPath = goHealthPath(code)
		if s.HealthPath == "" {
			s.HealthPath = goHealthPath(envPkgs)
		}
	}

	// Backing services: direct requires; with several binaries only those
	// the binary's code imports.
	reqs := append([]*modfile.Require(nil), m.file.Require...)
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].Mod.Path < reqs[j].Mod.Path })
	for _, req := range reqs {
		if req.Indirect {
			continue
		}
		kind, ok := BackingFor(req.Mod.Path)
		if !ok {
			continue
		}
		if nbins > 1 {
			used := false
			for _, p := range code {
				if p.imports(req.Mod.Path) {
					used = true
					break
				}
			}
			if !used {
				continue
			}
		}
		s.Backing = AddBacking(s.Backing, kind, "go.mod: "+req.Mod.Path)
	}
	return s
}

// goModuleName is the last element of a module path without its major
// version suffix ("example.com/shop/orders/v2" -> "orders").
func goModuleName(p string) string {
	if prefix, _, ok := module.SplitPathVersion(p); ok && prefix != "" {
		p = prefix
	}
	return path.Base(p)
}

// goMajorMinor reduces a go directive version to major.minor.
func goMajorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i] // 1.21rc1
	}
	return parts[0] + "." + minor
}

// goMethodPattern matches the method of a Go 1.22 ServeMux pattern
// ("GET /healthz"), which FindHealthPath would not see as a route.
var goMethodPattern = regexp.MustCompile(`"(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) +(?:[A-Za-z0-9.-]*)/`)

// goHealthPath finds a health route in the packages' sources.
func goHealthPath(pkgs []*goPackage) string {
	return FindHealthPath(goMethodPattern.ReplaceAll(goConcat(pkgs), []byte(`"/`)))
}

func goConcat(pkgs []*goPackage) []byte {
	var b bytes.Buffer
	for _, p := range pkgs {
		for _, f := range p.files {
			b.Write(f.content)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

var (
	goGRPCServerRe = regexp.MustCompile(`\bgrpc\.NewServer\(`)
	goGRPCHealthRe = regexp.MustCompile(`\bhealth\.NewServer\(|\bRegisterHealthServer\(`)
)

// goGRPC reports whether the binary's code builds a gRPC server and where
// it registers the standard health service ("" when it does not).
func goGRPC(code []*goPackage) (server bool, health string) {
	for _, p := range code {
		for _, f := range p.files {
			if goGRPCServerRe.Match(f.content) {
				server = true
			}
			if health == "" {
				if loc := goGRPCHealthRe.FindIndex(f.content); loc != nil {
					health = Source(f.rel, LineOf(f.content, loc[0]))
				}
			}
		}
	}
	if !server {
		return false, ""
	}
	return true, health
}
