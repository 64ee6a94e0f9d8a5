package dockerfile

import (
	"bufio"
	"bytes"
	"path"
	"regexp"
	"strings"
)

// dockerIgnore is a parsed .dockerignore file. Its semantics follow the
// Docker builder: patterns are paths relative to the build context (a
// leading "/" is dropped), "*" and "?" stay within one path segment, "**"
// crosses segments, "[...]" is a character class, "!" re-includes, the
// last matching pattern wins, and a pattern that matches a directory
// matches everything under it.
type dockerIgnore struct {
	// File is the ignore file, repository-relative, for messages.
	File     string
	patterns []dockerIgnorePattern
}

type dockerIgnorePattern struct {
	text      string
	line      int
	exclusion bool
	re        *regexp.Regexp
}

// dockerParseIgnore reads the patterns of an ignore file. Patterns that do
// not compile are skipped, as the builder would reject them anyway.
func dockerParseIgnore(file string, data []byte) *dockerIgnore {
	ig := &dockerIgnore{File: file}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		p := sc.Text()
		if strings.HasPrefix(p, "#") {
			continue
		}
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = strings.TrimSpace(p[1:])
		}
		if p == "" {
			continue
		}
		p = path.Clean(strings.ReplaceAll(p, "\\", "/"))
		if len(p) > 1 && p[0] == '/' {
			p = p[1:]
		}
		re, ok := dockerGlobRegexp(p)
		if !ok {
			continue
		}
		ig.patterns = append(ig.patterns, dockerIgnorePattern{text: p, line: line, exclusion: neg, re: re})
	}
	return ig
}

// Ignored reports whether rel (relative to the build context) is excluded,
// and the line of the pattern that decided it.
func (ig *dockerIgnore) Ignored(rel string) (bool, int) {
	if ig == nil || len(ig.patterns) == 0 {
		return false, 0
	}
	rel = path.Clean(rel)
	var parents []string
	if dir := path.Dir(rel); dir != "." {
		segs := strings.Split(dir, "/")
		for i := range segs {
			parents = append(parents, strings.Join(segs[:i+1], "/"))
		}
	}
	matched, line := false, 0
	for _, p := range ig.patterns {
		// An inclusion only matters once excluded, and an exclusion only
		// while included.
		if p.exclusion != matched {
			continue
		}
		ok := p.re.MatchString(rel)
		for _, parent := range parents {
			if ok {
				break
			}
			ok = p.re.MatchString(parent)
		}
		if ok {
			matched = !p.exclusion
			line = p.line
		}
	}
	return matched, line
}

// dockerGlobRegexp compiles a slash-separated glob ("*", "?", "**",
// "[...]", backslash escapes) into an anchored regular expression.
func dockerGlobRegexp(glob string) (*regexp.Regexp, bool) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch c {
		case '*':
			if i+1 < len(glob) && glob[i+1] == '*' {
				i++
				if i+1 < len(glob) && glob[i+1] == '/' {
					i++
				}
				if i+1 >= len(glob) {
					b.WriteString(".*")
				} else {
					b.WriteString("(.*/)?")
				}
				continue
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '[':
			end := strings.IndexByte(glob[i+1:], ']')
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := glob[i+1 : i+1+end]
			if end == 0 {
				// "[]...]": a literal ']' first in the class.
				more := strings.IndexByte(glob[i+2:], ']')
				if more < 0 {
					b.WriteString(`\[`)
					continue
				}
				class = glob[i+1 : i+2+more]
				end = more + 1
			}
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += end + 1
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return re, err == nil
}
