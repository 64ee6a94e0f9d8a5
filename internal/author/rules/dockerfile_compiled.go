package rules

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
)

// ---- Go ----

type dockerGo struct {
	Manifests string // module files copied before the download
	Package   string // main package, "./cmd/api"
	Binary    string // output file name
}

// dockerGoPackage normalizes a Go entrypoint to a relative package path
// that go build reads as a directory ("cmd/api" -> "./cmd/api").
func dockerGoPackage(entry string) string {
	e := strings.TrimSpace(entry)
	if strings.HasSuffix(e, ".go") {
		e = path.Dir(e)
	}
	e = path.Clean("./" + e)
	if e == "." {
		return "."
	}
	return "./" + e
}

func dockerPlanGo(p *dockerPlan, s analyze.Service) error {
	ver, a := goVersion(s.LanguageVersion)
	p.assume(a)
	if strings.TrimSpace(s.Entrypoint) == "" {
		p.assume("main package assumed at the build context root: no Go entrypoint found")
	}
	pkg := dockerGoPackage(s.Entrypoint)
	if err := dockerCheckPath(s, "entrypoint", pkg); err != nil {
		return err
	}
	manifests := s.Project
	if manifests == "" || path.Base(manifests) != "go.mod" {
		manifests = "go.mod"
	}
	if s.Lockfile != "" {
		manifests += " " + s.Lockfile
	}
	p.template = "go.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, ver)
	p.Builder, p.Runtime = goImages(ver)
	p.UID = dockerDistrolessUID
	p.Go = &dockerGo{Manifests: manifests, Package: pkg, Binary: p.Name}
	p.RuntimeFiles = s.RuntimeFiles
	return p.entrypoint([]string{"/app/" + p.Name})
}

// ---- Java and Kotlin (Maven, Gradle) ----

type dockerJava struct {
	Wrapper    bool
	SpringBoot bool
	Manifests  string // build files copied before resolving
	CopyDir    string // wrapper directory (.mvn, gradle)
	Cache      string // cache mount target
	Resolve    string
	Package    string
	Collect    string // copies the artifact to /out
	Artifact   string // in the builder
	Target     string // in the runtime image
}

