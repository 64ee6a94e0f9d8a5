package fix

import (
	"io/fs"

	"github.com/kubewright/kubewright/internal/finding"
)

// Result is what [ApplyAll] did.
type Result struct {
	// Files maps each file the fixes changed or created to its new content.
	Files map[string][]byte
	// Applied are the fixes made, in order; each Fix's lines refer to the
	// file as the fixes before it left it.
	Applied []Applied
	// Skipped are the findings without a fix, and why.
	Skipped []Skipped
}

// Applied is one fix ApplyAll made.
type Applied struct {
	Finding finding.Finding
	Fix     Fix
}

// Skipped is a finding ApplyAll left alone.
type Skipped struct {
	Finding finding.Finding
	// Reason is the fixer's [Unfixable] reason, or what went wrong.
	Reason string
}

// ApplyAll fixes every finding it can, for `/ai fix`: one after another,
// in file and line order, each fixer reading the files as the fixes
// before it left them. Fixers find what they edit by its structure (the
// object, the container, the instruction), and the line of each finding
// is moved by the lines earlier fixes of its file added or removed, so the
// findings of one validation run all apply. A finding whose fix is already
// in place (a duplicate) is skipped. Nothing is written: the caller
// writes Files to the work tree and commits them.
func ApplyAll(repo fs.FS, findings []finding.Finding) Result {
	todo := append([]finding.Finding(nil), findings...)
	finding.Sort(todo)
	res := Result{Files: map[string][]byte{}}
	shifts := map[string][]shift{}
	for _, f := range todo {
		moved := f
		moved.Line = shiftLine(shifts[f.File], f.Line)
		c := &call{repo: repo, f: moved, files: map[string][]byte{}, overlay: res.Files}
		fix, err := c.propose()
		if err != nil {
			reason, ok := IsUnfixable(err)
			if !ok {
				reason = err.Error()
			}
			res.Skipped = append(res.Skipped, Skipped{Finding: f, Reason: reason})
			continue
		}
		before, _ := c.read(fix.File)
		after, err := fix.Apply(before)
		if err != nil {
			res.Skipped = append(res.Skipped, Skipped{Finding: f, Reason: err.Error()})
			continue
		}
		res.Files[fix.File] = after
		res.Applied = append(res.Applied, Applied{Finding: f, Fix: fix})
		if !fix.Creates() {
			shifts[fix.File] = append(shifts[fix.File], shift{start: fix.StartLine, end: fix.EndLine, lines: len(splitLines([]byte(fix.Replacement)))})
		}
	}
	return res
}

// shift is one applied fix of a file: lines start..end became lines.
type shift struct{ start, end, lines int }

// shiftLine maps a line of the original file to the edited file. A line
// inside a replaced range maps to the range's first line.
func shiftLine(shifts []shift, line int) int {
	for _, s := range shifts {
		switch {
		case line > s.end:
			line += s.lines - (s.end - s.start + 1)
		case line >= s.start:
			line = s.start
		}
	}
	return line
}
