package analyze

import (
	"bufio"
	"bytes"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// This file holds what the Maven and Gradle detectors share: Spring Boot
// configuration (application.yml / .properties), source scanning under
// src/main, and the rules that turn dependencies into a framework, a port,
// a health path and backing services.

// jvmDefaultRelease is the Java release assumed when the build states none.
const jvmDefaultRelease = "21"

// jvmDep is one declared dependency: its groupId:artifactId and the build
// file (relative to the service) that declares it.
type jvmDep struct {
	Coord string
	File  string
}

// jvmProject is what a build-file reader learned; jvmFinish completes the
// Service from it and from the sources and Spring configuration.
type jvmProject struct {
	Spring bool // Spring Boot parent, plugin or starter dependency
	Kotlin bool // Kotlin plugin applied
	Deps   []jvmDep
}

func (p jvmProject) has(coords ...string) bool {
	for _, d := range p.Deps {
		for _, c := range coords {
			if strings.EqualFold(d.Coord, c) {
				return true
			}
		}
	}
	return false
}

// springWebStarters make a Spring Boot application serve HTTP.
var springWebStarters = []string{
	"org.springframework.boot:spring-boot-starter-web",
	"org.springframework.boot:spring-boot-starter-webflux",
	"org.springframework.boot:spring-boot-starter-webmvc", // Spring Boot 4
	"org.springframework.boot:spring-boot-starter-jersey",
	// Spring Cloud and admin servers bring a web starter with them.
	"org.springframework.cloud:spring-cloud-starter-gateway",
	"org.springframework.cloud:spring-cloud-starter-gateway-mvc",
	"org.springframework.cloud:spring-cloud-starter-gateway-server-webflux",
	"org.springframework.cloud:spring-cloud-starter-gateway-server-webmvc",
	"org.springframework.cloud:spring-cloud-starter-netflix-eureka-server",
	"org.springframework.cloud:spring-cloud-config-server",
	"de.codecentric:spring-boot-admin-starter-server",
}

const springActuator = "org.springframework.boot:spring-boot-starter-actuator"

// isSpringBootCoord reports whether a dependency is a Spring Boot starter.
func isSpringBootCoord(coord string) bool {
	return strings.HasPrefix(strings.ToLower(coord), "org.springframework.boot:spring-boot-starter")
}

// jvmSource is one source file under src/main, relative to the service.
type jvmSource struct {
	Rel     string
	Lang    string
	Content []byte
}

// jvmSources reads the .java and .kt files under dir/src/main. Tests
// (src/test) are never read.
func jvmSources(r *Repo, dir string) []jvmSource {
	var out []jvmSource
	for _, f := range r.Under(Join(dir, "src/main")) {
		lang := ""
		switch path.Ext(f) {
		case ".java":
			lang = LangJava
		case ".kt":
			lang = LangKotlin
		default:
			continue
		}
		b, err := r.ReadFile(f)
		if err != nil {
			continue
		}
		out = append(out, jvmSource{Rel: Rel(dir, f), Lang: lang, Content: b})
	}
	return out
}

var (
	jvmMainRe = regexp.MustCompile(`static\s+void\s+main\s*\(|(?m)^\s*fun\s+main\s*\(`)
	// @Value("${NAME:default}") in Java, @Value("\${NAME:default}") in Kotlin.
	springValueAnnotRe = regexp.MustCompile(`@Value\(\s*"\\?\$\{([A-Z_][A-Z0-9_]*)(?::([^}"]*))?\}`)
)

func jvmHasMain(srcs []jvmSource) bool {
	for _, s := range srcs {
		if jvmMainRe.Match(s.Content) {
			return true
		}
	}
	return false
}

func jvmHasKotlin(srcs []jvmSource) bool {
	for _, s := range srcs {
		if s.Lang == LangKotlin {
			return true
		}
	}
	return false
}

// springEntry is one key of a Spring configuration file, with its dotted
// key as written and the 1-based line it is on.
type springEntry struct {
	Key   string
	Value string
	Line  int
}

// springFile is one parsed application*.yml|yaml|properties file.
type springFile struct {
	Rel     string // relative to the service
	Content []byte
	Entries []springEntry
}

// get returns the first entry whose key equals key under Spring's relaxed
// binding (case, '-' and '_' ignored).
func (f springFile) get(key string) (springEntry, bool) {
	k := springRelaxedKey(key)
	for _, e := range f.Entries {
		if springRelaxedKey(e.Key) == k {
			return e, true
		}
	}
	return springEntry{}, false
}

func springRelaxedKey(k string) string {
	return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(k))
}

