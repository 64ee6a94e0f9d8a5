package analyze

import (
	"bytes"
	"errors"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// RustDetector finds Rust services: Cargo packages with a binary target
// (src/main.rs, [[bin]], src/bin/*.rs), alone or as members of a Cargo
// workspace. A workspace member is built from the workspace root, which is
// then its Path (the build context); Project names the member's manifest.
type RustDetector struct{}

func (RustDetector) Name() string { return "rust" }

// rustDefaultVersion is assumed when neither rust-version nor a toolchain
// file pins one (the first release with edition 2024).
const rustDefaultVersion = "1.85"

// rustDefaultPort is assumed for a server whose address is not visible.
const rustDefaultPort = 8080

// cargoManifest is the part of Cargo.toml the detector reads.
type cargoManifest struct {
	Package *struct {
		Name        string `toml:"name"`
		RustVersion any    `toml:"rust-version"`
		Edition     any    `toml:"edition"`
	} `toml:"package"`
	Bins []struct {
		Name string `toml:"name"`
		Path string `toml:"path"`
	} `toml:"bin"`
	Dependencies map[string]any `toml:"dependencies"`
	Workspace    *struct {
		Members []string       `toml:"members"`
		Exclude []string       `toml:"exclude"`
		Deps    map[string]any `toml:"dependencies"`
	} `toml:"workspace"`
}

// ParseCargo decodes a Cargo.toml. The error carries the line when the
// TOML itself is malformed.
func ParseCargo(content []byte) (*cargoManifest, int, error) {
	var m cargoManifest
	if _, err := toml.NewDecoder(bytes.NewReader(content)).Decode(&m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, pe.Position.Line, errors.New(pe.Message)
		}
		return nil, 1, err
	}
	return &m, 0, nil
}

// Detect returns one Service per binary package, manifests in path order.
func (RustDetector) Detect(r *Repo) ([]Service, []ServiceError) {
	files := r.Named("Cargo.toml")
	manifests := map[string]*cargoManifest{}
	var svcs []Service
	var errs []ServiceError
	for _, f := range files {
		b, err := r.ReadFile(f)
		if err != nil {
			errs = append(errs, ServiceError{Path: path.Dir(f), File: f, Message: "cannot read Cargo.toml: " + err.Error(), Hint: "make Cargo.toml a regular file under 2 MiB"})
			continue
		}
		m, line, err := ParseCargo(b)
		if err != nil {
			errs = append(errs, ServiceError{Path: path.Dir(f), File: f, Line: line, Message: "cannot parse Cargo.toml: " + err.Error(),
				Hint: "fix the TOML syntax (an unquoted string or a missing closing bracket is the usual cause); `cargo metadata` reports the same error"})
			continue
		}
		manifests[path.Dir(f)] = m
	}
	dirs := make([]string, 0, len(manifests))
	for d := range manifests {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		m := manifests[dir]
		if m.Package == nil {
			continue // a virtual workspace manifest
		}
		if strings.TrimSpace(m.Package.Name) == "" {
			errs = append(errs, ServiceError{Path: dir, File: Join(dir, "Cargo.toml"), Line: 1, Message: "Cargo.toml has a [package] without a name", Hint: `add name = "<crate>" under [package]`})
			continue
		}
		ws := rustWorkspaceOf(dir, manifests)
		var wsm *cargoManifest
		if ws != "" {
			wsm = manifests[ws]
		}
		svcs = append(svcs, rustServices(r, dir, ws, m, wsm)...)
	}
	return svcs, errs
}

// rustWorkspaceOf returns the directory of the workspace dir is a member
// of (itself when its own manifest declares [workspace]), or "".
func rustWorkspaceOf(dir string, manifests map[string]*cargoManifest) string {
	for d := dir; ; d = path.Dir(d) {
		if m, ok := manifests[d]; ok && m.Workspace != nil {
			if d == dir {
				return d
			}
			rel := Rel(d, dir)
			member := false
			for _, g := range m.Workspace.Members {
				if ok, _ := path.Match(strings.TrimSuffix(g, "/"), rel); ok {
					member = true
				}
			}
			for _, g := range m.Workspace.Exclude {
				if ok, _ := path.Match(strings.TrimSuffix(g, "/"), rel); ok {
					member = false
				}
			}
			if member {
				return d
			}
		}
		if d == "." || d == "/" || d == "" {
			return ""
		}
	}
}

// rustBin is one binary target of a package.
type rustBin struct{ name, main string }

