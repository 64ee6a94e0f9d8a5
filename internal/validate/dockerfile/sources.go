package dockerfile

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kubewright/kubewright/internal/finding"
)

// ---- KW-DOCKER-014/015: COPY and ADD sources ----

type dockerSource struct {
	raw      string // as written
	rel      string // cleaned, relative to the context
	wildcard bool
	cmd      string // COPY or ADD, as written
	line     int
}

// sources lists the COPY/ADD sources read from the build context (not
// --from, not URLs); those with a variable the lexer cannot resolve are
// left out.
func (d *dockerFile) sources() []dockerSource {
	var out []dockerSource
	for i, st := range d.stages {
		for j, c := range st.Commands {
			var paths []string
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					continue
				}
				paths = c.SourcePaths
			case *instructions.AddCommand:
				paths = c.SourcePaths
			default:
				continue
			}
			var env dockerEnv
			for _, p := range paths {
				if strings.Contains(p, "://") || strings.HasPrefix(p, "git@") {
					continue
				}
				if env == nil {
					env = d.stageEnv(i, j)
				}
				v, ok := d.expand(p, env)
				if !ok || v == "" {
					continue
				}
				// A leading "/" is the context root too.
				rel := path.Clean(strings.TrimLeft(v, "/"))
				out = append(out, dockerSource{
					raw: p, rel: rel, wildcard: strings.ContainsAny(v, "*?["),
					cmd: strings.ToUpper(c.Name()), line: dockerLine(c.Location()),
				})
			}
		}
	}
	return out
}

// context picks the build context: the Dockerfile's directory, or the
// nearest ancestor that holds more of the literal sources (a monorepo
// Dockerfile under cmd/x/ is built from the module root); all present wins
// at once.
func (d *dockerFile) context(srcs []dockerSource) string {
	var literal []dockerSource
	for _, s := range srcs {
		if !s.wildcard && !strings.HasPrefix(s.rel, "../") && s.rel != ".." {
			literal = append(literal, s)
		}
	}
	best, bestN := d.dir, -1
	for dir := d.dir; ; dir = path.Dir(dir) {
		n := 0
		for _, s := range literal {
			if d.repo.exists(path.Join(dir, s.rel)) {
				n++
			}
		}
		if n > bestN {
			best, bestN = dir, n
		}
		if n == len(literal) || dir == "." {
			break
		}
	}
	return best
}

// ignoreFile loads the ignore file that applies: <Dockerfile>.dockerignore
// next to the Dockerfile, else .dockerignore at the context root.
func (d *dockerFile) ignoreFile(ctx string) *dockerIgnore {
	for _, f := range []string{d.file + ".dockerignore", path.Join(ctx, ".dockerignore")} {
		if !d.repo.files[f] {
			continue
		}
		data, err := d.in.ReadFile(f)
		if err != nil {
			continue
		}
		return dockerParseIgnore(f, data)
	}
	return nil
}

// dockerSecretGlobs name files that must not be copied into an image.
var dockerSecretGlobs = []string{".env", "*.env", "*.pem", "*.key", "id_rsa*", "*.p12", "credentials*.json"}

func dockerIsSecret(file string) bool {
	base := path.Base(file)
	for _, g := range dockerSecretGlobs {
		if ok, _ := path.Match(g, base); ok {
			return true
		}
	}
	return false
}

func (d *dockerFile) checkSources() {
	srcs := d.sources()
	if len(srcs) == 0 {
		return
	}
	ctx := d.context(srcs)
	ig := d.ignoreFile(ctx)
	ctxName := ctx + "/"
	if ctx == "." {
		ctxName = "the repository root"
	}
	why := "the Dockerfile's directory"
	if ctx != d.dir {
		why = "the nearest directory holding the sources"
	}
	// relative path within the context
	inCtx := func(file string) string {
		if ctx == "." {
			return file
		}
		return strings.TrimPrefix(file, ctx+"/")
	}
	for _, s := range srcs {
		if s.rel == ".." || strings.HasPrefix(s.rel, "../") {
			d.add(dockerIDMissingSrc, finding.Error, s.line,
				fmt.Sprintf("%s source %q is outside the build context (%s)", s.cmd, s.raw, ctxName),
				"a build can only read files inside its context: move the file into it, or build from a directory that contains it")
			continue
		}
		full := path.Join(ctx, s.rel)
		// The files this source brings into the image.
		var copied []string
		var candidates []string
		if s.wildcard {
			re, ok := dockerGlobRegexp(s.rel)
			if !ok {
				continue
			}
			for _, f := range d.repo.under(ctx) {
				if dockerMatchesOrParent(re, inCtx(f)) {
					candidates = append(candidates, f)
				}
			}
		} else {
			candidates = d.repo.under(full)
		}
		ignoredLine := 0
		for _, f := range candidates {
			if ig != nil {
				if ok, line := ig.Ignored(inCtx(f)); ok {
					ignoredLine = line
					continue
				}
			}
			copied = append(copied, f)
		}

		if !s.wildcard && dockerIsSecret(s.rel) {
			d.add(dockerIDSecretCopy, finding.Error, s.line,
				fmt.Sprintf("%s %s puts a secret file into the image, where anyone who can pull the image can read it", s.cmd, s.raw),
				"remove it from the instruction; give the app the value at runtime (a Kubernetes Secret as env or a mounted file), and use RUN --mount=type=secret if the build needs it")
		} else {
			var secrets []string
			for _, f := range copied {
				if dockerIsSecret(f) {
					secrets = append(secrets, f)
				}
			}
			if len(secrets) > 0 {
				ignore := ".dockerignore"
				if ig != nil {
					ignore = ig.File
				}
				d.add(dockerIDSecretCopy, finding.Error, s.line,
					fmt.Sprintf("%s %s copies secret files into the image: %s", s.cmd, s.raw, dockerList(secrets, 5)),
					fmt.Sprintf("exclude them in %s (e.g. **/.env, **/*.pem, **/*.key, **/id_rsa*) or copy only what the app needs; give secrets to the app at runtime", ignore))
			}
		}

		if s.wildcard {
			continue // matching nothing is allowed
		}
		switch {
		case !d.repo.exists(full) && s.rel != ".":
			d.add(dockerIDMissingSrc, finding.Error, s.line,
				fmt.Sprintf("%s source %q does not exist in the build context (%s, %s)", s.cmd, s.raw, ctxName, why),
				fmt.Sprintf("add %s to the repository, fix the path (it is relative to the build context, not to the Dockerfile), or drop it from the %s", full, s.cmd))
		case len(copied) == 0 && len(candidates) > 0:
			d.add(dockerIDMissingSrc, finding.Error, s.line,
				fmt.Sprintf("%s source %q is excluded from the build context by %s:%d, so the build cannot find it", s.cmd, s.raw, ig.File, ignoredLine),
				fmt.Sprintf("it is ignored by .dockerignore: remove or narrow the pattern at %s:%d (or re-include it with a !pattern), or stop copying it", ig.File, ignoredLine))
		}
	}
}

// dockerMatchesOrParent reports whether rel or one of its parent
// directories matches re (a wildcard directory is copied whole).
func dockerMatchesOrParent(re *regexp.Regexp, rel string) bool {
	for p := rel; p != "." && p != "/"; p = path.Dir(p) {
		if re.MatchString(p) {
			return true
		}
	}
	return false
}

func dockerList(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}
