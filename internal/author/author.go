// Package author defines how kubewright proposes files. An Author turns a
// SystemModel into a Draft: file contents and the assumptions behind them.
// Authors never touch git or the filesystem; the workspace applies drafts.
package author

import (
	"context"
	"sort"

	"github.com/kubewright/kubewright/internal/analyze"
)

// Parts an author can be limited to (Options.Only).
const (
	PartDockerfile = "dockerfile"
	PartK8s        = "k8s"
	PartGitops     = "gitops"
)

// Options steer authoring. Zero values mean "use the default", which
// Defaults fills in.
type Options struct {
	// Services limits authoring to these service names (all when empty).
	Services []string
	// Env is the GitOps environment overlay name (default "production").
	Env string
	// Registry is the image registry prefix, e.g. "ghcr.io/acme"
	// (default: the repository's convention, else "ghcr.io/<repo>").
	Registry string
	// NamespacePrefix is prepended to every namespace the author creates.
	NamespacePrefix string
	// IngressHost is the DNS suffix for user-facing services: service
	// "shop-web" is served at "shop-web.<IngressHost>" (default "example.com").
	IngressHost string
	// IngressClass for Ingress objects (default: convention, else "nginx").
	IngressClass string
	// Only limits output to some parts (PartDockerfile, PartK8s, PartGitops).
	Only []string
	// RepoURL and Branch feed the Flux GitRepository (default
	// "https://github.com/OWNER/<repo>" and "main").
	RepoURL string
	Branch  string
}

// Wants reports whether part is selected by Options.Only.
func (o Options) Wants(part string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, p := range o.Only {
		if p == part {
			return true
		}
	}
	return false
}

// File is one proposed file.
type File struct {
	// Path is slash-separated and relative to the repository root.
	Path    string `json:"path"`
	Content []byte `json:"-"`
	// Service names the service the file belongs to ("" for shared files).
	Service string `json:"service,omitempty"`
	// Part is PartDockerfile, PartK8s or PartGitops (empty for other
	// files, such as an agent's service code).
	Part string `json:"part"`
	// Delete removes the file instead of writing Content.
	Delete bool `json:"delete,omitempty"`
}

// Draft is an author's proposal.
type Draft struct {
	Files       []File   `json:"files"`
	Assumptions []string `json:"assumptions,omitempty"`
}

// Sort orders files by path so drafts compare and print deterministically.
func (d *Draft) Sort() {
	sort.Slice(d.Files, func(i, j int) bool { return d.Files[i].Path < d.Files[j].Path })
}

// Author proposes files for a system.
type Author interface {
	Author(ctx context.Context, m *analyze.SystemModel, opts Options) (*Draft, error)
}
