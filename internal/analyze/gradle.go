package analyze

import (
	"bytes"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// GradleDetector finds Gradle projects (build.gradle, build.gradle.kts)
// that build a runnable jar: Spring Boot applications, and projects with
// the application or shadow plugin or a main function. Build scripts are
// read with regular expressions, not evaluated, so only literal values
// written in the usual forms are understood.
type GradleDetector struct{}

func (GradleDetector) Name() string { return "gradle" }

// Detect reads every Gradle build file of the repository.
func (GradleDetector) Detect(r *Repo) ([]Service, []ServiceError) {
	dirs := map[string]string{} // dir -> build file; .kts wins over Groovy
	for _, f := range append(r.Named("build.gradle"), r.Named("build.gradle.kts")...) {
		if !jvmInSourceTree(f) {
			dirs[path.Dir(f)] = f
		}
	}
	keys := make([]string, 0, len(dirs))
	for d := range dirs {
		keys = append(keys, d)
	}
	sort.Strings(keys)
	g := &gradleReader{r: r, settings: map[string]*gradleSettings{}}
	var svcs []Service
	var errs []ServiceError
	for _, d := range keys {
		s, serr := g.service(dirs[d])
		if serr != nil {
			errs = append(errs, *serr)
			continue
		}
		if s != nil {
			svcs = append(svcs, *s)
		}
	}
	return svcs, errs
}

type gradleReader struct {
	r        *Repo
	settings map[string]*gradleSettings // by dir; nil when the dir has none
}

// gradleSettings is what settings.gradle(.kts) says: the root project's
// name and the included projects with their directories.
type gradleSettings struct {
	Dir      string
	RootName string
	Projects map[string]string // project dir (repo path) -> project name
	Catalog  *gradleCatalog
}

var (
	gradleRootNameRe     = regexp.MustCompile(`rootProject\.name\s*=\s*["']([^"']+)["']`)
	gradleIncludeParenRe = regexp.MustCompile(`(?s)\binclude\s*\(([^)]*)\)`)
	gradleIncludeBareRe  = regexp.MustCompile(`(?m)\binclude\s+(["'][^\n]*)$`)
	gradleQuotedRe       = regexp.MustCompile(`["']([^"']+)["']`)
	gradleProjectDirRe   = regexp.MustCompile(`project\(\s*["'](:[^"']*)["']\s*\)\.projectDir\s*=\s*(?:file\(\s*)?["']([^"']+)["']`)
)

// settingsFor returns the settings of the build dir belongs to: the nearest
// settings file in dir or a parent, or nil.
func (g *gradleReader) settingsFor(dir string) *gradleSettings {
	for d := dir; ; d = path.Dir(d) {
		if s, ok := g.settings[d]; ok {
			if s != nil {
				return s
			}
		} else if s := g.readSettings(d); s != nil {
			return s
		}
		if d == "." {
			return nil
		}
	}
}

func (g *gradleReader) readSettings(dir string) *gradleSettings {
	g.settings[dir] = nil
	var b []byte
	for _, n := range []string{"settings.gradle.kts", "settings.gradle"} {
		if c, err := g.r.ReadFile(Join(dir, n)); err == nil {
			b = gradleStripComments(c)
			break
		}
	}
	if b == nil {
		return nil
	}
	s := &gradleSettings{Dir: dir, Projects: map[string]string{}}
	if m := gradleRootNameRe.FindSubmatch(b); m != nil {
		s.RootName = string(m[1])
	}
	var paths []string
	for _, m := range gradleIncludeParenRe.FindAllSubmatch(b, -1) {
		for _, q := range gradleQuotedRe.FindAllSubmatch(m[1], -1) {
			paths = append(paths, string(q[1]))
		}
	}
	for _, m := range gradleIncludeBareRe.FindAllSubmatch(b, -1) {
		for _, q := range gradleQuotedRe.FindAllSubmatch(m[1], -1) {
			paths = append(paths, string(q[1]))
		}
	}
	overrides := map[string]string{}
	for _, m := range gradleProjectDirRe.FindAllSubmatch(b, -1) {
		overrides[strings.TrimPrefix(string(m[1]), ":")] = string(m[2])
	}
	for _, p := range paths {
		p = strings.TrimPrefix(p, ":")
		rel := strings.ReplaceAll(p, ":", "/")
		if o, ok := overrides[p]; ok {
			rel = o
		}
		name := p[strings.LastIndex(p, ":")+1:]
		s.Projects[Join(dir, rel)] = name
	}
	s.Catalog = gradleReadCatalog(g.r, Join(dir, "gradle/libs.versions.toml"))
	g.settings[dir] = s
	return s
}

// gradleCatalog is a version catalog (gradle/libs.versions.toml): accessor
// ("spring.boot.starter.web") to coordinates or plugin id.
type gradleCatalog struct {
	Libraries map[string]string
	Bundles   map[string][]string
	Plugins   map[string]string
}

func gradleReadCatalog(r *Repo, file string) *gradleCatalog {
	b, err := r.ReadFile(file)
	if err != nil {
		return nil
	}
	var raw struct {
		Libraries map[string]any      `toml:"libraries"`
		Bundles   map[string][]string `toml:"bundles"`
		Plugins   map[string]any      `toml:"plugins"`
	}
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return nil // a broken catalog only hides dependencies
	}
	c := &gradleCatalog{Libraries: map[string]string{}, Bundles: map[string][]string{}, Plugins: map[string]string{}}
	for k, v := range raw.Libraries {
		switch v := v.(type) {
		case string:
			parts := strings.Split(v, ":")
			if len(parts) >= 2 {
				c.Libraries[gradleAccessor(k)] = parts[0] + ":" + parts[1]
			}
		case map[string]any:
			if m, ok := v["module"].(string); ok {
				c.Libraries[gradleAccessor(k)] = m
			} else if gr, ok := v["group"].(string); ok {
				if n, ok := v["name"].(string); ok {
					c.Libraries[gradleAccessor(k)] = gr + ":" + n
				}
			}
		}
	}
	for k, v := range raw.Bundles {
		for _, a := range v {
			c.Bundles[gradleAccessor(k)] = append(c.Bundles[gradleAccessor(k)], gradleAccessor(a))
		}
	}
	for k, v := range raw.Plugins {
		switch v := v.(type) {
		case string:
			c.Plugins[gradleAccessor(k)] = strings.Split(v, ":")[0]
		case map[string]any:
			if id, ok := v["id"].(string); ok {
				c.Plugins[gradleAccessor(k)] = id
			}
		}
	}
	return c
}

