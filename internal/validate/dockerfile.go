package validate

// The Dockerfile stage lints every Dockerfile of the repository offline:
// BuildKit's own parser and the lint rules that run while parsing, then
// kubewright's rules about how the image behaves on Kubernetes. It never
// resolves an image or touches the network, so BuildKit rules that need an
// image's configuration do not run.
//
// Rules (ID, default severity, what):
//
//	KW-DOCKER-001  error    the Dockerfile does not parse, or has no FROM
//	KW-DOCKER-010  warning  single-stage build (fewer than two FROM)
//	KW-DOCKER-011  error    the final stage runs as root (no USER, or USER root/0)
//	KW-DOCKER-012  warning  the final USER is a name, which runAsNonRoot cannot verify
//	KW-DOCKER-013  error    a base image is untagged or :latest (no digest, not a stage, not scratch)
//	KW-DOCKER-014  error    a COPY/ADD source is missing from the build context, or excluded by .dockerignore
//	KW-DOCKER-015  error    a COPY/ADD copies a secret (.env, *.pem, *.key, id_rsa*, ...) into the image
//	KW-DOCKER-016  warning  EXPOSE does not match the containerPorts of the workload running the image
//	KW-DOCKER-017  warning  shell-form ENTRYPOINT/CMD in the final stage (signals do not reach the app)
//	KW-DOCKER-100  warning  a BuildKit lint rule (the rule name is in the message)

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubewright/kubewright/internal/finding"
)

// Rule IDs of the Dockerfile stage.
const (
	dockerIDParse       = "KW-DOCKER-001"
	dockerIDSingleStage = "KW-DOCKER-010"
	dockerIDRootUser    = "KW-DOCKER-011"
	dockerIDNamedUser   = "KW-DOCKER-012"
	dockerIDUnpinned    = "KW-DOCKER-013"
	dockerIDMissingSrc  = "KW-DOCKER-014"
	dockerIDSecretCopy  = "KW-DOCKER-015"
	dockerIDExpose      = "KW-DOCKER-016"
	dockerIDShellForm   = "KW-DOCKER-017"
	dockerIDBuildKit    = "KW-DOCKER-100"
)

// DockerfileCheck lints Dockerfile, Dockerfile.* and *.Dockerfile files.
type DockerfileCheck struct{}

// Name is StageDockerfile.
func (DockerfileCheck) Name() string { return StageDockerfile }

// Check lints every Dockerfile of the repository.
func (DockerfileCheck) Check(ctx context.Context, in *Input) []finding.Finding {
	repo := dockerNewRepo(in)
	var out []finding.Finding
	for _, f := range in.Files {
		if ctx.Err() != nil {
			break
		}
		if !dockerIsDockerfile(f) {
			continue
		}
		out = append(out, dockerCheckFile(in, repo, f)...)
	}
	finding.Sort(out)
	return out
}

// dockerIsDockerfile matches Dockerfile, Dockerfile.<x> and <x>.Dockerfile,
// but not a Dockerfile's own ignore file (Dockerfile.dockerignore).
func dockerIsDockerfile(file string) bool {
	base := path.Base(file)
	if strings.HasSuffix(base, ".dockerignore") {
		return false
	}
	return base == "Dockerfile" || strings.HasPrefix(base, "Dockerfile.") || strings.HasSuffix(base, ".Dockerfile")
}

// dockerRepo answers existence questions over Input.Files.
type dockerRepo struct {
	files map[string]bool
	dirs  map[string]bool
	list  []string
}

func dockerNewRepo(in *Input) *dockerRepo {
	r := &dockerRepo{files: map[string]bool{}, dirs: map[string]bool{".": true}, list: in.Files}
	for _, f := range in.Files {
		r.files[f] = true
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			if r.dirs[d] {
				break
			}
			r.dirs[d] = true
		}
	}
	return r
}

