package analyze

import (
	"bytes"
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
	} else if sdk := dotnetGlobalSDK(r, p.dir); sdk != "" {
		svc.LanguageVersion = goMajorMinor(sdk)
		major, _ = strconv.Atoi(strings.SplitN(sdk, ".", 2)[0])
		svc.Assumptions = append(svc.Assumptions, "no TargetFramework found in "+base+"; assuming .NET "+svc.LanguageVersion+", the SDK global.json pins")
	} else {
		svc.LanguageVersion = "8.0"
		svc.Assumptions = append(svc.Assumptions, "no TargetFramework found in "+base+"; assuming .NET 8.0")
	}
	svc.SDKVersion = dotnetGlobalSDK(r, p.dir)

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
	svc.BuildFiles = dotnetBuildFiles(r, seen, p.file)

	if web {
		var all bytes.Buffer
		for _, c := range code {
			all.Write(c.content)
			all.WriteByte('\n')
		}
		dotnetGRPC(&svc, p, code)
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
