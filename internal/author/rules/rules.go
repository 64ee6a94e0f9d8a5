// Package rules is the deterministic author: detectors' facts in, typed
// Kubernetes and Flux objects and templated Dockerfiles out. It makes no
// network calls and the same model always yields the same bytes.
package rules

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/draft"
)

// Author is the deterministic author.
type Author struct{}

var _ author.Author = (*Author)(nil)

// New returns the deterministic author.
func New() *Author { return &Author{} }

// Defaults fills in the options the caller left empty, from the
// repository's conventions first and kubewright's defaults second, and
// reports each default it chose.
func Defaults(m *analyze.SystemModel, o author.Options) (author.Options, []string) {
	var notes []string
	if o.Env == "" {
		o.Env = "production"
	}
	if o.Registry == "" {
		switch reg := remoteRegistry(m.Repository); {
		case m.Conventions.Registry != "":
			o.Registry = m.Conventions.Registry
		case reg != "":
			o.Registry = reg
			notes = append(notes, fmt.Sprintf("images are pushed to %s/<service>, the registry of the git remote's owner (set --registry to change)", o.Registry))
		default:
			o.Registry = "ghcr.io/" + m.Name
			notes = append(notes, fmt.Sprintf("images are pushed to %s/<service> (set --registry to change)", o.Registry))
		}
	}
	o.Registry = strings.TrimSuffix(o.Registry, "/")
	if o.IngressHost == "" {
		o.IngressHost = "example.com"
		if o.Wants(draft.PartK8s) || o.Wants(draft.PartGitops) {
			notes = append(notes, "user-facing services are served at <service>.example.com (set --ingress-host)")
		}
	}
	if o.IngressClass == "" {
		o.IngressClass = m.Conventions.IngressClass
		if o.IngressClass == "" {
			o.IngressClass = "nginx"
		}
	}
	if o.RepoURL == "" && o.Wants(draft.PartGitops) {
		switch r := m.Repository; {
		case r != nil && r.URL != "":
			o.RepoURL = r.URL
			notes = append(notes, fmt.Sprintf("Flux pulls from %s, the git remote origin, with the credentials in Secret flux-system/flux-system (flux bootstrap creates it)", o.RepoURL))
		default:
			o.RepoURL = "https://github.com/OWNER/" + m.Name
			notes = append(notes, fmt.Sprintf("Flux pulls from %s (set the repository URL in gitops/clusters/<env>/source.yaml)", o.RepoURL))
		}
	}
	if o.Branch == "" {
		o.Branch = "main"
	}
	return o, notes
}

var envName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Author renders the selected parts for the selected services.
func (a *Author) Author(ctx context.Context, m *analyze.SystemModel, opts author.Options) (*draft.Draft, error) {
	m, skipped := authorable(m)
	opts, notes := Defaults(m, opts)
	notes = append(notes, skipped...)
	if !envName.MatchString(opts.Env) {
		return nil, fmt.Errorf("environment %q is not a valid directory name: use lower-case letters, digits and '-'", opts.Env)
	}
	sys := &system{m: m, opts: opts, all: map[string]analyze.Service{}, uid: map[string]int64{}, assumptions: notes}
	for _, s := range m.Services {
		sys.all[s.Name] = s
	}
	if len(opts.Services) > 0 {
		for _, name := range opts.Services {
			s, ok := sys.all[name]
			if !ok {
				return nil, fmt.Errorf("unknown service %q: the repository has %s", name, serviceNames(m))
			}
			sys.svcs = append(sys.svcs, s)
		}
	} else {
		sys.svcs = append(sys.svcs, m.Services...)
	}
	sort.Slice(sys.svcs, func(i, j int) bool { return sys.svcs[i].Name < sys.svcs[j].Name })
	if ns := m.Conventions.Namespaces; len(ns) == 1 {
		sys.sharedNS = ns[0]
	}

	out := &draft.Draft{}
	ignores := map[string]bool{}
	for _, s := range sys.svcs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := DockerfileFor(s)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
		sys.uid[s.Name] = res.UID
		if s.Dockerfile != "" {
			sys.uid[s.Name] = existingUID(s, res.UID, sys)
			sys.assume("%s keeps its existing %s", s.Name, s.Dockerfile)
			continue
		}
		for _, note := range res.Assumptions {
			sys.assume("%s: %s", s.Name, note)
		}
		for _, note := range s.Assumptions {
			sys.assume("%s: %s", s.Name, note)
		}
		if !opts.Wants(draft.PartDockerfile) {
			continue
		}
		df, di := dockerfilePath(s, m, res.Context)
		out.Files = append(out.Files, draft.File{Path: df, Content: res.Dockerfile, Service: s.Name, Part: draft.PartDockerfile})
		if !ignores[di] {
			ignores[di] = true
			out.Files = append(out.Files, draft.File{Path: di, Content: res.Dockerignore, Service: s.Name, Part: draft.PartDockerfile})
		}
	}
	if opts.Wants(draft.PartK8s) {
		fs, err := sys.k8sFiles()
		if err != nil {
			return nil, err
		}
		out.Files = append(out.Files, fs...)
	}
	// Without services there is nothing for Flux to deploy: no cluster
	// setup either.
	if opts.Wants(draft.PartGitops) && len(sys.svcs) > 0 {
		fs, err := sys.gitopsFiles()
		if err != nil {
			return nil, err
		}
		out.Files = append(out.Files, fs...)
	}
	// The image workflow builds what the Dockerfiles describe and what
	// the GitOps part deploys: it goes with either.
	if opts.ImageCI && (opts.Wants(draft.PartDockerfile) || opts.Wants(draft.PartGitops)) && len(sys.svcs) > 0 {
		f, err := sys.imageWorkflow()
		if err != nil {
			return nil, err
		}
		out.Files = append(out.Files, f)
	}
	out.Sort()
	out.Assumptions = dedupe(sys.assumptions)
	return out, nil
}