func (r *dockerRepo) exists(p string) bool { return r.files[p] || r.dirs[p] }

// under returns the files at or below p ("." is everything).
func (r *dockerRepo) under(p string) []string {
	if p == "." {
		return r.list
	}
	if r.files[p] {
		return []string{p}
	}
	var out []string
	i := sort.SearchStrings(r.list, p+"/")
	for ; i < len(r.list) && strings.HasPrefix(r.list[i], p+"/"); i++ {
		out = append(out, r.list[i])
	}
	return out
}

// dockerFile is one Dockerfile being checked.
type dockerFile struct {
	in   *Input
	repo *dockerRepo
	file string
	dir  string
	data []byte
	lex  *shell.Lex
	// stages and their environment (ARG defaults and ENV) at their end.
	stages []instructions.Stage
	env    []dockerEnv
	// global holds the ARG defaults declared before the first FROM.
	global dockerEnv
	out    []finding.Finding
}

func (d *dockerFile) add(id string, sev finding.Severity, line int, msg, hint string) {
	d.out = append(d.out, finding.Finding{
		ID: id, Severity: sev, Stage: StageDockerfile, File: d.file, Line: line, Message: msg, Hint: hint,
	})
}

var dockerErrLine = regexp.MustCompile(`^dockerfile parse error on line (\d+): `)

func dockerCheckFile(in *Input, repo *dockerRepo, file string) []finding.Finding {
	d := &dockerFile{in: in, repo: repo, file: file, dir: path.Dir(file)}
	data, err := in.ReadFile(file)
	d.data = data
	if err != nil {
		d.add(dockerIDParse, finding.Error, 0, "cannot read the Dockerfile: "+err.Error(), "make the file readable")
		return d.out
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		d.parseError(err)
		return d.out
	}
	d.lex = shell.NewLex(res.EscapeToken)

	cfg := &linter.Config{}
	if opts, _, _, ok := parser.ParseDirective("check", data); ok {
		if c, err := linter.ParseLintOptions(opts); err == nil {
			cfg = c
		}
	}
	cfg.ReturnAsError = false
	cfg.Warn = d.lintWarning
	lint := linter.New(cfg)
	for _, w := range res.Warnings {
		if w.URL == linter.RuleNoEmptyContinuation.URL && w.Location != nil {
			lint.Run(&linter.RuleNoEmptyContinuation, []parser.Range{*w.Location}, linter.RuleNoEmptyContinuation.Format())
		}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		d.parseError(err)
		return d.out
	}
	if len(stages) == 0 {
		d.add(dockerIDParse, finding.Error, 1, "the Dockerfile has no FROM instruction, so there is nothing to build",
			"start the build with a FROM line naming a pinned base image")
		return d.out
	}
	d.stages = stages
	d.global = dockerGlobalEnv(d.lex, metaArgs)
	d.env = make([]dockerEnv, len(stages))
	for i := range stages {
		d.env[i] = d.stageEnv(i, -1)
	}

	d.checkStages()
	d.checkBases()
	d.checkUser()
	d.checkSources()
	d.checkExpose()
	d.checkEntrypoint()
	return d.out
}

func (d *dockerFile) parseError(err error) {
	line := 0
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	if m := dockerErrLine.FindStringSubmatch(msg); m != nil {
		if line == 0 {
			line, _ = strconv.Atoi(m[1])
		}
		msg = msg[len(m[0]):]
	}
	d.add(dockerIDParse, finding.Error, line, "the Dockerfile does not parse: "+msg,
		"fix the instruction at this line (see https://docs.docker.com/reference/dockerfile/)")
}

func (d *dockerFile) lintWarning(rule, description, url, msg string, loc []parser.Range) {
	hint := description
	if url != "" {
		hint += " (see " + url + ")"
	}
	d.add(dockerIDBuildKit, finding.Warning, dockerLine(loc), rule+": "+msg, hint)
}

