package build

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// Loading refuses, before krusty sees a kustomization, everything that
// would make it reach outside the repository or run code. Every refusal is
// a finding of stage build, severity error, on the kustomization file and
// the line of the reference, and the root is not built:
//
//	KW-BUILD-010  a reference is remote: a URL of any scheme (http, https,
//	              file, ssh, git), a git shorthand (git::, gh:, user@host:,
//	              github.com/...), a "//" network path or a "?ref=" query
//	KW-BUILD-011  a reference is an absolute path
//	KW-BUILD-012  a reference leaves the repository: "..", a symlink whose
//	              target is outside, or a path into .git
//	KW-BUILD-013  Helm chart inflation (helmCharts, helmGlobals,
//	              helmChartInflationGenerator): it downloads and runs helm
//	KW-BUILD-014  a generator, transformer or validator that is a plugin
//	              (exec, Go or container KRM function) rather than a builtin
//	KW-BUILD-015  a file the build reads is over the size cap, over the
//	              alias-expansion budget or not a regular file
//	KW-BUILD-016  the build of a root overran its deadline
//	KW-BUILD-017  the build of a root read more than its byte budget
//
// Messages quote at most the reference as written (shortened), never the
// content of what it points at.
const (
	idRemote   = "KW-BUILD-010"
	idAbsolute = "KW-BUILD-011"
	idEscape   = "KW-BUILD-012"
	idHelm     = "KW-BUILD-013"
	idPlugin   = "KW-BUILD-014"
	idUnsafe   = "KW-BUILD-015"
	idDeadline = "KW-BUILD-016"
	idBudget   = "KW-BUILD-017"
)

// repoLookup is what the scan asks of the repository (repoFS).
type repoLookup interface {
	// stat follows symlinks inside the repository; an error matching
	// isEscape when one leads out.
	stat(rel string) (repoFileInfo, error)
	// read reads a file, capped.
	read(rel string) ([]byte, error)
}

// refKind is how krusty uses a reference.
type refKind int

const (
	// refResource is a file or a directory (resources, bases, components).
	refResource refKind = iota
	// refFile is a file krusty parses as YAML (patches, crds, openapi,
	// configurations, replacements).
	refFile
	// refData is a file a generator reads as data (files, envs).
	refData
	// refPlugin is a generator, transformer or validator configuration:
	// a file or a directory.
	refPlugin
)

// kustRef is one reference of a kustomization to something it loads.
type kustRef struct {
	field string // "resources", "configMapGenerator.files", ...
	value string // as written
	rel   string // repository-relative target, once it passed the checks
	line  int
	kind  refKind
}

// kustScan is what the pre-scan learned about one kustomization file.
type kustScan struct {
	file     string // repository relative
	dir      string
	refs     []kustRef
	findings []finding.Finding
	// component: the file is a kustomize Component (kind: Component),
	// which is built inside the kustomizations that list it, never alone.
	component bool
}

func (s *kustScan) refused() bool { return len(s.findings) > 0 }

// scanKustomization checks one kustomization file's references. Checks
// that need the repository (symlinks, sizes, what plugin files hold) use
// stat and read; both may be nil, then only the text is checked.
func scanKustomization(file string, data []byte, repo repoLookup) *kustScan {
	s := &kustScan{file: file, dir: path.Dir(file)}
	docs, err := yamlsafe.Decode(file, data, yamlsafe.Limits{})
	if errors.Is(err, yamlsafe.ErrSyntax) {
		s.fail("KW-BUILD-001", validate.LineOf(err), "the kustomization is "+validate.PlainDetail(err), validate.HintOf(err))
		return s
	}
	if err != nil {
		s.fail(idUnsafe, validate.LineOf(err), "the kustomization cannot be read safely: "+validate.PlainDetail(err), validate.HintOf(err))
		return s
	}
	for _, doc := range docs {
		if len(doc.Content) == 0 {
			continue
		}
		root := deref(doc.Content[0])
		if root == nil || root.Kind != yaml.MappingNode {
			continue
		}
		s.scanTop(root)
	}
	for i := range s.refs {
		s.checkRef(&s.refs[i], repo)
	}
	return s
}