// springConfigFiles reads dir/src/main/resources/application.{properties,
// yml,yaml} and then the profile files application-*.{...}, in that order
// of preference (the order Spring Boot applies them in reverse).
func springConfigFiles(r *Repo, dir string) []springFile {
	res := Join(dir, "src/main/resources")
	var names []string
	for _, n := range []string{"application.properties", "application.yml", "application.yaml"} {
		if r.Exists(Join(res, n)) {
			names = append(names, Join(res, n))
		}
	}
	var profiles []string
	for _, f := range r.Under(res) {
		if path.Dir(f) != res {
			continue
		}
		b := path.Base(f)
		if strings.HasPrefix(b, "application-") && (strings.HasSuffix(b, ".properties") || strings.HasSuffix(b, ".yml") || strings.HasSuffix(b, ".yaml")) {
			profiles = append(profiles, f)
		}
	}
	sort.Strings(profiles)
	names = append(names, profiles...)
	var out []springFile
	for _, f := range names {
		b, err := r.ReadFile(f)
		if err != nil {
			continue
		}
		sf := springFile{Rel: Rel(dir, f), Content: b}
		if strings.HasSuffix(f, ".properties") {
			sf.Entries = jvmParseProperties(b)
		} else {
			sf.Entries = springParseYAML(b)
		}
		out = append(out, sf)
	}
	return out
}

// jvmParseProperties reads key=value (or key: value) lines of a Java
// .properties file. Continuation lines are joined onto their key's line.
func jvmParseProperties(content []byte) []springEntry {
	var out []springEntry
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 64*1024), maxFileSize)
	line, start := 0, 0
	pending := ""
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if pending == "" {
			if t == "" || t[0] == '#' || t[0] == '!' {
				continue
			}
			start = line
		}
		if cont, ok := strings.CutSuffix(t, `\`); ok {
			pending += cont
			continue
		}
		t, pending = pending+t, ""
		i := strings.IndexAny(t, "=:")
		if i < 0 {
			continue
		}
		out = append(out, springEntry{Key: strings.TrimSpace(t[:i]), Value: strings.TrimSpace(t[i+1:]), Line: start})
	}
	return out
}

var springYAMLKeyRe = regexp.MustCompile(`^(\s*)([A-Za-z0-9_.\-\[\]]+|"[^"]+"|'[^']+'):(?:\s+(.*))?$`)

// springParseYAML reads the scalar keys of a Spring YAML file as dotted paths
// ("server.port") with their values and lines. It understands nesting by
// indentation, dotted keys, comments and multiple documents; list items and
// block scalars are skipped. It is not a YAML parser, and needs not be one
// for the few keys read here.
func springParseYAML(content []byte) []springEntry {
	type level struct {
		indent int
		key    string
	}
	var out []springEntry
	var stack []level
	blockIndent := -1 // inside a | or > block scalar deeper than this
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 64*1024), maxFileSize)
	line := 0
	for sc.Scan() {
		line++
		raw := strings.TrimRight(sc.Text(), " \t\r")
		t := strings.TrimSpace(raw)
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		if blockIndent >= 0 {
			if t == "" || indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if t == "---" || strings.HasPrefix(t, "--- ") {
			stack = stack[:0]
			continue
		}
		if strings.HasPrefix(t, "- ") || t == "-" {
			continue
		}
		m := springYAMLKeyRe.FindStringSubmatch(springStripYAMLComment(raw))
		if m == nil {
			continue
		}
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		key := strings.Trim(m[2], `"'`)
		stack = append(stack, level{indent, key})
		v := strings.TrimSpace(m[3])
		if v == "" {
			continue
		}
		if v[0] == '|' || v[0] == '>' {
			blockIndent = indent
			continue
		}
		keys := make([]string, len(stack))
		for i, l := range stack {
			keys[i] = l.key
		}
		out = append(out, springEntry{Key: strings.Join(keys, "."), Value: springUnquote(v), Line: line})
	}
	return out
}

// springStripYAMLComment cuts a trailing " # comment" outside quotes.
func springStripYAMLComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#' && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimRight(s[:i], " \t")
		}
	}
	return s
}

func springUnquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

var springPlaceholderRe = regexp.MustCompile(`^\$\{([^}:]+)(?::([^}]*))?\}$`)

// springValue resolves a "${NAME:default}" value to its default. ok is
// false when the value is a placeholder without a default.
func springValue(v string) (string, bool) {
	if m := springPlaceholderRe.FindStringSubmatch(strings.TrimSpace(v)); m != nil {
		return m[2], m[2] != ""
	}
	return strings.TrimSpace(v), true
}

// springLookup returns the first file (in preference order) that sets key.
func springLookup(files []springFile, key string) (springFile, springEntry, bool) {
	for _, f := range files {
		if e, ok := f.get(key); ok {
			return f, e, true
		}
	}
	return springFile{}, springEntry{}, false
}