func dockerLine(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// ---- environment: ARG defaults and ENV, for expanding words ----

// dockerEnv is a set of build variables, as BuildKit's shell lexer reads them.
type dockerEnv map[string]string

func (e dockerEnv) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }

func (e dockerEnv) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (e dockerEnv) clone() dockerEnv {
	c := make(dockerEnv, len(e))
	for k, v := range e {
		c[k] = v
	}
	return c
}

// dockerPlatformArgs are predefined for FROM lines. Their values only
// serve to tell a pinned reference from an unpinned one.
var dockerPlatformArgs = []string{
	"BUILDPLATFORM=linux/amd64", "BUILDOS=linux", "BUILDARCH=amd64", "BUILDVARIANT=",
	"TARGETPLATFORM=linux/amd64", "TARGETOS=linux", "TARGETARCH=amd64", "TARGETVARIANT=",
}

func dockerIsPlatformArg(key string) bool {
	for _, kv := range dockerPlatformArgs {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func dockerGlobalEnv(lex *shell.Lex, metaArgs []instructions.ArgCommand) dockerEnv {
	env := dockerEnv{}
	for _, kv := range dockerPlatformArgs {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value == nil {
				// Declared without a default: only --build-arg sets it
				// (the predefined platform arguments keep their value).
				if !dockerIsPlatformArg(kv.Key) {
					delete(env, kv.Key)
				}
				continue
			}
			if v, _, err := lex.ProcessWord(*kv.Value, env); err == nil {
				env[kv.Key] = v
			}
		}
	}
	return env
}

// stageEnv is the environment of stage i before its command upto (all of
// them when upto < 0): ENV inherited from a parent stage, then the stage's
// own ARG (with the global default for a bare ARG) and ENV.
func (d *dockerFile) stageEnv(i, upto int) dockerEnv {
	env := dockerEnv{}
	if p := d.parentStage(i); p >= 0 && d.env[p] != nil {
		env = d.env[p].clone()
	}
	for j, c := range d.stages[i].Commands {
		if upto >= 0 && j >= upto {
			break
		}
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if kv.Value == nil {
					if v, ok := d.global[kv.Key]; ok {
						env[kv.Key] = v
					}
					continue
				}
				if v, _, err := d.lex.ProcessWord(*kv.Value, env); err == nil {
					env[kv.Key] = v
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if v, _, err := d.lex.ProcessWord(kv.Value, env); err == nil {
					env[kv.Key] = v
				}
			}
		}
	}
	return env
}

// expand substitutes variables in word; ok is false when one is undefined.
func (d *dockerFile) expand(word string, env dockerEnv) (string, bool) {
	if !strings.Contains(word, "$") {
		return word, true
	}
	v, unmatched, err := d.lex.ProcessWord(word, env)
	return v, err == nil && len(unmatched) == 0
}

// parentStage is the index of the earlier stage stage i builds FROM, or -1.
func (d *dockerFile) parentStage(i int) int {
	base, ok := d.expand(d.stages[i].BaseName, d.global)
	if !ok {
		return -1
	}
	base = strings.ToLower(base)
	for j := 0; j < i; j++ {
		if d.stages[j].Name != "" && d.stages[j].Name == base {
			return j
		}
	}
	if n, err := strconv.Atoi(base); err == nil && n >= 0 && n < i {
		return n
	}
	return -1
}

func (d *dockerFile) final() int { return len(d.stages) - 1 }

func (d *dockerFile) fromLine(i int) int { return dockerLine(d.stages[i].Location) }

// ---- KW-DOCKER-010: multi-stage ----

func (d *dockerFile) checkStages() {
	if len(d.stages) >= 2 {
		return
	}
	d.add(dockerIDSingleStage, finding.Warning, d.fromLine(0),
		"single-stage build: compilers, package caches and sources end up in the runtime image",
		"build in one stage (FROM ... AS build), then start a slim runtime stage and COPY --from=build only the artifact")
}

