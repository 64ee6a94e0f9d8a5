package rules

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"text/template"

	"github.com/kubewright/kubewright/internal/analyze"
)

// DockerfileResult is a rendered Dockerfile and the .dockerignore for its
// build context, with the choices the k8s author needs to agree with.
type DockerfileResult struct {
	Dockerfile   []byte
	Dockerignore []byte
	BuilderImage string // e.g. "golang:1.22"
	RuntimeImage string // e.g. "gcr.io/distroless/static-debian12:nonroot"
	// UID is the numeric user the final stage runs as; k8s manifests set
	// runAsUser/runAsGroup to it.
	UID int64
	// Assumptions lists the defaults chosen (e.g. "Node 22 LTS assumed:
	// package.json has no engines.node").
	Assumptions []string
}

//go:embed templates/*.tmpl
var dockerTemplateFS embed.FS

// dockerTemplates parses the embedded Dockerfile templates. It is cheap and
// called per render, so the package holds no parsed state.
func dockerTemplates() (*template.Template, error) {
	return template.New("docker").Option("missingkey=error").ParseFS(dockerTemplateFS, "templates/*.tmpl")
}

// DockerfileFor renders a hardened multi-stage Dockerfile and a .dockerignore for one service.
// Same input → byte-identical output.
func DockerfileFor(s analyze.Service) (DockerfileResult, error) {
	p, err := dockerPlanFor(s)
	if err != nil {
		return DockerfileResult{}, err
	}
	t, err := dockerTemplates()
	if err != nil {
		return DockerfileResult{}, fmt.Errorf("dockerfile templates: %w", err)
	}
	var df, di bytes.Buffer
	if err := t.ExecuteTemplate(&df, p.template, p); err != nil {
		return DockerfileResult{}, fmt.Errorf("render Dockerfile for service %q: %w", s.Name, err)
	}
	if err := t.ExecuteTemplate(&di, "dockerignore.tmpl", p); err != nil {
		return DockerfileResult{}, fmt.Errorf("render .dockerignore for service %q: %w", s.Name, err)
	}
	return DockerfileResult{
		Dockerfile:   dockerTidy(df.Bytes()),
		Dockerignore: dockerTidy(di.Bytes()),
		BuilderImage: p.Builder,
		RuntimeImage: p.Runtime,
		UID:          p.UID,
		Assumptions:  p.Assumptions,
	}, nil
}

// dockerPlan holds every decision; the templates only lay it out.
type dockerPlan struct {
	template string

	Name        string
	Summary     string
	Build       string // docker build command for <context>/Dockerfile
	BuildShared string // the same with -f, for a Dockerfile next to a Go main package
	Assumptions []string

	Builder string
	Runtime string
	UID     int64
	Port    int
	// Env is set in the final stage, in order.
	Env []dockerEnvVar
	// Entrypoint is the exec-form JSON array.
	Entrypoint string
	Language   string

	Go     *dockerGo
	Java   *dockerJava
	Dotnet *dockerDotnet
	Node   *dockerNode
	Python *dockerPython
}

type dockerEnvVar struct{ Name, Value string }

// Line renders the variable for an ENV instruction, quoting values with spaces.
func (e dockerEnvVar) Line() string {
	if strings.ContainsAny(e.Value, " \t") {
		return e.Name + `="` + e.Value + `"`
	}
	return e.Name + "=" + e.Value
}

func (p *dockerPlan) assume(a string) {
	if a != "" {
		p.Assumptions = append(p.Assumptions, a)
	}
}

func (p *dockerPlan) env(name, value string) {
	p.Env = append(p.Env, dockerEnvVar{name, value})
}

func (p *dockerPlan) entrypoint(argv []string) error {
	b, err := json.Marshal(argv)
	if err != nil {
		return err
	}
	p.Entrypoint = strings.ReplaceAll(string(b), `","`, `", "`)
	return nil
}

