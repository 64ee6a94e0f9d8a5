package githubtest

import (
	"fmt"
	"strconv"
	"strings"
)

// fileDiff is one file of a pull request's diff, as GET .../pulls/{n}/files
// reports it and as review comments are anchored to it.
type fileDiff struct {
	path, oldPath string // oldPath: a rename's source
	status        string // added, removed, modified, renamed
	sha           string // the blob at head (at base for a removed file)
	additions     int
	deletions     int
	binary        bool
	hunks         []hunk
}

// hunk is one @@ section of a unified diff. lines keep their prefix
// (' ', '+', '-', or '\' for "\ No newline at end of file").
type hunk struct {
	header             string
	oldStart, oldLines int
	newStart, newLines int
	lines              []string
}

// patch is the file's hunks as GitHub's "patch" field shows them.
func (f *fileDiff) patch() string {
	var b strings.Builder
	for i, h := range f.hunks {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(h.header)
		for _, l := range h.lines {
			b.WriteByte('\n')
			b.WriteString(l)
		}
	}
	return b.String()
}

// anchor is where a line of one side of the diff sits: its hunk and its
// diff position (GitHub's deprecated "position": the line's index in the
// file's patch, counting from 1 on the line after the first @@ header, each
// later @@ header counting as a line).
type anchor struct {
	hunk     int
	position int
	index    int // the line's index in the hunk
}

// locate finds line (1-based, in the file at side RIGHT = head or LEFT =
// base) among the lines the diff shows; ok is false when the line is not
// part of the diff.
func (f *fileDiff) locate(side string, line int) (anchor, bool) {
	pos := 0
	for hi, h := range f.hunks {
		if hi > 0 {
			pos++ // the @@ header
		}
		oldN, newN := h.oldStart, h.newStart
		for li, l := range h.lines {
			pos++
			switch {
			case strings.HasPrefix(l, "\\"):
				continue
			case strings.HasPrefix(l, "+"):
				if side == "RIGHT" && newN == line {
					return anchor{hunk: hi, position: pos, index: li}, true
				}
				newN++
			case strings.HasPrefix(l, "-"):
				if side == "LEFT" && oldN == line {
					return anchor{hunk: hi, position: pos, index: li}, true
				}
				oldN++
			default:
				if (side == "RIGHT" && newN == line) || (side == "LEFT" && oldN == line) {
					return anchor{hunk: hi, position: pos, index: li}, true
				}
				oldN++
				newN++
			}
		}
	}
	return anchor{}, false
}

// atPosition is the side and line of a diff position (0, "" when the
// position is not a line of the patch).
func (f *fileDiff) atPosition(position int) (side string, line int) {
	pos := 0
	for hi, h := range f.hunks {
		if hi > 0 {
			pos++
			if pos == position {
				return "", 0
			}
		}
		oldN, newN := h.oldStart, h.newStart
		for _, l := range h.lines {
			pos++
			here := pos == position
			switch {
			case strings.HasPrefix(l, "\\"):
				if here {
					return "", 0
				}
			case strings.HasPrefix(l, "-"):
				if here {
					return "LEFT", oldN
				}
				oldN++
			case strings.HasPrefix(l, "+"):
				if here {
					return "RIGHT", newN
				}
				newN++
			default:
				if here {
					return "RIGHT", newN
				}
				oldN++
				newN++
			}
		}
	}
	return "", 0
}

// diffHunk is the text GitHub stores with a review comment: the hunk's
// header and its lines up to the commented one.
func (f *fileDiff) diffHunk(a anchor) string {
	h := f.hunks[a.hunk]
	return h.header + "\n" + strings.Join(h.lines[:a.index+1], "\n")
}

// prDiff is the diff of a pull request: from the merge base of base and
// head to head, as GitHub shows it (three dots), renames detected.
func (g *gitHost) prDiff(owner, name, base, head string) ([]*fileDiff, error) {
	bare, err := g.existing(owner, name)
	if err != nil {
		return nil, err
	}
	mb, err := g.run(bare, nil, "merge-base", "--end-of-options", base, head)
	if err != nil {
		return nil, fmt.Errorf("no merge base between %.12s and %.12s: %w", base, head, err)
	}
	return g.diff(bare, strings.TrimSpace(mb), head, 3)
}

// diff lists the files that differ between two commits with their hunks
// (context lines of context). It runs git twice: the raw listing (exact
// paths, NUL-separated) and the patch, whose per-file sections come in the
// same order.
func (g *gitHost) diff(bare, from, to string, context int) ([]*fileDiff, error) {
	opts := []string{"-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", "--find-renames"}
	raw, err := g.run(bare, nil, append(opts, "--raw", "-z", "--no-abbrev", from, to, "--")...)
	if err != nil {
		return nil, err
	}
	files, err := parseRaw(raw)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, nil
	}
	patch, err := g.run(bare, nil, append(opts, "-U"+strconv.Itoa(context), from, to, "--")...)
	if err != nil {
		return nil, err
	}
	sections := splitSections(patch)
	if len(sections) != len(files) {
		return nil, fmt.Errorf("git diff listed %d files but patched %d", len(files), len(sections))
	}
	for i, sec := range sections {
		if err := files[i].parseSection(sec); err != nil {
			return nil, fmt.Errorf("%s: %w", files[i].path, err)
		}
	}
	return files, nil
}