// ---- KW-DOCKER-013: pinned base images ----

func (d *dockerFile) checkBases() {
	for i, st := range d.stages {
		line := d.fromLine(i)
		res, err := d.lex.ProcessWordWithMatches(st.BaseName, d.global)
		if err != nil {
			continue // the build reports it
		}
		if len(res.Unmatched) > 0 {
			names := dockerSortedKeys(res.Unmatched)
			d.add(dockerIDUnpinned, finding.Error, line,
				fmt.Sprintf("base image %q uses ARG %s, which has no default before the first FROM, so the image is whatever the build passes", st.BaseName, strings.Join(names, ", ")),
				fmt.Sprintf("declare the ARG before the first FROM with a pinned default (ARG %s=<image>:<version>)", names[0]))
			continue
		}
		base := res.Result
		if strings.EqualFold(base, "scratch") || d.parentStage(i) >= 0 {
			continue
		}
		repo, tag, digest := dockerSplitImage(base)
		if digest != "" || (tag != "" && tag != "latest") {
			continue
		}
		what := "has no tag, so it means :latest"
		if tag == "latest" {
			what = "uses the :latest tag"
		}
		shown := base
		if base != st.BaseName {
			shown = fmt.Sprintf("%s (from %s)", base, st.BaseName)
		}
		d.add(dockerIDUnpinned, finding.Error, line,
			fmt.Sprintf("base image %s %s: builds are not reproducible and change under you", shown, what),
			fmt.Sprintf("pin a version tag (%s:<version>), ideally with its digest (%s:<version>@sha256:...)", repo, repo))
	}
}

// dockerSplitImage splits "registry:5000/a/b:tag@sha256:x" into repository,
// tag and digest.
func dockerSplitImage(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:], digest
	}
	return ref, "", digest
}

func dockerSortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---- KW-DOCKER-011/012: the runtime user ----

func (d *dockerFile) checkUser() {
	final := d.final()
	for i := final; i >= 0; i = d.parentStage(i) {
		cmds := d.stages[i].Commands
		for j := len(cmds) - 1; j >= 0; j-- {
			u, ok := cmds[j].(*instructions.UserCommand)
			if !ok {
				continue
			}
			d.judgeUser(u, d.stageEnv(i, j))
			return
		}
	}
	d.add(dockerIDRootUser, finding.Error, d.fromLine(final),
		"the final stage sets no USER, so the container runs as the base image's user, usually root",
		"add `USER 10001:10001` (numeric, so Kubernetes runAsNonRoot can verify it) after the last RUN of the final stage")
}

func (d *dockerFile) judgeUser(u *instructions.UserCommand, env dockerEnv) {
	line := dockerLine(u.Location())
	val, ok := d.expand(u.User, env)
	if !ok {
		return // set by --build-arg: cannot judge
	}
	user, _, _ := strings.Cut(val, ":")
	if user == "root" || dockerIsZero(user) {
		d.add(dockerIDRootUser, finding.Error, line,
			fmt.Sprintf("the final stage runs as root (USER %s)", u.User),
			"use an unprivileged numeric user: `USER 10001:10001` (create it in the image if the base has none)")
		return
	}
	if !dockerIsNumber(user) {
		d.add(dockerIDNamedUser, finding.Warning, line,
			fmt.Sprintf("USER %s is a name: Kubernetes runAsNonRoot cannot verify a user name and refuses to start the pod", u.User),
			"use the numeric UID:GID of that user (e.g. `USER 65532:65532` for distroless nonroot, `USER 10001:10001` for one you create)")
	}
}

func dockerIsNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func dockerIsZero(s string) bool { return dockerIsNumber(s) && strings.Trim(s, "0") == "" }

// ---- KW-DOCKER-014/015: COPY and ADD sources ----

type dockerSource struct {
	raw      string // as written
	rel      string // cleaned, relative to the context
	wildcard bool
	cmd      string // COPY or ADD, as written
	line     int
}

