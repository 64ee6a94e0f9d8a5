package draft

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// Policy is the write policy: which repository paths an author may write.
type Policy struct {
	// MaxFileBytes caps a single file (default 1 MiB).
	MaxFileBytes int
	// MaxTotalBytes caps everything one Apply writes (default 8 MiB).
	MaxTotalBytes int
	// AllowWorkflows permits writes under .github/workflows/.
	AllowWorkflows bool
	// ImageWorkflow permits ImageWorkflowPath alone, the image build
	// workflow containerize writes when the repository's configuration
	// sets containerize.ci; the rest of .github/workflows/ stays closed.
	ImageWorkflow bool
	// Dirs are further repository-relative directories whose files may be
	// written (agents: the service directories), each a clean relative path.
	Dirs []string
}

// ImageWorkflowPath is the workflow that builds and pushes the services'
// images (containerize.ci: github-actions).
const ImageWorkflowPath = ".github/workflows/kubewright-images.yml"

// ErrPolicy is wrapped by every write-policy refusal.
var ErrPolicy = errors.New("write policy")

// Forbidden reports the refusals no configuration widens: a path that is
// not clean, relative and slash-separated; a ".git" segment anywhere, in
// any letter case (and the spellings Windows and macOS file systems fold
// into it: ".git.", ".git ", "git~1", ".g\u200cit"); and anything under
// ".github/", except ".github/workflows/" when the repository's
// configuration allows workflows, and ImageWorkflowPath alone when it
// asks for image CI. ".github/actions/", ".github/Dockerfile"
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
			if pol.AllowWorkflows || pol.ImageWorkflow && p == ImageWorkflowPath {
				return nil
			}
			if p == ImageWorkflowPath {
				return fmt.Errorf("%w: %q is the image workflow; set containerize.ci: github-actions in .github/kubewright.yaml to let kubewright write it", ErrPolicy, p)
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