// scanTop visits the top-level fields. Keys compare case-insensitively,
// as kustomize decodes them with encoding/json, which folds case.
func (s *kustScan) scanTop(root *yaml.Node) {
	for _, kv := range entries(root) {
		key, val := kv[0], deref(kv[1])
		switch k := foldKey(key.Value); k {
		case "resources", "bases", "components":
			s.addSeq(k, val, refResource)
		case "crds", "configurations":
			s.addSeq(k, val, refFile)
		case "patchesstrategicmerge":
			for _, it := range seqItems(val) {
				if it.Kind == yaml.ScalarNode && !strings.Contains(it.Value, "\n") {
					s.add(key.Value, it, refFile)
				}
			}
		case "patches", "patchesjson6902", "replacements":
			for _, it := range seqItems(val) {
				if p := yfield(it, "path"); p != nil {
					s.add(key.Value+".path", p, refFile)
				}
			}
		case "openapi":
			if p := yfield(val, "path"); p != nil {
				s.add("openapi.path", p, refFile)
			}
		case "configmapgenerator", "secretgenerator":
			for _, g := range seqItems(val) {
				for _, f := range seqItems(yfield(g, "files")) {
					s.addData(key.Value+".files", f, true)
				}
				for _, f := range seqItems(yfield(g, "envs")) {
					s.addData(key.Value+".envs", f, false)
				}
				if f := yfield(g, "env"); f != nil {
					s.addData(key.Value+".env", f, false)
				}
			}
		case "helmcharts", "helmchartinflationgenerator", "helmglobals":
			s.fail(idHelm, key.Line, key.Value+": the bot does not inflate Helm charts (it would download the chart and run helm)",
				"render the chart into the repository (helm template) and list the output under resources, or deploy it with a Flux HelmRelease")
		case "generators", "transformers", "validators":
			for _, it := range seqItems(val) {
				s.addPlugin(key.Value, it)
			}
		case "kind":
			s.component = val != nil && val.Kind == yaml.ScalarNode && val.Value == "Component"
		case "metadata", "commonannotations", "commonlabels", "labels", "images", "imagetags",
			"replicas", "vars", "nameprefix", "namesuffix", "namespace", "sortoptions",
			"buildmetadata", "apiversion", "generatoroptions":
			// Free text or names: never loaded.
		default:
			// Unknown fields fail krusty's strict decoding; still, nothing
			// remote may slip through a field this scan does not know.
			s.remoteStrings(key.Value, val, nil, nil)
		}
	}
}

func (s *kustScan) addSeq(where string, n *yaml.Node, kind refKind) {
	for _, it := range seqItems(n) {
		s.add(where, it, kind)
	}
}

func (s *kustScan) add(where string, n *yaml.Node, kind refKind) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return
	}
	s.refs = append(s.refs, kustRef{field: where, value: scalarText(n), line: n.Line, kind: kind})
}

// addData adds a generator source: "key=path" or "path" for files, a path
// for envs.
func (s *kustScan) addData(where string, n *yaml.Node, keyed bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return
	}
	v := scalarText(n)
	p := v
	if keyed {
		if _, after, ok := strings.Cut(v, "="); ok {
			p = after
		}
	}
	s.refs = append(s.refs, kustRef{field: where, value: p, line: n.Line, kind: refData})
}

// addPlugin handles a generators/transformers/validators entry: inline
// configuration (YAML objects, as krusty tries first) or a path.
func (s *kustScan) addPlugin(where string, n *yaml.Node) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return
	}
	v := scalarText(n)
	if docs, err := yamlsafe.Decode(s.file, []byte(v), yamlsafe.Limits{}); err == nil && len(docs) > 0 &&
		len(docs[0].Content) > 0 && deref(docs[0].Content[0]).Kind == yaml.MappingNode {
		// Lines inside the entry, as lines of the kustomization: a block
		// scalar's text starts on the line after its indicator.
		at := func(int) int { return n.Line }
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			at = func(inner int) int { return n.Line + inner }
		}
		s.pluginDocs(where, at, docs)
		return
	}
	s.refs = append(s.refs, kustRef{field: where, value: v, line: n.Line, kind: refPlugin})
}

// pluginDocs checks plugin configurations: only kustomize's builtins run,
// never Helm, and nothing in them may be remote.
func (s *kustScan) pluginDocs(where string, at func(inner int) int, docs []*yaml.Node) {
	for _, doc := range docs {
		if len(doc.Content) == 0 {
			continue
		}
		m := deref(doc.Content[0])
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		apiVersion, kind := nodeText(yfield(m, "apiVersion")), nodeText(yfield(m, "kind"))
		line := at(m.Line)
		what := strings.Trim(apiVersion+" "+kind, " ")
		switch {
		case isKRMFunction(m):
			s.fail(idPlugin, line, fmt.Sprintf("%s: %s is a KRM function (exec or container); the bot never runs plugins", where, validate.QuoteRef(what)),
				"use one of kustomize's builtin generators or transformers, or render the output into the repository")
		case apiVersion != "builtin":
			s.fail(idPlugin, line, fmt.Sprintf("%s: %s is not a builtin generator or transformer (apiVersion: builtin); the bot never runs exec or Go plugins", where, validate.QuoteRef(what)),
				"use one of kustomize's builtins (PatchTransformer, ReplacementTransformer, ConfigMapGenerator, ...) or render the output into the repository")
		case strings.EqualFold(kind, "HelmChartInflationGenerator"):
			s.fail(idHelm, line, where+": the bot does not inflate Helm charts (it would download the chart and run helm)",
				"render the chart into the repository (helm template) and list the output under resources, or deploy it with a Flux HelmRelease")
		default:
			s.remoteStrings(where, m, map[string]bool{"metadata": true, "literals": true, "patch": true}, at)
		}
	}
}