// sources lists the COPY/ADD sources read from the build context (not
// --from, not URLs); those with a variable the lexer cannot resolve are
// left out.
func (d *dockerFile) sources() []dockerSource {
	var out []dockerSource
	for i, st := range d.stages {
		for j, c := range st.Commands {
			var paths []string
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					continue
				}
				paths = c.SourcePaths
			case *instructions.AddCommand:
				paths = c.SourcePaths
			default:
				continue
			}
			var env dockerEnv
			for _, p := range paths {
				if strings.Contains(p, "://") || strings.HasPrefix(p, "git@") {
					continue
				}
				if env == nil {
					env = d.stageEnv(i, j)
				}
				v, ok := d.expand(p, env)
				if !ok || v == "" {
					continue
				}
				// A leading "/" is the context root too.
				rel := path.Clean(strings.TrimLeft(v, "/"))
				out = append(out, dockerSource{
					raw: p, rel: rel, wildcard: strings.ContainsAny(v, "*?["),
					cmd: strings.ToUpper(c.Name()), line: dockerLine(c.Location()),
				})
			}
		}
	}
	return out
}

// context picks the build context: the Dockerfile's directory, or the
// nearest ancestor that holds more of the literal sources (a monorepo
// Dockerfile under cmd/x/ is built from the module root); all present wins
// at once.
func (d *dockerFile) context(srcs []dockerSource) string {
	var literal []dockerSource
	for _, s := range srcs {
		if !s.wildcard && !strings.HasPrefix(s.rel, "../") && s.rel != ".." {
			literal = append(literal, s)
		}
	}
	best, bestN := d.dir, -1
	for dir := d.dir; ; dir = path.Dir(dir) {
		n := 0
		for _, s := range literal {
			if d.repo.exists(path.Join(dir, s.rel)) {
				n++
			}
		}
		if n > bestN {
			best, bestN = dir, n
		}
		if n == len(literal) || dir == "." {
			break
		}
	}
	return best
}

// ignoreFile loads the ignore file that applies: <Dockerfile>.dockerignore
// next to the Dockerfile, else .dockerignore at the context root.
func (d *dockerFile) ignoreFile(ctx string) *dockerIgnore {
	for _, f := range []string{d.file + ".dockerignore", path.Join(ctx, ".dockerignore")} {
		if !d.repo.files[f] {
			continue
		}
		data, err := d.in.ReadFile(f)
		if err != nil {
			continue
		}
		return dockerParseIgnore(f, data)
	}
	return nil
}

// dockerSecretGlobs name files that must not be copied into an image.
var dockerSecretGlobs = []string{".env", "*.env", "*.pem", "*.key", "id_rsa*", "*.p12", "credentials*.json"}

func dockerIsSecret(file string) bool {
	base := path.Base(file)
	for _, g := range dockerSecretGlobs {
		if ok, _ := path.Match(g, base); ok {
			return true
		}
	}
	return false
}

