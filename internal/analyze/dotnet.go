package analyze

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// DotnetDetector finds ASP.NET Core and worker services in SDK-style
// .csproj and .fsproj projects. Class libraries, test projects and .NET Aspire
// hosts are not services.
type DotnetDetector struct{}

func (DotnetDetector) Name() string { return "dotnet" }

// Detect reads every project file; a malformed one becomes a ServiceError
// and the other projects are still analyzed.
func (DotnetDetector) Detect(r *Repo) ([]Service, []ServiceError) {
	projects := append(r.Matching("*.csproj"), r.Matching("*.fsproj")...)
	sort.Strings(projects)
	projDirs := map[string]bool{}
	for _, p := range projects {
		projDirs[path.Dir(p)] = true
	}
	var svcs []Service
	var errs []ServiceError
	for _, file := range projects {
		proj, serr := readDotnetProject(r, file)
		if serr != nil {
			errs = append(errs, *serr)
			continue
		}
		svc, ok, serr := dotnetService(r, proj, projDirs)
		if serr != nil {
			errs = append(errs, *serr)
		}
		if ok {
			svcs = append(svcs, svc)
		}
	}
	return svcs, errs
}

// msbuildProject is the part of an MSBuild project file the detector reads.
type msbuildProject struct {
	XMLName  xml.Name `xml:"Project"`
	Sdk      string   `xml:"Sdk,attr"`
	SdkElems []struct {
		Name string `xml:"Name,attr"`
	} `xml:"Sdk"`
	Imports []struct {
		Sdk string `xml:"Sdk,attr"`
	} `xml:"Import"`
	PropertyGroups []struct {
		Props []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"PropertyGroup"`
	ItemGroups []struct {
		Packages   []msbuildItem `xml:"PackageReference"`
		Frameworks []msbuildItem `xml:"FrameworkReference"`
		Projects   []msbuildItem `xml:"ProjectReference"`
	} `xml:"ItemGroup"`
}

type msbuildItem struct {
	Include string `xml:"Include,attr"`
}

// dotnetProject is a parsed project file with its properties resolved.
type dotnetProject struct {
	file     string // repository path of the project file
	dir      string
	stem     string            // file name without extension
	sdk      string            // lower-cased SDK name without version, "" for legacy projects
	props    map[string]string // lower-cased property name -> first non-empty value
	packages []string
	fwRefs   []string
	projRefs []string // repository paths of referenced projects
}

func parseMSBuild(content []byte) (*msbuildProject, error) {
	content = bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
	dec := xml.NewDecoder(bytes.NewReader(content))
	// Project files declare utf-8 (sometimes utf-16 or windows-1252 that is
	// really ASCII); read the bytes as they are.
	dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	var p msbuildProject
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

func readDotnetProject(r *Repo, file string) (*dotnetProject, *ServiceError) {
	dir := path.Dir(file)
	base := path.Base(file)
	content, err := r.ReadFile(file)
	if err != nil {
		return nil, &ServiceError{Path: dir, File: file, Message: "cannot read " + base + ": " + err.Error()}
	}
	mp, err := parseMSBuild(content)
	if err != nil {
		serr := &ServiceError{Path: dir, File: file, Line: 1,
			Message: "cannot parse " + base + ": " + err.Error(),
			Hint:    "fix the XML (an unclosed or mismatched element is the usual cause); `dotnet build` reports the same error"}
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			serr.Line = se.Line
			serr.Message = "cannot parse " + base + ": " + se.Msg
		}
		return nil, serr
	}
	p := &dotnetProject{file: file, dir: dir, stem: strings.TrimSuffix(base, path.Ext(base)), props: map[string]string{}}
	p.sdk = mp.Sdk
	for _, s := range mp.SdkElems {
		if p.sdk == "" {
			p.sdk = s.Name
		}
	}
	for _, s := range mp.Imports {
		if p.sdk == "" {
			p.sdk = s.Sdk
		}
	}
	// "Microsoft.NET.Sdk.Web/8.0.0" and "A;B" both name the first SDK.
	p.sdk, _, _ = strings.Cut(p.sdk, ";")
	p.sdk, _, _ = strings.Cut(p.sdk, "/")
	p.sdk = strings.ToLower(strings.TrimSpace(p.sdk))
	for _, g := range mp.PropertyGroups {
		for _, pr := range g.Props {
			k, v := strings.ToLower(pr.XMLName.Local), strings.TrimSpace(pr.Value)
			if _, ok := p.props[k]; !ok && v != "" {
				p.props[k] = v
			}
		}
	}
	// The nearest Directory.Build.props is imported before the project body,
	// so the project's own properties win.
	for k, v := range dotnetBuildProps(r, dir) {
		if _, ok := p.props[k]; !ok {
			p.props[k] = v
		}
	}
	p.props["msbuildprojectname"] = p.stem
	expanded := make(map[string]string, len(p.props))
	for k, v := range p.props {
		expanded[k] = dotnetExpand(v, p.props, 0)
	}
	p.props = expanded
	for _, g := range mp.ItemGroups {
		for _, it := range g.Packages {
			if inc := strings.TrimSpace(it.Include); inc != "" {
				p.packages = append(p.packages, inc)
			}
		}
		for _, it := range g.Frameworks {
			p.fwRefs = append(p.fwRefs, strings.TrimSpace(it.Include))
		}
		for _, it := range g.Projects {
			if inc := strings.TrimSpace(it.Include); inc != "" {
				p.projRefs = append(p.projRefs, Join(dir, strings.ReplaceAll(inc, `\`, "/")))
			}
		}
	}
	return p, nil
}

// dotnetBuildProps returns the properties of the Directory.Build.props
// nearest to dir (dir itself or a parent); unreadable files are ignored.
func dotnetBuildProps(r *Repo, dir string) map[string]string {
	out := map[string]string{}
	for d := dir; ; d = path.Dir(d) {
		f := Join(d, "Directory.Build.props")
		if r.Exists(f) {
			if b, err := r.ReadFile(f); err == nil {
				if mp, err := parseMSBuild(b); err == nil {
					for _, g := range mp.PropertyGroups {
						for _, pr := range g.Props {
							k, v := strings.ToLower(pr.XMLName.Local), strings.TrimSpace(pr.Value)
							if _, ok := out[k]; !ok && v != "" {
								out[k] = v
							}
						}
					}
				}
			}
			return out
		}
		if d == "." || d == "/" {
			return out
		}
	}
}

var msbuildPropRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// dotnetExpand replaces $(Name) references with the values of known
// properties, themselves expanded (to a small depth); a value with an
// unknown reference becomes empty (unknown).
func dotnetExpand(v string, props map[string]string, depth int) string {
	if !strings.Contains(v, "$(") {
		return v
	}
	if depth > 4 {
		return ""
	}
	unknown := false
	out := msbuildPropRef.ReplaceAllStringFunc(v, func(m string) string {
		val, ok := props[strings.ToLower(m[2:len(m)-1])]
		if ok {
			val = dotnetExpand(val, props, depth+1)
		}
		if !ok || val == "" {
			unknown = true
		}
		return val
	})
	if unknown {
		return ""
	}
	return out
}

func (p *dotnetProject) hasPackage(prefixes ...string) bool {
	for _, pkg := range p.packages {
		l := strings.ToLower(pkg)
		for _, pre := range prefixes {
			if strings.HasPrefix(l, pre) {
				return true
			}
		}
	}
	return false
}

func (p *dotnetProject) isTest() bool {
	return strings.EqualFold(p.props["istestproject"], "true") || p.sdk == "mstest.sdk" ||
		p.hasPackage("microsoft.net.test.sdk", "xunit", "nunit", "mstest")
}

// dotnetTFM reads TargetFramework (or the first of TargetFrameworks).
func (p *dotnetProject) tfm() (tfm string, multi bool) {
	if t := p.props["targetframework"]; t != "" {
		return strings.ToLower(t), false
	}
	var list []string
	for _, t := range strings.Split(p.props["targetframeworks"], ";") {
		if t = strings.TrimSpace(t); t != "" {
			list = append(list, strings.ToLower(t))
		}
	}
	if len(list) == 0 {
		return "", false
	}
	return list[0], len(list) > 1
}

var netCoreTFM = regexp.MustCompile(`^net(?:coreapp)?(\d+)\.(\d+)`)
var netFrameworkTFM = regexp.MustCompile(`^net(\d)(\d)(\d?)$`)

// dotnetFileExts are the source extensions per language.
func dotnetSourceExt(file string) string {
	if strings.HasSuffix(file, ".fsproj") {
		return ".fs"
	}
	return ".cs"
}

func dotnetService(r *Repo, p *dotnetProject, projDirs map[string]bool) (Service, bool, *ServiceError) {
	base := path.Base(p.file)
	if p.isTest() || p.sdk == "microsoft.net.sdk.razor" || p.sdk == "microsoft.net.sdk.blazorwebassembly" ||
		strings.HasPrefix(p.sdk, "aspire.apphost") || strings.EqualFold(p.props["isaspirehost"], "true") {
		return Service{}, false, nil
	}
	outputType := strings.ToLower(p.props["outputtype"])
	exe := outputType == "exe" || outputType == "winexe"
	tfm, multi := p.tfm()
	legacyWeb := p.sdk == "" && r.Exists(Join(p.dir, "Web.config"))
	if p.sdk == "" || netFrameworkTFM.MatchString(tfm) {
		// .NET Framework: only worth an error when it is an application.
		if exe || legacyWeb || p.sdk == "microsoft.net.sdk.web" {
			v := tfm
			if v == "" {
				v = p.props["targetframeworkversion"]
			}
			return Service{}, false, &ServiceError{Path: p.dir, File: p.file, Line: 1,
				Message: base + " targets .NET Framework (" + v + "), which does not run in Linux containers",
				Hint:    "migrate to an SDK-style project targeting net8.0 or later (the .NET Upgrade Assistant helps)"}
		}
		return Service{}, false, nil
	}

	ext := dotnetSourceExt(p.file)
	own := filesOutsideNested(r, p.dir, projDirs)
	var code []dotnetSource
	for _, f := range own {
		if strings.HasSuffix(f, ext) {
			if b, err := r.ReadFile(f); err == nil {
				code = append(code, dotnetSource{Rel(p.dir, f), b})
			}
		}
	}

	web := p.sdk == "microsoft.net.sdk.web" || (exe && p.hasFrameworkRef("microsoft.aspnetcore.app"))
	worker := !web && (p.sdk == "microsoft.net.sdk.worker" ||
		(exe && (p.hasPackage("microsoft.extensions.hosting") || dotnetUsesGenericHost(code))))
	if (!web && !worker) || outputType == "library" {
		return Service{}, false, nil // class library (even on the Web SDK) or console tool
	}

	assembly := p.props["assemblyname"]
	if assembly == "" {
		assembly = p.stem
	}
	svc := Service{
		Name:       DNSLabel(assembly),
		Path:       p.dir,
		Detector:   "dotnet",
		Language:   LangCSharp,
		BuildTool:  "dotnet",
		Entrypoint: assembly + ".dll",
		Project:    base,
	}
	if ext == ".fs" {
		svc.Language = "fsharp"
	}
	if r.Exists(Join(p.dir, "packages.lock.json")) {
		svc.Lockfile = "packages.lock.json"
	}
	major := 8
	if m := netCoreTFM.FindStringSubmatch(tfm); m != nil {
		svc.LanguageVersion = m[1] + "." + m[2]
		major, _ = strconv.Atoi(m[1])
		if multi {
			svc.Assumptions = append(svc.Assumptions, base+" targets several frameworks ("+p.props["targetframeworks"]+"); building for the first, "+tfm)
		}
	} else {
		svc.LanguageVersion = "8.0"
		svc.Assumptions = append(svc.Assumptions, "no TargetFramework found in "+base+"; assuming .NET 8.0")
	}

	if web {
		svc.Framework = "aspnetcore"
		svc.Port, svc.PortSource = dotnetPort(r, p.dir, code, &svc, major)
	} else {
		svc.Framework = "worker"
	}

	// Environment: code reads, then connection strings the configuration declares.
	for _, c := range code {
		svc.Env = MergeEnv(svc.Env, ScanEnv(LangCSharp, c.rel, c.content)...)
	}
	svc.Env = MergeEnv(svc.Env, dotnetConnectionStrings(r, p.dir)...)

	// Backing services from this project's packages and, transitively, from
	// the projects it references (a Data project holding the EF provider).
	for _, pkg := range p.packages {
		svc.Backing = dotnetAddBacking(svc.Backing, base, pkg)
	}
	seen := map[string]bool{p.file: true}
	queue := append([]string(nil), p.projRefs...)
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		if seen[ref] || !r.Exists(ref) {
			continue
		}
		seen[ref] = true
		rp, serr := readDotnetProject(r, ref)
		if serr != nil {
			continue // reported when that project is detected itself
		}
		for _, pkg := range rp.packages {
			svc.Backing = dotnetAddBacking(svc.Backing, path.Base(ref), pkg)
		}
		for _, f := range filesOutsideNested(r, rp.dir, projDirs) {
			if strings.HasSuffix(f, dotnetSourceExt(ref)) {
				if b, err := r.ReadFile(f); err == nil {
					svc.Env = MergeEnv(svc.Env, ScanEnv(LangCSharp, Rel(p.dir, f), b)...)
				}
			}
		}
		queue = append(queue, rp.projRefs...)
	}

	if web {
		var all bytes.Buffer
		for _, c := range code {
			all.Write(c.content)
			all.WriteByte('\n')
		}
		svc.HealthPath = FindHealthPath(all.Bytes())
		if svc.HealthPath == "" {
			if m := mapHealthChecksRe.FindSubmatch(all.Bytes()); m != nil {
				svc.HealthPath = string(m[1])
			}
		}
	}
	return svc, true, nil
}

type dotnetSource struct {
	rel     string
	content []byte
}

var mapHealthChecksRe = regexp.MustCompile(`MapHealthChecks\(\s*"(/[^"]*)"`)
var genericHostRe = regexp.MustCompile(`\bHost\.Create(?:Default|Application|Empty)Builder\(|\bAddHostedService<`)

func dotnetUsesGenericHost(code []dotnetSource) bool {
	for _, c := range code {
		if genericHostRe.Match(c.content) {
			return true
		}
	}
	return false
}

func (p *dotnetProject) hasFrameworkRef(name string) bool {
	for _, f := range p.fwRefs {
		if strings.EqualFold(f, name) {
			return true
		}
	}
	return false
}

// dotnetAddBacking maps a NuGet id to a backing service; .NET Aspire client
// packages ("Aspire.Npgsql") are looked up without their prefix.
func dotnetAddBacking(list []Backing, projFile, pkg string) []Backing {
	kind, ok := BackingFor(pkg)
	if !ok {
		if rest, cut := strings.CutPrefix(strings.ToLower(pkg), "aspire."); cut {
			kind, ok = BackingFor(rest)
		}
	}
	if !ok {
		return list
	}
	return AddBacking(list, kind, projFile+": "+pkg)
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
		regexp.MustCompile(`ASPNETCORE_HTTP_PORTS\W{0,8}?(\d{2,5})\b`),
	}
)

