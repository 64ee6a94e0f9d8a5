package analyze

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

// This file holds the Node detector's two special shapes: single-page
// applications built to static files (Vite, Create React App, Angular, Vue
// CLI), served by a non-root web server, and gRPC servers on grpc-js.

// staticPort is the port the non-root web server of a static site listens
// on (nginx-unprivileged and similar images use 8080).
const staticPort = 8080

// nodeServerDeps are runtime dependencies that make a package a server, not
// a static site, even when it builds with Vite.
var nodeServerDeps = []string{"express", "fastify", "koa", "@hapi/hapi", "@nestjs/core", "next", "nuxt", "@sveltejs/kit",
	"@remix-run/node", "@remix-run/serve", "vike", "vite-plugin-ssr", "@angular/ssr", "@nguniversal/express-engine", "@astrojs/node", "socket.io"}

// nodeNotDeployable are apps that do not run on a server at all.
var nodeNotDeployable = []string{"react-native", "expo", "electron", "@capacitor/core", "@ionic/react-native"}

// nodeStaticKind returns the SPA build tool of a package that builds to
// static files ("vite", "react-scripts", "angular", "vue-cli"), "mobile"
// for apps that are not deployed to a server, or "".
func nodeStaticKind(r *Repo, dir string, pkg *nodeManifest) string {
	for _, d := range nodeNotDeployable {
		if _, ok := pkg.Dependencies[d]; ok {
			return "mobile"
		}
	}
	for _, d := range nodeServerDeps {
		if _, ok := pkg.Dependencies[d]; ok {
			return ""
		}
	}
	if _, ok := pkg.Scripts["build"]; !ok {
		return ""
	}
	switch {
	case pkg.has("@angular/core") && r.Exists(Join(dir, "angular.json")):
		return "angular"
	case pkg.has("react-scripts"):
		return "react-scripts"
	case pkg.has("@vue/cli-service"):
		return "vue-cli"
	case pkg.has("vite") && !strings.Contains(pkg.Scripts["build"], "--ssr"):
		return "vite"
	}
	return ""
}

var (
	viteOutDirRe = regexp.MustCompile(`\boutDir\s*:\s*['"]([^'"]+)['"]`)
	vueOutDirRe  = regexp.MustCompile(`\boutputDir\s*:\s*['"]([^'"]+)['"]`)
)

// nodeStaticService describes a single-page application: built with the
// package manager's build script, its output served on staticPort.
func nodeStaticService(r *Repo, dir string, pkg *nodeManifest, kind string, s Service) Service {
	s.Language, s.Framework = LangStatic, kind
	s.BuildCommand = s.BuildTool + " run build"
	s.Entrypoint = ""
	s.Port, s.PortSource = staticPort, "default for the static web server (a non-root nginx listens on 8080)"
	s.HealthPath = "/"
	switch kind {
	case "vite":
		s.OutputDir = "dist"
		for _, n := range []string{"vite.config.ts", "vite.config.js", "vite.config.mts", "vite.config.mjs"} {
			if b, err := r.ReadFile(Join(dir, n)); err == nil {
				if m := viteOutDirRe.FindSubmatch(b); m != nil {
					s.OutputDir = cleanOutDir(string(m[1]), "dist")
				}
				break
			}
		}
	case "react-scripts":
		s.OutputDir = "build"
	case "vue-cli":
		s.OutputDir = "dist"
		if b, err := r.ReadFile(Join(dir, "vue.config.js")); err == nil {
			if m := vueOutDirRe.FindSubmatch(b); m != nil {
				s.OutputDir = cleanOutDir(string(m[1]), "dist")
			}
		}
	case "angular":
		out, note := angularOutputDir(r, dir, pkg.Name)
		s.OutputDir = out
		if note != "" {
			s.Assumptions = append(s.Assumptions, note)
		}
	}
	s.Assumptions = append(s.Assumptions, "static site: `"+s.BuildCommand+"` builds it into "+s.OutputDir+"/, which a non-root web server serves on port 8080; environment variables are baked in at build time, not read at run time")
	return s
}

// cleanOutDir keeps an output directory inside the package.
func cleanOutDir(d, def string) string {
	d = strings.TrimPrefix(Join(".", d), "./")
	if d == "." || d == "" || strings.HasPrefix(d, "..") || strings.HasPrefix(d, "/") {
		return def
	}
	return d
}