func (d *dockerFile) checkSources() {
	srcs := d.sources()
	if len(srcs) == 0 {
		return
	}
	ctx := d.context(srcs)
	ig := d.ignoreFile(ctx)
	ctxName := ctx + "/"
	if ctx == "." {
		ctxName = "the repository root"
	}
	why := "the Dockerfile's directory"
	if ctx != d.dir {
		why = "the nearest directory holding the sources"
	}
	// relative path within the context
	inCtx := func(file string) string {
		if ctx == "." {
			return file
		}
		return strings.TrimPrefix(file, ctx+"/")
	}
	for _, s := range srcs {
		if s.rel == ".." || strings.HasPrefix(s.rel, "../") {
			d.add(dockerIDMissingSrc, finding.Error, s.line,
				fmt.Sprintf("%s source %q is outside the build context (%s)", s.cmd, s.raw, ctxName),
				"a build can only read files inside its context: move the file into it, or build from a directory that contains it")
			continue
		}
		full := path.Join(ctx, s.rel)
		// The files this source brings into the image.
		var copied []string
		var candidates []string
		if s.wildcard {
			re, ok := dockerGlobRegexp(s.rel)
			if !ok {
				continue
			}
			for _, f := range d.repo.under(ctx) {
				if dockerMatchesOrParent(re, inCtx(f)) {
					candidates = append(candidates, f)
				}
			}
		} else {
			candidates = d.repo.under(full)
		}
		ignoredLine := 0
		for _, f := range candidates {
			if ig != nil {
				if ok, line := ig.Ignored(inCtx(f)); ok {
					ignoredLine = line
					continue
				}
			}
			copied = append(copied, f)
		}

		if !s.wildcard && dockerIsSecret(s.rel) {
			d.add(dockerIDSecretCopy, finding.Error, s.line,
				fmt.Sprintf("%s %s puts a secret file into the image, where anyone who can pull the image can read it", s.cmd, s.raw),
				"remove it from the instruction; give the app the value at runtime (a Kubernetes Secret as env or a mounted file), and use RUN --mount=type=secret if the build needs it")
		} else {
			var secrets []string
			for _, f := range copied {
				if dockerIsSecret(f) {
					secrets = append(secrets, f)
				}
			}
			if len(secrets) > 0 {
				ignore := ".dockerignore"
				if ig != nil {
					ignore = ig.File
				}
				d.add(dockerIDSecretCopy, finding.Error, s.line,
					fmt.Sprintf("%s %s copies secret files into the image: %s", s.cmd, s.raw, dockerList(secrets, 5)),
					fmt.Sprintf("exclude them in %s (e.g. **/.env, **/*.pem, **/*.key, **/id_rsa*) or copy only what the app needs; give secrets to the app at runtime", ignore))
			}
		}

		if s.wildcard {
			continue // matching nothing is allowed
		}
		switch {
		case !d.repo.exists(full) && s.rel != ".":
			d.add(dockerIDMissingSrc, finding.Error, s.line,
				fmt.Sprintf("%s source %q does not exist in the build context (%s, %s)", s.cmd, s.raw, ctxName, why),
				fmt.Sprintf("add %s to the repository, fix the path (it is relative to the build context, not to the Dockerfile), or drop it from the %s", full, s.cmd))
		case len(copied) == 0 && len(candidates) > 0:
			d.add(dockerIDMissingSrc, finding.Error, s.line,
				fmt.Sprintf("%s source %q is excluded from the build context by %s:%d, so the build cannot find it", s.cmd, s.raw, ig.File, ignoredLine),
				fmt.Sprintf("it is ignored by .dockerignore: remove or narrow the pattern at %s:%d (or re-include it with a !pattern), or stop copying it", ig.File, ignoredLine))
		}
	}
}

// dockerMatchesOrParent reports whether rel or one of its parent
// directories matches re (a wildcard directory is copied whole).
func dockerMatchesOrParent(re *regexp.Regexp, rel string) bool {
	for p := rel; p != "." && p != "/"; p = path.Dir(p) {
		if re.MatchString(p) {
			return true
		}
	}
	return false
}