// gradleAccessor spells a catalog alias the way build scripts reference it.
func gradleAccessor(alias string) string {
	return strings.NewReplacer("-", ".", "_", ".").Replace(alias)
}

var (
	// id("x"), id 'x', apply plugin: 'x', apply(plugin = "x"), kotlin("jvm")
	gradlePluginIDRe     = regexp.MustCompile(`(?:\bid\s*\(?\s*|\bapply\s*\(?\s*plugin\s*[:=]\s*)["']([^"']+)["']`)
	gradleKotlinPluginRe = regexp.MustCompile(`\bkotlin\(\s*"([^"]+)"\s*\)`)
	gradleAliasPluginRe  = regexp.MustCompile(`\balias\(\s*libs\.plugins\.([A-Za-z0-9_.]+)\s*\)`)
	gradleBarePluginRe   = regexp.MustCompile("(?m)^\\s*(application|java|`java-library`|java-library)\\s*$")
	gradleAppBlockRe     = regexp.MustCompile(`(?m)^\s*application\s*\{`)

	gradleDepConfigs = `(?:implementation|api|compile|runtimeOnly|runtime)`
	gradleDepCoordRe = regexp.MustCompile(`(?:^|[\s{;(])` + gradleDepConfigs + `\s*\(?\s*(?:(?:enforced)?[pP]latform\s*\(\s*)?["']([^"':\s$]+):([^"':\s$]+)`)
	gradleDepMapRe   = regexp.MustCompile(`(?:^|[\s{;(])` + gradleDepConfigs + `\s*\(?\s*group\s*[:=]\s*["']([^"']+)["']\s*,\s*name\s*[:=]\s*["']([^"']+)["']`)
	gradleDepLibsRe  = regexp.MustCompile(`(?:^|[\s{;(])` + gradleDepConfigs + `\s*\(?\s*(?:(?:enforced)?[pP]latform\s*\(\s*)?libs\.([A-Za-z0-9_.]+)`)

	gradleVersionRe      = regexp.MustCompile(`(?m)^\s*(?:project\.)?version\s*(?:=\s*|\s)["']([^"']+)["']`)
	gradleArchivesNameRe = regexp.MustCompile(`(?:archivesName(?:\.set\(\s*|\s*=\s*)|archivesBaseName\s*=\s*)["']([^"']+)["']`)

	gradleJavaVersionRes = []*regexp.Regexp{
		regexp.MustCompile(`JavaLanguageVersion\.of\(\s*["']?(\d+)["']?\s*\)`),
		regexp.MustCompile(`jvmToolchain\(\s*(\d+)\s*\)`),
		regexp.MustCompile(`sourceCompatibility\s*=\s*(?:JavaVersion\.)?(VERSION_[0-9_]+|["']?[0-9.]+["']?)`),
		regexp.MustCompile(`targetCompatibility\s*=\s*(?:JavaVersion\.)?(VERSION_[0-9_]+|["']?[0-9.]+["']?)`),
		regexp.MustCompile(`jvmTarget(?:\.set\(\s*JvmTarget\.JVM_|\s*=\s*["']|\.set\(\s*["'])([0-9_.]+)`),
	}
)

