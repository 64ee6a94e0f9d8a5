// Package author defines how kubewright proposes files. An Author turns a
// SystemModel into a draft.Draft: file contents and the assumptions
// behind them. Authors only propose: they never write, validate, touch
// git or publish; the job applies drafts (package draft), validates them
// and asks for repairs. author/rules is the deterministic author,
// author/agent the LLM one.
package author

import (
	"context"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/draft"
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
	// Only limits output to some parts (draft.PartDockerfile, PartK8s,
	// PartGitops).
	Only []string
	// RepoURL and Branch feed the Flux GitRepository (default
	// "https://github.com/OWNER/<repo>" and "main").
	RepoURL string
	Branch  string
	// ImageCI adds the GitHub Actions workflow that builds and pushes
	// every service's image (draft.ImageWorkflowPath), with the Dockerfiles
	// or the GitOps part (the repository's containerize.ci).
	ImageCI bool
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

// Author proposes files for a system.
type Author interface {
	Author(ctx context.Context, m *analyze.SystemModel, opts Options) (*draft.Draft, error)
}
