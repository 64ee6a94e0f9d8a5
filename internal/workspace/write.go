// Package workspace holds the working copy an author's draft lands in, and
// the write policy that decides which paths an author may touch.
package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/kubewright/kubewright/internal/author"
)

// Actions a file can get.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionKeep      = "keep"
	ActionUnchanged = "unchanged"
	ActionDelete    = "delete"
)

// Policy is the write policy: which repository paths an author may write.
type Policy struct {
	// MaxFileBytes caps a single file (default 1 MiB).
	MaxFileBytes int
	// MaxTotalBytes caps everything one Apply writes (default 8 MiB).
	MaxTotalBytes int
	// AllowWorkflows permits writes under .github/workflows/.
	AllowWorkflows bool
	// Dirs are further repository-relative directories whose files may be
	// written (agents: the service directories), each a clean relative path.
	Dirs []string
}

// ErrPolicy is wrapped by every write-policy refusal.
var ErrPolicy = errors.New("write policy")

// Forbidden reports the refusals no configuration widens: a path that is
// not clean, relative and slash-separated; a ".git" segment anywhere, in
// any letter case (and the spellings Windows and macOS file systems fold
// into it: ".git.", ".git ", "git~1", ".g\u200cit"); and anything under
// ".github/", except ".github/workflows/" when the repository's
// configuration allows workflows. ".github/actions/", ".github/Dockerfile"
// and ".github/kubewright.yaml" are therefore never written: they run in
// CI or steer kubewright itself.
func (pol Policy) Forbidden(p string) error {
	switch {
	case p == "" || strings.HasPrefix(p, "/") || filepath.IsAbs(p) || strings.Contains(p, `\`) || strings.ContainsRune(p, 0):
		return fmt.Errorf("%w: %q must be a relative slash-separated path", ErrPolicy, p)
	case path.Clean(p) != p || p == "." || strings.HasPrefix(p, "../") || p == "..":
		return fmt.Errorf("%w: %q is not a clean path inside the repository", ErrPolicy, p)
	}
	segs := strings.Split(p, "/")
	for _, seg := range segs {
		if isGitDir(seg) {
			return fmt.Errorf("%w: %q is inside .git (git's own data is never written)", ErrPolicy, p)
		}
	}
	if isDotGitHub(segs[0]) {
		if len(segs) > 2 && segs[0] == ".github" && segs[1] == "workflows" {
			if pol.AllowWorkflows {
				return nil
			}
			return fmt.Errorf("%w: %q is a workflow; set allowWorkflows: true in .github/kubewright.yaml to let kubewright write .github/workflows/", ErrPolicy, p)
		}
		return fmt.Errorf("%w: %q is under .github/, which kubewright never writes (only .github/workflows/, and only with allowWorkflows: true in .github/kubewright.yaml)", ErrPolicy, p)
	}
	return nil
}

// Check reports whether p may be written: it is not [Policy.Forbidden],
// and it is a Dockerfile, a .dockerignore file, under k8s/ or gitops/, a
// workflow when allowed, or inside one of the policy's Dirs.
func (pol Policy) Check(p string) error {
	if err := pol.Forbidden(p); err != nil {
		return err
	}
	if strings.HasPrefix(p, ".github/") {
		return nil // a workflow, allowed by Forbidden
	}
	base := path.Base(p)
	top, _, _ := strings.Cut(p, "/")
	if top == "k8s" || top == "gitops" || base == ".dockerignore" || base == "Dockerfile" || strings.HasPrefix(base, "Dockerfile.") {
		return nil
	}
	for _, d := range pol.Dirs {
		if d != "" && d != "." && strings.HasPrefix(p, d+"/") {
			return nil
		}
	}
	return fmt.Errorf("%w: %q is outside the paths kubewright writes (Dockerfiles, .dockerignore, k8s/, gitops/%s)", ErrPolicy, p, dirList(pol.Dirs))
}

// isGitDir reports whether a path segment names git's directory, the way
// git itself refuses it on checkout (core.protectNTFS, core.protectHFS):
// any letter case, trailing dots and spaces, the 8.3 short name, and
// code points macOS ignores in names.
func isGitDir(seg string) bool {
	f := foldName(seg)
	return strings.EqualFold(f, ".git") || strings.EqualFold(f, "git~1")
}

// isDotGitHub reports whether the first segment is .github in any of the
// spellings isGitDir folds.
func isDotGitHub(seg string) bool { return strings.EqualFold(foldName(seg), ".github") }

// foldName drops what case-insensitive or normalising file systems ignore
// in a name: zero-width and direction code points (HFS+), and trailing
// dots and spaces (NTFS).
func foldName(seg string) string {
	if strings.IndexFunc(seg, hfsIgnorable) >= 0 {
		seg = strings.Map(func(r rune) rune {
			if hfsIgnorable(r) {
				return -1
			}
			return r
		}, seg)
	}
	return strings.TrimRight(seg, ". ")
}

// hfsIgnorable are the code points HFS+ leaves out when it compares names
// (the list git's protectHFS uses).
func hfsIgnorable(r rune) bool {
	return r >= 0x200c && r <= 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x206a && r <= 0x206f || r == 0xfeff
}

func dirList(dirs []string) string {
	var b strings.Builder
	for _, d := range dirs {
		b.WriteString(", " + d + "/")
	}
	return b.String()
}

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
func Apply(root string, files []author.File, opts ApplyOptions) (*Result, error) {
	if opts.Policy.MaxFileBytes == 0 {
		opts.Policy.MaxFileBytes = 1 << 20
	}
	if opts.Policy.MaxTotalBytes == 0 {
		opts.Policy.MaxTotalBytes = 8 << 20
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", root, err)
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
