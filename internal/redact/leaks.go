package redact

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// leakRules is gitleaks' detector with its embedded default rules, and
// a keyword index over them.
type leakRules struct {
	det *detect.Detector
	// keywords finds every rule keyword in lowercased text: only the
	// lines near one are scanned (see fragments), the prefilter gitleaks
	// applies per file applied per line.
	keywords ahocorasick.Trie
	// everywhere is set when a rule has no keywords: then everything is
	// scanned.
	everywhere bool
}

// leaks loads the rules once, on first use (about 0.1 s: some 220
// expressions compile); they are read-only afterwards and shared by every
// goroutine.
var leaks = sync.OnceValue(func() *leakRules {
	r, err := loadLeakRules()
	if err != nil {
		// The configuration is embedded in the gitleaks module and
		// TestLeakRulesLoad loads it: failing here is a broken build.
		panic(fmt.Sprintf("redact: gitleaks' embedded default configuration does not load: %v", err))
	}
	return r
})

func loadLeakRules() (*leakRules, error) {
	// A viper of our own: gitleaks' NewDetectorDefaultConfig uses the
	// process-wide one.
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, err
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, err
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, err
	}
	det := detect.NewDetector(cfg)
	// gitleaks:allow marks a line its owner vouches for; text we send
	// out is redacted all the same.
	det.IgnoreGitleaksAllow = true
	r := &leakRules{det: det}
	words := make([]string, 0, len(cfg.Keywords))
	for k := range cfg.Keywords {
		words = append(words, k)
	}
	sort.Strings(words)
	r.keywords = *ahocorasick.NewTrieBuilder().AddStrings(words).Build()
	for _, rule := range cfg.Rules {
		if rule.Regex != nil && len(rule.Keywords) == 0 {
			r.everywhere = true
		}
	}
	return r, nil
}

// redactLeaks replaces the secrets gitleaks' rules find.
func redactLeaks(s string) (string, int) {
	if s == "" {
		return s, 0
	}
	r := leaks()
	var spans [][2]int
	for _, frag := range r.fragments(s) {
		text := s[frag[0]:frag[1]]
		for _, f := range r.det.DetectString(text) {
			if a, b, ok := r.locate(text, f); ok {
				spans = append(spans, [2]int{frag[0] + a, frag[0] + b})
			}
		}
	}
	return replaceSpans(s, spans)
}

// linesAfter is how many lines after a keyword's a match may reach: a
// value may follow its key on a later line (YAML, blank lines), and
// gitleaks' curl rule looks up to five lines on.
const linesAfter = 6

// fragments returns the byte ranges of s worth scanning: the lines that
// hold a rule keyword, each with the line before and linesAfter lines
// after, merged where they touch.
func (r *leakRules) fragments(s string) [][2]int {
	if r.everywhere {
		return [][2]int{{0, len(s)}}
	}
	matches := r.keywords.Match(asciiLower(s))
	var out [][2]int
	for _, m := range matches {
		pos := int(m.Pos())
		start := lineStart(s, lineStart(s, pos)-1)
		end := pos
		for range linesAfter + 1 {
			end = lineEnd(s, end)
		}
		if n := len(out); n > 0 && start <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], end)
			continue
		}
		out = append(out, [2]int{start, end})
	}
	return out
}

// asciiLower lowercases ASCII letters only, so offsets stay those of s
// (strings.ToLower may change the length of other letters).
func asciiLower(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// lineStart is the offset of the line holding s[i] (0 for i < 0).
func lineStart(s string, i int) int {
	if i <= 0 {
		return 0
	}
	return strings.LastIndexByte(s[:i], '\n') + 1
}

// lineEnd is the offset just past the line holding s[i], its "\n"
// included (len(s) past the end).
func lineEnd(s string, i int) int {
	if i >= len(s) {
		return len(s)
	}
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// locate finds the secret of a gitleaks finding in text as a byte range.
// gitleaks reports where its match starts as a line and column, the
// match and the secret (a capture group of the rule's expression); the
// rule's expression, run again on the match, gives the group's offsets.
func (r *leakRules) locate(text string, f report.Finding) (int, int, bool) {
	if f.Secret == "" {
		return 0, 0, false
	}
	start, ok := matchStart(text, f)
	if !ok {
		// Not where the location says: the secret's first occurrence on
		// the reported line, else anywhere in the fragment.
		if i := strings.Index(text, f.Line); f.Line != "" && i >= 0 {
			if j := strings.Index(text[i:], f.Secret); j >= 0 && j < len(f.Line) {
				return i + j, i + j + len(f.Secret), true
			}
		}
		if i := strings.Index(text, f.Secret); i >= 0 {
			return i, i + len(f.Secret), true
		}
		return 0, 0, false
	}
	if f.Secret == f.Match {
		return start, start + len(f.Match), true
	}
	if rule, ok := r.det.Config.Rules[f.RuleID]; ok && rule.Regex != nil {
		if m := rule.Regex.FindStringSubmatchIndex(f.Match); len(m) >= 4 {
			g := rule.SecretGroup
			if g <= 0 {
				for g = 1; 2*g+1 < len(m) && m[2*g] == m[2*g+1]; g++ {
				}
			}
			if 2*g+1 < len(m) && m[2*g] >= 0 && f.Match[m[2*g]:m[2*g+1]] == f.Secret {
				return start + m[2*g], start + m[2*g+1], true
			}
		}
	}
	if i := strings.Index(f.Match, f.Secret); i >= 0 {
		return start + i, start + i + len(f.Secret), true
	}
	return 0, 0, false
}

// matchStart turns gitleaks' 0-based StartLine and 1-based StartColumn
// back into an offset of text, and checks the match is there. Columns
// of lines after the first count from the preceding "\n".
func matchStart(text string, f report.Finding) (int, bool) {
	prev := 0
	if f.StartLine > 0 {
		nl, line := -1, 0
		for line < f.StartLine {
			j := strings.IndexByte(text[nl+1:], '\n')
			if j < 0 {
				return 0, false
			}
			nl += j + 1
			line++
		}
		prev = nl
	}
	start := prev + f.StartColumn - 1
	// gitleaks trims line breaks around a match without moving its start.
	for start >= 0 && start < len(text) && text[start] == '\n' {
		start++
	}
	if start < 0 || start+len(f.Match) > len(text) || text[start:start+len(f.Match)] != f.Match {
		return 0, false
	}
	return start, true
}

// replaceSpans replaces the given byte ranges of s (in any order,
// overlapping or not) with "[REDACTED]", leaving ranges that are already
// "[REDACTED]" or inside one alone.
func replaceSpans(s string, spans [][2]int) (string, int) {
	if len(spans) == 0 {
		return s, 0
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp[0] < last[1] {
			last[1] = max(last[1], sp[1])
			continue
		}
		merged = append(merged, sp)
	}
	var b strings.Builder
	b.Grow(len(s))
	last, n := 0, 0
	for _, sp := range merged {
		if insidePlaceholder(s, sp[0], sp[1]) {
			continue
		}
		b.WriteString(s[last:sp[0]])
		b.WriteString(redacted)
		last = sp[1]
		n++
	}
	if n == 0 {
		return s, 0
	}
	b.WriteString(s[last:])
	return b.String(), n
}

// insidePlaceholder reports whether s[a:b] lies within a "[REDACTED]".
func insidePlaceholder(s string, a, b int) bool {
	lo := max(0, a-len(redacted))
	for {
		i := strings.Index(s[lo:], redacted)
		if i < 0 || lo+i > a {
			return false
		}
		if lo+i+len(redacted) >= b {
			return true
		}
		lo += i + 1
	}
}
