// Package fix turns findings into deterministic, committable edits: the
// file, the line range to replace and the replacement text. The same Fix
// is a GitHub "suggestion" block on a pull-request review comment (which
// replaces exactly the commented lines of the right side) and an applied
// edit for `/ai fix` ([ApplyAll]).
//
// Fixers read the head's files, never run anything from them, and edit
// YAML by splicing the lines they add or change into the original text, so
// comments (Flux setters live in comments), key order, quoting and the
// surrounding indentation stay as they were. Every YAML edit is checked
// before it is offered: the edited file must parse, every other document
// must decode to what it was, and the edited document must decode to the
// original with exactly the intended change. A fixer that cannot make a
// safe edit returns an [*Unfixable] that says why, and the review shows
// the finding without a suggestion.
package fix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/kubewright/kubewright/internal/finding"
)

// MaxFileBytes caps a file a fixer reads and edits: 1 MiB.
const MaxFileBytes = 1 << 20

// Fix is one deterministic edit that resolves a finding.
type Fix struct {
	// File is the repository-relative, slash-separated file the fix edits:
	// the finding's file, except for fixes that edit a companion file (a
	// Dockerfile finding fixed in its .dockerignore).
	File string `json:"file"`
	// StartLine and EndLine (1-based, inclusive) are the lines of File the
	// fix replaces. Both are 0 when the fix creates File.
	StartLine int `json:"start_line"`
	EndLine   int `json:"end_line"`
	// Replacement replaces those lines: whole lines, each ending in a
	// newline except at the end of a file that has none; "" deletes them.
	Replacement string `json:"replacement"`
	// Title says what the fix does, in one sentence.
	Title string `json:"title"`
	// Note is what a reviewer should check before committing the fix, or "".
	Note string `json:"note,omitempty"`
}

// Creates reports whether the fix creates its file.
func (f Fix) Creates() bool { return f.StartLine == 0 }

// Suggestion renders the fix as a GitHub suggestion block, the body of a
// review comment whose range is StartLine..EndLine of File on the RIGHT
// side (start_line and line). ok is false when the fix creates a file,
// which a suggestion cannot do; show [Fix.Patch] instead.
func (f Fix) Suggestion() (block string, ok bool) {
	if f.Creates() {
		return "", false
	}
	body := strings.TrimSuffix(f.Replacement, "\n")
	if f.Replacement != "" {
		body += "\n"
	}
	fence := fenceFor(body)
	return fence + "suggestion\n" + body + fence + "\n", true
}

// fenceFor returns a backtick fence longer than any run of backticks in s.
func fenceFor(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// Apply returns content with the fix applied. content is the file as it
// is now (nil when the file does not exist, for a fix that creates it).
func (f Fix) Apply(content []byte) ([]byte, error) {
	if f.Creates() {
		if len(content) > 0 {
			return nil, fmt.Errorf("%s: the fix creates the file, but it exists and is not empty: propose the fix again against the current file", f.File)
		}
		return []byte(f.Replacement), nil
	}
	lines := splitLines(content)
	if f.StartLine < 1 || f.EndLine < f.StartLine || f.EndLine > len(lines) {
		return nil, fmt.Errorf("%s: the fix replaces lines %d-%d, but the file has %d lines: propose the fix again against the current file", f.File, f.StartLine, f.EndLine, len(lines))
	}
	var b bytes.Buffer
	b.Grow(len(content) + len(f.Replacement))
	for _, l := range lines[:f.StartLine-1] {
		b.WriteString(l)
	}
	b.WriteString(f.Replacement)
	for _, l := range lines[f.EndLine:] {
		b.WriteString(l)
	}
	return b.Bytes(), nil
}

// Patch renders the fix as a unified diff of File against content (the
// file as it is, nil when the fix creates it), for a review body, a
// comment on a file the pull request does not touch, or a log.
func (f Fix) Patch(content []byte) (string, error) {
	after, err := f.Apply(content)
	if err != nil {
		return "", err
	}
	from := "a/" + f.File
	if f.Creates() {
		from = "/dev/null"
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: diffLines(content), B: diffLines(after),
		FromFile: from, ToFile: "b/" + f.File, Context: 3,
	})
}

// diffLines are the lines of b for difflib, each ending in a newline.
func diffLines(b []byte) []string {
	lines := splitLines(b)
	if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
		lines[n-1] += "\n"
	}
	return lines
}

// Unfixable is why a finding has no deterministic fix. It is an ordinary
// answer, not a failure: the review shows the finding with its hint.
type Unfixable struct {
	// Reason is a sentence a person can act on.
	Reason string
}

func (u *Unfixable) Error() string { return "no automatic fix: " + u.Reason }

// unfixable builds an *Unfixable.
func unfixable(format string, args ...any) error {
	return &Unfixable{Reason: fmt.Sprintf(format, args...)}
}

// IsUnfixable reports whether err is an *Unfixable, and its reason.
func IsUnfixable(err error) (string, bool) {
	var u *Unfixable
	if errors.As(err, &u) {
		return u.Reason, true
	}
	return "", false
}

// change is what a fixer proposes: one file's new content.
type change struct {
	file        string
	title, note string
	after       []byte
}

// fixer proposes a change for the finding of c, or returns an error
// (an *Unfixable when there is no safe fix).
type fixer func(c *call) (change, error)

