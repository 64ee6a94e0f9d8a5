package agent

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kubewright/kubewright/internal/draft"
	"github.com/kubewright/kubewright/internal/llm"
)

// Refusal is a proposed edit the write policy turned down.
type Refusal struct {
	Path   string `json:"path"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// gate is the write policy for model edits, enforced in code whatever the
// prompt said: the draft policy (Dockerfiles, k8s/, gitops/, never .git
// in any segment or letter case, nothing under .github/ but workflows
// when allowed, size caps) widened to the service directories and, for
// service-codegen, one new service directory. It only decides: the job
// writes what it accepts.
type gate struct {
	policy     draft.Policy
	repo       string // the repository, never written
	dir        string // the working copy the edits apply to
	newService bool   // a new top-level service directory may be created
	servicesIn string // parent of new service directories ("" = root)
	created    string // the new service directory, once claimed
	maxJob     int    // bytes all accepted edits may add up to
	written    int
	// pending is what the proposal being checked has done so far: a path
	// it created or replaced (true) or deleted (false).
	pending map[string]bool
}

// accept checks a proposal's edits in order, as if each accepted one had
// been applied, and returns the accepted ones as files (a deletion as
// Delete) and the refused ones with the reason; a refusal never stops the
// others.
func (g *gate) accept(edits []llm.Edit) (files []draft.File, refused []Refusal) {
	g.pending = map[string]bool{}
	for _, e := range edits {
		if reason := g.check(e); reason != "" {
			refused = append(refused, Refusal{Path: e.Path, Action: e.Action, Reason: reason})
			continue
		}
		f := draft.File{Path: e.Path, Part: draft.PartOf(e.Path)}
		if e.Action == llm.ActionDelete {
			f.Delete = true
			g.pending[e.Path] = false
		} else {
			f.Content = []byte(e.Content)
			g.written += len(e.Content)
			g.pending[e.Path] = true
		}
		files = append(files, f)
	}
	return files, refused
}

// exists reports whether p exists in the working copy, after the edits
// accepted so far in this proposal.
func (g *gate) exists(p string) bool {
	if v, ok := g.pending[p]; ok {
		return v
	}
	st, err := os.Stat(filepath.Join(g.dir, filepath.FromSlash(p)))
	return err == nil && st.Mode().IsRegular()
}

// check returns why an edit is refused, or "".
func (g *gate) check(e llm.Edit) string {
	p := e.Path
	pol := g.policy
	// What the policy forbids outright (.git in any case or segment, all
	// of .github/ but allowed workflows, unclean paths) no service
	// directory opens; the rest is the policy's area or a new service.
	if err := pol.Forbidden(p); err != nil {
		return strings.TrimPrefix(err.Error(), draft.ErrPolicy.Error()+": ")
	}
	if err := pol.Check(p); err != nil && !g.mayCreateService(p) {
		return strings.TrimPrefix(err.Error(), draft.ErrPolicy.Error()+": ")
	}
	if strings.Contains(e.Content, "[REDACTED]") {
		return fmt.Sprintf("%s contains the [REDACTED] placeholder: the model was shown that value redacted and cannot know it; change the file by hand", p)
	}
	if base := path.Base(p); base == ".env" || strings.HasPrefix(base, ".env.") {
		return fmt.Sprintf("%q is an environment file; kubewright never writes values that may be secrets", p)
	}
	for _, dir := range []string{g.repo, g.dir} {
		if dir == "" {
			continue
		}
		if err := draft.NoSymlinkOnPath(dir, p); err != nil {
			return strings.TrimPrefix(err.Error(), draft.ErrPolicy.Error()+": ")
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
	exists := g.exists(p)
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
func (g *gate) mayCreateService(p string) bool {
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
	if _, err := os.Lstat(filepath.Join(g.repo, filepath.FromSlash(dir))); err == nil {
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
