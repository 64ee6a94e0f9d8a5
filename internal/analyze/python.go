package analyze

import (
	"bytes"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// PythonDetector finds Python web services (FastAPI, Flask, Django) and
// scripts with an obvious entry (main.py, app.py, __main__.py) in
// directories holding pyproject.toml, requirements.txt, Pipfile or setup.py.
// A directory with none of those entries is a library and not a service.
type PythonDetector struct{}

func (PythonDetector) Name() string { return "python" }

// pyMarkers are the files that make a directory a Python project, in order
// of preference for Service.Project.
var pyMarkers = []string{"pyproject.toml", "requirements.txt", "Pipfile", "setup.py"}

// Detect analyzes every Python project directory; a malformed pyproject.toml
// or Pipfile becomes a ServiceError and the other projects are still analyzed.
func (PythonDetector) Detect(r *Repo) ([]Service, []ServiceError) {
	dirSet := map[string]bool{}
	for _, m := range pyMarkers {
		for _, f := range r.Named(m) {
			dirSet[path.Dir(f)] = true
		}
	}
	dirs := make([]string, 0, len(dirSet))
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var svcs []Service
	var errs []ServiceError
	for _, dir := range dirs {
		svc, ok, serr := pyService(r, dir, dirSet)
		if serr != nil {
			errs = append(errs, *serr)
			continue
		}
		if ok {
			svcs = append(svcs, svc)
		}
	}
	return svcs, errs
}

// pyDep is one declared dependency.
type pyDep struct {
	name   string // normalized (PEP 503): lower-case, runs of -_. as "-"
	raw    string // as written, without extras and version
	extras []string
	file   string // the file declaring it, relative to the service
}

// pyMeta is what the project files declare.
type pyMeta struct {
	name      string
	requires  string // version constraint for Python
	reqSource string
	poetry    bool
	packaged  bool // pyproject.toml declares a project or build system
	deps      []pyDep
}

func pyService(r *Repo, dir string, projDirs map[string]bool) (Service, bool, *ServiceError) {
	meta, serr := pyReadMeta(r, dir)
	if serr != nil {
		return Service{}, false, serr
	}
	has := map[string]bool{}
	for _, d := range meta.deps {
		has[d.name] = true
	}

	var code []pySource
	var manage []string
	var files = map[string]bool{}
	for _, f := range filesOutsideNested(r, dir, projDirs) {
		rel := Rel(dir, f)
		files[rel] = true
		if !strings.HasSuffix(f, ".py") || pyIsTestFile(rel) {
			continue
		}
		if path.Base(rel) == "manage.py" {
			manage = append(manage, rel)
		}
		if b, err := r.ReadFile(f); err == nil {
			code = append(code, pySource{rel, b})
		}
	}

	framework := ""
	switch {
	case len(manage) > 0:
		framework = "django"
	case has["fastapi"]:
		framework = "fastapi"
	case has["django"]:
		framework = "django"
	case has["flask"]:
		framework = "flask"
	case (has["grpcio"] || has["grpcio-tools"]) && pyGRPCServer(code) != "":
		framework = "grpc"
	case has["celery"] && pyCeleryApp(code) != "":
		framework = "celery"
	}

	web := framework == "fastapi" || framework == "django" || framework == "flask"
	procfile, procLine, procKind := pyProcfile(r, dir, framework != "")
	svc := Service{Path: dir, Detector: "python", Language: LangPython, Framework: framework}

	// Plain scripts are services only with an obvious entry.
	plainEntry := ""
	if framework == "" && procfile == "" {
		plainEntry = pyPlainEntry(files)
		if plainEntry == "" {
			return Service{}, false, nil
		}
	}

	name := meta.name
	if name == "" {
		name = path.Base(dir)
		if dir == "." {
			name = path.Base(r.Root())
		}
	}
	svc.Name = DNSLabel(name)

	// Python version: exact pins first, then the declared lower bound.
	svc.LanguageVersion = pyVersionFromFiles(r, dir)
	if svc.LanguageVersion == "" && meta.requires != "" {
		svc.LanguageVersion = pyVersionFromSpec(meta.requires)
	}
	if svc.LanguageVersion == "" {
		svc.LanguageVersion = "3.12"
		svc.Assumptions = append(svc.Assumptions, "no Python version declared (requires-python, .python-version, runtime.txt); assuming 3.12")
	}

	// Build tool, project file and lock file.
	switch {
	case meta.poetry || files["poetry.lock"]:
		svc.BuildTool = "poetry"
		if files["poetry.lock"] {
			svc.Lockfile = "poetry.lock"
		}
	case files["uv.lock"]:
		svc.BuildTool, svc.Lockfile = "uv", "uv.lock"
	default:
		svc.BuildTool = "pip"
		switch {
		case files["requirements.txt"]:
			svc.Lockfile = "requirements.txt"
		case files["Pipfile.lock"]:
			svc.Lockfile = "Pipfile.lock"
		}
	}
	switch {
	case files["pyproject.toml"] && (meta.packaged || !files["requirements.txt"]):
		svc.Project = "pyproject.toml"
	case files["requirements.txt"]:
		svc.Project = "requirements.txt"
	case files["Pipfile"]:
		svc.Project = "Pipfile"
		svc.Assumptions = append(svc.Assumptions, "dependencies are declared in a Pipfile; install them with `pipenv install --deploy --system`")
	default:
		svc.Project = "setup.py"
	}

	// Environment: code reads, then .env files.
	for _, c := range code {
		svc.Env = MergeEnv(svc.Env, ScanEnv(LangPython, c.rel, c.content)...)
		svc.Env = MergeEnv(svc.Env, pyScanEnvExtra(c.rel, c.content)...)
	}
	for _, f := range []string{".env", ".env.example", ".env.sample"} {
		if b, err := r.ReadFile(Join(dir, f)); err == nil {
			svc.Env = MergeEnv(svc.Env, ParseDotEnv(f, b)...)
		}
	}

	// Port, in priority: the Procfile command, a literal port= in a run()
	// call, a PORT default in code or .env, the server's default.
	svc.Port, svc.PortSource = pyPortFromCommand(procfile)
	if svc.Port > 0 {
		svc.PortSource = Source("Procfile", procLine)
	}
	if svc.Port == 0 && procKind != "worker" && framework != "celery" {
		svc.Port, svc.PortSource = pyPortFromCode(code)
	}
	if svc.Port == 0 && procKind != "worker" && framework != "celery" {
		svc.Port, svc.PortSource = PortFromEnv(svc.Env)
	}

	// Entrypoint: the Procfile's command, else derived from the framework.
	switch {
	case procfile != "":
		svc.Entrypoint = procfile
		if svc.Port == 0 && framework != "" && procKind == "web" {
			svc.Port, svc.PortSource = 8000, "default for "+pyServerOf(procfile)
			svc.Assumptions = append(svc.Assumptions, "the Procfile command sets no port; using 8000, the default of "+pyServerOf(procfile))
		}
		if svc.Port > 0 && pyPortVar.MatchString(procfile) {
			svc.Entrypoint = pyPortVar.ReplaceAllString(procfile, strconv.Itoa(svc.Port))
			svc.Assumptions = append(svc.Assumptions, "the Procfile command reads $PORT; it is replaced with "+strconv.Itoa(svc.Port))
		}
	case framework == "fastapi":
		pyDefaultPort(&svc, "uvicorn")
		mod, obj, chdir, found := pyFindApp(code, pyFastAPIApp, nil)
		if !found {
			svc.Assumptions = append(svc.Assumptions, "no module-level `app = FastAPI(...)` found; assuming main:app")
		}
		svc.Entrypoint = "uvicorn " + mod + ":" + obj + " --host 0.0.0.0 --port " + strconv.Itoa(svc.Port)
		if chdir != "" {
			svc.Entrypoint += " --app-dir " + chdir
		}
		if !has["uvicorn"] && !pyHasExtra(meta.deps, "fastapi", "standard") {
			svc.Assumptions = append(svc.Assumptions, "uvicorn is not a declared dependency; the entrypoint uses it, so add uvicorn to the dependencies")
		}
	case framework == "flask":
		pyDefaultPort(&svc, "gunicorn")
		mod, obj, chdir, found := pyFindApp(code, pyFlaskApp, pyFlaskFactory)
		if !found {
			svc.Assumptions = append(svc.Assumptions, "no module-level `app = Flask(...)` or create_app() found; assuming app:app")
		}
		svc.Entrypoint = pyGunicorn(svc.Port, chdir, mod+":"+obj)
		pyNeedGunicorn(&svc, has)
	case framework == "django":
		pyDefaultPort(&svc, "gunicorn")
		project, chdir := pyDjangoProject(code, manage)
		svc.Entrypoint = pyGunicorn(svc.Port, chdir, project+".wsgi:application")
		pyNeedGunicorn(&svc, has)
	case framework == "grpc":
		pyGRPC(&svc, code, has)
	case framework == "celery":
		mod := pyCeleryApp(code)
		svc.Entrypoint = "celery -A " + mod + " worker --loglevel=INFO"
		svc.Framework, svc.Port, svc.PortSource = "worker", 0, ""
		svc.Assumptions = append(svc.Assumptions, "Celery worker: runs `"+svc.Entrypoint+"`, serves no port")
	default:
		svc.Entrypoint = plainEntry
		if svc.Port == 0 {
			svc.PortSource = ""
		}
	}
	svc.Backing = pyCloudClients(svc.Backing, code, has)

	// Backing services from the dependencies (and their extras).
	for _, d := range meta.deps {
		kind, ok := BackingFor(d.name)
		if !ok {
			kind, ok = pyBackingExtra[d.name]
		}
		if ok {
			svc.Backing = AddBacking(svc.Backing, kind, d.file+": "+d.raw)
		}
		for _, e := range d.extras {
			if kind, ok := pyBackingByExtra[e]; ok {
				svc.Backing = AddBacking(svc.Backing, kind, d.file+": "+d.raw+"["+e+"]")
			}
		}
	}

	if web || procKind == "web" {
		var all bytes.Buffer
		for _, c := range code {
			all.Write(c.content)
			all.WriteByte('\n')
		}
		svc.HealthPath = FindHealthPath(all.Bytes())
		if svc.HealthPath == "" && framework == "django" {
			if m := pyDjangoHealth.FindSubmatch(all.Bytes()); m != nil {
				svc.HealthPath = "/" + string(m[1])
			}
		}
	}
	return svc, true, nil
}

type pySource struct {
	rel     string
	content []byte
}

// pyIsTestFile reports test code, whose environment reads and apps are not
// the service's.
func pyIsTestFile(rel string) bool {
	base := path.Base(rel)
	if strings.HasPrefix(base, "test_") || strings.HasSuffix(base, "_test.py") || base == "conftest.py" {
		return true
	}
	for _, part := range strings.Split(path.Dir(rel), "/") {
		if part == "tests" || part == "test" {
			return true
		}
	}
	return false
}

// pyVersionFromFiles reads an exact interpreter pin: .python-version
// ("3.11.4") or runtime.txt ("python-3.11.9").
func pyVersionFromFiles(r *Repo, dir string) string {
	for _, f := range []string{".python-version", "runtime.txt"} {
		b, err := r.ReadFile(Join(dir, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if m := pyXY.FindStringSubmatch(strings.TrimPrefix(line, "python-")); m != nil && strings.HasPrefix(strings.TrimPrefix(line, "python-"), m[0]) {
				return m[1] + "." + m[2]
			}
			break
		}
	}
	return ""
}

var pyXY = regexp.MustCompile(`(\d+)\.(\d+)`)

// pyVersionFromSpec reads the lowest Python a constraint allows
// (">=3.12" -> "3.12", "^3.11" -> "3.11", ">=3.10,<4" -> "3.10").
func pyVersionFromSpec(spec string) string {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, "<") || strings.HasPrefix(part, "!=") {
			continue
		}
		if m := pyXY.FindStringSubmatch(part); m != nil {
			return m[1] + "." + m[2]
		}
	}
	return ""
}