func dockerPlanJava(p *dockerPlan, s analyze.Service) error {
	java, a := javaVersion(s.LanguageVersion)
	p.assume(a)
	tool := s.BuildTool
	switch tool {
	case "maven", "gradle":
	case "":
		tool = "maven"
		if strings.Contains(s.Project, "gradle") {
			tool = "gradle"
		}
		p.assume(tool + " assumed as the build tool: none was detected")
	default:
		return fmt.Errorf("service %q: no Dockerfile rules for JVM build tool %q (supported: maven, gradle); write the Dockerfile by hand", s.Name, s.BuildTool)
	}
	j := &dockerJava{Wrapper: s.Wrapper, SpringBoot: s.Framework == "spring-boot"}
	var outDir string
	project := s.Project
	if tool == "maven" {
		outDir = "target"
		if project == "" {
			project = "pom.xml"
		}
		j.Manifests, j.Cache = project, "/root/.m2"
		cmd := "mvn"
		if s.Wrapper {
			cmd = "sh ./mvnw"
			j.Manifests, j.CopyDir = "mvnw "+project, ".mvn"
		}
		j.Resolve = cmd + " -B -q dependency:go-offline"
		j.Package = cmd + " -B -DskipTests package"
	} else {
		outDir = "build/libs"
		if project == "" {
			project = "build.gradle"
			if s.Language == analyze.LangKotlin {
				project = "build.gradle.kts"
			}
		}
		// settings.gradle* and gradle.propertie[s] are globs: they copy the
		// files when present and nothing otherwise.
		j.Manifests, j.Cache = project+" settings.gradle* gradle.propertie[s]", "/home/gradle/.gradle"
		cmd := "gradle"
		if s.Wrapper {
			cmd = "sh ./gradlew"
			j.Manifests, j.CopyDir, j.Cache = "gradlew "+j.Manifests, "gradle", "/root/.gradle"
		}
		j.Resolve = cmd + " --no-daemon -q dependencies > /dev/null"
		j.Package = cmd + " --no-daemon assemble"
	}
	jar := strings.TrimSpace(s.Entrypoint)
	if err := dockerCheckPath(s, "entrypoint", jar); err != nil {
		return err
	}
	j.Artifact, j.Target = "/out/app.jar", "/app/app.jar"
	argv := []string{"java", "-jar", "/app/app.jar"}
	switch {
	case s.Framework == "quarkus":
		// Quarkus' fast-jar is a directory with quarkus-run.jar and its lib/.
		qdir := "target/quarkus-app"
		if tool == "gradle" {
			qdir = "build/quarkus-app"
		}
		j.Collect = "cp -R " + qdir + " /out/app"
		j.Artifact, j.Target = "/out/app/", "/app/"
		argv = []string{"java", "-jar", "/app/quarkus-run.jar"}
	case jar != "":
		if !strings.Contains(jar, "/") {
			jar = outDir + "/" + jar
		}
		j.Collect = "cp " + jar + " /out/app.jar"
	default:
		j.Collect = `cp "$(find ` + outDir + ` -maxdepth 1 -name '*.jar' ! -name '*-plain.jar' ! -name '*-sources.jar' ! -name '*-javadoc.jar' | sort | head -n 1)" /out/app.jar`
		p.assume("runnable jar assumed to be the only application jar in " + outDir + "/: no jar name found")
	}
	if !j.SpringBoot && s.Framework != "quarkus" {
		p.assume("the jar is assumed executable (Main-Class manifest, dependencies bundled): java -jar runs it")
	}
	p.template = "java.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, fmt.Sprint(java))
	p.Builder = javaBuilderImage(tool, s.Wrapper, java)
	p.Runtime = javaRuntimeImage(java)
	p.UID = dockerCreatedUID
	p.env("JAVA_TOOL_OPTIONS", "-XX:+ExitOnOutOfMemoryError -XX:MaxRAMPercentage=75 -Djava.io.tmpdir=/tmp")
	p.Java = j
	return p.entrypoint(argv)
}

// ---- .NET ----

type dockerDotnet struct {
	Project     string   // project file relative to the build context
	Copies      []string // COPY arguments for the restore inputs ("a.csproj b.csproj src/Api/")
	PortComment string
	GRPCComment string
}

