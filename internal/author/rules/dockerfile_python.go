package rules

import (
	"fmt"
	"path"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
)

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