// pyProcfile returns the Procfile's web command (or, for a project without a
// web framework, its worker command), its line and its kind.
func pyProcfile(r *Repo, dir string, web bool) (cmd string, line int, kind string) {
	b, err := r.ReadFile(Join(dir, "Procfile"))
	if err != nil {
		return "", 0, ""
	}
	var worker string
	var workerLine int
	for i, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case k == "web" && v != "":
			return v, i + 1, "web"
		case k == "worker" && v != "" && worker == "":
			worker, workerLine = v, i+1
		}
	}
	if !web && worker != "" {
		return worker, workerLine, "worker"
	}
	return "", 0, ""
}

var (
	pyCmdPort      = regexp.MustCompile(`(?:--port[= ]|(?:--bind|-b)[= ]\S*:)(\d{2,5})\b`)
	pyPortVar      = regexp.MustCompile(`\$\{PORT(?::-(\d+))?\}|\$PORT\b`)
	pyRunPort      = regexp.MustCompile(`\.run\(([^()]|\([^()]*\))*?\bport\s*=\s*(\d{2,5})\b`)
	pyDefPort      = regexp.MustCompile(`\$\{PORT:-(\d{2,5})\}`)
	pyDjangoHealth = regexp.MustCompile(`\b(?:re_)?path\(\s*r?['"]\^?((?:api/)?(?:healthz|health|livez|readyz|ready|ping|status)/?)\$?['"]`)
)