// parseRaw reads `git diff --raw -z` records:
// ":oldmode newmode oldsha newsha STATUS\0path\0[newpath\0]".
func parseRaw(raw string) ([]*fileDiff, error) {
	fields := strings.Split(strings.TrimSuffix(raw, "\x00"), "\x00")
	var out []*fileDiff
	for i := 0; i < len(fields); i++ {
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		if len(meta) != 5 || i+1 >= len(fields) {
			return nil, fmt.Errorf("unexpected git diff --raw record %q", fields[i])
		}
		f := &fileDiff{sha: meta[3]}
		switch st := meta[4]; st[0] {
		case 'A':
			f.status = "added"
		case 'D':
			f.status, f.sha = "removed", meta[2]
		case 'R', 'C':
			f.status = map[byte]string{'R': "renamed", 'C': "copied"}[st[0]]
			if i+2 >= len(fields) {
				return nil, fmt.Errorf("git diff --raw: %s record without its new path", st)
			}
			f.oldPath = fields[i+1]
			i++
		default:
			f.status = "modified"
		}
		f.path = fields[i+1]
		i++
		out = append(out, f)
	}
	return out, nil
}

// splitSections cuts a patch at each "diff --git " header.
func splitSections(patch string) [][]string {
	var out [][]string
	for _, l := range strings.Split(patch, "\n") {
		if strings.HasPrefix(l, "diff --git ") {
			out = append(out, nil)
			continue
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], l)
		}
	}
	return out
}

// parseSection reads one file's hunks and counts its additions and
// deletions.
func (f *fileDiff) parseSection(lines []string) error {
	inHunks := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "@@ "):
			h, err := parseHunkHeader(l)
			if err != nil {
				return err
			}
			f.hunks = append(f.hunks, h)
			inHunks = true
		case !inHunks:
			if strings.HasPrefix(l, "Binary files ") {
				f.binary = true
			}
		case l == "":
			// the patch's final newline; a blank context line is " "
		default:
			h := &f.hunks[len(f.hunks)-1]
			h.lines = append(h.lines, l)
			switch l[0] {
			case '+':
				f.additions++
			case '-':
				f.deletions++
			}
		}
	}
	return nil
}

// parseHunkHeader reads "@@ -a[,b] +c[,d] @@ section".
func parseHunkHeader(l string) (hunk, error) {
	h := hunk{header: l}
	rest := strings.TrimPrefix(l, "@@ ")
	ranges, _, ok := strings.Cut(rest, " @@")
	oldR, newR, ok2 := strings.Cut(ranges, " ")
	if !ok || !ok2 || !strings.HasPrefix(oldR, "-") || !strings.HasPrefix(newR, "+") {
		return h, fmt.Errorf("bad hunk header %q", l)
	}
	var err1, err2 error
	h.oldStart, h.oldLines, err1 = parseRange(oldR[1:])
	h.newStart, h.newLines, err2 = parseRange(newR[1:])
	if err1 != nil || err2 != nil {
		return h, fmt.Errorf("bad hunk header %q", l)
	}
	return h, nil
}

func parseRange(s string) (start, n int, err error) {
	a, b, hasN := strings.Cut(s, ",")
	if start, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	n = 1
	if hasN {
		n, err = strconv.Atoi(b)
	}
	return start, n, err
}

// moveLines maps the line range [start, end] of path from commit from to
// commit to, as GitHub does when a pull request's head moves: lines that
// a later commit changed (or whose file it removed or renamed) are
// outdated; lines after a change shift by what it added and removed.
func (g *gitHost) moveLines(owner, name, from, to, path string, start, end int) (newStart, newEnd int, outdated bool, err error) {
	bare, err := g.existing(owner, name)
	if err != nil {
		return 0, 0, false, err
	}
	files, err := g.diff(bare, from, to, 0)
	if err != nil {
		return 0, 0, false, err
	}
	for _, f := range files {
		if f.path != path && f.oldPath != path {
			continue
		}
		if f.status != "modified" || f.binary {
			return 0, 0, true, nil
		}
		shift := 0
		for _, h := range f.hunks {
			oldEnd := h.oldStart + h.oldLines - 1
			switch {
			case h.oldLines == 0 && h.oldStart < start: // insertion after line oldStart
				shift += h.newLines
			case h.oldLines == 0 && h.oldStart < end: // inserted inside the range
				return 0, 0, true, nil
			case h.oldLines == 0:
			case oldEnd < start:
				shift += h.newLines - h.oldLines
			case h.oldStart <= end:
				return 0, 0, true, nil
			}
		}
		return start + shift, end + shift, false, nil
	}
	return start, end, false, nil
}
