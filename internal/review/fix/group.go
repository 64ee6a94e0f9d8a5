package fix

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
)

// Group is the fixes of several findings about one container (or one
// object, or one file) merged into one edit. Separate suggestions that
// touch the same lines cannot all be committed (the first makes the others
// outdated, and a batch refuses them), so a review that wants one
// suggestion per container posts a Group's Fix once.
type Group struct {
	// Findings are the findings the Fix resolves, in file and line order.
	Findings []finding.Finding
	// Fix is the merged edit against the file as it is; its Title lists
	// the fixes' titles and its Note their notes.
	Fix Fix
}

// Grouped proposes fixes for findings and merges those that edit the
// same file for the same object and container. Findings with no fix come
// back as Skipped, with the reason.
func Grouped(repo fs.FS, findings []finding.Finding) ([]Group, []Skipped) {
	type key struct{ file, object, container string }
	var order []key
	members := map[key][]finding.Finding{}
	var skipped []Skipped
	todo := append([]finding.Finding(nil), findings...)
	finding.Sort(todo)
	for _, f := range todo {
		fx, err := For(repo, f)
		if err != nil {
			skipped = append(skipped, Skipped{Finding: f, Reason: reasonOf(err)})
			continue
		}
		k := key{file: fx.File, object: f.Object}
		if m := containerWhat.FindStringSubmatch(f.Message); m != nil {
			k.container = m[0]
		}
		if _, ok := members[k]; !ok {
			order = append(order, k)
		}
		members[k] = append(members[k], f)
	}
	var groups []Group
	for _, k := range order {
		res := ApplyAll(repo, members[k])
		skipped = append(skipped, res.Skipped...)
		if len(res.Applied) == 0 {
			continue
		}
		c := &call{repo: repo, files: map[string][]byte{}}
		before, err := c.read(k.file)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			for _, a := range res.Applied {
				skipped = append(skipped, Skipped{Finding: a.Finding, Reason: reasonOf(err)})
			}
			continue
		}
		fix := lineRange(before, res.Files[k.file], errors.Is(err, fs.ErrNotExist))
		fix.File = k.file
		var titles, notes []string
		g := Group{}
		for _, a := range res.Applied {
			g.Findings = append(g.Findings, a.Finding)
			titles = append(titles, a.Fix.Title)
			if a.Fix.Note != "" && !contains(notes, a.Fix.Note) {
				notes = append(notes, a.Fix.Note)
			}
		}
		fix.Title, fix.Note = strings.Join(titles, " "), strings.Join(notes, "; ")
		g.Fix = fix
		groups = append(groups, g)
	}
	return groups, skipped
}

func reasonOf(err error) string {
	if r, ok := IsUnfixable(err); ok {
		return r
	}
	return err.Error()
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