// fixers maps rule IDs to their fixers. Findings about a missing
// seccompProfile are matched by message (see seccompFinding), as no rule
// ID reports them yet.
var fixers = map[string]fixer{
	"KW-POL-001":    fixRunAsNonRoot,
	"KW-POL-002":    fixReadOnlyRoot,
	"KW-POL-003":    fixPrivileged,
	"KW-POL-004":    fixPrivilegeEscalation,
	"KW-POL-007":    fixDropCapabilities,
	"KW-POL-010":    fixRequests,
	"KW-POL-011":    fixMemoryLimit,
	"KW-POL-012":    fixReadinessProbe,
	"KW-POL-013":    fixLivenessProbe,
	"KW-POL-014":    fixManifestImageTag,
	"KW-POL-031":    fixServiceSelector,
	"KW-DRYRUN-001": fixWorkloadSelector,
	"KW-DIAG-010":   fixDiagProbePort,
	"KW-DIAG-012":   fixDiagServiceSelector,
	"KW-DIAG-013":   fixDiagTargetPort,
	"KW-DOCKER-012": fixDockerUser,
	"KW-DOCKER-013": fixDockerBaseTag,
	"KW-DOCKER-015": fixDockerIgnore,
}

// Fixable reports whether findings of the rule can have a fix at all
// (each finding may still be [Unfixable]).
func Fixable(id string) bool {
	_, ok := fixers[id]
	return ok
}

// For proposes the fix for one finding, reading what it needs from repo:
// the head's work tree with repository-relative, slash-separated names.
// Pass (*os.Root).FS() of the work tree (or an fs.FS over git objects), so
// that no symbolic link leads out of it; For also refuses to read a file
// that is a symbolic link, not a regular file or over MaxFileBytes. The
// error is an [*Unfixable] when there is no safe fix.
func For(repo fs.FS, f finding.Finding) (Fix, error) {
	c := &call{repo: repo, f: f, files: map[string][]byte{}}
	return c.propose()
}

// call is one fixer run: the finding and the files read for it.
type call struct {
	repo fs.FS
	f    finding.Finding
	// files caches what read returned; a nil entry is a file that does
	// not exist.
	files map[string][]byte
	// overlay, when set, answers reads first (ApplyAll's edited files).
	overlay map[string][]byte
}

func (c *call) propose() (Fix, error) {
	fx := fixers[c.f.ID]
	if fx == nil && seccompFinding(c.f) {
		fx = fixSeccomp
	}
	if fx == nil {
		return Fix{}, unfixable("kubewright has no deterministic fix for %s; follow the finding's hint", c.f.ID)
	}
	ch, err := fx(c)
	if err != nil {
		return Fix{}, err
	}
	before, err := c.read(ch.file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Fix{}, err
	}
	if bytes.Equal(before, ch.after) {
		return Fix{}, unfixable("%s already has what the fix would set", ch.file)
	}
	fix := lineRange(before, ch.after, errors.Is(err, fs.ErrNotExist))
	fix.File, fix.Title, fix.Note = ch.file, ch.title, ch.note
	return fix, nil
}

// read returns a file's content. A file that does not exist is
// fs.ErrNotExist (and nil content).
func (c *call) read(name string) ([]byte, error) {
	if b, ok := c.overlay[name]; ok {
		return b, nil
	}
	if b, ok := c.files[name]; ok {
		if b == nil {
			return nil, fs.ErrNotExist
		}
		return b, nil
	}
	b, err := readRegular(c.repo, name)
	if errors.Is(err, fs.ErrNotExist) {
		c.files[name] = nil
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	c.files[name] = b
	return b, nil
}

// readRegular reads a regular file of at most MaxFileBytes; a symbolic
// link, device or directory is an *Unfixable.
func readRegular(repo fs.FS, name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, unfixable("%q is not a repository-relative path", name)
	}
	st, err := fs.Lstat(repo, name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, unfixable("%s is not a regular file (a symbolic link or a directory): edit it by hand", name)
	}
	if st.Size() > MaxFileBytes {
		return nil, unfixable("%s is over %d bytes: edit it by hand", name, MaxFileBytes)
	}
	fh, err := repo.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > MaxFileBytes {
		return nil, unfixable("%s is over %d bytes: edit it by hand", name, MaxFileBytes)
	}
	return b, nil
}

// lineRange finds the smallest run of lines of before that, replaced,
// gives after. A pure insertion takes in the line before it (or after it,
// at the top of the file), since a suggestion must replace at least one
// line. created marks a file that did not exist.
func lineRange(before, after []byte, created bool) Fix {
	if created || len(before) == 0 {
		return Fix{Replacement: string(after)}
	}
	ol, nl := splitLines(before), splitLines(after)
	p := 0
	for p < len(ol) && p < len(nl) && ol[p] == nl[p] {
		p++
	}
	s := 0
	for s < len(ol)-p && s < len(nl)-p && ol[len(ol)-1-s] == nl[len(nl)-1-s] {
		s++
	}
	oStart, oEnd := p, len(ol)-s
	nStart, nEnd := p, len(nl)-s
	if oStart == oEnd {
		if oStart > 0 {
			oStart--
			nStart--
		} else {
			oEnd++
			nEnd++
		}
	}
	return Fix{StartLine: oStart + 1, EndLine: oEnd, Replacement: strings.Join(nl[nStart:nEnd], "")}
}

// splitLines splits b after each "\n"; the last line may have none.
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