// gradleScript is a build file with comments removed, and the plugins it
// applies to itself.
type gradleScript struct {
	file    string
	text    []byte
	plugins map[string]bool
}

var (
	gradleSubprojectsRe = regexp.MustCompile(`\bsubprojects\s*\{`)
	gradleAllprojectsRe = regexp.MustCompile(`\ballprojects\s*\{`)
)

func (g *gradleReader) script(file string, cat *gradleCatalog) (*gradleScript, error) {
	b, err := g.r.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s := &gradleScript{file: file, text: gradleStripComments(b), plugins: map[string]bool{}}
	// What a subprojects { } block applies is not applied to this project.
	own := s.text
	for _, r := range gradleBlocks(own, gradleSubprojectsRe) {
		own = append(append(append([]byte{}, own[:r[0]]...), bytes.Repeat([]byte{' '}, r[1]-r[0])...), own[r[1]:]...)
	}
	gradleScanPlugins(own, cat, s.plugins)
	return s, nil
}

// forChildren returns the bodies of the script's subprojects { } and
// allprojects { } blocks: configuration the root applies to subprojects.
func (s *gradleScript) forChildren() []byte {
	var out []byte
	for _, re := range []*regexp.Regexp{gradleSubprojectsRe, gradleAllprojectsRe} {
		for _, r := range gradleBlocks(s.text, re) {
			out = append(append(out, s.text[r[0]:r[1]]...), '\n')
		}
	}
	return out
}

// gradleScanPlugins adds the ids of the plugins text applies to into.
func gradleScanPlugins(text []byte, cat *gradleCatalog, into map[string]bool) {
	for _, line := range strings.Split(string(text), "\n") {
		if strings.Contains(line, "apply false") || strings.Contains(line, "apply(false)") {
			continue
		}
		for _, m := range gradlePluginIDRe.FindAllStringSubmatch(line, -1) {
			into[m[1]] = true
		}
		for _, m := range gradleKotlinPluginRe.FindAllStringSubmatch(line, -1) {
			into["org.jetbrains.kotlin."+m[1]] = true
		}
		if cat != nil {
			for _, m := range gradleAliasPluginRe.FindAllStringSubmatch(line, -1) {
				if id, ok := cat.Plugins[m[1]]; ok {
					into[id] = true
				}
			}
		}
	}
	for _, m := range gradleBarePluginRe.FindAllSubmatch(text, -1) {
		into[strings.Trim(string(m[1]), "`")] = true
	}
	if gradleAppBlockRe.Match(text) {
		into["application"] = true
	}
	if into["kotlin"] {
		into["org.jetbrains.kotlin.jvm"] = true
	}
}

func (s *gradleScript) has(ids ...string) bool {
	for _, id := range ids {
		if s.plugins[id] {
			return true
		}
	}
	return false
}

func gradleDeps(text []byte, evidence string, cat *gradleCatalog) []jvmDep {
	var out []jvmDep
	for _, m := range gradleDepCoordRe.FindAllSubmatch(text, -1) {
		out = append(out, jvmDep{Coord: string(m[1]) + ":" + string(m[2]), File: evidence})
	}
	for _, m := range gradleDepMapRe.FindAllSubmatch(text, -1) {
		out = append(out, jvmDep{Coord: string(m[1]) + ":" + string(m[2]), File: evidence})
	}
	if cat != nil {
		for _, m := range gradleDepLibsRe.FindAllSubmatch(text, -1) {
			acc := strings.TrimSuffix(string(m[1]), ".get")
			if b, ok := strings.CutPrefix(acc, "bundles."); ok {
				for _, a := range cat.Bundles[b] {
					if c, ok := cat.Libraries[a]; ok {
						out = append(out, jvmDep{Coord: c, File: evidence})
					}
				}
			} else if c, ok := cat.Libraries[acc]; ok {
				out = append(out, jvmDep{Coord: c, File: evidence})
			}
		}
	}
	return out
}