func dockerList(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

// ---- KW-DOCKER-016: EXPOSE against the workload's containerPorts ----

type dockerPort struct {
	lo, hi int
	proto  string // tcp, udp, sctp
}

func (p dockerPort) String() string {
	s := strconv.Itoa(p.lo)
	if p.hi != p.lo {
		s += "-" + strconv.Itoa(p.hi)
	}
	if p.proto != "tcp" {
		s += "/" + p.proto
	}
	return s
}

// exposed collects the final stage's EXPOSE ports (with those of the
// stages it builds on) and the line to report at.
func (d *dockerFile) exposed() ([]dockerPort, int) {
	var ports []dockerPort
	line := 0
	for i := d.final(); i >= 0; i = d.parentStage(i) {
		for j, c := range d.stages[i].Commands {
			e, ok := c.(*instructions.ExposeCommand)
			if !ok {
				continue
			}
			if line == 0 && i == d.final() {
				line = dockerLine(e.Location())
			}
			env := d.stageEnv(i, j)
			for _, raw := range e.Ports {
				v, ok := d.expand(raw, env)
				if !ok {
					continue
				}
				for _, w := range strings.Fields(v) {
					if p, ok := dockerParsePort(w); ok {
						ports = append(ports, p)
					}
				}
			}
		}
	}
	if line == 0 {
		line = d.fromLine(d.final())
	}
	return ports, line
}

func dockerParsePort(s string) (dockerPort, bool) {
	num, proto, _ := strings.Cut(s, "/")
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	loS, hiS, isRange := strings.Cut(num, "-")
	lo, err := strconv.Atoi(loS)
	if err != nil {
		return dockerPort{}, false
	}
	hi := lo
	if isRange {
		if hi, err = strconv.Atoi(hiS); err != nil || hi < lo {
			return dockerPort{}, false
		}
	}
	return dockerPort{lo: lo, hi: hi, proto: proto}, true
}

// serviceNames are the names a workload's image repository may end with
// to be this Dockerfile's image: the build context's and the Dockerfile
// directory's base names (the repository's name at the root), the name in
// Dockerfile.<name> / <name>.Dockerfile, and the service a kubewright
// generated header names.
func (d *dockerFile) serviceNames(ctx string) map[string]bool {
	names := map[string]bool{}
	baseOf := func(dir string) string {
		if dir == "." || dir == "" {
			return filepath.Base(d.in.Dir)
		}
		return path.Base(dir)
	}
	names[baseOf(ctx)] = true
	names[baseOf(d.dir)] = true
	base := path.Base(d.file)
	if n, ok := strings.CutPrefix(base, "Dockerfile."); ok && n != "" {
		names[n] = true
	}
	if n, ok := strings.CutSuffix(base, ".Dockerfile"); ok && n != "" {
		names[n] = true
	}
	if m := dockerGeneratedFor.FindSubmatch(d.data); m != nil {
		names[string(m[1])] = true
	}
	return names
}

var dockerGeneratedFor = regexp.MustCompile(`(?m)^#\s*Generated by kubewright for service "([^"]+)"`)

func (d *dockerFile) checkExpose() {
	srcs := d.sources()
	ctx := d.dir
	if len(srcs) > 0 {
		ctx = d.context(srcs)
	}
	names := d.serviceNames(ctx)
	ports, line := d.exposed()

	for _, o := range d.in.Objects {
		containers, fieldPath := dockerContainers(o)
		for ci, c := range containers {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			image, _ := cm["image"].(string)
			repo, _, _ := dockerSplitImage(image)
			if !names[path.Base(repo)] {
				continue
			}
			cname, _ := cm["name"].(string)
			want := dockerContainerPorts(cm)
			var missing, extra []string
			for _, w := range want {
				if !dockerCovered(ports, w) {
					missing = append(missing, w.String())
				}
			}
			for _, p := range ports {
				hit := false
				for _, w := range want {
					if w.proto == p.proto && w.lo >= p.lo && w.lo <= p.hi {
						hit = true
						break
					}
				}
				if !hit {
					extra = append(extra, p.String())
				}
			}
			if len(missing) == 0 && len(extra) == 0 {
				continue
			}
			where := o.File
			if doc, ok := d.in.Sources.Find(o.Root, o.U.GetKind(), o.U.GetNamespace(), o.U.GetName()); ok {
				where = fmt.Sprintf("%s:%d", doc.File, doc.FieldLine(fmt.Sprintf("%s[%d].ports", fieldPath, ci)))
			} else if o.Line > 0 {
				where = fmt.Sprintf("%s:%d", o.File, o.Line)
			}
			var parts []string
			if len(missing) > 0 {
				parts = append(parts, fmt.Sprintf("containerPort %s of container %q (%s) is not EXPOSEd", strings.Join(missing, ", "), cname, where))
			}
			if len(extra) > 0 {
				parts = append(parts, fmt.Sprintf("EXPOSE %s is not a containerPort of container %q (%s)", strings.Join(extra, ", "), cname, where))
			}
			f := finding.Finding{
				ID: dockerIDExpose, Severity: finding.Warning, Stage: StageDockerfile, File: d.file, Line: line,
				Object:  o.Ref(),
				Message: "the image's ports do not match the workload that runs it: " + strings.Join(parts, "; "),
				Hint:    fmt.Sprintf("make EXPOSE list exactly the ports the app listens on, and the containerPorts in %s the same ones", where),
			}
			d.out = append(d.out, f)
		}
	}
}

// dockerContainers returns a workload's pod containers and their field path.
func dockerContainers(o Object) ([]any, string) {
	if o.U == nil {
		return nil, ""
	}
	var fields []string
	switch o.U.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		fields = []string{"spec", "template", "spec", "containers"}
	case "CronJob":
		fields = []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}
	default:
		return nil, ""
	}
	cs, _, _ := unstructured.NestedSlice(o.U.Object, fields...)
	return cs, strings.Join(fields, ".")
}