// springConfigBacking are configuration key prefixes and JDBC/R2DBC URL
// schemes that reveal a backing service even when its driver comes from a
// parent or a platform the detector cannot see.
var springConfigBacking = []struct{ key, kind string }{
	{"spring.rabbitmq.", BackingRabbitMQ},
	{"spring.kafka.", BackingKafka},
	{"spring.data.mongodb.", BackingMongoDB},
	{"spring.data.redis.", BackingRedis},
	{"spring.redis.", BackingRedis},
}

var springJDBCRe = regexp.MustCompile(`\b(?:jdbc|r2dbc):(postgresql|mariadb|mysql|sqlserver):`)

var springJDBCKinds = map[string]string{"postgresql": BackingPostgres, "mariadb": BackingMariaDB, "mysql": BackingMySQL, "sqlserver": BackingSQLServer}

// springConnKeys are the configuration keys that carry a connection; the
// variable that sets one is its placeholder's, else Spring's relaxed
// binding of the key (spring.datasource.url <- SPRING_DATASOURCE_URL).
var springConnKeys = []struct{ key, kind string }{
	{"spring.datasource.url", ""}, {"spring.r2dbc.url", ""},
	{"spring.data.mongodb.uri", BackingMongoDB}, {"spring.data.mongodb.database", BackingMongoDB},
	{"spring.data.redis.url", BackingRedis}, {"spring.data.redis.host", BackingRedis}, {"spring.redis.host", BackingRedis},
	{"spring.rabbitmq.addresses", BackingRabbitMQ}, {"spring.rabbitmq.host", BackingRabbitMQ},
	{"spring.kafka.bootstrap-servers", BackingKafka},
}

