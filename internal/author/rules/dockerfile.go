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
	// Context is the build context, relative to the repository root: the
	// service's path, or a parent of it when the build reads files outside
	// it (a .NET project referencing sibling projects).
	Context string
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
		Context:      p.Context,
		Assumptions:  p.Assumptions,
	}, nil
}

// dockerPlan holds every decision; the templates only lay it out.
type dockerPlan struct {
	template string

	Name        string
	Summary     string
	Context     string // build context, relative to the repository root
	Build       string // docker build command for <context>/Dockerfile
	BuildShared string // the same with -f, for a Dockerfile next to its main package or crate
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
	// RuntimeFiles are context paths the running process reads, copied
	// into WORKDIR of the final stage (languages whose final stage holds
	// only the build output).
	RuntimeFiles []string

	Go     *dockerGo
	Java   *dockerJava
	Dotnet *dockerDotnet
	Node   *dockerNode
	Python *dockerPython
	Rust   *dockerRust
	Static *dockerStatic
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
	for _, f := range append(append([]string(nil), s.BuildFiles...), s.RuntimeFiles...) {
		if err := dockerCheckPath(s, "file", f); err != nil {
			return nil, err
		}
	}
	if s.Port < 0 || s.Port > 65535 {
		return nil, fmt.Errorf("service %q: port %d is not a TCP port; fix the port in the analysis (%s)", s.Name, s.Port, s.PortSource)
	}
	ctx := s.Path
	if ctx == "" {
		ctx = "."
	}
	p := &dockerPlan{Name: analyze.DNSLabel(s.Name), Port: s.Port, Language: s.Language, Context: ctx}
	var err error
	switch s.Language {
	case analyze.LangGo:
		err = dockerPlanGo(p, s)
	case analyze.LangJava, analyze.LangKotlin:
		err = dockerPlanJava(p, s)
	case analyze.LangCSharp, langFSharp:
		err = dockerPlanDotnet(p, s)
	case analyze.LangJavaScript, analyze.LangTypeScript:
		err = dockerPlanNode(p, s)
	case analyze.LangPython:
		err = dockerPlanPython(p, s)
	case analyze.LangRust:
		err = dockerPlanRust(p, s)
	case analyze.LangStatic:
		err = dockerPlanStatic(p, s)
	default:
		return nil, fmt.Errorf("service %q: no Dockerfile rules for language %q (supported: %s); write the Dockerfile by hand", s.Name, s.Language, strings.Join(dockerLanguages, ", "))
	}
	if err != nil {
		return nil, err
	}
	switch {
	case p.Context != ctx:
		// The build reads files outside the service directory: the
		// Dockerfile stays with the service and names the wider context.
		p.Build = fmt.Sprintf("docker build -f %s -t %s %s", path.Join(ctx, "Dockerfile"), p.Name, p.Context)
	default:
		p.Build = fmt.Sprintf("docker build -t %s %s", p.Name, ctx)
	}
	// Services sharing a build context (a Go monorepo, a Cargo workspace)
	// cannot all have <context>/Dockerfile; theirs sits next to the main
	// package or the member crate.
	if sub := dockerSubdir(s); sub != "." {
		p.BuildShared = fmt.Sprintf("docker build -f %s -t %s %s", path.Join(ctx, sub, "Dockerfile"), p.Name, ctx)
	}
	return p, nil
}

// langFSharp is the language the .NET detector reports for .fsproj projects.
const langFSharp = "fsharp"

// dockerLanguages are the languages DockerfileFor has rules for.
var dockerLanguages = []string{analyze.LangGo, analyze.LangJava, analyze.LangKotlin, analyze.LangCSharp, langFSharp,
	analyze.LangJavaScript, analyze.LangTypeScript, analyze.LangPython, analyze.LangRust, analyze.LangStatic}

// dockerSubdir is where, inside its build context, a service's Dockerfile
// goes when several services share that context: the Go main package or
// the Cargo workspace member's directory ("." when neither applies).
func dockerSubdir(s analyze.Service) string {
	switch s.Language {
	case analyze.LangGo:
		return strings.TrimPrefix(dockerGoPackage(s.Entrypoint), "./")
	case analyze.LangRust:
		return path.Dir(path.Clean("./" + s.Project))
	}
	return "."
}

// dockerCommonDir is the deepest directory holding both a and b (both
// slash-separated, relative to the repository root; "." is the root).
func dockerCommonDir(a, b string) string {
	as, bs := strings.Split(path.Clean(a), "/"), strings.Split(path.Clean(b), "/")
	var out []string
	for i := 0; i < len(as) && i < len(bs) && as[i] == bs[i] && as[i] != "."; i++ {
		out = append(out, as[i])
	}
	if len(out) == 0 {
		return "."
	}
	return strings.Join(out, "/")
}

// dockerRel returns target relative to dir (target inside dir).
func dockerRel(dir, target string) string {
	if dir == "." {
		return target
	}
	return strings.TrimPrefix(target, dir+"/")
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
	case langFSharp:
		sum = "F#, .NET " + version
	case analyze.LangRust:
		sum = "Rust " + version
	case analyze.LangStatic:
		sum = "static site built with Node " + version
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
	if s.BuildTool != "" && s.BuildTool != "go" && s.BuildTool != "dotnet" && s.BuildTool != "cargo" {
		sum += ", " + s.BuildTool
	}
	return sum
}