func isKRMFunction(m *yaml.Node) bool {
	ann := yfield(yfield(m, "metadata"), "annotations")
	for _, kv := range entries(ann) {
		switch strings.ToLower(kv[0].Value) {
		case "config.kubernetes.io/function", "config.k8s.io/function":
			return true
		}
	}
	return false
}

// remoteStrings refuses any scalar under n that kustomize could take for
// a remote reference, skipping the free-text fields named in skip.
func (s *kustScan) remoteStrings(where string, n *yaml.Node, skip map[string]bool, at func(int) int) {
	if at == nil {
		at = func(l int) int { return l }
	}
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n = deref(n)
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		switch n.Kind {
		case yaml.ScalarNode:
			if v := scalarText(n); remoteReason(v) != "" {
				s.failRemote(where, v, at(n.Line), remoteReason(v))
			}
		case yaml.MappingNode:
			for _, kv := range entries(n) {
				if !skip[foldKey(kv[0].Value)] {
					walk(kv[1])
				}
			}
		case yaml.SequenceNode, yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	walk(n)
}

// checkRef refuses remote, absolute and escaping references, and (with a
// repository) symlinks out, files that are not regular and files over the
// cap; it sets ref.rel when the reference is a local path inside.
func (s *kustScan) checkRef(r *kustRef, repo repoLookup) {
	if why := remoteReason(r.value); why != "" {
		s.failRemote(r.field, r.value, r.line, why)
		return
	}
	v := strings.ReplaceAll(r.value, `\`, "/")
	if strings.HasPrefix(v, "/") || (len(v) >= 2 && v[1] == ':' && isASCIILetter(v[0])) {
		s.fail(idAbsolute, r.line, fmt.Sprintf("%s entry %s is an absolute path; the bot reads only the repository", r.field, validate.QuoteRef(r.value)),
			"use a path relative to the kustomization's directory")
		return
	}
	rel := path.Clean(path.Join(s.dir, v))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		s.fail(idEscape, r.line, fmt.Sprintf("%s entry %s leaves the repository", r.field, validate.QuoteRef(r.value)),
			"keep what the kustomization reads inside the repository and reference it by a relative path")
		return
	}
	if hasGitDir(rel) {
		s.fail(idEscape, r.line, fmt.Sprintf("%s entry %s points into .git, which the bot never reads", r.field, validate.QuoteRef(r.value)),
			"reference files committed to the repository, not git's own data")
		return
	}
	r.rel = rel
	if repo == nil {
		return
	}
	info, err := repo.stat(rel)
	switch {
	case err == nil:
	case isEscape(err):
		s.fail(idEscape, r.line, fmt.Sprintf("%s entry %s goes through a symlink that leaves the repository", r.field, validate.QuoteRef(r.value)),
			"replace the symlink with the file itself, or with a link to a file inside the repository")
		return
	default:
		return // missing: krusty reports it with its own words
	}
	switch {
	case info.isDir:
		return // a base; or, for a file reference, krusty says it is a directory
	case !info.regular:
		s.fail(idUnsafe, r.line, fmt.Sprintf("%s entry %s is not a regular file (a device, FIFO or socket)", r.field, validate.QuoteRef(r.value)),
			"point at a regular file committed to the repository")
	case info.size > yamlsafe.MaxFileBytes:
		s.fail(idUnsafe, r.line, fmt.Sprintf("%s entry %s is %s, over the %s the bot reads of one file", r.field, validate.QuoteRef(r.value), validate.HumanBytes(info.size), validate.HumanBytes(yamlsafe.MaxFileBytes)),
			"keep large data out of kustomizations (mount it from a volume or an image), or split the file")
	case r.kind == refPlugin:
		data, err := repo.read(rel)
		if err != nil {
			s.fail(idUnsafe, r.line, fmt.Sprintf("%s entry %s: %s", r.field, validate.QuoteRef(r.value), validate.DetailOf(err)), validate.HintOf(err))
			return
		}
		docs, err := yamlsafe.Decode(rel, data, yamlsafe.Limits{})
		if errors.Is(err, yamlsafe.ErrSyntax) {
			return // krusty reports it in its own words
		}
		if err != nil {
			s.fail(idUnsafe, r.line, fmt.Sprintf("%s entry %s: %s", r.field, validate.QuoteRef(r.value), validate.DetailOf(err)), validate.HintOf(err))
			return
		}
		s.pluginDocs(r.field+" entry "+validate.QuoteRef(r.value), func(int) int { return r.line }, docs)
	}
}

func (s *kustScan) failRemote(where, value string, line int, why string) {
	s.fail(idRemote, line, fmt.Sprintf("%s entry %s is %s; the bot builds only what is in the repository and never fetches remote resources", where, validate.QuoteRef(value), why),
		"vendor it into the repository (copy the manifests, or run `kustomize localize`) and reference it by a relative path")
}

func (s *kustScan) fail(id string, line int, msg, hint string) {
	for _, f := range s.findings {
		if f.ID == id && f.Line == line {
			return // one finding per reference, however it was reached
		}
	}
	s.findings = append(s.findings, finding.Finding{ID: id, Severity: finding.Error, Stage: validate.StageBuild, File: s.file, Line: line, Message: msg, Hint: hint})
}

var scpUser = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*@`)

// remoteReason says why kustomize could treat s as remote, or "". It is a
// superset of kustomize's own tests (loader.IsRemoteFile and
// git.NewRepoSpecFromURL): anything it lets through is loaded as a local
// path, through a filesystem that cannot leave the repository.
func remoteReason(s string) string {
	t := strings.TrimSpace(s)
	l := strings.ToLower(t)
	switch {
	case t == "":
		return ""
	case strings.HasPrefix(l, "git::"), strings.HasPrefix(l, "gh:"):
		return "a git repository URL"
	case strings.Contains(l, "://"):
		return "a URL"
	case strings.HasPrefix(t, "//"), strings.HasPrefix(t, `\\`):
		return "a network path"
	case scpUser.MatchString(t):
		return "a git repository (user@host: form)"
	case strings.HasPrefix(l, "github.com/"), strings.HasPrefix(l, "github.com:"):
		return "a GitHub repository"
	case strings.Contains(t, "?"):
		return "a URL with a query (?ref=)"
	}
	if u, err := url.Parse(t); err == nil && len(u.Scheme) > 1 {
		return "a URL"
	}
	return ""
}

func hasGitDir(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if strings.EqualFold(part, ".git") {
			return true
		}
	}
	return false
}

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// foldKey is the key as encoding/json would match it: case-insensitively,
// with Unicode simple folding (the long s and the Kelvin sign included).
func foldKey(k string) string {
	return strings.ToLower(strings.NewReplacer("\u017f", "s", "\u212a", "k").Replace(k))
}

// entries lists a mapping's key/value pairs with YAML merge keys ("<<")
// expanded, as the decoders kustomize uses do.
func entries(m *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[*yaml.Node]bool{}
	var add func(m *yaml.Node)
	add = func(m *yaml.Node) {
		m = deref(m)
		if m == nil || seen[m] {
			return
		}
		seen[m] = true
		switch m.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(m.Content); i += 2 {
				k := deref(m.Content[i])
				if k != nil && k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag != "!!str" {
					add(m.Content[i+1])
					continue
				}
				if k != nil {
					out = append(out, [2]*yaml.Node{k, m.Content[i+1]})
				}
			}
		case yaml.SequenceNode: // "<<: [*a, *b]"
			for _, c := range m.Content {
				add(c)
			}
		}
	}
	add(m)
	return out
}

// yfield is the value of key in mapping m (case-folded), or nil.
func yfield(m *yaml.Node, key string) *yaml.Node {
	key = foldKey(key)
	for _, kv := range entries(m) {
		if foldKey(kv[0].Value) == key {
			return deref(kv[1])
		}
	}
	return nil
}

func seqItems(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		// A single scalar where a list is expected fails krusty's decoding;
		// scan it anyway.
		return []*yaml.Node{n}
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		if c = deref(c); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// deref follows aliases (bounded: yamlsafe refused cycles).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// scalarText is a scalar's value as kustomize's decoders see it: !!binary
// scalars are decoded.
func scalarText(n *yaml.Node) string {
	if n.Tag == "!!binary" {
		if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), "")); err == nil {
			return string(b)
		}
	}
	return n.Value
}

func nodeText(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return scalarText(n)
}
