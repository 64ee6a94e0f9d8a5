package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/workspace"
)

// stage is a private copy of the repository the loop edits and validates,
// so nothing the model proposes (or any build it triggers) touches the
// user's checkout until the result is applied.
type stage struct {
	root string // the original repository
	dir  string // the copy
	tmp  string // what to remove
}

// skipDirs are never copied: VCS data and dependency or build output that
// neither validation nor the model needs.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "bin": true, "obj": true, "target": true, ".venv": true, "vendor": true, "dist": true, "build": true, ".gradle": true}

func newStage(root string) (*stage, error) {
	tmp, err := os.MkdirTemp("", "kubewright-stage-")
	if err != nil {
		return nil, err
	}
	// The copy keeps the repository's directory name: the analyzer names
	// the system after it, and labels carry that name.
	dir := filepath.Join(tmp, filepath.Base(root))
	s := &stage{root: root, dir: dir, tmp: tmp}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return os.MkdirAll(dir, 0o755)
		}
		if d.IsDir() {
			if skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and devices stay out: nothing may write through them
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("copy %s: %w", root, err)
	}
	return s, nil
}

func (s *stage) close() { os.RemoveAll(s.tmp) }

func (s *stage) read(rel string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(rel)))
	if err != nil {
		return "", false
	}
	return string(data), true
}