func dockerPlanFor(s analyze.Service) (*dockerPlan, error) {
	for _, f := range []struct{ name, v string }{{"path", s.Path}, {"project", s.Project}, {"lockfile", s.Lockfile}} {
		if err := dockerCheckPath(s, f.name, f.v); err != nil {
			return nil, err
		}
	}
	if s.Port < 0 || s.Port > 65535 {
		return nil, fmt.Errorf("service %q: port %d is not a TCP port; fix the port in the analysis (%s)", s.Name, s.Port, s.PortSource)
	}
	p := &dockerPlan{Name: analyze.DNSLabel(s.Name), Port: s.Port, Language: s.Language}
	var err error
	switch s.Language {
	case analyze.LangGo:
		err = dockerPlanGo(p, s)
	case analyze.LangJava, analyze.LangKotlin:
		err = dockerPlanJava(p, s)
	case analyze.LangCSharp:
		err = dockerPlanDotnet(p, s)
	case analyze.LangJavaScript, analyze.LangTypeScript:
		err = dockerPlanNode(p, s)
	case analyze.LangPython:
		err = dockerPlanPython(p, s)
	default:
		return nil, fmt.Errorf("service %q: no Dockerfile rules for language %q (supported: go, java, kotlin, csharp, javascript, typescript, python); write the Dockerfile by hand", s.Name, s.Language)
	}
	if err != nil {
		return nil, err
	}
	ctx := s.Path
	if ctx == "" {
		ctx = "."
	}
	p.Build = fmt.Sprintf("docker build -t %s %s", p.Name, ctx)
	// Services sharing a build context (a Go monorepo) cannot all have
	// <context>/Dockerfile; theirs sits next to the main package.
	if s.Language == analyze.LangGo {
		if pkg := dockerGoPackage(s.Entrypoint); pkg != "." {
			p.BuildShared = fmt.Sprintf("docker build -f %s -t %s %s", path.Join(ctx, pkg, "Dockerfile"), p.Name, ctx)
		}
	}
	return p, nil
}

var dockerSafePath = regexp.MustCompile(`^[A-Za-z0-9._@+/-]+$`)

// dockerCheckPath refuses names that would need quoting in a Dockerfile or
// reach outside the build context.
func dockerCheckPath(s analyze.Service, field, v string) error {
	if v == "" {
		return nil
	}
	bad := !dockerSafePath.MatchString(v) || strings.HasPrefix(v, "/")
	for _, seg := range strings.Split(v, "/") {
		bad = bad || seg == ".."
	}
	if bad {
		return fmt.Errorf("service %q: %s %q is not a plain relative path (letters, digits and . _ - @ + /); rename it or write the Dockerfile by hand", s.Name, field, v)
	}
	return nil
}

var dockerEnvAssign = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// dockerSplitCommand splits a simple start command into leading VAR=value
// assignments and argv. Anything that needs a shell (quotes, expansion,
// pipes, redirects, globs, command lists) is refused: exec form has no shell.
func dockerSplitCommand(s analyze.Service, cmd string) ([]dockerEnvVar, []string, error) {
	refuse := func(what string) error {
		return fmt.Errorf("service %q: entrypoint %q needs a shell (%s); exec form runs one program with plain arguments, so simplify the start command or write the Dockerfile by hand", s.Name, cmd, what)
	}
	if i := strings.IndexAny(cmd, "\"'`\\$;|&<>*?{}\n\r"); i >= 0 {
		return nil, nil, refuse(fmt.Sprintf("%q", cmd[i:i+1]))
	}
	fields := strings.Fields(cmd)
	for _, f := range fields {
		// Parentheses are fine in one place: an application factory
		// ("app:create_app()"), which gunicorn reads itself.
		if strings.ContainsAny(f, "()") && !dockerFactoryCall.MatchString(f) {
			return nil, nil, refuse(fmt.Sprintf("%q", f))
		}
	}
	var env []dockerEnvVar
	for len(fields) > 0 {
		m := dockerEnvAssign.FindStringSubmatch(fields[0])
		if m == nil {
			break
		}
		env = append(env, dockerEnvVar{m[1], m[2]})
		fields = fields[1:]
	}
	return env, fields, nil
}

var dockerFactoryCall = regexp.MustCompile(`^[A-Za-z0-9_.]+:[A-Za-z_][A-Za-z0-9_]*\([^()\s]*\)$`)

