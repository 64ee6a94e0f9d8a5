package analyze

import (
	"bufio"
	"bytes"
	"errors"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// This file reads what a Python project declares: pyproject.toml,
// requirements files, Pipfile and setup.py.

// pyReadMeta reads pyproject.toml, requirements*.txt, Pipfile and setup.py,
// uniting their dependencies.
func pyReadMeta(r *Repo, dir string) (pyMeta, *ServiceError) {
	var m pyMeta
	if b, err := r.ReadFile(Join(dir, "pyproject.toml")); err == nil {
		doc, serr := pyDecodeTOML(dir, "pyproject.toml", b)
		if serr != nil {
			return m, serr
		}
		project, _ := doc["project"].(map[string]any)
		tool, _ := doc["tool"].(map[string]any)
		poetry, _ := tool["poetry"].(map[string]any)
		_, build := doc["build-system"]
		m.packaged = project != nil || poetry != nil || build
		m.poetry = poetry != nil
		if s, ok := project["name"].(string); ok {
			m.name = s
		} else if s, ok := poetry["name"].(string); ok {
			m.name = s
		}
		if s, ok := project["requires-python"].(string); ok {
			m.requires, m.reqSource = s, "pyproject.toml"
		}
		if list, ok := project["dependencies"].([]any); ok {
			for _, d := range list {
				if s, ok := d.(string); ok {
					if dep, ok := pyParseRequirement(s); ok {
						dep.file = "pyproject.toml"
						m.deps = append(m.deps, dep)
					}
				}
			}
		}
		if deps, ok := poetry["dependencies"].(map[string]any); ok {
			for _, k := range pySortedKeys(deps) {
				if strings.EqualFold(k, "python") {
					if s, ok := deps[k].(string); ok && m.requires == "" {
						m.requires, m.reqSource = s, "pyproject.toml"
					}
					continue
				}
				dep := pyDep{name: pyNormalize(k), raw: k, file: "pyproject.toml"}
				if t, ok := deps[k].(map[string]any); ok {
					if ex, ok := t["extras"].([]any); ok {
						for _, e := range ex {
							if s, ok := e.(string); ok {
								dep.extras = append(dep.extras, pyNormalize(s))
							}
						}
					}
				}
				m.deps = append(m.deps, dep)
			}
		}
	}
	seen := map[string]bool{}
	for _, f := range pyRequirementFiles(r, dir) {
		m.deps = append(m.deps, pyReadRequirements(r, dir, f, seen)...)
	}
	if b, err := r.ReadFile(Join(dir, "Pipfile")); err == nil {
		doc, serr := pyDecodeTOML(dir, "Pipfile", b)
		if serr != nil {
			return m, serr
		}
		if pkgs, ok := doc["packages"].(map[string]any); ok {
			for _, k := range pySortedKeys(pkgs) {
				m.deps = append(m.deps, pyDep{name: pyNormalize(k), raw: k, file: "Pipfile"})
			}
		}
		if req, ok := doc["requires"].(map[string]any); ok && m.requires == "" {
			if s, ok := req["python_version"].(string); ok {
				m.requires, m.reqSource = s, "Pipfile"
			}
		}
	}
	if b, err := r.ReadFile(Join(dir, "setup.py")); err == nil {
		if mm := pySetupName.FindSubmatch(b); mm != nil && m.name == "" {
			m.name = string(mm[1])
		}
		if mm := pySetupPython.FindSubmatch(b); mm != nil && m.requires == "" {
			m.requires, m.reqSource = string(mm[1]), "setup.py"
		}
		if mm := pySetupRequires.FindSubmatch(b); mm != nil {
			for _, s := range pyStringLit.FindAllSubmatch(mm[1], -1) {
				if dep, ok := pyParseRequirement(string(s[1])); ok {
					dep.file = "setup.py"
					m.deps = append(m.deps, dep)
				}
			}
		}
	}
	return m, nil
}

var (
	pySetupName     = regexp.MustCompile(`\bname\s*=\s*['"]([^'"]+)['"]`)
	pySetupPython   = regexp.MustCompile(`\bpython_requires\s*=\s*['"]([^'"]+)['"]`)
	pySetupRequires = regexp.MustCompile(`(?s)\binstall_requires\s*=\s*\[(.*?)\]`)
	pyStringLit     = regexp.MustCompile(`['"]([^'"]+)['"]`)
)

func pyDecodeTOML(dir, name string, b []byte) (map[string]any, *ServiceError) {
	var doc map[string]any
	if _, err := toml.Decode(string(b), &doc); err != nil {
		serr := &ServiceError{Path: dir, File: Join(dir, name), Message: "cannot parse " + name + ": " + err.Error(),
			Hint: "fix the TOML syntax (an unquoted string or a missing closing bracket is the usual cause); `pip install .` reports the same error"}
		if name == "Pipfile" {
			serr.Hint = "fix the TOML syntax (an unquoted string or a missing closing bracket is the usual cause); `pipenv lock` reports the same error"
		}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			serr.Line = pe.Position.Line
			serr.Message = "cannot parse " + name + ": " + pe.Message
		}
		return nil, serr
	}
	return doc, nil
}

func pySortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var pyNonName = regexp.MustCompile(`[-_.]+`)

// pyNormalize spells a distribution name the PEP 503 way.
func pyNormalize(s string) string {
	return pyNonName.ReplaceAllString(strings.ToLower(strings.TrimSpace(s)), "-")
}

var pyRequirementRe = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?`)
var pyEggRe = regexp.MustCompile(`#egg=([A-Za-z0-9][A-Za-z0-9._-]*)`)

// pyParseRequirement reads one PEP 508 requirement ("psycopg[binary]>=3.1;
// python_version>'3.8'" -> psycopg with extra binary).
func pyParseRequirement(s string) (pyDep, bool) {
	s = strings.TrimSpace(s)
	if m := pyEggRe.FindStringSubmatch(s); m != nil {
		return pyDep{name: pyNormalize(m[1]), raw: m[1]}, true
	}
	m := pyRequirementRe.FindStringSubmatch(s)
	if m == nil {
		return pyDep{}, false
	}
	d := pyDep{name: pyNormalize(m[1]), raw: m[1]}
	for _, e := range strings.Split(m[2], ",") {
		if e = pyNormalize(e); e != "" {
			d.extras = append(d.extras, e)
		}
	}
	return d, true
}

// pyNonRuntimeReqs are the words that mark a requirements file as not
// needed at run time (requirements-dev.txt, requirements_test.txt).
var pyNonRuntimeReqs = map[string]bool{"dev": true, "develop": true, "test": true, "tests": true, "testing": true,
	"lint": true, "doc": true, "docs": true, "ci": true, "typing": true, "format": true, "local": true}

func pyRuntimeRequirements(base string) bool {
	for _, w := range pyWordSep.Split(strings.ToLower(base), -1) {
		if pyNonRuntimeReqs[w] {
			return false
		}
	}
	return true
}

// pyRequirementFiles lists requirements.txt and the other runtime
// requirements*.txt files (not -dev, -test, -docs, ...), sorted.
func pyRequirementFiles(r *Repo, dir string) []string {
	var out []string
	for _, f := range r.Matching("requirements*.txt") {
		if path.Dir(f) != dir {
			continue
		}
		base := path.Base(f)
		if base == "requirements.txt" || pyRuntimeRequirements(base) {
			out = append(out, base)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == "requirements.txt") != (out[j] == "requirements.txt") {
			return out[i] == "requirements.txt"
		}
		return out[i] < out[j]
	})
	return out
}

// pyReadRequirements reads a requirements file relative to dir, following
// -r includes inside the repository.
func pyReadRequirements(r *Repo, dir, rel string, seen map[string]bool) []pyDep {
	if seen[rel] {
		return nil
	}
	seen[rel] = true
	b, err := r.ReadFile(Join(dir, rel))
	if err != nil {
		return nil
	}
	var out []pyDep
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "-") {
			opt, arg, _ := strings.Cut(line, " ")
			if j := strings.Index(opt, "="); j >= 0 {
				opt, arg = opt[:j], opt[j+1:]
			}
			arg = strings.TrimSpace(arg)
			switch opt {
			case "-r", "--requirement":
				inc := Join(path.Dir(rel), arg)
				if !strings.HasPrefix(inc, "../") {
					out = append(out, pyReadRequirements(r, dir, inc, seen)...)
				}
			case "-e", "--editable":
				if m := pyEggRe.FindStringSubmatch(arg); m != nil {
					out = append(out, pyDep{name: pyNormalize(m[1]), raw: m[1], file: rel})
				}
			}
			continue
		}
		if d, ok := pyParseRequirement(line); ok {
			d.file = rel
			out = append(out, d)
		}
	}
	return out
}