func rustBins(r *Repo, dir string, m *cargoManifest) []rustBin {
	pkg := m.Package.Name
	if r.Exists(Join(dir, "src/main.rs")) {
		return []rustBin{{pkg, "src/main.rs"}}
	}
	var out []rustBin
	for _, b := range m.Bins {
		p := b.Path
		if p == "" {
			p = "src/bin/" + b.Name + ".rs"
		}
		if b.Name != "" {
			out = append(out, rustBin{b.Name, path.Clean(p)})
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, f := range r.Under(Join(dir, "src/bin")) {
		rel := Rel(dir, f)
		if path.Dir(rel) == "src/bin" && strings.HasSuffix(rel, ".rs") {
			out = append(out, rustBin{strings.TrimSuffix(path.Base(rel), ".rs"), rel})
		} else if path.Base(rel) == "main.rs" && path.Dir(path.Dir(rel)) == "src/bin" {
			out = append(out, rustBin{path.Base(path.Dir(rel)), rel})
		}
	}
	return out
}

// rustFrameworks are checked in order against the dependencies.
var rustFrameworks = []string{"actix-web", "axum", "rocket", "warp", "poem", "salvo", "tonic", "hyper"}

var (
	rustEnvRe      = regexp.MustCompile(`env::var(?:_os)?\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)`)
	rustUnwrapOrRe = regexp.MustCompile(`unwrap_or(?:_else)?\(\s*(?:\|[^|]*\|\s*)?(?:String::from\(\s*|"?)?"?([^"()\s,]*)"?`)
	rustBindLitRe  = regexp.MustCompile(`"(?:0\.0\.0\.0|\[::\]|\[::1\]|127\.0\.0\.1|localhost|::)?:([0-9]{2,5})"`)
	rustSockAddrRe = regexp.MustCompile(`\(\[\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\]\s*,\s*([0-9]{2,5})\s*\)`)
	rustServeRe    = regexp.MustCompile(`HttpServer::new|axum::serve|\.serve\(|Server::builder\(\)|Server::bind|rocket::build|#\[launch\]|warp::serve|TcpListener::bind`)
	rustGRPCSrvRe  = regexp.MustCompile(`Server::builder\(\)`)
	rustGRPCHealth = regexp.MustCompile(`tonic_health::|health_reporter\(`)
)

func rustServices(r *Repo, dir, ws string, m, wsm *cargoManifest) []Service {
	bins := rustBins(r, dir, m)
	if len(bins) == 0 {
		return nil // a library crate
	}
	deps := map[string]any{}
	for k, v := range m.Dependencies {
		// `dep = { workspace = true }` takes its version and features from
		// the workspace's [workspace.dependencies].
		if t, ok := v.(map[string]any); ok && t["workspace"] == true && wsm != nil && wsm.Workspace != nil {
			if wv, ok := wsm.Workspace.Deps[k]; ok {
				v = wv
			}
		}
		deps[k] = v
	}
	root := dir
	if ws != "" {
		root = ws
	}
	// Source files of the package (not tests, benches or examples).
	var code []pySource
	var all bytes.Buffer
	for _, f := range r.Under(Join(dir, "src")) {
		if !strings.HasSuffix(f, ".rs") {
			continue
		}
		if b, err := r.ReadFile(f); err == nil {
			code = append(code, pySource{Rel(root, f), b})
			all.Write(b)
			all.WriteByte('\n')
		}
	}
	var svcs []Service
	for _, bin := range bins {
		s := Service{Name: DNSLabel(bin.name), Path: root, Detector: "rust", Language: LangRust, BuildTool: "cargo",
			Entrypoint: bin.name, Project: Rel(root, Join(dir, "Cargo.toml"))}
		if root == dir {
			s.Project = "Cargo.toml"
		}
		if r.Exists(Join(root, "Cargo.lock")) {
			s.Lockfile = "Cargo.lock"
		}
		if ws != "" && ws != dir {
			s.Assumptions = append(s.Assumptions, "member of the Cargo workspace at "+ws+": built from there with `cargo build --release -p "+m.Package.Name+" --bin "+bin.name+"`")
		}
		s.LanguageVersion, s.SDKVersion = rustVersion(r, dir, root, m)
		if s.LanguageVersion == "" {
			s.LanguageVersion = rustDefaultVersion
			s.Assumptions = append(s.Assumptions, "Rust "+rustDefaultVersion+" assumed: no rust-version in Cargo.toml and no rust-toolchain file")
		}
		for _, c := range code {
			s.Env = MergeEnv(s.Env, rustScanEnv(c.rel, c.content)...)
		}
		for _, fw := range rustFrameworks {
			if _, ok := deps[fw]; ok {
				s.Framework = fw
				break
			}
		}
		server := s.Framework != "" && rustServeRe.Match(all.Bytes())
		if _, ok := deps["tonic"]; ok && rustGRPCSrvRe.Match(all.Bytes()) {
			s.GRPC, server = true, true
			if s.Framework == "hyper" || s.Framework == "" {
				s.Framework = "tonic"
			}
			if loc := rustGRPCHealth.FindIndex(all.Bytes()); loc != nil || deps["tonic-health"] != nil {
				s.GRPCHealth = true
				s.GRPCHealthSource = Rel(root, Join(dir, "Cargo.toml")) + ": tonic-health"
				for _, c := range code {
					if l := rustGRPCHealth.FindIndex(c.content); l != nil {
						s.GRPCHealthSource = Source(c.rel, LineOf(c.content, l[0]))
						break
					}
				}
			}
		}
		if !server {
			s.Framework = "worker"
		} else {
			main := Rel(root, Join(dir, bin.main))
			s.Port, s.PortSource = rustPort(code, main, s.Env)
			if s.Port == 0 {
				s.Port, s.PortSource = rustDefaultPort, "default for "+s.Framework
				s.Assumptions = append(s.Assumptions, "port "+itoa(rustDefaultPort)+" assumed: no bind address or PORT default is visible")
			}
			s.HealthPath = FindHealthPath(all.Bytes())
		}
		for _, d := range rustSortedDeps(deps) {
			for _, kind := range rustBackingKinds(d, deps[d]) {
				s.Backing = AddBacking(s.Backing, kind, s.Project+": "+d)
			}
		}
		svcs = append(svcs, s)
	}
	return svcs
}

func rustSortedDeps(deps map[string]any) []string {
	out := make([]string, 0, len(deps))
	for k := range deps {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// rustBackingKinds maps a crate (with its features, for sqlx, diesel and
// sea-orm) to backing kinds.
func rustBackingKinds(name string, spec any) []string {
	switch name {
	case "sqlx", "diesel", "sea-orm", "diesel-async":
		var out []string
		t, _ := spec.(map[string]any)
		feats, _ := t["features"].([]any)
		for _, f := range feats {
			fs, _ := f.(string)
			switch {
			case strings.Contains(fs, "postgres"):
				out = append(out, BackingPostgres)
			case strings.Contains(fs, "mysql"):
				out = append(out, BackingMySQL)
			case strings.Contains(fs, "mssql"):
				out = append(out, BackingSQLServer)
			}
		}
		return out
	}
	if k, ok := BackingFor(name); ok {
		return []string{k}
	}
	return nil
}

// rustScanEnv finds env::var("X") reads and the default a following
// unwrap_or(...) in the same statement gives.
func rustScanEnv(rel string, content []byte) []EnvVar {
	var out []EnvVar
	for _, m := range rustEnvRe.FindAllSubmatchIndex(content, -1) {
		name := string(content[m[2]:m[3]])
		ev := EnvVar{Name: name, Secret: IsSecretName(name), Source: Source(rel, LineOf(content, m[0]))}
		stmt := content[m[1]:]
		if i := bytes.IndexByte(stmt, ';'); i >= 0 {
			stmt = stmt[:i]
		}
		if len(stmt) > 400 {
			stmt = stmt[:400]
		}
		if d := rustUnwrapOrRe.FindSubmatch(stmt); d != nil {
			def := strings.Trim(string(d[1]), `"`)
			ev.Database = DatabaseOf(def)
			if !ev.Secret && def != "" && !strings.HasPrefix(def, "|") {
				ev.Default = def
			}
		}
		out = append(out, ev)
	}
	return out
}

// rustPort picks the port: a literal bind address in the binary's main
// file, then in other files; a PORT-like env default; a SocketAddr tuple.
func rustPort(code []pySource, main string, env []EnvVar) (int, string) {
	ordered := append([]pySource(nil), code...)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].rel == main && ordered[j].rel != main })
	for _, c := range ordered {
		if m := rustBindLitRe.FindSubmatchIndex(c.content); m != nil {
			if p := nodeValidPort(string(c.content[m[2]:m[3]])); p > 0 {
				return p, Source(c.rel, LineOf(c.content, m[0]))
			}
		}
	}
	if p, src := PortFromEnv(env); p > 0 {
		return p, src
	}
	for _, v := range env {
		if strings.HasSuffix(strings.ToUpper(v.Name), "PORT") || goPortName(v.Name) {
			if p := goAddrPort(v.Default); p > 0 {
				return p, v.Source
			}
		}
	}
	for _, c := range ordered {
		if m := rustSockAddrRe.FindSubmatchIndex(c.content); m != nil {
			if p := nodeValidPort(string(c.content[m[2]:m[3]])); p > 0 {
				return p, Source(c.rel, LineOf(c.content, m[0]))
			}
		}
	}
	return 0, ""
}

var rustChannelRe = regexp.MustCompile(`(?m)^\s*channel\s*=\s*"([^"]+)"|^\s*([0-9]+\.[0-9]+(?:\.[0-9]+)?)\s*$`)

// rustVersion reads package.rust-version (major.minor) and the toolchain
// pinned by rust-toolchain(.toml) in the package dir or the workspace root.
func rustVersion(r *Repo, dir, root string, m *cargoManifest) (version, toolchain string) {
	if v, ok := m.Package.RustVersion.(string); ok {
		version = goMajorMinor(strings.TrimSpace(v))
	}
	for _, d := range []string{dir, root} {
		for _, n := range []string{"rust-toolchain.toml", "rust-toolchain"} {
			b, err := r.ReadFile(Join(d, n))
			if err != nil {
				continue
			}
			if mm := rustChannelRe.FindSubmatch(b); mm != nil {
				toolchain = string(mm[1])
				if toolchain == "" {
					toolchain = string(mm[2])
				}
			}
			if toolchain != "" {
				break
			}
		}
		if toolchain != "" {
			break
		}
	}
	if version == "" && toolchain != "" {
		if _, err := strconv.Atoi(strings.SplitN(toolchain, ".", 2)[0]); err == nil {
			version = goMajorMinor(toolchain)
		}
	}
	return version, toolchain
}