// angularOutputDir reads the build output of the default (else the first
// application) project in angular.json; the application builder (Angular
// 17+) writes the browser files to <outputPath>/browser.
func angularOutputDir(r *Repo, dir, pkgName string) (string, string) {
	b, err := r.ReadFile(Join(dir, "angular.json"))
	if err != nil {
		return "dist", ""
	}
	var doc struct {
		DefaultProject string `json:"defaultProject"`
		Projects       map[string]struct {
			ProjectType string `json:"projectType"`
			Architect   struct {
				Build struct {
					Builder string `json:"builder"`
					Options struct {
						OutputPath json.RawMessage `json:"outputPath"`
					} `json:"options"`
				} `json:"build"`
			} `json:"architect"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(dotnetJSONC(b), &doc); err != nil {
		return "dist", "angular.json could not be read (" + err.Error() + "); output assumed in dist/"
	}
	name := doc.DefaultProject
	if _, ok := doc.Projects[name]; !ok {
		names := make([]string, 0, len(doc.Projects))
		for n, p := range doc.Projects {
			if p.ProjectType == "" || p.ProjectType == "application" {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return "dist", ""
		}
		name = names[0]
	}
	p := doc.Projects[name]
	appBuilder := strings.HasSuffix(p.Architect.Build.Builder, ":application")
	var out string
	browser := "browser"
	raw := p.Architect.Build.Options.OutputPath
	var str string
	var obj struct {
		Base    string  `json:"base"`
		Browser *string `json:"browser"`
	}
	switch {
	case json.Unmarshal(raw, &str) == nil && str != "":
		out = str
	case json.Unmarshal(raw, &obj) == nil && obj.Base != "":
		out = obj.Base
		if obj.Browser != nil {
			browser = *obj.Browser
		}
	default:
		out = "dist/" + name
	}
	out = cleanOutDir(out, "dist/"+DNSLabel(name))
	if appBuilder && browser != "" {
		out = cleanOutDir(out+"/"+browser, out)
	}
	return out, ""
}

var (
	nodeGRPCServerRe = regexp.MustCompile(`\bnew\s+(?:grpc\.)?Server\(|\.bindAsync\(`)
	nodeGRPCHealthRe = regexp.MustCompile(`grpc\.health\.v1|grpc-health-check|grpc-js-health-check|HealthImplementation`)
	nodeBindLitRe    = regexp.MustCompile(`\.bindAsync\(\s*['"\x60][^'"\x60]*?:([0-9]{2,5})['"\x60]`)
	nodeBindTmplRe   = regexp.MustCompile(`\.bindAsync\(\s*\x60[^\x60]*\$\{\s*([^}]+?)\s*\}\s*\x60`)
	nodeBindIdentRe  = regexp.MustCompile(`\.bindAsync\(\s*([A-Za-z_$][A-Za-z0-9_$]*)\s*,`)
	nodeTmplVarRe    = regexp.MustCompile(`\$\{\s*([^}]+?)\s*\}`)
	nodeIdentRe      = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)
	nodeAddrPortRe   = regexp.MustCompile(`:([0-9]{2,5})['"\x60]`)
)

// nodeGRPC records a grpc-js server: the port of its bindAsync address
// (literal, template with a fallback, or a constant) and the health service.
func nodeGRPC(s *Service, pkg *nodeManifest, files []string, contents map[string][]byte, dir string) {
	_, a := pkg.Dependencies["@grpc/grpc-js"]
	_, b := pkg.Dependencies["grpc"]
	if !a && !b {
		return
	}
	for _, f := range files {
		c := contents[f]
		if !nodeGRPCServerRe.Match(c) {
			continue
		}
		s.GRPC = true
		rel := Rel(dir, f)
		if s.Port == 0 {
			if p, line := nodeGRPCPort(c); p > 0 {
				s.Port, s.PortSource = p, Source(rel, line)
			}
		}
		if loc := nodeGRPCHealthRe.FindIndex(c); loc != nil && !s.GRPCHealth {
			s.GRPCHealth, s.GRPCHealthSource = true, Source(rel, LineOf(c, loc[0]))
		}
	}
	if !s.GRPC {
		return
	}
	if s.Framework == "node" {
		s.Framework = "grpc"
	}
	if !s.GRPCHealth {
		for _, d := range []string{"grpc-health-check", "grpc-js-health-check"} {
			if _, ok := pkg.Dependencies[d]; ok {
				s.GRPCHealth, s.GRPCHealthSource = true, "package.json: "+d
			}
		}
	}
}

// nodeGRPCPort reads the port of a bindAsync address.
func nodeGRPCPort(c []byte) (int, int) {
	if m := nodeBindLitRe.FindSubmatchIndex(c); m != nil {
		return nodeValidPort(string(c[m[2]:m[3]])), LineOf(c, m[0])
	}
	resolve := func(expr string, at int) (int, int) {
		if p := nodePortExpr(expr); p > 0 {
			return p, LineOf(c, at)
		}
		if id := strings.TrimSpace(expr); nodeIdentRe.MatchString(id) {
			return nodeIdentPort(c, id)
		}
		return 0, 0
	}
	if m := nodeBindTmplRe.FindSubmatchIndex(c); m != nil {
		if p, l := resolve(string(c[m[2]:m[3]]), m[0]); p > 0 {
			return p, l
		}
	}
	if m := nodeBindIdentRe.FindSubmatchIndex(c); m != nil {
		id := string(c[m[2]:m[3]])
		if p, l := nodeIdentPort(c, id); p > 0 {
			return p, l
		}
		// const address = `0.0.0.0:${port}`
		re := regexp.MustCompile(`(?:const|let|var)\s+` + regexp.QuoteMeta(id) + `\s*=\s*([^;\n]+)`)
		if d := re.FindSubmatchIndex(c); d != nil {
			if t := nodeTmplVarRe.FindSubmatch(c[d[2]:d[3]]); t != nil {
				return resolve(string(t[1]), d[0])
			}
			if lit := nodeAddrPortRe.FindSubmatch(c[d[2]:d[3]]); lit != nil {
				return nodeValidPort(string(lit[1])), LineOf(c, d[0])
			}
		}
	}
	return 0, 0
}