// pyBackingExtra names PyPI clients the shared table does not list.
var pyBackingExtra = map[string]string{
	"aioredis": BackingRedis, "django-redis": BackingRedis, "rq": BackingRedis, "arq": BackingRedis, "valkey": BackingRedis,
	"psycopg-pool": BackingPostgres, "pg8000": BackingPostgres, "asyncmy": BackingMySQL,
	"mongoengine": BackingMongoDB, "beanie": BackingMongoDB, "odmantic": BackingMongoDB,
}

// pyBackingByExtra maps extras that pull in a client ("celery[redis]").
var pyBackingByExtra = map[string]string{
	"redis": BackingRedis, "postgresql": BackingPostgres, "postgres": BackingPostgres, "asyncpg": BackingPostgres,
	"psycopg": BackingPostgres, "psycopg2": BackingPostgres, "mysql": BackingMySQL, "mongodb": BackingMongoDB,
	"librabbitmq": BackingRabbitMQ, "kafka": BackingKafka,
}

func pyHasExtra(deps []pyDep, name, extra string) bool {
	for _, d := range deps {
		if d.name == name {
			for _, e := range d.extras {
				if e == extra {
					return true
				}
			}
		}
	}
	return false
}

var (
	pyGRPCServerRe  = regexp.MustCompile(`\bgrpc(?:\.aio)?\.server\(`)
	pyGRPCPortLitRe = regexp.MustCompile(`add_(?:insecure|secure)_port\(\s*f?['"][^'"]*:([0-9]{2,5})['"]`)
	pyGRPCHealthRe  = regexp.MustCompile(`\bgrpc_health\b|health_pb2_grpc|HealthServicer\(`)
	pyMainGuardRe   = regexp.MustCompile(`(?m)^if\s+__name__\s*==\s*['"]__main__['"]`)
	pyCeleryRe      = regexp.MustCompile(`(?m)^([A-Za-z_]\w*)\s*=\s*Celery\(`)
	pyBotoClientRe  = regexp.MustCompile(`\b(?:client|resource)\(\s*['"](dynamodb|s3|sqs|sns)['"]`)
)

// pyGRPCServer returns the file that builds a gRPC server (grpc.server()),
// preferring one with a __main__ guard; "" when none does.
func pyGRPCServer(code []pySource) string {
	best := ""
	for _, c := range code {
		if !pyGRPCServerRe.Match(c.content) {
			continue
		}
		if pyMainGuardRe.Match(c.content) {
			return c.rel
		}
		if best == "" {
			best = c.rel
		}
	}
	return best
}

// pyGRPC completes a grpcio server: its entrypoint, port (a literal
// add_insecure_port address, else a PORT-like default, else 50051) and
// the health service (grpcio-health-checking).
func pyGRPC(svc *Service, code []pySource, has map[string]bool) {
	main := pyGRPCServer(code)
	svc.Entrypoint = "python " + main
	svc.GRPC = true
	if svc.Port == 0 {
		for _, c := range code {
			if m := pyGRPCPortLitRe.FindSubmatchIndex(c.content); m != nil {
				svc.Port, svc.PortSource = nodeValidPort(string(c.content[m[2]:m[3]])), Source(c.rel, LineOf(c.content, m[0]))
				break
			}
		}
	}
	if svc.Port == 0 {
		for _, v := range svc.Env {
			if ownPortVar(v.Name, svc) {
				if p := goAddrPort(v.Default); p > 0 {
					svc.Port, svc.PortSource = p, v.Source
					break
				}
			}
		}
	}
	if svc.Port == 0 {
		svc.Port, svc.PortSource = 50051, "default for grpc"
		svc.Assumptions = append(svc.Assumptions, "gRPC port 50051 assumed: no add_insecure_port literal or PORT default is visible")
	}
	for _, c := range code {
		if loc := pyGRPCHealthRe.FindIndex(c.content); loc != nil {
			svc.GRPCHealth, svc.GRPCHealthSource = true, Source(c.rel, LineOf(c.content, loc[0]))
			return
		}
	}
	if has["grpcio-health-checking"] {
		svc.GRPCHealth, svc.GRPCHealthSource = true, "dependency grpcio-health-checking"
	}
}

// pyCeleryApp returns the module holding the Celery application ("worker"
// for worker.py's `app = Celery(...)`), "" when none is defined.
func pyCeleryApp(code []pySource) string {
	var hits []string
	for _, c := range code {
		if pyCeleryRe.Match(c.content) {
			hits = append(hits, c.rel)
		}
	}
	if len(hits) == 0 {
		return ""
	}
	sort.Slice(hits, func(i, j int) bool {
		if strings.Count(hits[i], "/") != strings.Count(hits[j], "/") {
			return strings.Count(hits[i], "/") < strings.Count(hits[j], "/")
		}
		return hits[i] < hits[j]
	})
	mod, _ := pyModule(hits[0])
	return mod
}

