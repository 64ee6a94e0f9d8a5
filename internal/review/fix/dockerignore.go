package fix

import (
	"errors"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// KW-DOCKER-015 in its "copies secret files" form: a COPY or ADD of a
// directory brings secret files along. The fix excludes them from the
// build context in the ignore file that applies, so the instruction stays.

var (
	secretCopyMsg = regexp.MustCompile(`^(?:COPY|ADD) .* copies secret files into the image: (.+)$`)
	ignoreHint    = regexp.MustCompile(`^exclude them in (.+?) \(e\.g\.`)
	moreSuffix    = regexp.MustCompile(` and \d+ more$`)
)

// secretGlobs name the files the Dockerfile stage calls secrets.
var secretGlobs = []string{".env", "*.env", "*.pem", "*.key", "id_rsa*", "*.p12", "credentials*.json"}

// ignoreComment heads the lines the fix adds.
const ignoreComment = "# Secrets stay out of the image: the app gets them at runtime."

func fixDockerIgnore(c *call) (change, error) {
	m := secretCopyMsg.FindStringSubmatch(c.f.Message)
	if m == nil {
		return change{}, unfixable("the instruction copies a secret file by name: remove it from the instruction and give the app the secret at runtime")
	}
	h := ignoreHint.FindStringSubmatch(c.f.Hint)
	if h == nil {
		return change{}, unfixable("the finding does not name the ignore file to edit")
	}
	patterns := ignorePatterns(m[1])

	target := h[1]
	dir := path.Dir(c.f.File)
	switch {
	case target != ".dockerignore":
		if _, err := c.mustRead(target); err != nil {
			return change{}, err
		}
	case dir == ".":
	default:
		// No ignore file applies. One at the repository root would if the
		// build context were the root; the Dockerfile's own ignore file
		// applies whatever the context is.
		if _, err := c.read(".dockerignore"); err == nil {
			return change{}, unfixable("which ignore file applies depends on the build context: add %s to the .dockerignore at the root of the build context", strings.Join(patterns, ", "))
		}
		target = c.f.File + ".dockerignore"
	}
	before, err := c.read(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return change{}, err
	}
	have := map[string]bool{}
	for _, l := range splitLines(before) {
		have[strings.TrimSpace(l)] = true
	}
	var add []string
	for _, p := range patterns {
		if !have[p] {
			add = append(add, p)
		}
	}
	if len(add) == 0 {
		return change{}, unfixable("%s already lists %s; a later !pattern may re-include the files: check its order", target, strings.Join(patterns, ", "))
	}
	var b strings.Builder
	b.Write(before)
	if len(before) > 0 && !strings.HasSuffix(string(before), "\n") {
		b.WriteString("\n")
	}
	if !have[ignoreComment] {
		b.WriteString(ignoreComment + "\n")
	}
	for _, p := range add {
		b.WriteString(p + "\n")
	}
	verb := "Exclude"
	if before == nil {
		verb = "Create " + target + " to exclude"
	}
	return change{file: target, after: []byte(b.String()),
		title: verb + " secret files from the build context of " + c.f.File + ": " + strings.Join(add, ", ") + ".",
		note:  "check that the build does not need these files; give secrets to the app at runtime (a Kubernetes Secret), or to the build with RUN --mount=type=secret"}, nil
}

// ignorePatterns are the "**/glob" patterns that exclude the listed files
// wherever they are in the context; all of them when the list was cut
// short.
func ignorePatterns(list string) []string {
	all := moreSuffix.MatchString(list)
	list = moreSuffix.ReplaceAllString(list, "")
	want := map[string]bool{}
	for _, f := range strings.Split(list, ", ") {
		base := path.Base(strings.TrimSpace(f))
		for _, g := range secretGlobs {
			if ok, _ := path.Match(g, base); ok || all {
				want[g] = true
			}
		}
	}
	var out []string
	for _, g := range secretGlobs {
		if want[g] {
			out = append(out, "**/"+g)
		}
	}
	return out
}