// dotnetPort resolves the listening port, in priority: code and image
// environment, Kestrel endpoints in appsettings, launchSettings (development
// only), then the container default of the target framework.
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

	lsFile := "Properties/launchSettings.json"
	if b, err := r.ReadFile(Join(dir, lsFile)); err == nil {
		clean := dotnetJSONC(b)
		var chosen, profile string
		for _, pr := range dotnetMembers(dotnetField(clean, "profiles")) {
			u := dotnetString(dotnetField(pr.value, "applicationUrl"))
			if u == "" {
				continue
			}
			isProject := strings.EqualFold(dotnetString(dotnetField(pr.value, "commandName")), "Project")
			if chosen == "" || isProject {
				chosen, profile = u, pr.key
			}
			if isProject {
				break
			}
		}
		if chosen != "" {
			u := dotnetPickHTTP(strings.Split(chosen, ";"))
			if p := dotnetURLPort(u); p > 0 {
				svc.Assumptions = append(svc.Assumptions, "port "+strconv.Itoa(p)+" comes from "+lsFile+" (profile "+strconv.Quote(profile)+"), which only applies to local development; the container must set ASPNETCORE_HTTP_PORTS="+strconv.Itoa(p))
				return p, Source(lsFile, dotnetLineOfString(b, chosen))
			}
		}
	}

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
		out = append(out, EnvVar{Name: "ConnectionStrings__" + m.key, Secret: true, Source: Source(name, line)})
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

// filesOutsideNested returns the files under dir that do not belong to a nested
// project: a subdirectory listed in roots and everything below it.
func filesOutsideNested(r *Repo, dir string, roots map[string]bool) []string {
	var out []string
	for _, f := range r.Under(dir) {
		owned := true
		for d := path.Dir(f); d != dir && d != "." && d != "/"; d = path.Dir(d) {
			if roots[d] {
				owned = false
				break
			}
		}
		if owned {
			out = append(out, f)
		}
	}
	return out
}
