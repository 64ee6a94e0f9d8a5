package analyze

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// MavenDetector finds Maven projects (pom.xml) that build a runnable jar:
// Spring Boot applications and plain Java/Kotlin programs with a main
// class. Aggregator and parent poms (packaging pom) and library modules are
// not services; their properties, dependencies and plugins are inherited by
// the modules that name them as <parent>.
type MavenDetector struct{}

func (MavenDetector) Name() string { return "maven" }

// Detect reads every pom.xml of the repository.
func (MavenDetector) Detect(r *Repo) ([]Service, []ServiceError) {
	mr := &mavenReader{r: r, cache: map[string]*pomResult{}}
	var svcs []Service
	var errs []ServiceError
	for _, f := range r.Named("pom.xml") {
		if jvmInSourceTree(f) {
			continue
		}
		res := mr.load(f)
		if res.err != nil {
			errs = append(errs, *res.err)
			continue
		}
		s, serr := mr.service(f, res.pom)
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

// pomXML is the part of a POM the detector reads.
type pomXML struct {
	XMLName xml.Name `xml:"project"`
	Parent  struct {
		GroupID      string  `xml:"groupId"`
		ArtifactID   string  `xml:"artifactId"`
		Version      string  `xml:"version"`
		RelativePath *string `xml:"relativePath"`
	} `xml:"parent"`
	GroupID      string   `xml:"groupId"`
	ArtifactID   string   `xml:"artifactId"`
	Version      string   `xml:"version"`
	Packaging    string   `xml:"packaging"`
	Name         string   `xml:"name"`
	Modules      []string `xml:"modules>module"`
	Properties   pomNode  `xml:"properties"`
	Dependencies []pomDep `xml:"dependencies>dependency"`
	Build        pomBuild `xml:"build"`
}

type pomDep struct {
	GroupID    string `xml:"groupId"`
	ArtifactID string `xml:"artifactId"`
	Scope      string `xml:"scope"`
}

type pomBuild struct {
	FinalName        string      `xml:"finalName"`
	Plugins          []pomPlugin `xml:"plugins>plugin"`
	PluginManagement []pomPlugin `xml:"pluginManagement>plugins>plugin"`
}

type pomPlugin struct {
	GroupID       string  `xml:"groupId"`
	ArtifactID    string  `xml:"artifactId"`
	Configuration pomNode `xml:"configuration"`
	Executions    []struct {
		Configuration pomNode `xml:"configuration"`
	} `xml:"executions>execution"`
}

// configs returns the plugin's configuration and its executions' ones.
func (p pomPlugin) configs() []*pomNode {
	out := []*pomNode{&p.Configuration}
	for i := range p.Executions {
		out = append(out, &p.Executions[i].Configuration)
	}
	return out
}

// pomNode is a free-form XML element (plugin configuration, properties).
type pomNode struct {
	XMLName xml.Name
	Text    string    `xml:",chardata"`
	Nodes   []pomNode `xml:",any"`
}

// find returns the descendants named local, depth first, in document order.
func (n *pomNode) find(local string) []*pomNode {
	var out []*pomNode
	for i := range n.Nodes {
		c := &n.Nodes[i]
		if c.XMLName.Local == local {
			out = append(out, c)
		}
		out = append(out, c.find(local)...)
	}
	return out
}

// first returns the trimmed text of the first descendant named local.
func (n *pomNode) first(local string) string {
	if f := n.find(local); len(f) > 0 {
		return strings.TrimSpace(f[0].Text)
	}
	return ""
}

type pomResult struct {
	pom *pomXML
	err *ServiceError
}

// mavenReader parses poms once each and resolves parents inside the
// repository.
type mavenReader struct {
	r     *Repo
	cache map[string]*pomResult
}

func (m *mavenReader) load(file string) *pomResult {
	if res, ok := m.cache[file]; ok {
		return res
	}
	res := &pomResult{}
	m.cache[file] = res
	dir := path.Dir(file)
	b, err := m.r.ReadFile(file)
	if err != nil {
		res.err = &ServiceError{Path: dir, File: file, Message: "cannot read pom.xml: " + err.Error(), Hint: "keep build files under 2 MiB"}
		return res
	}
	var pom pomXML
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = pomCharset
	if err := dec.Decode(&pom); err != nil {
		line, _ := dec.InputPos()
		msg := err.Error()
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			line, msg = se.Line, se.Msg
		}
		res.err = &ServiceError{
			Path:    dir,
			File:    file,
			Line:    line,
			Message: "malformed pom.xml: " + msg,
			Hint:    "fix the XML in " + file + " (unclosed tag?) and check it with `mvn validate`",
		}
		return res
	}
	res.pom = &pom
	return res
}

// pomCharset decodes the single-byte encodings old poms declare; the xml
// package reads only UTF-8 by itself.
func pomCharset(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "windows-1252", "cp1252", "us-ascii", "ascii":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		for _, c := range b {
			buf.WriteRune(rune(c))
		}
		return &buf, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q (save the file as UTF-8)", label)
}

// pomChain is a pom and its parents found in the repository, child first.
type pomChain struct {
	files []string
	poms  []*pomXML
	props map[string]string
}

// chain follows <parent> through relativePath (default ../pom.xml) while
// the pom found there is the parent named.
func (m *mavenReader) chain(file string, pom *pomXML) *pomChain {
	c := &pomChain{files: []string{file}, poms: []*pomXML{pom}, props: map[string]string{}}
	seen := map[string]bool{file: true}
	for cur, curFile := pom, file; cur.Parent.ArtifactID != "" && len(c.poms) < 16; {
		rel := "../pom.xml"
		if cur.Parent.RelativePath != nil {
			rel = strings.TrimSpace(*cur.Parent.RelativePath)
		}
		if rel == "" {
			break
		}
		if !strings.HasSuffix(rel, ".xml") {
			rel = path.Join(rel, "pom.xml")
		}
		pf := path.Join(path.Dir(curFile), rel)
		if strings.HasPrefix(pf, "../") || pf == ".." || seen[pf] || !m.r.Exists(pf) {
			break
		}
		res := m.load(pf)
		if res.pom == nil || strings.TrimSpace(res.pom.ArtifactID) != strings.TrimSpace(cur.Parent.ArtifactID) {
			break
		}
		seen[pf] = true
		c.files = append(c.files, pf)
		c.poms = append(c.poms, res.pom)
		cur, curFile = res.pom, pf
	}
	// Properties: the outermost parent first, so children override.
	for i := len(c.poms) - 1; i >= 0; i-- {
		for _, n := range c.poms[i].Properties.Nodes {
			c.props[n.XMLName.Local] = strings.TrimSpace(n.Text)
		}
	}
	p := c.poms[0]
	c.props["project.artifactId"] = strings.TrimSpace(p.ArtifactID)
	c.props["project.groupId"] = c.inherit(func(p *pomXML) string { return p.GroupID }, func(p *pomXML) string { return p.Parent.GroupID })
	c.props["project.version"] = c.inherit(func(p *pomXML) string { return p.Version }, func(p *pomXML) string { return p.Parent.Version })
	c.props["project.parent.version"] = strings.TrimSpace(p.Parent.Version)
	c.props["project.parent.groupId"] = strings.TrimSpace(p.Parent.GroupID)
	c.props["project.parent.artifactId"] = strings.TrimSpace(p.Parent.ArtifactID)
	c.props["project.name"] = strings.TrimSpace(p.Name)
	c.props["project.build.directory"] = "target"
	c.props["project.basedir"], c.props["basedir"] = ".", "."
	for _, k := range []string{"artifactId", "groupId", "version"} {
		c.props["pom."+k] = c.props["project."+k]
		if _, ok := c.props[k]; !ok {
			c.props[k] = c.props["project."+k]
		}
	}
	return c
}

// inherit returns the child's own value, else its <parent>'s.
func (c *pomChain) inherit(own, fromParent func(*pomXML) string) string {
	if v := strings.TrimSpace(own(c.poms[0])); v != "" {
		return v
	}
	return strings.TrimSpace(fromParent(c.poms[0]))
}

var mavenPropRe = regexp.MustCompile(`\$\{([^}]+)\}`)

// resolve expands ${...} references; ok is false when one is unknown.
func (c *pomChain) resolve(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for i := 0; i < 10 && strings.Contains(s, "${"); i++ {
		changed := false
		s = mavenPropRe.ReplaceAllStringFunc(s, func(ref string) string {
			if v, ok := c.props[ref[2:len(ref)-1]]; ok {
				changed = true
				return v
			}
			return ref
		})
		if !changed {
			break
		}
	}
	return s, !strings.Contains(s, "${")
}

// plugins returns the build plugins of the chain named artifactID,
// child first, then managed plugins.
func (c *pomChain) plugins(artifactID string) []pomPlugin {
	var out, managed []pomPlugin
	for _, p := range c.poms {
		for _, pl := range p.Build.Plugins {
			if strings.TrimSpace(pl.ArtifactID) == artifactID {
				out = append(out, pl)
			}
		}
		for _, pl := range p.Build.PluginManagement {
			if strings.TrimSpace(pl.ArtifactID) == artifactID {
				managed = append(managed, pl)
			}
		}
	}
	return append(out, managed...)
}

// pluginValue returns the first resolved value of a configuration element
// of the named plugin.
func (c *pomChain) pluginValue(artifactID, element string) string {
	for _, pl := range c.plugins(artifactID) {
		for _, cfg := range pl.configs() {
			if v := cfg.first(element); v != "" {
				r, _ := c.resolve(v)
				return r
			}
		}
	}
	return ""
}

// appliesPlugin reports whether the plugin is in <build><plugins> of the
// pom or one of its parents (pluginManagement alone does not apply it).
func (c *pomChain) appliesPlugin(artifactID string) bool {
	for _, p := range c.poms {
		for _, pl := range p.Build.Plugins {
			if strings.TrimSpace(pl.ArtifactID) == artifactID {
				return true
			}
		}
	}
	return false
}

func (m *mavenReader) service(file string, pom *pomXML) (*Service, *ServiceError) {
	dir := path.Dir(file)
	c := m.chain(file, pom)
	packaging, _ := c.resolve(pom.Packaging)
	switch packaging {
	case "", "jar", "war":
	default:
		return nil, nil // pom (aggregator, parent, BOM), maven-plugin, ear, ...
	}
	artifactID, ok := c.resolve(pom.ArtifactID)
	if artifactID == "" || !ok {
		return nil, &ServiceError{Path: dir, File: file, Message: "pom.xml has no usable <artifactId>", Hint: "add <artifactId>your-service</artifactId> to " + file}
	}

	var proj jvmProject
	for i, p := range c.poms {
		evidence := Rel(dir, c.files[i])
		for _, d := range p.Dependencies {
			if strings.TrimSpace(d.Scope) == "test" {
				continue
			}
			g, _ := c.resolve(d.GroupID)
			a, _ := c.resolve(d.ArtifactID)
			if g == "" || a == "" {
				continue
			}
			proj.Deps = append(proj.Deps, jvmDep{Coord: g + ":" + a, File: evidence})
			if isSpringBootCoord(g + ":" + a) {
				proj.Spring = true
			}
		}
		if strings.TrimSpace(p.Parent.GroupID) == "org.springframework.boot" && strings.TrimSpace(p.Parent.ArtifactID) == "spring-boot-starter-parent" {
			proj.Spring = true
		}
	}
	if c.appliesPlugin("spring-boot-maven-plugin") {
		proj.Spring = true
	}
	proj.Kotlin = c.appliesPlugin("kotlin-maven-plugin")
	srcs := jvmSources(m.r, dir)
	// Spring Boot signals are inherited by every module of a multi-module
	// build, libraries included: only the module's own repackaging plugin,
	// a main class, or (when there is no code to tell) Spring itself makes
	// it an application.
	switch {
	case pomOwnsPlugin(pom, "spring-boot-maven-plugin"), pomHasMainClass(c), jvmHasMain(srcs):
	case proj.Spring && len(srcs) == 0:
	default:
		return nil, nil // a library module
	}

	s := &Service{
		Name:      DNSLabel(artifactID),
		Path:      dir,
		Detector:  "maven",
		BuildTool: "maven",
		Wrapper:   jvmWrapper(m.r, dir, "mvnw"),
		Project:   "pom.xml",
	}
	s.LanguageVersion = mavenJavaRelease(c)
	if s.LanguageVersion == "" {
		s.LanguageVersion = jvmDefaultRelease
		s.Assumptions = append(s.Assumptions, "Java "+jvmDefaultRelease+" assumed: "+file+" states no Java release (set <java.version> or <maven.compiler.release>)")
	}
	s.Entrypoint, s.Assumptions = mavenJar(c, file, packaging, artifactID, proj.Spring, s.Assumptions)
	jvmFinish(m.r, s, proj, srcs)
	return s, nil
}

// pomOwnsPlugin reports whether the pom itself lists the plugin in <build><plugins>.
func pomOwnsPlugin(p *pomXML, artifactID string) bool {
	for _, pl := range p.Build.Plugins {
		if strings.TrimSpace(pl.ArtifactID) == artifactID {
			return true
		}
	}
	return false
}

// pomHasMainClass reports whether a plugin configures a Main-Class (jar,
// shade, assembly, exec, ...).
func pomHasMainClass(c *pomChain) bool {
	for _, p := range c.poms {
		for _, pl := range p.Build.Plugins {
			for _, cfg := range pl.configs() {
				if cfg.first("mainClass") != "" || cfg.first("Main-Class") != "" {
					return true
				}
			}
		}
	}
	return false
}

// mavenJavaRelease reads the Java release the compiler targets.
func mavenJavaRelease(c *pomChain) string {
	prop := func(k string) string {
		v, _ := c.resolve(c.props[k])
		return v
	}
	for _, v := range []string{
		c.pluginValue("maven-compiler-plugin", "release"),
		prop("maven.compiler.release"),
		prop("java.version"),
		c.pluginValue("maven-compiler-plugin", "source"),
		prop("maven.compiler.source"),
		prop("kotlin.compiler.jvmTarget"),
		c.pluginValue("kotlin-maven-plugin", "jvmTarget"),
	} {
		if n := jvmRelease(v); n != "" {
			return n
		}
	}
	return ""
}

// mavenJar names the jar (or war) the build produces in target/.
func mavenJar(c *pomChain, file, packaging, artifactID string, spring bool, assumptions []string) (string, []string) {
	ext := ".jar"
	if packaging == "war" {
		ext = ".war"
	}
	name, ok := "", true
	if fn := c.poms[0].Build.FinalName; strings.TrimSpace(fn) != "" {
		name, ok = c.resolve(fn)
	} else if fn := pomParentFinalName(c); fn != "" {
		name, ok = c.resolve(fn) // inherited from a parent's <build>
	} else if v, vok := c.resolve(c.props["project.version"]); v != "" {
		name, ok = artifactID+"-"+v, vok
	} else {
		name = artifactID
		assumptions = append(assumptions, "no <version> in "+file+": jar assumed to be "+name+ext)
	}
	switch {
	case spring:
		if cl := c.pluginValue("spring-boot-maven-plugin", "classifier"); cl != "" {
			name += "-" + cl
		}
	case c.appliesPlugin("maven-assembly-plugin") && c.pluginValue("maven-assembly-plugin", "descriptorRef") == "jar-with-dependencies":
		name += "-jar-with-dependencies"
	case c.appliesPlugin("maven-shade-plugin"):
		if c.pluginValue("maven-shade-plugin", "shadedArtifactAttached") == "true" {
			cl := c.pluginValue("maven-shade-plugin", "shadedClassifierName")
			if cl == "" {
				cl = "shaded"
			}
			name += "-" + cl
		}
	default:
		assumptions = append(assumptions, name+ext+" is a plain jar: its dependencies are not bundled (add the maven-shade-plugin or copy them into the image)")
	}
	if !ok {
		assumptions = append(assumptions, "jar name "+name+ext+" has unresolved properties: define them in <properties> of "+file)
	}
	return name + ext, assumptions
}

// pomParentFinalName returns a <finalName> set by a parent, if any.
func pomParentFinalName(c *pomChain) string {
	for _, p := range c.poms[1:] {
		if fn := strings.TrimSpace(p.Build.FinalName); fn != "" {
			return fn
		}
	}
	return ""
}
