package review

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
)

// Delta is how the findings of a head commit relate to those of its base
// (or of the commit the last review looked at).
type Delta struct {
	// Introduced are head findings with no counterpart in the base: the
	// ones a review reports.
	Introduced []finding.Finding
	// Fixed are base findings with no counterpart in the head: what the
	// change (or the last push) resolved.
	Fixed []finding.Finding
	// Kept are head findings that were already in the base, as the head
	// reports them (its file and line).
	Kept []finding.Finding
}

// Compare matches head findings against base findings by [Key]: rule ID,
// object and message with line numbers taken out (and the file, for
// findings about no object). Lines do not take part, so a finding whose
// code moved is kept, not introduced. Matching is a multiset: a finding
// that appears twice in the head and once in the base is introduced once.
// Among equal keys, a head finding at the same file and line as a base
// finding is paired with it first, then the rest pair in file and line
// order, so the one reported as introduced is the one that is not where
// the base had it. Each list comes back sorted with [finding.Sort];
// neither input is modified.
func Compare(base, head []finding.Finding) Delta {
	baseKeys := keys(base)
	headKeys := keys(head)

	bOrder, hOrder := order(base), order(head)
	pairedBase := make([]bool, len(base))
	pairedHead := make([]bool, len(head))

	// Pass 1: same key at the same place.
	exact := map[string][]int{}
	for _, b := range bOrder {
		k := placeKey(baseKeys[b], base[b])
		exact[k] = append(exact[k], b)
	}
	for _, h := range hOrder {
		k := placeKey(headKeys[h], head[h])
		if list := exact[k]; len(list) > 0 {
			pairedBase[list[0]], pairedHead[h] = true, true
			exact[k] = list[1:]
		}
	}
	// Pass 2: same key anywhere, in file and line order.
	open := map[string][]int{}
	for _, b := range bOrder {
		if !pairedBase[b] {
			open[baseKeys[b]] = append(open[baseKeys[b]], b)
		}
	}
	for _, h := range hOrder {
		if pairedHead[h] {
			continue
		}
		if list := open[headKeys[h]]; len(list) > 0 {
			pairedBase[list[0]], pairedHead[h] = true, true
			open[headKeys[h]] = list[1:]
		}
	}

	var d Delta
	for h, f := range head {
		if pairedHead[h] {
			d.Kept = append(d.Kept, f)
		} else {
			d.Introduced = append(d.Introduced, f)
		}
	}
	for b, f := range base {
		if !pairedBase[b] {
			d.Fixed = append(d.Fixed, f)
		}
	}
	finding.Sort(d.Introduced)
	finding.Sort(d.Fixed)
	finding.Sort(d.Kept)
	return d
}

// placeKey is a key with the finding's file and line.
func placeKey(key string, f finding.Finding) string {
	return key + "\x00" + f.File + "\x00" + strconv.Itoa(f.Line)
}

// keys computes Key once per finding.
func keys(fs []finding.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = Key(f)
	}
	return out
}

// order returns the indexes of fs sorted by file, line and then index.
func order(fs []finding.Finding) []int {
	idx := make([]int, len(fs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := strings.Compare(fs[a].File, fs[b].File); c != 0 {
			return c
		}
		return fs[a].Line - fs[b].Line
	})
	return idx
}

// Key identifies a finding across commits: its rule ID, its object and
// its message with line numbers normalised ("line 12" and
// "k8s/app.yaml:12" become "line #" and "k8s/app.yaml:#"). The message
// carries the field (`container "api"`, the env var, the selector), so
// two containers of one Deployment with the same problem have different
// keys. The file takes part only when the finding names no object
// (Dockerfile findings), since an object can move between files. Severity
// does not take part: a rule whose severity the configuration changed is
// the same finding.
func Key(f finding.Finding) string {
	var b strings.Builder
	b.Grow(len(f.ID) + len(f.Object) + len(f.Message) + len(f.File) + 3)
	b.WriteString(f.ID)
	b.WriteByte(0)
	if f.Object != "" {
		b.WriteString(f.Object)
	} else {
		b.WriteString("file:")
		b.WriteString(f.File)
	}
	b.WriteByte(0)
	b.WriteString(normalizeMessage(f.Message))
	return b.String()
}

// Fingerprint is a short, stable hash of [Key], for a hidden marker in a
// posted comment: a later review finds the comment of a finding by it,
// does not post it again while it stays, and resolves it once it is gone.
// Equal findings share a fingerprint.
func Fingerprint(f finding.Finding) string {
	sum := sha256.Sum256([]byte(Key(f)))
	return hex.EncodeToString(sum[:8])
}

// normalizeMessage takes line numbers out of a message: the number
// after "line " or "lines " (and a "-N" range), and after
// "path/to/file.yaml:" or "Dockerfile:" (and a ":N" column). Other numbers
// (ports, image tags such as "redis:7") are part of the finding.
func normalizeMessage(m string) string {
	if !strings.ContainsAny(m, "0123456789") {
		return m
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(m); {
		if !isDigit(m[i]) || i > 0 && isDigit(m[i-1]) {
			i++
			continue
		}
		j := i
		for j < len(m) && isDigit(m[j]) {
			j++
		}
		if afterLineWord(m, i) || afterFileName(m, i) {
			if j+1 < len(m) && (m[j] == '-' || m[j] == ':') && isDigit(m[j+1]) {
				for j++; j < len(m) && isDigit(m[j]); j++ {
				}
			}
			b.WriteString(m[last:i])
			b.WriteByte('#')
			last = j
		}
		i = j
	}
	if last == 0 {
		return m
	}
	b.WriteString(m[last:])
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// afterLineWord reports "line " or "lines " (a whole word) before m[i].
func afterLineWord(m string, i int) bool {
	for _, w := range []string{"line ", "lines "} {
		if strings.HasSuffix(m[:i], w) {
			k := i - len(w)
			return k == 0 || !isWordByte(m[k-1])
		}
	}
	return false
}

// fileSuffixes end the names of files a message points into.
var fileSuffixes = []string{".yaml", ".yml", ".json", ".toml", ".dockerignore", ".env", ".cfg", ".conf", ".ini", ".properties"}

// afterFileName reports "<file>:" before m[i], a file being a name with
// one of fileSuffixes or a Dockerfile or Containerfile.
func afterFileName(m string, i int) bool {
	if i == 0 || m[i-1] != ':' {
		return false
	}
	start := strings.LastIndexAny(m[:i-1], " \t([,\"'`") + 1
	name := m[start : i-1]
	if name == "" {
		return false
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	if strings.HasPrefix(base, "Dockerfile") || strings.HasPrefix(base, "Containerfile") || strings.HasSuffix(base, ".Dockerfile") {
		return true
	}
	for _, s := range fileSuffixes {
		if strings.HasSuffix(base, s) {
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z'
}