// dockerTidy collapses runs of blank lines left by template conditionals and
// ends the file with exactly one newline.
func dockerTidy(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var out []string
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" && len(out) > 0 && out[len(out)-1] == "" {
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func dockerHasEnv(s analyze.Service, name string) bool {
	for _, e := range s.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// dockerSummary describes the service for the header comment
// ("TypeScript, Node 22, fastify, pnpm").
func dockerSummary(s analyze.Service, version string) string {
	var sum string
	switch s.Language {
	case analyze.LangGo:
		sum = "Go " + version
	case analyze.LangJava:
		sum = "Java " + version
	case analyze.LangKotlin:
		sum = "Kotlin, Java " + version
	case analyze.LangCSharp:
		sum = "C#, .NET " + version
	case analyze.LangJavaScript:
		sum = "JavaScript, Node " + version
	case analyze.LangTypeScript:
		sum = "TypeScript, Node " + version
	case analyze.LangPython:
		sum = "Python " + version
	}
	if s.Framework != "" {
		sum += ", " + s.Framework
	}
	if s.BuildTool != "" && s.BuildTool != "go" && s.BuildTool != "dotnet" {
		sum += ", " + s.BuildTool
	}
	return sum
}

// ---- Go ----

type dockerGo struct {
	Manifests string // module files copied before the download
	Package   string // main package, "./cmd/api"
	Binary    string // output file name
}

// dockerGoPackage normalizes a Go entrypoint to a relative package path
// that go build reads as a directory ("cmd/api" -> "./cmd/api").
func dockerGoPackage(entry string) string {
	e := strings.TrimSpace(entry)
	if strings.HasSuffix(e, ".go") {
		e = path.Dir(e)
	}
	e = path.Clean("./" + e)
	if e == "." {
		return "."
	}
	return "./" + e
}

func dockerPlanGo(p *dockerPlan, s analyze.Service) error {
	ver, a := goVersion(s.LanguageVersion)
	p.assume(a)
	if strings.TrimSpace(s.Entrypoint) == "" {
		p.assume("main package assumed at the build context root: no Go entrypoint found")
	}
	pkg := dockerGoPackage(s.Entrypoint)
	if err := dockerCheckPath(s, "entrypoint", pkg); err != nil {
		return err
	}
	manifests := s.Project
	if manifests == "" || path.Base(manifests) != "go.mod" {
		manifests = "go.mod"
	}
	if s.Lockfile != "" {
		manifests += " " + s.Lockfile
	}
	p.template = "go.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, ver)
	p.Builder, p.Runtime = goImages(ver)
	p.UID = dockerDistrolessUID
	p.Go = &dockerGo{Manifests: manifests, Package: pkg, Binary: p.Name}
	return p.entrypoint([]string{"/app/" + p.Name})
}

// ---- Java and Kotlin (Maven, Gradle) ----

type dockerJava struct {
	Wrapper    bool
	SpringBoot bool
	Manifests  string // build files copied before resolving
	CopyDir    string // wrapper directory (.mvn, gradle)
	Cache      string // cache mount target
	Resolve    string
	Package    string
	Collect    string // copies the artifact to /out
	Artifact   string // in the builder
	Target     string // in the runtime image
}

func dockerPlanJava(p *dockerPlan, s analyze.Service) error {
	java, a := javaVersion(s.LanguageVersion)
	p.assume(a)
	tool := s.BuildTool
	switch tool {
	case "maven", "gradle":
	case "":
		tool = "maven"
		if strings.Contains(s.Project, "gradle") {
			tool = "gradle"
		}
		p.assume(tool + " assumed as the build tool: none was detected")
	default:
		return fmt.Errorf("service %q: no Dockerfile rules for JVM build tool %q (supported: maven, gradle); write the Dockerfile by hand", s.Name, s.BuildTool)
	}
	j := &dockerJava{Wrapper: s.Wrapper, SpringBoot: s.Framework == "spring-boot"}
	var outDir string
	project := s.Project
	if tool == "maven" {
		outDir = "target"
		if project == "" {
			project = "pom.xml"
		}
		j.Manifests, j.Cache = project, "/root/.m2"
		cmd := "mvn"
		if s.Wrapper {
			cmd = "sh ./mvnw"
			j.Manifests, j.CopyDir = "mvnw "+project, ".mvn"
		}
		j.Resolve = cmd + " -B -q dependency:go-offline"
		j.Package = cmd + " -B -DskipTests package"
	} else {
		outDir = "build/libs"
		if project == "" {
			project = "build.gradle"
			if s.Language == analyze.LangKotlin {
				project = "build.gradle.kts"
			}
		}
		// settings.gradle* and gradle.propertie[s] are globs: they copy the
		// files when present and nothing otherwise.
		j.Manifests, j.Cache = project+" settings.gradle* gradle.propertie[s]", "/home/gradle/.gradle"
		cmd := "gradle"
		if s.Wrapper {
			cmd = "sh ./gradlew"
			j.Manifests, j.CopyDir, j.Cache = "gradlew "+j.Manifests, "gradle", "/root/.gradle"
		}
		j.Resolve = cmd + " --no-daemon -q dependencies > /dev/null"
		j.Package = cmd + " --no-daemon assemble"
	}
	jar := strings.TrimSpace(s.Entrypoint)
	if err := dockerCheckPath(s, "entrypoint", jar); err != nil {
		return err
	}
	j.Artifact, j.Target = "/out/app.jar", "/app/app.jar"
	argv := []string{"java", "-jar", "/app/app.jar"}
	switch {
	case s.Framework == "quarkus":
		// Quarkus' fast-jar is a directory with quarkus-run.jar and its lib/.
		qdir := "target/quarkus-app"
		if tool == "gradle" {
			qdir = "build/quarkus-app"
		}
		j.Collect = "cp -R " + qdir + " /out/app"
		j.Artifact, j.Target = "/out/app/", "/app/"
		argv = []string{"java", "-jar", "/app/quarkus-run.jar"}
	case jar != "":
		if !strings.Contains(jar, "/") {
			jar = outDir + "/" + jar
		}
		j.Collect = "cp " + jar + " /out/app.jar"
	default:
		j.Collect = `cp "$(find ` + outDir + ` -maxdepth 1 -name '*.jar' ! -name '*-plain.jar' ! -name '*-sources.jar' ! -name '*-javadoc.jar' | sort | head -n 1)" /out/app.jar`
		p.assume("runnable jar assumed to be the only application jar in " + outDir + "/: no jar name found")
	}
	if !j.SpringBoot && s.Framework != "quarkus" {
		p.assume("the jar is assumed executable (Main-Class manifest, dependencies bundled): java -jar runs it")
	}
	p.template = "java.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, fmt.Sprint(java))
	p.Builder = javaBuilderImage(tool, s.Wrapper, java)
	p.Runtime = javaRuntimeImage(java)
	p.UID = dockerCreatedUID
	p.env("JAVA_TOOL_OPTIONS", "-XX:+ExitOnOutOfMemoryError -XX:MaxRAMPercentage=75 -Djava.io.tmpdir=/tmp")
	p.Java = j
	return p.entrypoint(argv)
}

// ---- .NET ----

type dockerDotnet struct {
	Project     string // project file relative to the build context
	ProjectDest string // its directory in the builder, "./" or "src/Api/"
	CreateUser  bool   // images before .NET 8 have no "app" user
	PortComment string
}

func dockerPlanDotnet(p *dockerPlan, s analyze.Service) error {
	ver, major, a := dotnetVersion(s.LanguageVersion)
	p.assume(a)
	if !strings.HasSuffix(s.Project, ".csproj") {
		return fmt.Errorf("service %q: project %q is not a .csproj; the .NET rules restore and publish one project file, so point the service at it or write the Dockerfile by hand", s.Name, s.Project)
	}
	dll := strings.TrimSpace(s.Entrypoint)
	if dll == "" {
		dll = strings.TrimSuffix(path.Base(s.Project), ".csproj") + ".dll"
		p.assume(dll + " assumed as the entry assembly: the assembly name defaults to the project file name")
	}
	if err := dockerCheckPath(s, "entrypoint", dll); err != nil {
		return err
	}
	dest := "./"
	if d := path.Dir(s.Project); d != "." {
		dest = d + "/"
	}
	// Workers and plain console apps need only the .NET runtime; anything
	// serving HTTP needs ASP.NET Core.
	aspnet := !(s.Framework == "worker" || (s.Framework == "" && s.Port == 0))
	d := &dockerDotnet{Project: s.Project, ProjectDest: dest, CreateUser: major < 8}
	p.template = "dotnet.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, ver)
	p.Builder, p.Runtime = dotnetImages(ver, aspnet)
	p.UID = dockerDotnetAppUID
	if d.CreateUser {
		p.UID = dockerCreatedUID
	}
	if aspnet && s.Port > 0 {
		if major >= 8 {
			d.PortComment = "Kestrel listens on the service port. ASPNETCORE_URLS is left unset: it would override this."
			p.env("ASPNETCORE_HTTP_PORTS", fmt.Sprint(s.Port))
		} else {
			d.PortComment = "Kestrel listens on the service port (ASPNETCORE_HTTP_PORTS needs .NET 8)."
			p.env("ASPNETCORE_URLS", fmt.Sprintf("http://+:%d", s.Port))
		}
	}
	p.Dotnet = d
	return p.entrypoint([]string{"dotnet", dll})
}

// ---- Node (npm, yarn, pnpm) ----

type dockerNode struct {
	Manifests    string // package.json and the lock file
	SetupEnv     []dockerEnvVar
	Setup        []string // RUN commands that make the package manager available
	Cache        string   // cache mount options after "type=cache,"
	InstallAll   string
	InstallProd  string
	NeedsBuild   bool
	Build        string
	EnsureDirs   []string // optional build outputs created empty when missing
	Outputs      []string // directories copied from the builder
	RuntimeFiles string   // context files the runtime needs next to the outputs
}

// dockerNodeDevTools run sources directly and are dev dependencies; they do
// not belong in a production image.
var dockerNodeDevTools = map[string]bool{"ts-node": true, "tsx": true, "nodemon": true, "ts-node-dev": true, "vite": true}

func dockerPlanNode(p *dockerPlan, s analyze.Service) error {
	major, a := nodeVersion(s.LanguageVersion)
	p.assume(a)
	n := &dockerNode{}
	locked := s.Lockfile != ""
	n.Manifests = "package.json"
	if locked {
		n.Manifests += " " + s.Lockfile
	}
	frozen := func(flag string) string {
		if locked {
			return " " + flag
		}
		return ""
	}
	tool := s.BuildTool
	if tool == "" {
		tool = "npm"
		p.assume("npm assumed as the package manager: none was detected")
	}
	switch tool {
	case "npm":
		n.Cache = "target=/root/.npm"
		if locked {
			n.InstallAll, n.InstallProd = "npm ci", "npm ci --omit=dev"
		} else {
			n.InstallAll, n.InstallProd = "npm install", "npm install --omit=dev"
		}
		n.Build = "npm run build"
	case "yarn":
		// Yarn 1 (classic), which the node images ship.
		n.Cache = "target=/usr/local/share/.cache/yarn"
		n.InstallAll = "yarn install" + frozen("--frozen-lockfile")
		n.InstallProd = n.InstallAll + " --production"
		n.Build = "yarn run build"
	case "pnpm":
		n.SetupEnv = []dockerEnvVar{{"PNPM_HOME", "/pnpm"}, {"PATH", "/pnpm:$PATH"}}
		if major >= 25 {
			// Node 25 no longer bundles corepack.
			n.Setup = []string{"npm install --global " + dockerPnpmVersion}
		} else {
			// corepack honours the packageManager field of package.json.
			n.SetupEnv = append(n.SetupEnv, dockerEnvVar{"COREPACK_ENABLE_DOWNLOAD_PROMPT", "0"})
			n.Setup = []string{"corepack enable pnpm"}
		}
		n.Cache = "id=pnpm,target=/pnpm/store"
		n.InstallAll = "pnpm install" + frozen("--frozen-lockfile")
		n.InstallProd = n.InstallAll + " --prod"
		n.Build = "pnpm run build"
	default:
		return fmt.Errorf("service %q: no Dockerfile rules for Node package manager %q (supported: npm, yarn, pnpm); write the Dockerfile by hand", s.Name, s.BuildTool)
	}
	if !locked {
		p.assume("dependencies resolved without a lock file: builds are not reproducible until one is committed")
	}

	env, argv, err := dockerSplitCommand(s, s.Entrypoint)
	if err != nil {
		return err
	}
	if len(argv) > 0 && argv[0] == "npx" {
		argv = argv[1:]
	}
	ts := s.Language == analyze.LangTypeScript
	derive := func(why string) {
		switch {
		case s.Framework == "next":
			argv = []string{"/app/node_modules/.bin/next", "start"}
		case s.Framework == "nestjs":
			argv = []string{"node", "dist/main.js"}
		case ts:
			argv = []string{"node", "dist/index.js"}
		default:
			argv = []string{"node", "index.js"}
		}
		p.assume(fmt.Sprintf("%s assumed as the start command: %s", strings.Join(argv, " "), why))
	}
	switch {
	case len(argv) == 0:
		derive("no start command found")
	case argv[0] == "node":
	case argv[0] == "npm" || argv[0] == "yarn" || argv[0] == "pnpm":
		derive(fmt.Sprintf("%q runs a package.json script and the image runs node directly", s.Entrypoint))
	case dockerNodeDevTools[argv[0]]:
		derive(fmt.Sprintf("%q runs a development tool", s.Entrypoint))
	default:
		// A package binary such as "next start": run it from node_modules.
		argv = append([]string{"/app/node_modules/.bin/" + argv[0]}, argv[1:]...)
	}
	script := ""
	if argv[0] == "node" {
		for _, a := range argv[1:] {
			if !strings.HasPrefix(a, "-") {
				script = a
				break
			}
		}
	}
	if strings.HasSuffix(script, ".ts") {
		js := "dist/" + strings.TrimSuffix(strings.TrimPrefix(path.Clean(script), "src/"), ".ts") + ".js"
		p.assume(fmt.Sprintf("%s assumed as the compiled form of %s", js, script))
		for i := range argv {
			if argv[i] == script {
				argv[i] = js
			}
		}
		script = js
	}
	if err := dockerCheckPath(s, "entrypoint script", script); err != nil {
		return err
	}
	first, _, nested := strings.Cut(path.Clean(script), "/")
	built := nested && (first == "dist" || first == "build" || first == "out")
	n.NeedsBuild = ts || s.Framework == "next" || s.Framework == "nestjs" || built
	if n.NeedsBuild {
		n.RuntimeFiles = "package.json"
		switch {
		case s.Framework == "next":
			n.Outputs = []string{".next", "public"}
			n.EnsureDirs = []string{"public"}
			n.RuntimeFiles = "package.json next.config.*"
		case built:
			n.Outputs = []string{first}
		case nested && first != "node_modules":
			// "node src/server.js" after a build: the sources stay where they are.
			n.Outputs = []string{first}
		default:
			n.Outputs = []string{"dist"}
			p.assume("the build script is assumed to write dist/")
		}
	}

	p.template = "node.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, fmt.Sprint(major))
	p.Builder = nodeImage(major)
	p.Runtime = p.Builder
	p.UID = dockerNodeUID
	for _, e := range env {
		if e.Name != "NODE_ENV" {
			p.env(e.Name, e.Value)
		}
	}
	if s.Port > 0 && (dockerHasEnv(s, "PORT") || s.Framework == "next") {
		p.env("PORT", fmt.Sprint(s.Port))
	}
	if s.Framework == "next" {
		p.env("NEXT_TELEMETRY_DISABLED", "1")
	}
	p.Node = n
	return p.entrypoint(argv)
}

// ---- Python (pip, poetry, uv) ----

type dockerPython struct {
	Env          []dockerEnvVar // builder environment
	Setup        []string       // instructions that install the build tool
	Manifests    string         // copied before the install; empty: copy all sources
	ManifestDest string
	Cache        string
	Comment      string // about the install command
	Install      string
}

func dockerPlanPython(p *dockerPlan, s analyze.Service) error {
	ver, a := pythonVersion(s.LanguageVersion)
	p.assume(a)
	py := &dockerPython{ManifestDest: "./", Cache: "/root/.cache/pip"}
	tools := func(pkg string) string {
		return "# The build tool gets its own virtualenv, so it never reaches the image.\n" +
			"RUN --mount=type=cache,target=/root/.cache/pip \\\n    python -m venv /opt/tools && /opt/tools/bin/pip install \"" + pkg + "\""
	}
	project := s.Project
	switch s.BuildTool {
	case "poetry":
		py.Setup = []string{tools(dockerPoetryVersion)}
		py.Manifests = "pyproject.toml"
		if s.Lockfile != "" {
			py.Manifests += " " + s.Lockfile
		}
		py.Cache = "/root/.cache/pypoetry"
		py.Comment = "poetry installs into the active virtualenv named by VIRTUAL_ENV."
		py.Install = "/opt/tools/bin/poetry install --only main --no-root --no-interaction --no-ansi"
	case "uv":
		py.Setup = []string{tools(dockerUVVersion)}
		py.Env = []dockerEnvVar{{"UV_PROJECT_ENVIRONMENT", "/opt/venv"}, {"UV_LINK_MODE", "copy"}, {"UV_PYTHON_DOWNLOADS", "never"}}
		py.Manifests = "pyproject.toml"
		flags := " --no-dev --no-install-project"
		if s.Lockfile != "" {
			py.Manifests += " " + s.Lockfile
			flags = " --frozen" + flags
		}
		py.Cache = "/root/.cache/uv"
		py.Comment = "uv syncs the locked dependencies into UV_PROJECT_ENVIRONMENT."
		py.Install = "/opt/tools/bin/uv sync" + flags
	case "pip", "":
		switch {
		case strings.HasSuffix(project, ".txt"):
			dir, file := path.Split(project)
			switch {
			case dir != "":
				// A requirements directory: copy all of it, files include each other.
				py.Manifests, py.ManifestDest = dir, dir
			case strings.HasPrefix(file, "requirements"):
				// requirements*.txt also brings files it includes with -r.
				py.Manifests = "requirements*.txt"
			default:
				py.Manifests = file
			}
			py.Install = "pip install -r " + project
		case project == "pyproject.toml" || project == "setup.py" || project == "setup.cfg":
			py.Install = "pip install ."
		default:
			return fmt.Errorf("service %q: no Dockerfile rules for Python project file %q (supported: requirements*.txt, pyproject.toml, setup.py); write the Dockerfile by hand", s.Name, s.Project)
		}
		if s.BuildTool == "" {
			p.assume("pip assumed as the installer: no build tool was detected")
		}
	default:
		return fmt.Errorf("service %q: no Dockerfile rules for Python build tool %q (supported: pip, poetry, uv); write the Dockerfile by hand", s.Name, s.BuildTool)
	}

	env, argv, err := dockerSplitCommand(s, s.Entrypoint)
	if err != nil {
		return err
	}
	if len(argv) == 0 {
		switch s.Framework {
		case "fastapi":
			argv = []string{"uvicorn", "main:app"}
		case "flask":
			argv = []string{"gunicorn", "app:app"}
		case "django":
			argv = []string{"python", "manage.py", "runserver", "--noreload"}
		default:
			argv = []string{"python", "main.py"}
		}
		p.assume(fmt.Sprintf("%s assumed as the start command: none found (for gunicorn/uvicorn, they must be dependencies)", strings.Join(argv, " ")))
	}
	if s.Port > 0 {
		argv = dockerPythonListen(argv, s.Port)
		if dockerHasEnv(s, "PORT") {
			p.env("PORT", fmt.Sprint(s.Port))
		}
	}
	for _, e := range env {
		p.env(e.Name, e.Value)
	}
	p.template = "python.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, ver)
	p.Builder = pythonImage(ver)
	p.Runtime = p.Builder
	p.UID = dockerCreatedUID
	p.Python = py
	return p.entrypoint(argv)
}

// dockerPythonListen adds the listen address to known servers' command
// lines unless they already name one. Servers bind to localhost by default,
// which a Service cannot reach.
func dockerPythonListen(argv []string, port int) []string {
	has := func(flags ...string) bool {
		for _, a := range argv {
			for _, f := range flags {
				if a == f || strings.HasPrefix(a, f+"=") || (len(f) == 2 && strings.HasPrefix(a, f) && len(a) > 2) {
					return true
				}
			}
		}
		return false
	}
	out := append([]string(nil), argv...)
	addr := fmt.Sprintf("0.0.0.0:%d", port)
	switch path.Base(argv[0]) {
	case "uvicorn":
		if !has("--host") {
			out = append(out, "--host", "0.0.0.0")
		}
		if !has("--port") {
			out = append(out, "--port", fmt.Sprint(port))
		}
	case "gunicorn", "hypercorn":
		if !has("--bind", "-b") {
			out = append(out, "--bind", addr)
		}
	case "daphne":
		if !has("--bind", "-b") {
			out = append(out, "--bind", "0.0.0.0")
		}
		if !has("--port", "-p") {
			out = append(out, "--port", fmt.Sprint(port))
		}
	case "flask", "fastapi":
		if len(argv) > 1 && argv[1] == "run" {
			if !has("--host", "-h") {
				out = append(out, "--host", "0.0.0.0")
			}
			if !has("--port", "-p") {
				out = append(out, "--port", fmt.Sprint(port))
			}
		}
	case "python", "python3":
		for i, a := range argv {
			if a == "runserver" && i > 0 && strings.HasSuffix(argv[i-1], "manage.py") {
				for _, b := range argv[i+1:] {
					if !strings.HasPrefix(b, "-") {
						return out // an address is already given
					}
				}
				return append(out, addr)
			}
		}
	}
	return out
}