// first returns the first capture of re in the script, or "".
func (s *gradleScript) first(re *regexp.Regexp) string {
	if s == nil {
		return ""
	}
	if m := re.FindSubmatch(s.text); m != nil {
		return string(m[1])
	}
	return ""
}

func (g *gradleReader) service(file string) (*Service, *ServiceError) {
	dir := path.Dir(file)
	st := g.settingsFor(dir)
	var cat *gradleCatalog
	if st != nil {
		cat = st.Catalog
	}
	sc, err := g.script(file, cat)
	if err != nil {
		return nil, &ServiceError{Path: dir, File: file, Message: "cannot read " + path.Base(file) + ": " + err.Error(), Hint: "keep build files under 2 MiB"}
	}

	// Which project of which build is this?
	name := path.Base(dir)
	if dir == "." {
		name = path.Base(g.r.Root())
	}
	var root *gradleScript // the root project's script, for a subproject
	multiRoot := false
	switch {
	case st == nil:
	case st.Dir == dir:
		if st.RootName != "" {
			name = st.RootName
		}
		multiRoot = len(st.Projects) > 0
	default:
		if n, ok := st.Projects[dir]; ok {
			name = n
		}
		for _, n := range []string{"build.gradle.kts", "build.gradle"} {
			if rs, err := g.script(Join(st.Dir, n), cat); err == nil {
				root = rs
				break
			}
		}
	}

	proj := jvmProject{Deps: gradleDeps(sc.text, path.Base(file), cat)}
	if root != nil {
		inherited := root.forChildren()
		gradleScanPlugins(inherited, cat, sc.plugins)
		proj.Deps = append(proj.Deps, gradleDeps(inherited, Rel(dir, root.file), cat)...)
	}
	springPlugin := sc.has("org.springframework.boot")
	proj.Spring = springPlugin
	for _, d := range proj.Deps {
		if isSpringBootCoord(d.Coord) {
			proj.Spring = true
		}
	}
	proj.Kotlin = sc.has("org.jetbrains.kotlin.jvm", "org.jetbrains.kotlin.plugin.spring")
	app := sc.has("application")
	shadow := sc.has("com.github.johnrengelman.shadow", "com.gradleup.shadow", "io.github.goooler.shadow")
	srcs := jvmSources(g.r, dir)
	switch {
	case springPlugin || app:
	case multiRoot:
		return nil, nil // the root of a multi-project build without an application plugin
	case sc.has("java-library"):
		return nil, nil
	case jvmHasMain(srcs):
	case (proj.Spring || shadow) && len(srcs) == 0:
	default:
		return nil, nil // a library
	}

	s := &Service{
		Name:      DNSLabel(name),
		Path:      dir,
		Detector:  "gradle",
		BuildTool: "gradle",
		Wrapper:   jvmWrapper(g.r, dir, "gradlew"),
		Project:   path.Base(file),
	}
	if g.r.Exists(Join(dir, "gradle.lockfile")) {
		s.Lockfile = "gradle.lockfile"
	}

	s.LanguageVersion = gradleJavaRelease(sc)
	if s.LanguageVersion == "" {
		s.LanguageVersion = gradleJavaRelease(root)
	}
	if s.LanguageVersion == "" {
		s.LanguageVersion = jvmDefaultRelease
		s.Assumptions = append(s.Assumptions, "Java "+jvmDefaultRelease+" assumed: "+file+" states no toolchain or sourceCompatibility")
	}

	version := sc.first(gradleVersionRe)
	if version == "" {
		version = g.gradleProperty(dir, "version")
	}
	if version == "" && root != nil {
		version = root.first(gradleVersionRe)
	}
	if version == "" && st != nil && st.Dir != dir {
		version = g.gradleProperty(st.Dir, "version")
	}
	base := name
	if an := sc.first(gradleArchivesNameRe); an != "" {
		base = an
	}
	jar := base
	if version != "" && version != "unspecified" {
		jar += "-" + version
	} else {
		s.Assumptions = append(s.Assumptions, "no version set in "+file+": jar assumed to be "+base+".jar")
	}
	switch {
	case springPlugin:
		jar = gradleTaskJar(sc.text, "bootJar", base, version, jar, "")
	case shadow:
		jar = gradleTaskJar(sc.text, "shadowJar", base, version, jar, "all")
	default:
		jar = gradleTaskJar(sc.text, "jar", base, version, jar, "")
		s.Assumptions = append(s.Assumptions, jar+" is a plain jar: its dependencies are not bundled (apply the Spring Boot or shadow plugin, or copy installDist output into the image)")
	}
	s.Entrypoint = jar
	jvmFinish(g.r, s, proj, srcs)
	return s, nil
}