// dockerfilePath places a service's Dockerfile and the ignore file of its
// build: at the build context when it is the only service there, else next
// to its main package or crate (built with `docker build -f <dir>/Dockerfile
// <context>`), else as Dockerfile.<service>. The context's .dockerignore
// applies, except when the build context is wider than the service's
// directory (a .NET project referencing siblings): then BuildKit's
// Dockerfile-specific <Dockerfile>.dockerignore beside it.
func dockerfilePath(s analyze.Service, m *analyze.SystemModel, ctx string) (dockerfile, ignore string) {
	if ctx != s.Path && ctx != "" {
		df := path.Join(s.Path, "Dockerfile")
		return df, df + ".dockerignore"
	}
	ignore = path.Join(s.Path, ".dockerignore")
	shared := 0
	for _, o := range m.Services {
		if o.Path == s.Path {
			shared++
		}
	}
	switch sub := dockerSubdir(s); {
	case shared > 1 && sub != ".":
		return path.Join(s.Path, sub, "Dockerfile"), ignore
	case shared > 1:
		return path.Join(s.Path, "Dockerfile."+s.Name), ignore
	}
	return path.Join(s.Path, "Dockerfile"), ignore
}

// remoteRegistry is the container registry that goes with a git remote:
// GitHub's for github.com, GitLab's for gitlab.com, "" for other hosts.
func remoteRegistry(r *analyze.Remote) string {
	if r == nil || r.Owner == "" {
		return ""
	}
	switch r.Host {
	case "github.com":
		return "ghcr.io/" + strings.ToLower(r.Owner)
	case "gitlab.com":
		return "registry.gitlab.com/" + strings.ToLower(r.Owner) + "/" + strings.ToLower(r.Name)
	}
	return ""
}

// existingUID reads the numeric user of a kept Dockerfile, so the pod's
// runAsUser matches what the image really runs as.
func existingUID(s analyze.Service, fallback int64, sys *system) int64 {
	user, _, _ := strings.Cut(s.DockerfileUser, ":")
	if uid, err := strconv.ParseInt(user, 10, 64); err == nil && uid > 0 {
		return uid
	}
	switch user {
	case "nonroot":
		return 65532
	case "":
		sys.assume("%s's Dockerfile sets no USER: pods run it as UID %d; add `USER %d` to the Dockerfile", s.Name, fallback, fallback)
	default:
		sys.assume("%s's Dockerfile runs as %q, not a numeric UID: pods run it as UID %d; use a numeric USER so runAsNonRoot can be verified", s.Name, user, fallback)
	}
	return fallback
}

func serviceNames(m *analyze.SystemModel) string {
	var names []string
	for _, s := range m.Services {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return "no services"
	}
	return strings.Join(names, ", ")
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
