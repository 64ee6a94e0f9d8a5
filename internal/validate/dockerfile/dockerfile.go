// Package dockerfile is the Dockerfile stage of validation. It lints every
// Dockerfile of the repository offline: BuildKit's own parser and the lint
// rules that run while parsing, then kubewright's rules about how the
// image behaves on Kubernetes. It never
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
package dockerfile

import (
	"bytes"
	"context"
	"errors"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
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

// Check lints Dockerfile, Dockerfile.* and *.Dockerfile files.
type Check struct{}

// Name is StageDockerfile.
func (Check) Name() string { return validate.StageDockerfile }

// Check lints every Dockerfile of the repository.
func (Check) Check(ctx context.Context, in *validate.Input) []finding.Finding {
	repo := dockerNewRepo(in)
	var out []finding.Finding
	for _, f := range in.Files {
		if ctx.Err() != nil {
			break
		}
		if !IsDockerfile(f) {
			continue
		}
		out = append(out, dockerCheckFile(in, repo, f)...)
	}
	finding.Sort(out)
	return out
}

// IsDockerfile matches Dockerfile, Dockerfile.<x> and <x>.Dockerfile,
// but not a Dockerfile's own ignore file (Dockerfile.dockerignore).
func IsDockerfile(file string) bool {
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

func dockerNewRepo(in *validate.Input) *dockerRepo {
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
	in   *validate.Input
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
		ID: id, Severity: sev, Stage: validate.StageDockerfile, File: d.file, Line: line, Message: msg, Hint: hint,
	})
}

var dockerErrLine = regexp.MustCompile(`^dockerfile parse error on line (\d+): `)

func dockerCheckFile(in *validate.Input, repo *dockerRepo, file string) []finding.Finding {
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