// pyPortFromCommand reads --port N, --bind host:N or ${PORT:-N} from a
// server command line.
func pyPortFromCommand(cmd string) (int, string) {
	for _, re := range []*regexp.Regexp{pyCmdPort, pyDefPort} {
		if m := re.FindStringSubmatch(cmd); m != nil {
			if p, err := strconv.Atoi(m[1]); err == nil && p > 0 && p < 65536 {
				return p, ""
			}
		}
	}
	return 0, ""
}

// pyPortFromCode finds a literal port= in uvicorn.run(...) or app.run(...).
func pyPortFromCode(code []pySource) (int, string) {
	for _, c := range code {
		if m := pyRunPort.FindSubmatchIndex(c.content); m != nil {
			if p, err := strconv.Atoi(string(c.content[m[4]:m[5]])); err == nil && p > 0 && p < 65536 {
				return p, Source(c.rel, LineOf(c.content, m[4]))
			}
		}
	}
	return 0, ""
}

func pyDefaultPort(svc *Service, server string) {
	if svc.Port > 0 {
		return
	}
	svc.Port, svc.PortSource = 8000, "default for "+server
	msg := "no port found; using 8000, the default of " + server
	if svc.Framework == "flask" {
		msg += " (the Flask development server's 5000 does not apply under gunicorn)"
	}
	svc.Assumptions = append(svc.Assumptions, msg)
}