// changes lists every file that differs between the repository and the
// stage (skipped directories aside): writes and deletions, sorted.
func (s *stage) changes() ([]author.File, error) {
	seen := map[string]bool{}
	var out []author.File
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		seen[rel] = true
		now, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		old, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(rel)))
		if err == nil && bytes.Equal(old, now) {
			return nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		out = append(out, author.File{Path: rel, Content: now, Part: partOf(rel)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && !seen[rel] {
			out = append(out, author.File{Path: rel, Delete: true, Part: partOf(rel)})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// restore makes the stage hold exactly the given change set over the
// original repository (used to fall back to the last valid state).
func (s *stage) restore(files []author.File) error {
	current, err := s.changes()
	if err != nil {
		return err
	}
	for _, f := range current { // undo everything
		abs := filepath.Join(s.dir, filepath.FromSlash(f.Path))
		orig, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(f.Path)))
		switch {
		case err == nil:
			if err := writeFile(abs, orig); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Remove(abs); err != nil {
				return err
			}
		default:
			return err
		}
	}
	for _, f := range files {
		abs := filepath.Join(s.dir, filepath.FromSlash(f.Path))
		if f.Delete {
			if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		if err := writeFile(abs, f.Content); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(abs string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return err
	}
	return os.WriteFile(abs, data, 0o644)
}

func partOf(p string) string {
	top, _, _ := strings.Cut(p, "/")
	base := path.Base(p)
	switch {
	case top == "k8s":
		return author.PartK8s
	case top == "gitops":
		return author.PartGitops
	case base == "Dockerfile" || strings.HasPrefix(base, "Dockerfile.") || base == ".dockerignore":
		return author.PartDockerfile
	}
	return ""
}

// Refusal is a proposed edit the write policy turned down.
type Refusal struct {
	Path   string `json:"path"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// gate is the write policy for model edits, enforced in code whatever the
// prompt said: the workspace policy (Dockerfiles, k8s/, gitops/, never
// .git in any segment or letter case, nothing under .github/ but
// workflows when allowed, size caps) widened to the service directories
// and, for service-codegen, one new service directory.
type gate struct {
	policy     workspace.Policy
	newService bool   // a new top-level service directory may be created
	servicesIn string // parent of new service directories ("" = root)
	created    string // the new service directory, once claimed
	maxJob     int    // bytes all accepted edits may add up to
	written    int
}

// apply checks each edit and writes the accepted ones into the stage.
// Refused edits are returned with the reason; they never stop the others.
func (g *gate) apply(st *stage, edits []llm.Edit) (changed []string, refused []Refusal, err error) {
	for _, e := range edits {
		reason := g.check(st, e)
		if reason != "" {
			refused = append(refused, Refusal{Path: e.Path, Action: e.Action, Reason: reason})
			continue
		}
		abs := filepath.Join(st.dir, filepath.FromSlash(e.Path))
		switch e.Action {
		case llm.ActionDelete:
			if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return changed, refused, err
			}
		default:
			if err := writeFile(abs, []byte(e.Content)); err != nil {
				return changed, refused, err
			}
			g.written += len(e.Content)
		}
		changed = append(changed, e.Path)
	}
	return changed, refused, nil
}

// check returns why an edit is refused, or "".
func (g *gate) check(st *stage, e llm.Edit) string {
	p := e.Path
	pol := g.policy
	// What the policy forbids outright (.git in any case or segment, all
	// of .github/ but allowed workflows, unclean paths) no service
	// directory opens; the rest is the policy's area or a new service.
	if err := pol.Forbidden(p); err != nil {
		return strings.TrimPrefix(err.Error(), workspace.ErrPolicy.Error()+": ")
	}
	if err := pol.Check(p); err != nil && !g.mayCreateService(st, p) {
		return strings.TrimPrefix(err.Error(), workspace.ErrPolicy.Error()+": ")
	}
	if strings.Contains(e.Content, "[REDACTED]") {
		return fmt.Sprintf("%s contains the [REDACTED] placeholder: the model was shown that value redacted and cannot know it; change the file by hand", p)
	}
	if base := path.Base(p); base == ".env" || strings.HasPrefix(base, ".env.") {
		return fmt.Sprintf("%q is an environment file; kubewright never writes values that may be secrets", p)
	}
	for _, dir := range []string{st.root, st.dir} {
		if err := workspace.NoSymlinkOnPath(dir, p); err != nil {
			return strings.TrimPrefix(err.Error(), workspace.ErrPolicy.Error()+": ")
		}
	}
	max := pol.MaxFileBytes
	if max == 0 {
		max = 1 << 20
	}
	if len(e.Content) > max {
		return fmt.Sprintf("%s is %d bytes, over the %d byte limit per file", p, len(e.Content), max)
	}
	if g.maxJob > 0 && g.written+len(e.Content) > g.maxJob {
		return fmt.Sprintf("the job's edits would exceed %d bytes", g.maxJob)
	}
	_, exists := st.read(p)
	switch e.Action {
	case llm.ActionCreate:
		if exists {
			return fmt.Sprintf("%s already exists; use replace", p)
		}
	case llm.ActionReplace, llm.ActionDelete:
		if !exists {
			return fmt.Sprintf("%s does not exist; use create", p)
		}
	default:
		return fmt.Sprintf("unknown action %q", e.Action)
	}
	return ""
}

// mayCreateService allows a path inside one new service directory: a
// directory directly under servicesIn that does not exist yet, named as a
// DNS-1123 label. The first such edit claims the directory for the job.
func (g *gate) mayCreateService(st *stage, p string) bool {
	if !g.newService || strings.HasPrefix(p, ".") || strings.Contains(p, "/.") || path.Clean(p) != p || strings.HasPrefix(p, "../") {
		return false
	}
	rest := p
	if g.servicesIn != "" {
		var ok bool
		if rest, ok = strings.CutPrefix(p, g.servicesIn+"/"); !ok {
			return false
		}
	}
	name, _, ok := strings.Cut(rest, "/")
	if !ok || !dnsLabel(name) {
		return false
	}
	dir := path.Join(g.servicesIn, name)
	if g.created != "" {
		return dir == g.created
	}
	if _, err := os.Lstat(filepath.Join(st.root, filepath.FromSlash(dir))); err == nil {
		return false // an existing directory is not a new service
	}
	g.created = dir
	g.policy.Dirs = append(g.policy.Dirs, dir)
	return true
}

func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