var springWholePlaceholder = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}$`)

// springConnectionFacts fills Backing.EnvVar and Backing.Database from the
// Spring configuration (the database of a JDBC URL, "jdbc:mariadb://h/users").
func springConnectionFacts(cfg []springFile, list []Backing) {
	for _, ck := range springConnKeys {
		_, e, ok := springLookup(cfg, ck.key)
		if !ok {
			continue
		}
		kind := ck.kind
		if kind == "" {
			m := springJDBCRe.FindStringSubmatch(e.Value)
			if m == nil {
				continue
			}
			kind = springJDBCKinds[m[1]]
		}
		env := strings.ToUpper(strings.NewReplacer(".", "_", "-", "").Replace(ck.key))
		if m := springWholePlaceholder.FindStringSubmatch(strings.TrimSpace(e.Value)); m != nil {
			env = m[1]
		}
		db := ""
		if strings.HasSuffix(ck.key, ".database") {
			if v, ok := springValue(e.Value); ok {
				db = dbValid(v)
			}
			env = ""
		} else {
			db = DatabaseOf(e.Value)
		}
		SetBackingFacts(list, kind, env, db)
	}
}

// jvmFinish completes a Maven or Gradle service: language, environment,
// backing services, framework, port and health path. s must already have
// Name, Path, Detector, BuildTool, Project and Entrypoint.
func jvmFinish(r *Repo, s *Service, p jvmProject, srcs []jvmSource) {
	if s.Language == "" {
		s.Language = LangJava
		if p.Kotlin || jvmHasKotlin(srcs) {
			s.Language = LangKotlin
		}
	}
	cfg := springConfigFiles(r, s.Path)

	for _, f := range cfg {
		s.Env = MergeEnv(s.Env, ScanEnv("spring", f.Rel, f.Content)...)
	}
	for _, src := range srcs {
		s.Env = MergeEnv(s.Env, ScanEnv(src.Lang, src.Rel, src.Content)...)
		for _, m := range springValueAnnotRe.FindAllSubmatchIndex(src.Content, -1) {
			name := string(src.Content[m[2]:m[3]])
			ev := EnvVar{Name: name, Secret: IsSecretName(name), Source: Source(src.Rel, LineOf(src.Content, m[0]))}
			if m[4] >= 0 {
				ev.Default = string(src.Content[m[4]:m[5]])
			}
			s.Env = MergeEnv(s.Env, ev)
		}
	}
	for i := range s.Env {
		if s.Env[i].Secret {
			s.Env[i].Default = "" // never carry a credential's literal value
		}
	}

	for _, d := range p.Deps {
		if k, ok := BackingFor(d.Coord); ok {
			s.Backing = AddBacking(s.Backing, k, d.File+": "+d.Coord)
		}
	}
	for _, f := range cfg {
		for _, e := range f.Entries {
			rk := springRelaxedKey(e.Key)
			for _, cb := range springConfigBacking {
				if strings.HasPrefix(rk, springRelaxedKey(cb.key)) {
					s.Backing = AddBacking(s.Backing, cb.kind, Source(f.Rel, e.Line)+": "+strings.TrimSuffix(cb.key, "."))
				}
			}
			if m := springJDBCRe.FindStringSubmatch(e.Value); m != nil {
				s.Backing = AddBacking(s.Backing, springJDBCKinds[m[1]], Source(f.Rel, e.Line)+": "+m[0])
			}
		}
	}
	springConnectionFacts(cfg, s.Backing)

	if jvmGRPC(s, p, srcs) {
		s.Framework = "grpc"
		return
	}
	if !p.Spring {
		// A plain JVM program: it serves HTTP only if the code says where.
		if port, src := PortFromEnv(s.Env); port > 0 {
			s.Port, s.PortSource = port, src
			s.HealthPath = jvmHealthPath(srcs)
		} else {
			s.Framework = "worker"
		}
		return
	}

	web := p.has(springWebStarters...)
	if _, e, ok := springLookup(cfg, "spring.main.web-application-type"); ok && strings.EqualFold(strings.TrimSpace(e.Value), "none") {
		web = false
	}
	if !web {
		s.Framework = "worker"
		s.Assumptions = append(s.Assumptions, "no spring-boot-starter-web or -webflux dependency: treated as a worker without a port")
		return
	}
	s.Framework = "spring-boot"

	s.Port, s.PortSource = 8080, "default for spring-boot"
	if f, e, ok := springLookup(cfg, "server.port"); ok {
		v, hasDefault := springValue(e.Value)
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
			s.Port, s.PortSource = n, Source(f.Rel, e.Line)
		} else if !hasDefault {
			s.Assumptions = append(s.Assumptions, "server.port is "+e.Value+" with no default ("+Source(f.Rel, e.Line)+"): port 8080 assumed")
		} else {
			s.Assumptions = append(s.Assumptions, "server.port "+e.Value+" is not a port number ("+Source(f.Rel, e.Line)+"): port 8080 assumed")
		}
	} else {
		s.Assumptions = append(s.Assumptions, "port 8080 is Spring Boot's default")
	}

	if p.has(springActuator) {
		s.HealthPath = springActuatorHealth(cfg, s)
	} else {
		s.HealthPath = jvmHealthPath(srcs)
	}
}

// springActuatorHealth builds the actuator health URL path from the context
// path, the actuator base path and the health path mapping.
func springActuatorHealth(cfg []springFile, s *Service) string {
	val := func(key, def string) string {
		if _, e, ok := springLookup(cfg, key); ok {
			if v, ok := springValue(e.Value); ok {
				return v
			}
		}
		return def
	}
	prefix := val("server.servlet.context-path", val("spring.webflux.base-path", ""))
	if f, e, ok := springLookup(cfg, "management.server.port"); ok {
		v, _ := springValue(e.Value)
		prefix = val("management.server.base-path", "")
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n != s.Port {
			s.Assumptions = append(s.Assumptions, "actuator health is served on management.server.port "+v+" ("+Source(f.Rel, e.Line)+"), not on the service port")
		}
	}
	base := val("management.endpoints.web.base-path", "/actuator")
	health := val("management.endpoints.web.path-mapping.health", "health")
	p := "/" + strings.Trim(prefix, "/") + "/" + strings.Trim(base, "/") + "/" + strings.Trim(health, "/")
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

func jvmHealthPath(srcs []jvmSource) string {
	var all [][]byte
	for _, s := range srcs {
		all = append(all, s.Content)
	}
	return FindHealthPath(bytes.Join(all, []byte("\n")))
}

// jvmRelease turns "1.8", "VERSION_1_8", "JavaVersion.VERSION_17"
// and "17" into the release number ("8", "17"); "" if it is not one.
func jvmRelease(v string) string {
	v = strings.Trim(strings.TrimSpace(v), `"'`)
	v = strings.TrimPrefix(v, "JavaVersion.")
	v = strings.TrimPrefix(v, "VERSION_")
	v = strings.ReplaceAll(v, "_", ".")
	v = strings.TrimPrefix(v, "1.")
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return strconv.Itoa(n)
	}
	return ""
}

// jvmWrapper reports whether name (mvnw, gradlew) is in dir or one of its
// parents up to the repository root.
func jvmWrapper(r *Repo, dir, name string) bool {
	for d := dir; ; d = path.Dir(d) {
		if r.Exists(Join(d, name)) {
			return true
		}
		if d == "." || d == "/" || d == "" {
			return false
		}
	}
}

// jvmInSourceTree reports whether a build file sits inside another project's
// sources (src/main, src/test, src/it: test fixtures, archetype resources),
// where it describes no service of this repository.
func jvmInSourceTree(file string) bool {
	parts := strings.Split(file, "/")
	for i := 0; i+1 < len(parts)-1; i++ {
		if parts[i] == "src" {
			switch parts[i+1] {
			case "main", "test", "it", "testFixtures":
				return true
			}
		}
	}
	return false
}
