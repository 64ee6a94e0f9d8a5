package draft

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Actions a file can get.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionKeep      = "keep"
	ActionUnchanged = "unchanged"
	ActionDelete    = "delete"
)

// FileResult is what happened to one file.
type FileResult struct {
	Path    string `json:"path"`
	Action  string `json:"action"`
	Service string `json:"service,omitempty"`
	Part    string `json:"part"`
}

// ApplyOptions control Apply.
type ApplyOptions struct {
	// Force overwrites existing files that differ; by default they are kept.
	Force bool
	// DryRun computes actions and a unified diff but writes nothing.
	DryRun bool
	Policy Policy
}

// Result is the outcome of applying a draft.
type Result struct {
	Files []FileResult `json:"files"`
	// Diff is the unified diff of every create and update (dry runs and real).
	Diff string `json:"-"`
}

// Apply writes a draft into the repository at root. Every path is checked
// against the policy and must not pass through a symlink; nothing is
// written if any path is refused.
func Apply(root string, files []File, opts ApplyOptions) (*Result, error) {
	if opts.Policy.MaxFileBytes == 0 {
		opts.Policy.MaxFileBytes = 1 << 20
	}
	if opts.Policy.MaxTotalBytes == 0 {
		opts.Policy.MaxTotalBytes = 8 << 20
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("apply to %s: %w", root, err)
	}
	res := &Result{}
	var diff strings.Builder
	type pending struct {
		abs     string
		content []byte
		delete  bool
	}
	var writes []pending
	total := 0
	for _, f := range files {
		if err := opts.Policy.Check(f.Path); err != nil {
			return nil, err
		}
		if len(f.Content) > opts.Policy.MaxFileBytes {
			return nil, fmt.Errorf("%w: %s is %d bytes, over the %d byte limit", ErrPolicy, f.Path, len(f.Content), opts.Policy.MaxFileBytes)
		}
		if total += len(f.Content); total > opts.Policy.MaxTotalBytes {
			return nil, fmt.Errorf("%w: the change is over the %d byte limit at %s", ErrPolicy, opts.Policy.MaxTotalBytes, f.Path)
		}
		abs := filepath.Join(realRoot, filepath.FromSlash(f.Path))
		if err := NoSymlinkOnPath(realRoot, f.Path); err != nil {
			return nil, err
		}
		old, err := os.ReadFile(abs)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		fr := FileResult{Path: f.Path, Service: f.Service, Part: f.Part}
		if f.Delete {
			if !exists {
				continue
			}
			fr.Action = ActionDelete
			res.Files = append(res.Files, fr)
			writeDiff(&diff, f.Path, old, nil, true)
			writes = append(writes, pending{abs: abs, delete: true})
			continue
		}
		switch {
		case !exists:
			fr.Action = ActionCreate
		case bytes.Equal(old, f.Content):
			fr.Action = ActionUnchanged
		case opts.Force:
			fr.Action = ActionUpdate
		default:
			fr.Action = ActionKeep
		}
		res.Files = append(res.Files, fr)
		if fr.Action == ActionCreate || fr.Action == ActionUpdate {
			writeDiff(&diff, f.Path, old, f.Content, exists)
			writes = append(writes, pending{abs: abs, content: f.Content})
		}
	}
	res.Diff = diff.String()
	if opts.DryRun {
		return res, nil
	}
	for _, w := range writes {
		if w.delete {
			if err := os.Remove(w.abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("delete %s: %w", w.abs, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(w.abs), 0o755); err != nil {
			return nil, fmt.Errorf("write %s: %w", w.abs, err)
		}
		if err := os.WriteFile(w.abs, w.content, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", w.abs, err)
		}
	}
	return res, nil
}

// NoSymlinkOnPath refuses a path any existing component of which is a
// symlink: a link could point the write outside the repository.
func NoSymlinkOnPath(root, rel string) error {
	cur := root
	for _, part := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, part)
		st, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", rel, err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s passes through a symlink", ErrPolicy, rel)
		}
	}
	return nil
}

func writeDiff(b *strings.Builder, p string, old, new []byte, exists bool) {
	from, to := "a/"+p, "b/"+p
	if !exists {
		from = "/dev/null"
	}
	if new == nil {
		to = "/dev/null"
	}
	ud := difflib.UnifiedDiff{
		A: difflib.SplitLines(string(old)), B: difflib.SplitLines(string(new)),
		FromFile: from, ToFile: to, Context: 3,
	}
	if !exists {
		ud.A = nil
	}
	s, err := difflib.GetUnifiedDiffString(ud)
	if err != nil {
		return
	}
	b.WriteString(s)
}
