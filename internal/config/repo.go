// Package config holds the per-repository settings file
// (.github/kubewright.yaml) and its defaults.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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
			hint = "remove or correct the key; known keys are containerize.{services,env,registry,namespacePrefix,ingressHost,ingressClass,only,repoURL,branch}, validate.{rules,allowedSources,crds}, commands.teams, pullRequest.closeIssue and allowWorkflows"
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
	return &c, nil
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