// pyCloudClients adds the AWS services boto3 clients are created for.
func pyCloudClients(list []Backing, code []pySource, has map[string]bool) []Backing {
	if !has["boto3"] && !has["aioboto3"] && !has["aiobotocore"] {
		return list
	}
	kinds := map[string]string{"dynamodb": CloudDynamoDB, "s3": CloudS3, "sqs": CloudSQS, "sns": CloudSNS}
	for _, c := range code {
		for _, m := range pyBotoClientRe.FindAllSubmatchIndex(c.content, -1) {
			svc := string(c.content[m[2]:m[3]])
			list = AddBacking(list, kinds[svc], Source(c.rel, LineOf(c.content, m[0]))+": boto3 "+svc)
		}
	}
	return list
}

var (
	// python-decouple config("X", default=...) and django-environ env("X"),
	// env.str("X", default=...).
	pyConfigEnv   = regexp.MustCompile(`\b(?:config|env(?:\.\w+)?)\(\s*['"]([A-Z_][A-Z0-9_]*)['"](?:[^)\n]*?\bdefault\s*=\s*['"]?([^'",)\s]*)['"]?)?`)
	pySettingsCls = regexp.MustCompile(`(?m)^class\s+\w+\(\s*(?:pydantic_settings\.)?BaseSettings\s*\)\s*:`)
	pyField       = regexp.MustCompile(`^([a-z_][a-z0-9_]*)\s*:\s*([^=#]+?)\s*(?:=\s*([^#]*?))?\s*(?:#.*)?$`)
	pyEnvPrefix   = regexp.MustCompile(`env_prefix\s*=\s*['"]([^'"]*)['"]`)
)

// pyScanEnvExtra finds what ScanEnv does not: decouple/environ reads and
// the fields of pydantic BaseSettings classes (FIELD read as env FIELD).
func pyScanEnvExtra(rel string, content []byte) []EnvVar {
	var out []EnvVar
	for _, m := range pyConfigEnv.FindAllSubmatchIndex(content, -1) {
		name := string(content[m[2]:m[3]])
		ev := EnvVar{Name: name, Secret: IsSecretName(name), Source: Source(rel, LineOf(content, m[0]))}
		if m[4] >= 0 && !ev.Secret {
			ev.Default = string(content[m[4]:m[5]])
		}
		out = append(out, ev)
	}
	lines := strings.Split(string(content), "\n")
	for _, loc := range pySettingsCls.FindAllIndex(content, -1) {
		start := LineOf(content, loc[0]) // 1-based line of the class statement
		var body []int                   // 0-based indexes of body lines
		for i := start; i < len(lines); i++ {
			l := lines[i]
			if strings.TrimSpace(l) == "" {
				continue
			}
			if l[0] != ' ' && l[0] != '\t' {
				break
			}
			body = append(body, i)
		}
		if len(body) == 0 {
			continue
		}
		first := lines[body[0]]
		indent := first[:len(first)-len(strings.TrimLeft(first, " \t"))]
		prefix := ""
		for _, i := range body {
			if m := pyEnvPrefix.FindStringSubmatch(lines[i]); m != nil {
				prefix = m[1]
			}
		}
		for _, i := range body {
			l := lines[i]
			if !strings.HasPrefix(l, indent) || strings.HasPrefix(l[len(indent):], " ") || strings.HasPrefix(l[len(indent):], "\t") {
				continue
			}
			m := pyField.FindStringSubmatch(l[len(indent):])
			if m == nil || m[1] == "model_config" {
				continue
			}
			name := strings.ToUpper(prefix + m[1])
			ev := EnvVar{Name: name, Secret: IsSecretName(name) || strings.Contains(m[2], "Secret"), Source: Source(rel, i+1)}
			if def := strings.TrimSpace(m[3]); !ev.Secret && def != "" {
				if uq, err := strconv.Unquote(def); err == nil {
					ev.Default = uq
				} else if len(def) >= 2 && def[0] == '\'' && def[len(def)-1] == '\'' {
					ev.Default = def[1 : len(def)-1]
				} else if _, err := strconv.ParseFloat(def, 64); err == nil || def == "True" || def == "False" {
					ev.Default = def
				}
			}
			out = append(out, ev)
		}
	}
	return out
}