func dockerContainerPorts(c map[string]any) []dockerPort {
	var out []dockerPort
	ps, _ := c["ports"].([]any)
	for _, p := range ps {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		var n int
		switch v := pm["containerPort"].(type) {
		case int64:
			n = int(v)
		case int:
			n = v
		case float64:
			n = int(v)
		default:
			continue
		}
		proto, _ := pm["protocol"].(string)
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, dockerPort{lo: n, hi: n, proto: strings.ToLower(proto)})
	}
	return out
}

func dockerCovered(ports []dockerPort, w dockerPort) bool {
	for _, p := range ports {
		if p.proto == w.proto && w.lo >= p.lo && w.lo <= p.hi {
			return true
		}
	}
	return false
}

// ---- KW-DOCKER-017: exec-form ENTRYPOINT and CMD ----

func (d *dockerFile) checkEntrypoint() {
	// Only the last ENTRYPOINT and the last CMD of the final stage count.
	var entry, cmd instructions.Command
	var entryLine, cmdLine instructions.ShellDependantCmdLine
	for _, c := range d.stages[d.final()].Commands {
		switch c := c.(type) {
		case *instructions.EntrypointCommand:
			entry, entryLine = c, c.ShellDependantCmdLine
		case *instructions.CmdCommand:
			cmd, cmdLine = c, c.ShellDependantCmdLine
		}
	}
	d.judgeForm(entry, entryLine)
	d.judgeForm(cmd, cmdLine)
}

func (d *dockerFile) judgeForm(c instructions.Command, line instructions.ShellDependantCmdLine) {
	if c == nil || !line.PrependShell {
		return
	}
	text := strings.TrimSpace(strings.Join(line.CmdLine, " "))
	if strings.HasPrefix(text, "exec ") {
		return // the shell replaces itself with the app
	}
	name := strings.ToUpper(c.Name())
	d.add(dockerIDShellForm, finding.Warning, dockerLine(c.Location()),
		fmt.Sprintf("%s is in shell form: /bin/sh -c runs as PID 1 and does not pass SIGTERM on to the app, so pods are killed after the grace period instead of shutting down cleanly", name),
		fmt.Sprintf("use the exec (JSON) form, e.g. %s %s (variables are not expanded there: read them in the app)", name, dockerExecForm(line.CmdLine)))
}

func dockerExecForm(words []string) string {
	fields := strings.Fields(strings.Join(words, " "))
	q := make([]string, len(fields))
	for i, f := range fields {
		q[i] = strconv.Quote(f)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