// gradleJavaRelease reads the Java release a build script targets.
func gradleJavaRelease(s *gradleScript) string {
	for _, re := range gradleJavaVersionRes {
		if v := jvmRelease(s.first(re)); v != "" {
			return v
		}
	}
	return ""
}

// gradleProperty reads key from dir/gradle.properties.
func (g *gradleReader) gradleProperty(dir, key string) string {
	b, err := g.r.ReadFile(Join(dir, "gradle.properties"))
	if err != nil {
		return ""
	}
	for _, e := range jvmParseProperties(b) {
		if e.Key == key {
			return e.Value
		}
	}
	return ""
}

var (
	gradleArchiveFileNameRe   = regexp.MustCompile(`archiveFileName(?:\.set\(\s*|\s*=\s*)["']([^"'$]+)["']`)
	gradleArchiveBaseNameRe   = regexp.MustCompile(`archiveBaseName(?:\.set\(\s*|\s*=\s*)["']([^"'$]+)["']`)
	gradleArchiveVersionRe    = regexp.MustCompile(`archiveVersion(?:\.set\(\s*|\s*=\s*)["']([^"'$]*)["']`)
	gradleArchiveClassifierRe = regexp.MustCompile(`archiveClassifier(?:\.set\(\s*|\s*=\s*)["']([^"'$]*)["']`)
)

// gradleTaskJar applies archive settings found in the task's configuration
// block (bootJar { ... }, tasks.named<BootJar>("bootJar") { ... }) to the
// default name def (without extension). classifier is the task's default
// classifier.
func gradleTaskJar(text []byte, task, base, version, def, classifier string) string {
	blk := gradleTaskBlock(text, task)
	if m := gradleArchiveFileNameRe.FindSubmatch(blk); m != nil {
		return string(m[1])
	}
	name, changed := def, false
	if m := gradleArchiveBaseNameRe.FindSubmatch(blk); m != nil {
		base, changed = string(m[1]), true
	}
	if m := gradleArchiveVersionRe.FindSubmatch(blk); m != nil {
		version, changed = string(m[1]), true
	}
	if m := gradleArchiveClassifierRe.FindSubmatch(blk); m != nil {
		classifier = string(m[1])
	}
	if changed {
		name = base
		if version != "" && version != "unspecified" {
			name += "-" + version
		}
	}
	if classifier != "" {
		name += "-" + classifier
	}
	return name + ".jar"
}

// gradleTaskBlock returns the body of the first configuration block of task.
func gradleTaskBlock(text []byte, task string) []byte {
	re := regexp.MustCompile(`(?:\b` + task + `\b|["']` + task + `["'])[^{}\n]*\{`)
	if b := gradleBlocks(text, re); len(b) > 0 {
		return text[b[0][0]:b[0][1]]
	}
	return nil
}

// gradleBlocks returns the [start, end) offsets of the bodies of the blocks
// whose opening (ending in '{') re matches, outermost only.
func gradleBlocks(text []byte, re *regexp.Regexp) [][2]int {
	var out [][2]int
	for _, loc := range re.FindAllIndex(text, -1) {
		if len(out) > 0 && loc[0] < out[len(out)-1][1] {
			continue // nested in the previous block
		}
		end, depth := len(text), 1
		for i := loc[1]; i < len(text); i++ {
			if text[i] == '{' {
				depth++
			} else if text[i] == '}' {
				if depth--; depth == 0 {
					end = i
					break
				}
			}
		}
		out = append(out, [2]int{loc[1], end})
	}
	return out
}

// gradleStripComments blanks // and /* */ comments of a Groovy or Kotlin script,
// outside string literals, keeping line breaks so offsets keep their lines.
func gradleStripComments(b []byte) []byte {
	out := make([]byte, 0, len(b))
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			out = append(out, c)
			if c == '\\' && i+1 < len(b) {
				i++
				out = append(out, b[i])
			} else if c == quote || c == '\n' {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
			out = append(out, c)
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			if i < len(b) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			i += 2
			for i < len(b) && !(b[i] == '*' && i+1 < len(b) && b[i+1] == '/') {
				if b[i] == '\n' {
					out = append(out, '\n')
				}
				i++
			}
			i++ // past the '/'
		default:
			out = append(out, c)
		}
	}
	return out
}
