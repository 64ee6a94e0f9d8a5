// Package config holds the per-repository settings file
// (.github/kubewright.yaml) and its defaults.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// RepoConfigPath is where a repository keeps its kubewright settings.
const RepoConfigPath = ".github/kubewright.yaml"

// Repo is the per-repository configuration. Every field is optional; the
// command line overrides what is set here.
type Repo struct {
	Containerize Containerize `json:"containerize"`
	// AllowWorkflows lets authors write under .github/workflows/.
	AllowWorkflows bool        `json:"allowWorkflows,omitempty"`
	Validate       Validate    `json:"validate"`
	Commands       Commands    `json:"commands"`
	PullRequest    PullRequest `json:"pullRequest"`
	Agents         Agents      `json:"agents"`
}

// DefaultMaxAttempts bounds the validate-and-repair loop when the
// repository does not say otherwise.
const DefaultMaxAttempts = 3

// Agents configures the LLM agents (`/ai <free text>`, `kubewright do`).
type Agents struct {
	// MaxAttempts bounds validate -> repair rounds (default 3, at most 10).
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// Paths are further repository-relative directories agents may edit,
	// besides the detected service directories, Dockerfiles, k8s/ and
	// gitops/.
	Paths []string `json:"paths,omitempty"`
	// ServicesDir is where a new service's directory is created (default:
	// where the existing services live, else the repository root).
	ServicesDir string `json:"servicesDir,omitempty"`
	// TokensPerJob lowers the server's per-job token budget for this
	// repository (it can never raise it).
	TokensPerJob int `json:"tokensPerJob,omitempty"`
}

// Attempts is MaxAttempts with its default.
func (a Agents) Attempts() int {
	if a.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return a.MaxAttempts
}

// PullRequest configures the pull requests kubewright opens.
type PullRequest struct {
	// CloseIssue writes "Closes #N" so merging closes the requesting issue
	// (default: the body only links the issue).
	CloseIssue bool `json:"closeIssue,omitempty"`
}

// Commands configures who may run /ai commands besides the repository's
// writers, maintainers and admins.
type Commands struct {
	// Teams are "org/team-slug" whose active members may run commands.
	Teams []string `json:"teams,omitempty"`
}

// Validate configures `kubewright validate`.
type Validate struct {
	// Rules overrides a rule's severity by ID: "error", "warning", "info"
	// or "off" (e.g. KW-POL-010: off).
	Rules map[string]string `json:"rules,omitempty"`
	// AllowedSources are Flux sources referenced but defined outside the
	// repository, as "namespace/name" (default: flux-system/flux-system).
	AllowedSources []string `json:"allowedSources,omitempty"`
	// CRDs are extra directories (repository-relative) holding CRDs.
	CRDs []string `json:"crds,omitempty"`
}

// Containerize holds defaults for `kubewright containerize`.
type Containerize struct {
	Services        []string `json:"services,omitempty"`
	Env             string   `json:"env,omitempty"`
	Registry        string   `json:"registry,omitempty"`
	NamespacePrefix string   `json:"namespacePrefix,omitempty"`
	IngressHost     string   `json:"ingressHost,omitempty"`
	IngressClass    string   `json:"ingressClass,omitempty"`
	Only            []string `json:"only,omitempty"`
	RepoURL         string   `json:"repoURL,omitempty"`
	Branch          string   `json:"branch,omitempty"`
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// ParseRepo decodes a settings file strictly: an unknown or misspelt key is
// an error that names the file, the line when known, and the fix.
func ParseRepo(name string, data []byte) (*Repo, error) {
	var c Repo
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		msg := err.Error()
		loc := name
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			loc += ":" + m[1]
		}
		hint := "fix the YAML"
		if strings.Contains(msg, "unknown field") {
			hint = "remove or correct the key; known keys are containerize.{services,env,registry,namespacePrefix,ingressHost,ingressClass,only,repoURL,branch}, validate.{rules,allowedSources,crds}, commands.teams, pullRequest.closeIssue, agents.{maxAttempts,paths,servicesDir,tokensPerJob} and allowWorkflows"
		}
		return nil, fmt.Errorf("%s: %s (%s)", loc, cleanYAMLError(msg), hint)
	}
	for _, o := range c.Containerize.Only {
		switch o {
		case "dockerfile", "k8s", "gitops":
		default:
			return nil, fmt.Errorf("%s: containerize.only has %q (use dockerfile, k8s or gitops)", name, o)
		}
	}
	for _, team := range c.Commands.Teams {
		if org, slug, ok := strings.Cut(team, "/"); !ok || org == "" || slug == "" || strings.Contains(slug, "/") {
			return nil, fmt.Errorf("%s: commands.teams has %q (use org/team-slug)", name, team)
		}
	}
	for id, sev := range c.Validate.Rules {
		switch sev {
		case "error", "warning", "info", "off":
		default:
			return nil, fmt.Errorf("%s: validate.rules.%s is %q (use error, warning, info or off)", name, id, sev)
		}
	}
	if a := c.Agents.MaxAttempts; a < 0 || a > 10 {
		return nil, fmt.Errorf("%s: agents.maxAttempts is %d (use 1 to 10; the default is %d)", name, a, DefaultMaxAttempts)
	}
	if c.Agents.TokensPerJob < 0 {
		return nil, fmt.Errorf("%s: agents.tokensPerJob is %d (use a positive number of tokens, or leave it out)", name, c.Agents.TokensPerJob)
	}
	for _, p := range append(append([]string(nil), c.Agents.Paths...), c.Agents.ServicesDir) {
		if p == "" {
			continue
		}
		if err := checkRelDir(p); err != nil {
			return nil, fmt.Errorf("%s: agents: %q %v", name, p, err)
		}
	}
	return &c, nil
}

// checkRelDir accepts a clean, relative, slash-separated directory that
// stays inside the repository and is not .git or .github.
func checkRelDir(p string) error {
	switch {
	case strings.HasPrefix(p, "/") || strings.Contains(p, `\`):
		return errors.New("must be a relative slash-separated path (e.g. services)")
	case path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../"):
		return errors.New("must be a clean path inside the repository, without .. or a trailing slash")
	case p == ".git" || strings.HasPrefix(p, ".git/") || p == ".github" || strings.HasPrefix(p, ".github/"):
		return errors.New("may not be under .git or .github (workflows are governed by allowWorkflows)")
	}
	return nil
}

func cleanYAMLError(msg string) string {
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: while decoding JSON: ")
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	return msg
}

// LoadRepo reads RepoConfigPath under root; a missing file is the empty
// configuration.
func LoadRepo(root string) (*Repo, error) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(RepoConfigPath)))
	if errors.Is(err, fs.ErrNotExist) {
		return &Repo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", RepoConfigPath, err)
	}
	return ParseRepo(RepoConfigPath, data)
}