func dockerPlanDotnet(p *dockerPlan, s analyze.Service) error {
	ver, major, a := dotnetVersion(s.LanguageVersion)
	p.assume(a)
	ext := path.Ext(s.Project)
	if ext != ".csproj" && ext != ".fsproj" {
		return fmt.Errorf("service %q: project %q is not a .csproj or .fsproj; the .NET rules restore and publish one project file, so point the service at it or write the Dockerfile by hand", s.Name, s.Project)
	}
	dll := strings.TrimSpace(s.Entrypoint)
	if dll == "" {
		dll = strings.TrimSuffix(path.Base(s.Project), ext) + ".dll"
		p.assume(dll + " assumed as the entry assembly: the assembly name defaults to the project file name")
	}
	if err := dockerCheckPath(s, "entrypoint", dll); err != nil {
		return err
	}
	// The build context holds the project and everything restore reads
	// (referenced projects, Directory.*.props, global.json, NuGet.config).
	svcDir := p.Context
	project := path.Join(svcDir, s.Project)
	for _, f := range s.BuildFiles {
		p.Context = dockerCommonDir(p.Context, path.Dir(f))
	}
	inputs := append([]string{project}, s.BuildFiles...)
	byDir := map[string][]string{}
	var dirs []string
	for _, f := range inputs {
		rel := dockerRel(p.Context, f)
		d := path.Dir(rel)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], rel)
	}
	sort.Strings(dirs)
	d := &dockerDotnet{Project: dockerRel(p.Context, project)}
	for _, dir := range dirs {
		dest := "./"
		if dir != "." {
			dest = dir + "/"
		}
		files := byDir[dir]
		sort.Strings(files)
		d.Copies = append(d.Copies, strings.Join(files, " ")+" "+dest)
	}
	// Workers and plain console apps need only the .NET runtime; anything
	// serving HTTP needs ASP.NET Core.
	aspnet := !(s.Framework == "worker" || (s.Framework == "" && s.Port == 0))
	p.template = "dotnet.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, ver)
	p.Builder, p.Runtime = dotnetImages(ver, aspnet)
	if tag, note := dotnetSDKTag(s.SDKVersion, major); tag != "" {
		p.Builder = "mcr.microsoft.com/dotnet/sdk:" + tag
	} else {
		p.assume(note)
	}
	// The images' own "app" user (1654, .NET 8+) is below 10000: run as a
	// created user instead, which owns the published files.
	p.UID = dockerCreatedUID
	if aspnet && s.Port > 0 {
		if major >= 8 {
			d.PortComment = "Kestrel listens on the service port. ASPNETCORE_URLS is left unset: it would override this."
			p.env("ASPNETCORE_HTTP_PORTS", fmt.Sprint(s.Port))
		} else {
			d.PortComment = "Kestrel listens on the service port (ASPNETCORE_HTTP_PORTS needs .NET 8)."
			p.env("ASPNETCORE_URLS", fmt.Sprintf("http://+:%d", s.Port))
		}
		if s.GRPC && s.HealthPath == "" {
			d.GRPCComment = "gRPC without TLS needs HTTP/2 with prior knowledge, which Kestrel serves only on an Http2-only endpoint."
			p.env("Kestrel__EndpointDefaults__Protocols", "Http2")
			p.assume("Kestrel serves HTTP/2 only (gRPC in cleartext): HTTP/1.1 clients of this port need TLS or a separate endpoint")
		}
	}
	p.Dotnet = d
	return p.entrypoint([]string{"dotnet", dll})
}

// ---- Rust (cargo) ----

type dockerRust struct {
	Manifest string // the crate's Cargo.toml, relative to the context
	Binary   string
	Locked   string // " --locked" when Cargo.lock is committed
	Protoc   bool   // tonic-build needs protoc
}

func dockerPlanRust(p *dockerPlan, s analyze.Service) error {
	ver, a := rustVersion(s.SDKVersion, s.LanguageVersion)
	p.assume(a)
	bin := strings.TrimSpace(s.Entrypoint)
	if bin == "" {
		return fmt.Errorf("service %q: no binary name for the Rust crate %s; name the binary target ([[bin]] name) or write the Dockerfile by hand", s.Name, path.Join(s.Path, s.Project))
	}
	if err := dockerCheckPath(s, "binary", bin); err != nil || strings.Contains(bin, "/") {
		return fmt.Errorf("service %q: binary %q is not a plain name; write the Dockerfile by hand", s.Name, bin)
	}
	manifest := s.Project
	if manifest == "" {
		manifest = "Cargo.toml"
	}
	r := &dockerRust{Manifest: manifest, Binary: bin}
	if s.Lockfile != "" {
		r.Locked = " --locked"
	} else {
		p.assume("no Cargo.lock: dependencies resolve to the newest compatible versions at build time; commit Cargo.lock for reproducible images")
	}
	if s.Framework == "tonic" || s.GRPC {
		r.Protoc = true
		p.assume("protoc is installed in the build stage for tonic-build; .proto files must be inside the build context " + p.Context)
	}
	p.template = "rust.Dockerfile.tmpl"
	p.Summary = dockerSummary(s, ver)
	p.Builder = rustBuilderImage(ver)
	p.Runtime = dockerDistrolessCC
	p.UID = dockerDistrolessUID
	p.RuntimeFiles = s.RuntimeFiles
	p.Rust = r
	return p.entrypoint([]string{"/app/" + bin})
}