func pyServerOf(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return "the server"
	}
	if f[0] == "python" && len(f) > 2 && f[1] == "-m" {
		return f[2]
	}
	return path.Base(f[0])
}

func pyGunicorn(port int, chdir, app string) string {
	s := "gunicorn --bind 0.0.0.0:" + strconv.Itoa(port)
	if chdir != "" {
		s += " --chdir " + chdir
	}
	return s + " " + app
}

func pyNeedGunicorn(svc *Service, has map[string]bool) {
	if !has["gunicorn"] {
		svc.Assumptions = append(svc.Assumptions, "gunicorn is not a declared dependency; the entrypoint uses it, so add gunicorn to the dependencies")
	}
}

var (
	pyFastAPIApp   = regexp.MustCompile(`(?m)^([A-Za-z_]\w*)\s*(?::\s*[\w.]+\s*)?=\s*(?:fastapi\.)?FastAPI\(`)
	pyFlaskApp     = regexp.MustCompile(`(?m)^([A-Za-z_]\w*)\s*(?::\s*[\w.]+\s*)?=\s*(?:flask\.)?Flask\(`)
	pyFlaskFactory = regexp.MustCompile(`(?m)^def\s+(create_app|make_app)\s*\(`)
)

// pyAppFilePreference ranks the files an application object usually lives in.
var pyAppFilePreference = map[string]int{"main.py": 0, "app.py": 1, "asgi.py": 2, "wsgi.py": 2, "server.py": 3, "api.py": 4, "__init__.py": 5}

