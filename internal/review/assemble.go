package review

import (
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/review/fix"
	"github.com/kubewright/kubewright/internal/validate"
)

// Sides are a pull request's base and head, each validated with the same
// trusted settings (the default branch's), and the head's files for the
// fixers. Nothing of either side is executed.
type Sides struct {
	Base, Head *validate.Report
	// HeadFS reads the head's tree; the fixers read files through it.
	HeadFS fs.FS
}

// Review is what kubewright says about one head commit.
type Review struct {
	// Delta relates the head's findings to the base's.
	Delta Delta
	// Comments carry every introduced finding: those a mechanical fix
	// resolves are grouped by the edit that fixes them.
	Comments []Comment
	// Diff is what merging changes in the objects the builds render.
	Diff ObjectDiff
}

// Comment is one review comment: findings on one line range of one file
// and, when the fix is mechanical, the edit that resolves them.
type Comment struct {
	Path string
	// StartLine..Line is the range on the head (RIGHT side); StartLine is
	// 0 for one line. Line is 0 for a finding about a whole file.
	Line, StartLine int
	Findings        []finding.Finding
	// Fix resolves every finding of the comment; nil when none is
	// mechanical. A fix that creates a file cannot be a suggestion.
	Fix *fix.Fix
	// Unfixable says why there is no fix, when a fixer said so.
	Unfixable string
	// Key identifies the comment across pushes: the fingerprints of its
	// findings, so an unchanged finding is never posted twice.
	Key string
}

// Assemble compares the sides and prepares the comments and the Flux diff.
func Assemble(s Sides) *Review {
	r := &Review{Delta: Compare(findingsOf(s.Base), findingsOf(s.Head))}
	groups, skipped := fix.Grouped(s.HeadFS, r.Delta.Introduced)
	for _, g := range groups {
		fx := g.Fix
		c := Comment{Path: fx.File, Findings: g.Findings, Fix: &fx, Key: keyOf(g.Findings)}
		switch {
		case fx.Creates():
			// A new file (a .dockerignore): comment where the finding
			// is; the patch goes in the comment's text.
			c.Path, c.Line = g.Findings[0].File, g.Findings[0].Line
		case fx.StartLine == fx.EndLine:
			c.Line = fx.EndLine
		default:
			c.StartLine, c.Line = fx.StartLine, fx.EndLine
		}
		r.Comments = append(r.Comments, c)
	}
	for _, sk := range skipped {
		f := sk.Finding
		r.Comments = append(r.Comments, Comment{Path: f.File, Line: f.Line, Findings: []finding.Finding{f}, Unfixable: sk.Reason, Key: keyOf([]finding.Finding{f})})
	}
	sort.SliceStable(r.Comments, func(i, j int) bool {
		a, b := r.Comments[i], r.Comments[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Line < b.Line
	})
	r.Diff = DiffRoots(roots(s.Base, s.Head))
	return r
}

// keyOf is the comment key of a set of findings: their fingerprints,
// sorted and joined.
func keyOf(fs []finding.Finding) string {
	ks := make([]string, len(fs))
	for i, f := range fs {
		ks[i] = Fingerprint(f)
	}
	slices.Sort(ks)
	return strings.Join(slices.Compact(ks), "+")
}

func findingsOf(rep *validate.Report) []finding.Finding {
	if rep == nil {
		return nil
	}
	return rep.Findings
}

// roots pairs the kustomization roots of both sides by directory, named
// after the Flux Kustomizations that apply them; roots whose objects do
// not change are left out by DiffRoots' renderer.
func roots(base, head *validate.Report) []Root {
	b, h := rootObjects(base), rootObjects(head)
	names := fluxNames(base)
	for dir, n := range fluxNames(head) {
		names[dir] = n
	}
	dirs := map[string]bool{}
	for d := range b {
		dirs[d] = true
	}
	for d := range h {
		dirs[d] = true
	}
	var out []Root
	for _, d := range slices.Sorted(mapKeys(dirs)) {
		name := d
		if n := names[d]; n != "" {
			name += " (" + n + ")"
		}
		out = append(out, Root{Name: name, Base: b[d], Head: h[d]})
	}
	return out
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func rootObjects(rep *validate.Report) map[string][]*unstructured.Unstructured {
	out := map[string][]*unstructured.Unstructured{}
	if rep == nil || rep.Input == nil {
		return out
	}
	for dir, objs := range rep.Input.RootObjects {
		for _, o := range objs {
			out[dir] = append(out[dir], o.U)
		}
	}
	return out
}

// fluxNames maps a root directory to the Flux Kustomizations whose
// spec.path points at it ("Kustomization flux-system/apps").
func fluxNames(rep *validate.Report) map[string]string {
	out := map[string]string{}
	if rep == nil || rep.Input == nil {
		return out
	}
	for _, o := range rep.Input.Objects {
		u := o.U
		if u.GetKind() != "Kustomization" || u.GroupVersionKind().Group != "kustomize.toolkit.fluxcd.io" {
			continue
		}
		p, _, _ := unstructured.NestedString(u.Object, "spec", "path")
		dir := path.Clean(strings.TrimPrefix(strings.TrimSpace(p), "/"))
		if dir == "" {
			dir = "."
		}
		name := "Kustomization " + u.GetNamespace() + "/" + u.GetName()
		if prev := out[dir]; prev != "" && prev != name {
			name = prev + ", " + name
		}
		out[dir] = name
	}
	return out
}
