package rules

import (
	"fmt"
	"path"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
)

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

// nodeInstall decides how the package manager installs dependencies.
func nodeInstall(p *dockerPlan, s analyze.Service, major int) (*dockerNode, error) {
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
		return nil, fmt.Errorf("service %q: no Dockerfile rules for Node package manager %q (supported: npm, yarn, pnpm); write the Dockerfile by hand", s.Name, s.BuildTool)
	}
	if !locked {
		p.assume("dependencies resolved without a lock file: builds are not reproducible until one is committed")
	}
	return n, nil
}

func dockerPlanNode(p *dockerPlan, s analyze.Service) error {
	major, a := nodeVersion(s.LanguageVersion)
	p.assume(a)
	n, err := nodeInstall(p, s, major)
	if err != nil {
		return err
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
		// Files the process reads at run time (migrations, templates) are
		// not build outputs: copy them from the context.
		p.RuntimeFiles = append(p.RuntimeFiles, s.RuntimeFiles...)
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
	// The node images' own "node" user (1000) is below 10000: run as a
	// created user instead, which owns the application files.
	p.UID = dockerCreatedUID
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

// ---- static sites (a Node build served by nginx) ----

type dockerStatic struct {
	OutputDir string // build output relative to the context
	Port      int
}

// dockerStaticPort is where the non-root nginx listens when the model
// names no port (an unprivileged process cannot bind below 1024).
const dockerStaticPort = 8080

func dockerPlanStatic(p *dockerPlan, s analyze.Service) error {
	major, a := nodeVersion(s.LanguageVersion)
	p.assume(a)
	n, err := nodeInstall(p, s, major)
	if err != nil {
		return err
	}
	if build := strings.TrimSpace(s.BuildCommand); build != "" {
		env, argv, err := dockerSplitCommand(s, build)
		if err != nil {
			return err
		}
		if len(env) > 0 || len(argv) == 0 {
			return fmt.Errorf("service %q: build command %q is not a plain command; write the Dockerfile by hand", s.Name, build)
		}
		n.Build = strings.Join(argv, " ")
	} else {
		p.assume(n.Build + " assumed as the build command: none was found")
	}
	out := strings.TrimSuffix(path.Clean(strings.TrimSpace(s.OutputDir)), "/")
	if out == "" || out == "." {
		out = "dist"
		p.assume("dist/ assumed as the build output: none was found")
	}
	if err := dockerCheckPath(s, "output directory", out); err != nil {
		return err
	}
	port := s.Port
	if port == 0 {
		port = dockerStaticPort
		p.Port = port
	}
	p.template = "static.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, fmt.Sprint(major))
	p.Builder = nodeImage(major)
	p.Runtime = dockerNginx
	// nginx-unprivileged runs as 101 by default; its pid and temp files go
	// to /tmp, so any user that can read the site can run it.
	p.UID = dockerCreatedUID
	p.Node = n
	p.Static = &dockerStatic{OutputDir: out, Port: port}
	return p.entrypoint([]string{"nginx", "-g", "daemon off;"})
}