// pyFindApp finds the module-level application object (or, failing that, a
// factory, spelled "create_app()"), returning its module, attribute and the
// directory to run from ("src" for a src layout).
func pyFindApp(code []pySource, object, factory *regexp.Regexp) (mod, obj, chdir string, found bool) {
	type hit struct {
		rel, obj string
	}
	var hits []hit
	for _, c := range code {
		if m := object.FindSubmatch(c.content); m != nil {
			hits = append(hits, hit{c.rel, string(m[1])})
		}
	}
	if len(hits) == 0 && factory != nil {
		for _, c := range code {
			if m := factory.FindSubmatch(c.content); m != nil {
				hits = append(hits, hit{c.rel, string(m[1]) + "()"})
			}
		}
	}
	if len(hits) == 0 {
		return "main", "app", "", false
	}
	rank := func(rel string) int {
		if r, ok := pyAppFilePreference[path.Base(rel)]; ok {
			return r
		}
		return 9
	}
	sort.SliceStable(hits, func(i, j int) bool {
		ri, rj := rank(hits[i].rel), rank(hits[j].rel)
		if ri != rj {
			return ri < rj
		}
		di, dj := strings.Count(hits[i].rel, "/"), strings.Count(hits[j].rel, "/")
		if di != dj {
			return di < dj
		}
		return hits[i].rel < hits[j].rel
	})
	mod, chdir = pyModule(hits[0].rel)
	return mod, hits[0].obj, chdir, true
}

// pyModule turns a file path into a dotted module ("app/main.py" ->
// "app.main"; "src/shop/api.py" -> "shop.api" run from "src").
func pyModule(rel string) (mod, chdir string) {
	if rest, ok := strings.CutPrefix(rel, "src/"); ok {
		rel, chdir = rest, "src"
	}
	rel = strings.TrimSuffix(rel, ".py")
	rel = strings.TrimSuffix(rel, "/__init__")
	return strings.ReplaceAll(rel, "/", "."), chdir
}

var pySettingsModule = regexp.MustCompile(`DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+)['"]`)

// pyDjangoProject finds the Django project package holding wsgi.py and the
// directory gunicorn must run from (the one holding manage.py).
func pyDjangoProject(code []pySource, manage []string) (project, chdir string) {
	root := "."
	if len(manage) > 0 {
		sort.Slice(manage, func(i, j int) bool {
			return strings.Count(manage[i], "/") < strings.Count(manage[j], "/") ||
				(strings.Count(manage[i], "/") == strings.Count(manage[j], "/") && manage[i] < manage[j])
		})
		root = path.Dir(manage[0])
	}
	settingsPkg := ""
	var wsgis []string
	for _, c := range code {
		if c.rel == Join(root, "manage.py") {
			if m := pySettingsModule.FindSubmatch(c.content); m != nil {
				settingsPkg, _, _ = strings.Cut(string(m[1]), ".")
			}
		}
		if path.Base(c.rel) == "wsgi.py" && (root == "." || strings.HasPrefix(c.rel, root+"/")) {
			wsgis = append(wsgis, Rel(root, c.rel))
		}
	}
	if root != "." {
		chdir = root
	}
	sort.Slice(wsgis, func(i, j int) bool {
		return strings.Count(wsgis[i], "/") < strings.Count(wsgis[j], "/") ||
			(strings.Count(wsgis[i], "/") == strings.Count(wsgis[j], "/") && wsgis[i] < wsgis[j])
	})
	for _, w := range wsgis {
		if pkg := strings.ReplaceAll(path.Dir(w), "/", "."); settingsPkg == "" || pkg == settingsPkg || strings.HasPrefix(pkg, settingsPkg+".") {
			return pkg, chdir
		}
	}
	if settingsPkg != "" {
		return settingsPkg, chdir
	}
	if len(wsgis) > 0 {
		return strings.ReplaceAll(path.Dir(wsgis[0]), "/", "."), chdir
	}
	return "config", chdir
}

// pyPlainEntry returns the command of an obvious script entry: main.py or
// app.py at the top (or in src/), or a top-level package's __main__.py.
func pyPlainEntry(files map[string]bool) string {
	for _, f := range []string{"main.py", "app.py", "src/main.py", "src/app.py"} {
		if files[f] {
			return "python " + f
		}
	}
	var mains []string
	for f := range files {
		parts := strings.Split(f, "/")
		if path.Base(f) == "__main__.py" && (len(parts) == 2 || (len(parts) == 3 && parts[0] == "src")) {
			mains = append(mains, f)
		}
	}
	sort.Strings(mains)
	if len(mains) > 0 {
		mod, _ := pyModule(path.Dir(mains[0]) + ".py")
		return "python -m " + mod
	}
	return ""
}

var pyWordSep = regexp.MustCompile(`[^a-z0-9]+`)
