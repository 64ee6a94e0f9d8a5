package analyze

import (
	"bytes"
	"encoding/json"
	"errors"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// NodeDetector finds Node.js services: package.json files that describe an
// application (a start script, a main that starts a server, or a web
// framework dependency). Libraries and bare workspace roots are skipped.
type NodeDetector struct{}

func (NodeDetector) Name() string { return "node" }

// nodeDefaultVersion is the Node.js major assumed when nothing pins one
// (the current LTS line).
const nodeDefaultVersion = "22"

// nodeDefaultPort is the port express, fastify, koa, nest and next apps
// conventionally use when the code does not say.
const nodeDefaultPort = 3000

// nodeManifest is the part of package.json the detector reads.
type nodeManifest struct {
	Name            string            `json:"name"`
	Main            string            `json:"main"`
	Scripts         map[string]string `json:"scripts"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	Engines         json.RawMessage   `json:"engines"`
	Volta           json.RawMessage   `json:"volta"`
	Workspaces      json.RawMessage   `json:"workspaces"`
	PackageManager  string            `json:"packageManager"`
}

func (m *nodeManifest) has(dep string) bool {
	_, a := m.Dependencies[dep]
	_, b := m.DevDependencies[dep]
	return a || b
}

// Detect returns one Service per application package.json, in path order.
func (NodeDetector) Detect(r *Repo) ([]Service, []ServiceError) {
	var dirs []string
	for _, f := range r.Named("package.json") {
		dirs = append(dirs, path.Dir(f))
	}
	var svcs []Service
	var errs []ServiceError
	for _, dir := range dirs {
		s, ok, err := detectNodePackage(r, dir, dirs)
		switch {
		case err != nil:
			errs = append(errs, *err)
		case ok:
			svcs = append(svcs, s)
		}
	}
	return svcs, errs
}

// nodeFrameworks are checked in order against dependencies: nest and next
// before express, which they pull in themselves.
var nodeFrameworks = []struct{ name, dep string }{
	{"nestjs", "@nestjs/core"},
	{"next", "next"},
	{"fastify", "fastify"},
	{"koa", "koa"},
	{"hapi", "@hapi/hapi"},
	{"hapi", "hapi"},
	{"express", "express"},
}

var nodeServerRe = regexp.MustCompile(`\.listen\(|\bcreateServer\(|\.bindAsync\(`)

func detectNodePackage(r *Repo, dir string, dirs []string) (Service, bool, *ServiceError) {
	file := Join(dir, "package.json")
	content, err := r.ReadFile(file)
	if err != nil {
		return Service{}, false, &ServiceError{Path: dir, File: file, Message: "cannot read package.json: " + err.Error(), Hint: "make package.json a regular file under 2 MiB"}
	}
	var pkg nodeManifest
	if err := json.Unmarshal(content, &pkg); err != nil {
		se := ServiceError{Path: dir, File: file, Message: "invalid package.json: " + err.Error(), Hint: "fix the JSON in package.json"}
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			se.Line = LineOf(content, int(syn.Offset))
		case errors.As(err, &typ):
			se.Line = LineOf(content, int(typ.Offset))
		default:
			se.Line = 1
		}
		return Service{}, false, &se
	}

	start := strings.TrimSpace(pkg.Scripts["start"])
	framework := "node"
	for _, fw := range nodeFrameworks {
		if _, ok := pkg.Dependencies[fw.dep]; ok {
			framework = fw.name
			break
		}
	}
	static := nodeStaticKind(r, dir, &pkg)
	if static == "mobile" {
		return Service{}, false, nil // a mobile or desktop app, not deployed to a server
	}
	ws := bytes.TrimSpace(pkg.Workspaces)
	if len(ws) > 0 && !bytes.Equal(ws, []byte("null")) && !bytes.Equal(ws, []byte("[]")) && start == "" {
		return Service{}, false, nil // a workspace root
	}
	mainFile := ""
	if pkg.Main != "" {
		mainFile = Join(dir, pkg.Main)
	}
	if start == "" && framework == "node" && static == "" {
		c, err := r.ReadFile(mainFile)
		if mainFile == "" || err != nil || !nodeServerRe.Match(c) {
			return Service{}, false, nil // a library
		}
	}

	s := Service{Path: dir, Detector: "node", Project: "package.json", Framework: framework}
	switch {
	case pkg.Name != "":
		s.Name = DNSLabel(pkg.Name)
	case dir == ".":
		s.Name = DNSLabel(filepath.Base(r.Root()))
	default:
		s.Name = DNSLabel(path.Base(dir))
	}
	s.Language = LangJavaScript
	if pkg.has("typescript") || r.Exists(Join(dir, "tsconfig.json")) {
		s.Language = LangTypeScript
	}
	s.LanguageVersion = nodeVersion(r, dir, &pkg)
	if s.LanguageVersion == "" {
		s.LanguageVersion = nodeDefaultVersion
		s.Assumptions = append(s.Assumptions, "Node.js "+nodeDefaultVersion+" assumed: no engines.node, .nvmrc or .node-version")
	}
	var note string
	s.BuildTool, s.Lockfile, note = nodeBuildTool(r, dir, pkg.PackageManager)
	if note != "" {
		s.Assumptions = append(s.Assumptions, note)
	}

	if static != "" {
		return nodeStaticService(r, dir, &pkg, static, s), true, nil
	}

	entry, entryFile, notes := nodeEntrypoint(r, dir, &pkg, s.Framework, s.Language, s.BuildTool)
	s.Entrypoint = entry
	s.Assumptions = append(s.Assumptions, notes...)

	// Source files: the entry file first, then the package's other code.
	files := nodeCodeFiles(r, dir, dirs)
	if entryFile != "" {
		for _, cand := range nodeSourceCandidates(entryFile) {
			f := Join(dir, cand)
			if r.Exists(f) {
				files = append([]string{f}, nodeWithout(files, f)...)
				break
			}
		}
	}
	var all bytes.Buffer
	contents := map[string][]byte{}
	for _, f := range files {
		c, err := r.ReadFile(f)
		if err != nil {
			continue
		}
		contents[f] = c
		all.Write(c)
		all.WriteByte('\n')
		s.Env = MergeEnv(s.Env, ScanEnv(s.Language, Rel(dir, f), c)...)
	}
	for _, name := range []string{".env.example", ".env.sample"} {
		if c, err := r.ReadFile(Join(dir, name)); err == nil {
			s.Env = MergeEnv(s.Env, ParseDotEnv(name, c)...)
		}
	}

	server := framework != "node" || nodeServerRe.Match(all.Bytes())
	if !server {
		s.Framework = "worker"
	} else {
		s.Port, s.PortSource = nodePort(r, dir, &pkg, files, contents, s.Env)
		nodeGRPC(&s, &pkg, files, contents, dir)
		if s.Port == 0 {
			s.Port, s.PortSource = nodeDefaultPort, "default for "+s.Framework
			s.Assumptions = append(s.Assumptions, "port "+itoa(nodeDefaultPort)+" assumed: default for "+s.Framework)
		}
		s.HealthPath = FindHealthPath(all.Bytes())
		if s.HealthPath == "" && framework == "next" {
			s.HealthPath = nextHealthRoute(files, dir)
		}
	}

	deps := make([]string, 0, len(pkg.Dependencies))
	for d := range pkg.Dependencies {
		deps = append(deps, d)
	}
	sort.Strings(deps)
	for _, d := range deps {
		if kind, ok := BackingFor(d); ok {
			s.Backing = AddBacking(s.Backing, kind, "package.json: "+d)
		}
	}
	return s, true, nil
}

func nodeWithout(list []string, x string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

var nodeMajorRe = regexp.MustCompile(`[0-9]+`)

// nodeLTS maps LTS code names (as in .nvmrc "lts/iron") to majors.
var nodeLTS = map[string]string{"hydrogen": "18", "iron": "20", "jod": "22", "krypton": "24"}

// nodeMajor reduces a version or range (">=20", "^18.17", "20.x",
// "v20.11.0", "lts/iron") to its major.
func nodeMajor(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if name, ok := strings.CutPrefix(v, "lts/"); ok {
		return nodeLTS[name]
	}
	return nodeMajorRe.FindString(v)
}

func nodeVersion(r *Repo, dir string, pkg *nodeManifest) string {
	for _, raw := range []json.RawMessage{pkg.Engines, pkg.Volta} {
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			if v, ok := m["node"].(string); ok {
				if major := nodeMajor(v); major != "" {
					return major
				}
			}
		}
	}
	for d := dir; ; d = path.Dir(d) {
		for _, name := range []string{".nvmrc", ".node-version"} {
			if c, err := r.ReadFile(Join(d, name)); err == nil {
				if major := nodeMajor(string(c)); major != "" {
					return major
				}
			}
		}
		if d == "." || d == "/" {
			return ""
		}
	}
}

var nodeLockfiles = []struct{ file, tool string }{
	{"pnpm-lock.yaml", "pnpm"},
	{"yarn.lock", "yarn"},
	{"package-lock.json", "npm"},
	{"npm-shrinkwrap.json", "npm"},
}

// nodeBuildTool picks the package manager from the lock file in dir (the
// packageManager field breaks ties), then from packageManager alone, then
// from a lock file at a workspace root above dir.
func nodeBuildTool(r *Repo, dir, packageManager string) (tool, lockfile, note string) {
	pm, _, _ := strings.Cut(packageManager, "@")
	first := -1
	for i, l := range nodeLockfiles {
		if !r.Exists(Join(dir, l.file)) {
			continue
		}
		if l.tool == pm {
			return l.tool, l.file, ""
		}
		if first < 0 {
			first = i
		}
	}
	if first >= 0 {
		return nodeLockfiles[first].tool, nodeLockfiles[first].file, ""
	}
	switch pm {
	case "npm", "yarn", "pnpm":
		return pm, "", "no lock file: `" + pm + " install` instead of a frozen install"
	}
	for d := dir; d != "."; {
		d = path.Dir(d)
		for _, l := range nodeLockfiles {
			if f := Join(d, l.file); r.Exists(f) {
				return l.tool, "", "lock file " + f + " is at the workspace root, outside the build context"
			}
		}
	}
	return "npm", "", "no lock file: `npm install` instead of `npm ci`"
}

// nodeCommand splits a start script into its command and arguments,
// dropping leading VAR=value assignments and cross-env. Compound scripts
// (&&, ;, |) return an empty command.
func nodeCommand(script string) (string, []string) {
	if strings.ContainsAny(script, ";|&`$(") {
		return "", nil
	}
	f := strings.Fields(script)
	for len(f) > 0 && (strings.Contains(f[0], "=") || f[0] == "cross-env" || f[0] == "env") {
		f = f[1:]
	}
	if len(f) == 0 {
		return "", nil
	}
	return f[0], f[1:]
}

// nodeScriptArg returns the first non-flag argument (the script file).
func nodeScriptArg(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-r" || a == "--require" || a == "--import" || a == "--env-file" {
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			return path.Clean(a)
		}
	}
	return ""
}

// nodeEntrypoint derives the command the container runs and the source
// file it starts from (relative to dir).
func nodeEntrypoint(r *Repo, dir string, pkg *nodeManifest, framework, lang, tool string) (entry, file string, notes []string) {
	start := strings.TrimSpace(pkg.Scripts["start"])
	if _, ok := pkg.Scripts["build"]; ok {
		notes = append(notes, "runs `"+tool+" run build` before start")
	}
	cmd, args := nodeCommand(start)
	switch cmd {
	case "node":
		f := nodeScriptArg(args)
		if f == "." {
			f = path.Clean(pkg.Main)
			if pkg.Main == "" {
				f = "index.js"
			}
		}
		return strings.TrimSpace("node " + strings.Join(args, " ")), f, notes
	case "next":
		return strings.TrimSpace("next " + strings.Join(args, " ")), "", notes
	}
	_, hasBuild := pkg.Scripts["build"]
	why := "no start script"
	if start != "" {
		why = "start script `" + start + "` is not a plain node command"
	}
	if lang == LangTypeScript && hasBuild {
		out := "dist/index.js"
		switch {
		case framework == "nestjs":
			out = "dist/main.js"
		case strings.HasSuffix(pkg.Main, ".js"):
			out = path.Clean(pkg.Main)
		}
		return "node " + out, out, append(notes, "entrypoint `node "+out+"` assumed: "+why+"; runs the build output")
	}
	if pkg.Main != "" && r.Exists(Join(dir, pkg.Main)) {
		m := path.Clean(pkg.Main)
		return "node " + m, m, append(notes, "entrypoint `node "+m+"` assumed from main: "+why)
	}
	if (cmd == "nodemon" || cmd == "node-dev" || cmd == "supervisor") && nodeScriptArg(args) != "" {
		f := nodeScriptArg(args)
		return "node " + f, f, append(notes, "entrypoint `node "+f+"` assumed: "+why)
	}
	if start != "" {
		return tool + " start", "", append(notes, "entrypoint `"+tool+" start` runs the start script `"+start+"`")
	}
	for _, f := range []string{"server.js", "index.js", "app.js", "main.js", "src/server.js", "src/index.js", "src/app.js", "src/main.js"} {
		if r.Exists(Join(dir, f)) {
			return "node " + f, f, append(notes, "entrypoint `node "+f+"` assumed: "+why)
		}
	}
	return "node index.js", "index.js", append(notes, "entrypoint `node index.js` assumed: "+why+" and no main")
}

// nodeSourceCandidates maps an entry file to the files that may hold its
// source: itself, and for built output (dist/main.js) the src/ original.
func nodeSourceCandidates(f string) []string {
	out := []string{f}
	for _, b := range []string{"dist/", "build/", "lib/", "out/"} {
		if rest, ok := strings.CutPrefix(f, b); ok {
			stem := strings.TrimSuffix(rest, path.Ext(rest))
			for _, ext := range []string{".ts", ".js", ".mts", ".mjs"} {
				out = append(out, "src/"+stem+ext)
			}
		}
	}
	if strings.HasSuffix(f, ".js") {
		out = append(out, strings.TrimSuffix(f, ".js")+".ts")
	}
	return out
}

var nodeCodeExt = map[string]bool{".js": true, ".mjs": true, ".cjs": true, ".ts": true, ".mts": true, ".cts": true, ".jsx": true, ".tsx": true}

var nodeSkipDirs = map[string]bool{"test": true, "tests": true, "__tests__": true, "__mocks__": true, "e2e": true, "cypress": true, "coverage": true, "dist": true, "public": true, "static": true}

// nodeCodeFiles lists the package's source files, excluding tests, build
// output and nested packages.
func nodeCodeFiles(r *Repo, dir string, dirs []string) []string {
	var out []string
	for _, f := range r.Under(dir) {
		base := path.Base(f)
		if !nodeCodeExt[path.Ext(base)] || strings.HasSuffix(base, ".d.ts") ||
			strings.Contains(base, ".test.") || strings.Contains(base, ".spec.") {
			continue
		}
		if nodeOwner(f, dirs) != dir {
			continue
		}
		skip := false
		for _, e := range strings.Split(path.Dir(Rel(dir, f)), "/") {
			if nodeSkipDirs[e] {
				skip = true
				break
			}
		}
		if !skip {
			out = append(out, f)
		}
	}
	return out
}

// nodeOwner returns the innermost package directory among dirs holding file.
func nodeOwner(file string, dirs []string) string {
	best := ""
	for _, d := range dirs {
		switch {
		case d == ".":
			if best == "" {
				best = d
			}
		case strings.HasPrefix(file, d+"/") && (best == "" || best == "." || len(d) > len(best)):
			best = d
		}
	}
	return best
}

var (
	nodePortNum       = `['"]?([0-9]{2,5})['"]?`
	nodeListenLitRe   = regexp.MustCompile(`\.listen\(\s*` + nodePortNum + `\s*[,)]`)
	nodeListenEnvRe   = regexp.MustCompile(`\.listen\(\s*(?:Number\(|parseInt\(|\+)?\s*process\.env\.[A-Za-z_][A-Za-z0-9_]*\s*(?:\|\||\?\?)\s*` + nodePortNum)
	nodeListenObjRe   = regexp.MustCompile(`\.listen\(\s*\{[^}]*?\bport\s*:\s*([^,}\n]+)`)
	nodeListenIdentRe = regexp.MustCompile(`\.listen\(\s*([A-Za-z_$][A-Za-z0-9_$]*)\s*[,)]`)
	nodeListenShortRe = regexp.MustCompile(`\.listen\(\s*\{[^}]*?\bport\b\s*[,}]`)
	nodeDefaultRe     = regexp.MustCompile(`(?:\|\||\?\?)\s*` + nodePortNum)
	nodeLiteralRe     = regexp.MustCompile(`^\s*` + nodePortNum + `\s*$`)
	nodeNextPortRe    = regexp.MustCompile(`(?:^|\s)(?:-p|--port)(?:\s+|=)([0-9]{2,5})\b`)
)

// nodePortExpr reads a port from an expression: a literal (3000, "3000")
// or a fallback (process.env.PORT || 3000, parseInt(x ?? '3000', 10)).
func nodePortExpr(e string) int {
	if m := nodeLiteralRe.FindStringSubmatch(e); m != nil {
		return nodeValidPort(m[1])
	}
	if m := nodeDefaultRe.FindStringSubmatch(e); m != nil {
		return nodeValidPort(m[1])
	}
	return 0
}

func nodeValidPort(s string) int {
	p, err := strconv.Atoi(s)
	if err != nil || p <= 0 || p > 65535 {
		return 0
	}
	return p
}

// nodeIdentPort resolves `const name = <expr>` in content to a port.
func nodeIdentPort(content []byte, name string) (int, int) {
	re, err := regexp.Compile(`(?:const|let|var)\s+` + regexp.QuoteMeta(name) + `\s*=\s*([^;\n]+)`)
	if err != nil {
		return 0, 0
	}
	for _, m := range re.FindAllSubmatchIndex(content, -1) {
		if p := nodePortExpr(string(content[m[2]:m[3]])); p > 0 {
			return p, LineOf(content, m[0])
		}
	}
	return 0, 0
}

// nodePort finds the listen port: a listen() literal or fallback in the
// entry file, then in the other files; a next -p flag; a PORT default in
// code; a PORT in .env or .env.example.
func nodePort(r *Repo, dir string, pkg *nodeManifest, files []string, contents map[string][]byte, env []EnvVar) (int, string) {
	if m := nodeNextPortRe.FindStringSubmatch(pkg.Scripts["start"]); m != nil {
		if p := nodeValidPort(m[1]); p > 0 {
			return p, "package.json: scripts.start"
		}
	}
	for _, f := range files {
		c := contents[f]
		rel := Rel(dir, f)
		for _, re := range []*regexp.Regexp{nodeListenLitRe, nodeListenEnvRe} {
			if m := re.FindSubmatchIndex(c); m != nil {
				if p := nodeValidPort(string(c[m[2]:m[3]])); p > 0 {
					return p, Source(rel, LineOf(c, m[0]))
				}
			}
		}
		if m := nodeListenObjRe.FindSubmatchIndex(c); m != nil {
			expr := strings.TrimSpace(string(c[m[2]:m[3]]))
			if p := nodePortExpr(expr); p > 0 {
				return p, Source(rel, LineOf(c, m[0]))
			}
			if p, line := nodeIdentPort(c, expr); p > 0 {
				return p, Source(rel, line)
			}
		}
		if nodeListenShortRe.Match(c) {
			if p, line := nodeIdentPort(c, "port"); p > 0 {
				return p, Source(rel, line)
			}
		}
		for _, m := range nodeListenIdentRe.FindAllSubmatch(c, -1) {
			if p, line := nodeIdentPort(c, string(m[1])); p > 0 {
				return p, Source(rel, line)
			}
		}
	}
	if p, src := PortFromEnv(env); p > 0 && !strings.HasPrefix(src, ".env") {
		return p, src
	}
	for _, name := range []string{".env", ".env.example", ".env.sample"} {
		if c, err := r.ReadFile(Join(dir, name)); err == nil {
			if p, src := PortFromEnv(ParseDotEnv(name, c)); p > 0 {
				return p, src
			}
		}
	}
	return 0, ""
}

var nextHealthFileRe = regexp.MustCompile(`^(?:src/)?(?:app|pages)/(api/(?:healthz|health|ping|status))(?:/route)?\.(?:js|ts|mjs)$`)

// nextHealthRoute finds a Next.js file-system health route
// (app/api/health/route.ts, pages/api/health.js).
func nextHealthRoute(files []string, dir string) string {
	for _, f := range files {
		if m := nextHealthFileRe.FindStringSubmatch(Rel(dir, f)); m != nil {
			return "/" + m[1]
		}
	}
	return ""
}
