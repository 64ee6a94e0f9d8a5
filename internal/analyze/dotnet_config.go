package analyze

import (
	"bytes"
	"encoding/json"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// This file holds what the .NET detector reads besides project files: the
// listening port (code, Dockerfile, appsettings), gRPC facts, the SDK that
// global.json pins, and the JSON-with-comments reader for appsettings.

// dotnetGlobalSDK returns sdk.version of the global.json nearest to dir (dir
// or a parent), "" when none pins one.
func dotnetGlobalSDK(r *Repo, dir string) string {
	for d := dir; ; d = path.Dir(d) {
		if b, err := r.ReadFile(Join(d, "global.json")); err == nil {
			return dotnetString(dotnetField(dotnetField(dotnetJSONC(b), "sdk"), "version"))
		}
		if d == "." || d == "/" || d == "" {
			return ""
		}
	}
}

// dotnetRestoreFiles are the files MSBuild and NuGet read from a project's
// directory or the nearest parent that has them.
var dotnetRestoreFiles = []string{"Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json"}

// dotnetNuGetConfigs are the spellings of NuGet.config that NuGet finds on
// a case-sensitive file system.
var dotnetNuGetConfigs = []string{"NuGet.config", "NuGet.Config", "nuget.config"}

// dotnetBuildFiles lists what restoring a project reads besides the
// project file itself: the referenced projects (projects holds the project
// and every project it references, transitively) and, for each of their
// directories, the nearest restore files and every NuGet.config up to the
// repository root. Sorted, without self, the project being built.
func dotnetBuildFiles(r *Repo, projects map[string]bool, self string) []string {
	out := map[string]bool{}
	for proj := range projects {
		out[proj] = true
		found := map[string]bool{}
		for d := path.Dir(proj); ; d = path.Dir(d) {
			for _, name := range dotnetRestoreFiles {
				if f := Join(d, name); !found[name] && r.Exists(f) {
					found[name] = true
					out[f] = true
				}
			}
			for _, name := range dotnetNuGetConfigs {
				if f := Join(d, name); r.Exists(f) {
					out[f] = true
				}
			}
			if d == "." || d == "/" || d == "" {
				break
			}
		}
	}
	var list []string
	for f := range out {
		if f != self {
			list = append(list, f)
		}
	}
	sort.Strings(list)
	return list
}

var (
	dotnetGRPCMapRe    = regexp.MustCompile(`\bMapGrpcService<`)
	dotnetGRPCHealthRe = regexp.MustCompile(`\bMapGrpcHealthChecksService\(|\bAddGrpcHealthChecks\(|\bGrpc\.HealthCheck\b|\bHealthServiceImpl\b`)
)

// dotnetGRPC records an ASP.NET Core gRPC server (Grpc.AspNetCore and a
// MapGrpcService<T>() call) and whether it maps the standard health service.
func dotnetGRPC(svc *Service, p *dotnetProject, code []dotnetSource) {
	if !p.hasPackage("grpc.aspnetcore") {
		return
	}
	for _, c := range code {
		if dotnetGRPCMapRe.Match(c.content) {
			svc.GRPC = true
		}
	}
	if !svc.GRPC {
		return
	}
	for _, pkg := range p.packages {
		if l := strings.ToLower(pkg); l == "grpc.aspnetcore.healthchecks" || l == "grpc.healthcheck" {
			svc.GRPCHealth, svc.GRPCHealthSource = true, p.stem+path.Ext(p.file)+": "+pkg
		}
	}
	for _, c := range code {
		if loc := dotnetGRPCHealthRe.FindIndex(c.content); loc != nil {
			svc.GRPCHealth, svc.GRPCHealthSource = true, Source(c.rel, LineOf(c.content, loc[0]))
			break
		}
	}
}

var (
	// URLs the code or the image environment sets: UseUrls("..."),
	// app.Urls.Add("..."), app.Run("http://..."), ASPNETCORE_URLS=...
	dotnetURLRes = []*regexp.Regexp{
		regexp.MustCompile(`\bUseUrls\(\s*"([^"]+)"`),
		regexp.MustCompile(`\bUrls\.Add\(\s*"([^"]+)"`),
		regexp.MustCompile(`\.Run(?:Async)?\(\s*"(https?://[^"]+)"`),
		regexp.MustCompile(`ASPNETCORE_URLS\W{0,8}?(https?://[^\s"']+)`),
	}
	// Bare ports: ListenAnyIP(5000), Listen(IPAddress.Any, 5000), ASPNETCORE_HTTP_PORTS=5000.
	dotnetPortRes = []*regexp.Regexp{
		regexp.MustCompile(`\bListen(?:AnyIP|Localhost)\(\s*(\d{2,5})\b`),
		regexp.MustCompile(`\bListen\(\s*IPAddress\.\w+\s*,\s*(\d{2,5})\b`),
		regexp.MustCompile(`\b(?:ASPNETCORE_)?HTTP_PORTS\W{0,8}?(\d{2,5})\b`),
	}
)

// dotnetPort resolves the listening port, in priority: code and image
// environment, Kestrel endpoints in appsettings, then the container default
// of the target framework (80 up to .NET 7, 8080 from .NET 8).
func dotnetPort(r *Repo, dir string, code []dotnetSource, svc *Service, major int) (int, string) {
	sources := append([]dotnetSource(nil), code...)
	for _, name := range []string{"Dockerfile", ".env"} {
		if b, err := r.ReadFile(Join(dir, name)); err == nil {
			sources = append(sources, dotnetSource{name, b})
		}
	}
	for _, s := range sources {
		best, bestOff := 0, -1
		for _, re := range dotnetURLRes {
			for _, m := range re.FindAllSubmatchIndex(s.content, -1) {
				if p := dotnetURLPort(string(s.content[m[2]:m[3]])); p > 0 && (bestOff < 0 || m[0] < bestOff) {
					best, bestOff = p, m[0]
				}
			}
		}
		for _, re := range dotnetPortRes {
			for _, m := range re.FindAllSubmatchIndex(s.content, -1) {
				if p, err := strconv.Atoi(string(s.content[m[2]:m[3]])); err == nil && p > 0 && p < 65536 && (bestOff < 0 || m[0] < bestOff) {
					best, bestOff = p, m[0]
				}
			}
		}
		if bestOff >= 0 {
			return best, Source(s.rel, LineOf(s.content, bestOff))
		}
	}

	// Containers run with ASPNETCORE_ENVIRONMENT=Production unless told
	// otherwise, so the Production file overrides the base one.
	for _, name := range []string{"appsettings.Production.json", "appsettings.json"} {
		b, err := r.ReadFile(Join(dir, name))
		if err != nil {
			continue
		}
		clean := dotnetJSONC(b)
		var urls []string
		for _, ep := range dotnetMembers(dotnetField(dotnetField(clean, "Kestrel"), "Endpoints")) {
			if u := dotnetString(dotnetField(ep.value, "Url")); u != "" {
				urls = append(urls, u)
			}
		}
		if u := dotnetString(dotnetField(clean, "Urls")); u != "" {
			urls = append(urls, u)
		}
		if u := dotnetPickHTTP(urls); u != "" {
			if p := dotnetURLPort(u); p > 0 {
				return p, Source(name, dotnetLineOfString(b, u))
			}
		}
	}

	// Properties/launchSettings.json is read by `dotnet run` only: its
	// ports never apply in a container, so it is not read.
	if major >= 8 {
		svc.Assumptions = append(svc.Assumptions, "no port configured; using 8080, the default of .NET 8+ container images (ASPNETCORE_HTTP_PORTS)")
		return 8080, "default for .NET 8+ containers (ASPNETCORE_HTTP_PORTS)"
	}
	svc.Assumptions = append(svc.Assumptions, "no port configured; using 80, the default of .NET "+strconv.Itoa(major)+" container images (ASPNETCORE_URLS=http://+:80)")
	return 80, "default for .NET " + strconv.Itoa(major) + " containers (ASPNETCORE_URLS)"
}

// dotnetPickHTTP returns the first plain-http URL, else the first URL.
func dotnetPickHTTP(urls []string) string {
	var all []string
	for _, u := range urls {
		for _, part := range strings.Split(u, ";") {
			if part = strings.TrimSpace(part); part != "" {
				all = append(all, part)
			}
		}
	}
	for _, u := range all {
		if strings.HasPrefix(strings.ToLower(u), "http://") {
			return u
		}
	}
	if len(all) > 0 {
		return all[0]
	}
	return ""
}

// dotnetURLPort reads the port of the preferred URL of a ";"-separated list
// ("http://+:5000;https://+:5001" -> 5000); a URL without a port uses the
// scheme's default.
func dotnetURLPort(s string) int {
	u := dotnetPickHTTP([]string{s})
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return 0
	}
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(host, ":"); i >= 0 && i > strings.LastIndex(host, "]") {
		p, err := strconv.Atoi(host[i+1:])
		if err != nil || p <= 0 || p > 65535 {
			return 0
		}
		return p
	}
	switch strings.ToLower(scheme) {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

func dotnetLineOfString(content []byte, s string) int {
	if i := bytes.Index(content, []byte(`"`+s+`"`)); i >= 0 {
		return LineOf(content, i)
	}
	if i := bytes.Index(content, []byte(s)); i >= 0 {
		return LineOf(content, i)
	}
	return 1
}

// dotnetConnectionStrings lists the connection strings appsettings.json
// declares as ConnectionStrings__Name secrets (their values are never kept).
func dotnetConnectionStrings(r *Repo, dir string) []EnvVar {
	const name = "appsettings.json"
	b, err := r.ReadFile(Join(dir, name))
	if err != nil {
		return nil
	}
	start := bytes.Index(bytes.ToLower(b), []byte(`"connectionstrings"`))
	if start < 0 {
		return nil
	}
	var out []EnvVar
	for _, m := range dotnetMembers(dotnetField(dotnetJSONC(b), "ConnectionStrings")) {
		line := 1
		if i := bytes.Index(b[start:], []byte(`"`+m.key+`"`)); i >= 0 {
			line = LineOf(b, start+i)
		}
		out = append(out, EnvVar{Name: "ConnectionStrings__" + m.key, Secret: true, Database: DatabaseOf(dotnetString(m.value)), Source: Source(name, line)})
	}
	return out
}

// dotnetJSONC blanks comments, trailing commas and a byte-order mark so that
// encoding/json accepts an appsettings or launchSettings file; byte offsets
// and line numbers are unchanged.
func dotnetJSONC(b []byte) []byte {
	out := bytes.Clone(b)
	if bytes.HasPrefix(out, []byte("\xef\xbb\xbf")) {
		copy(out, "   ")
	}
	blank := func(i int) {
		if out[i] != '\n' {
			out[i] = ' '
		}
	}
	inStr := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inStr {
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			blank(i)
			blank(i + 1)
			for i += 2; i < len(out); i++ {
				if out[i] == '*' && i+1 < len(out) && out[i+1] == '/' {
					blank(i)
					blank(i + 1)
					i++
					break
				}
				blank(i)
			}
		}
	}
	inStr = false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inStr {
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
		} else if c == ',' {
			j := i + 1
			for j < len(out) && (out[j] == ' ' || out[j] == '\t' || out[j] == '\n' || out[j] == '\r') {
				j++
			}
			if j < len(out) && (out[j] == '}' || out[j] == ']') {
				out[i] = ' '
			}
		}
	}
	return out
}

type dotnetMember struct {
	key   string
	value json.RawMessage
}

// dotnetMembers returns the members of a JSON object in document order; nil
// when raw is not a well-formed object.
func dotnetMembers(raw []byte) []dotnetMember {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []dotnetMember
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return out
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out
		}
		out = append(out, dotnetMember{k, v})
	}
	return out
}

// dotnetField returns the member named key, compared case-insensitively as
// .NET configuration does.
func dotnetField(raw []byte, key string) []byte {
	for _, m := range dotnetMembers(raw) {
		if strings.EqualFold(m.key, key) {
			return m.value
		}
	}
	return nil
}

func dotnetString(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}
