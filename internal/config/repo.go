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
	"strings"

	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// RepoConfigPath is where a repository keeps its kubewright settings.
const RepoConfigPath = ".github/kubewright.yaml"

// Limits on the settings file: it is a few dozen lines in practice.
const (
	// MaxRepoConfigBytes caps the file's size.
	MaxRepoConfigBytes = 64 << 10
	// maxRepoConfigNodes caps its YAML nodes with aliases expanded.
	maxRepoConfigNodes = 20_000
	// MaxPathBytes caps one path-valued setting.
	MaxPathBytes = 256
	// maxListItems caps one list (paths, teams, services, rules).
	maxListItems = 200
)

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
	Review         Review      `json:"review"`

	// lines maps a setting ("validate.crds[0]") to its line in the file,
	// for errors found after decoding.
	lines map[string]int
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
	// gitops/. ParseRepo cleans them (no "./", no trailing slash).
	Paths []string `json:"paths,omitempty"`
	// ServicesDir is where a new service's directory is created (default:
	// where the existing services live, else the repository root),
	// cleaned like Paths.
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

// Review configures the automatic review of pull requests.
type Review struct {
	// Off turns the automatic review off; `/ai review` still works.
	Off bool `json:"off,omitempty"`
	// Drafts reviews draft pull requests too (default: skipped until
	// they are ready for review).
	Drafts bool `json:"drafts,omitempty"`
	// Paths are further repository-relative files or directories whose
	// change starts a review, besides Dockerfiles, .dockerignore files,
	// k8s/, gitops/ and kustomizations. ParseRepo cleans them.
	Paths []string `json:"paths,omitempty"`
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
	// or "off" (e.g. KW-POL-010: off). IDs are those of finding.Rules.
	Rules map[string]string `json:"rules,omitempty"`
	// AllowedSources are Flux sources referenced but defined outside the
	// repository, as "namespace/name" (default: flux-system/flux-system).
	AllowedSources []string `json:"allowedSources,omitempty"`
	// CRDs are extra directories or files holding CRDs, repository
	// relative and cleaned by ParseRepo: join them to the root as they are.
	CRDs []string `json:"crds,omitempty"`
	// Require names stages that must run: a stage in this list that
	// cannot run (dry-run without a kube-apiserver) fails validation
	// instead of being skipped. Known: RequireDryRun.
	Require []string `json:"require,omitempty"`
}

// RequireDryRun in validate.require makes the server-side dry-run mandatory.
const RequireDryRun = "dry-run"

// Requires reports whether validate.require lists stage.
func (v Validate) Requires(stage string) bool {
	for _, r := range v.Require {
		if r == stage {
			return true
		}
	}
	return false
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
	// CI names the CI system that builds and pushes the services' images
	// (CIGitHubActions; empty: none). With it set, containerize also
	// writes .github/workflows/kubewright-images.yml, and the write
	// policy allows that one file.
	CI string `json:"ci,omitempty"`
}

// CIGitHubActions in containerize.ci writes a GitHub Actions workflow that
// builds and pushes every service's image.
const CIGitHubActions = "github-actions"

// ImageCI reports whether containerize.ci asks for the image workflow.
func (c Containerize) ImageCI() bool { return c.CI == CIGitHubActions }

// ParseRepo decodes a settings file strictly, within a byte cap and an
// alias-expansion budget. Every error names the file, the line when
// known, the setting and the fix, and never a Go type. Path-valued
// settings come back cleaned and inside the repository; rule severities
// accept off (and YAML's false) to turn a rule off.
func ParseRepo(name string, data []byte) (*Repo, error) {
	if err := yamlsafe.Check(name, data, yamlsafe.Limits{MaxBytes: MaxRepoConfigBytes, MaxNodes: maxRepoConfigNodes}); err != nil {
		var ye *yamlsafe.Error
		if errors.As(err, &ye) && errors.Is(err, yamlsafe.ErrTooLarge) {
			return nil, fmt.Errorf("%s: the settings file is over %d KiB; kubewright.yaml holds a few settings, keep it short", name, MaxRepoConfigBytes>>10)
		}
		return nil, err
	}
	c := &Repo{lines: map[string]int{}}
	if err := decodeRepo(name, data, c); err != nil {
		return nil, err
	}
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c, nil
}

// check validates values the YAML types do not: enumerations, ranges,
// rule IDs and paths (which it cleans in place).
func (c *Repo) check(name string) error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", c.at(name, key), key, fmt.Sprintf(format, args...))
	}
	for i, o := range c.Containerize.Only {
		switch o {
		case "dockerfile", "k8s", "gitops":
		default:
			return bad(fmt.Sprintf("containerize.only[%d]", i), "%q is not a part (use dockerfile, k8s or gitops)", o)
		}
	}
	switch ci := c.Containerize.CI; ci {
	case "", CIGitHubActions:
	default:
		return bad("containerize.ci", "%q is not a CI system kubewright writes for (use %s, or leave it out for none)", ci, CIGitHubActions)
	}
	for i, team := range c.Commands.Teams {
		if org, slug, ok := strings.Cut(team, "/"); !ok || org == "" || slug == "" || strings.Contains(slug, "/") {
			return bad(fmt.Sprintf("commands.teams[%d]", i), "%q is not a team (use org/team-slug)", team)
		}
	}
	for id, sev := range c.Validate.Rules {
		if err := checkRule(id, sev); err != nil {
			return bad("validate.rules."+id, "%v", err)
		}
	}
	if a := c.Agents.MaxAttempts; a < 0 || a > 10 {
		return bad("agents.maxAttempts", "%d is out of range (use 1 to 10; the default is %d)", a, DefaultMaxAttempts)
	}
	if c.Agents.TokensPerJob < 0 {
		return bad("agents.tokensPerJob", "%d is negative (use a positive number of tokens, or leave it out)", c.Agents.TokensPerJob)
	}
	for i, r := range c.Validate.Require {
		if r != RequireDryRun {
			return bad(fmt.Sprintf("validate.require[%d]", i), "%q is not a stage that can be required (use %s)", r, RequireDryRun)
		}
	}
	for i, p := range c.Validate.CRDs {
		key := fmt.Sprintf("validate.crds[%d]", i)
		clean, err := cleanRepoPath(p, false)
		if err != nil {
			return bad(key, "%q %v", p, err)
		}
		c.Validate.CRDs[i] = clean
	}
	for i, p := range c.Review.Paths {
		key := fmt.Sprintf("review.paths[%d]", i)
		clean, err := cleanRepoPath(p, false)
		if err != nil {
			return bad(key, "%q %v", p, err)
		}
		c.Review.Paths[i] = clean
	}
	for i, p := range c.Agents.Paths {
		key := fmt.Sprintf("agents.paths[%d]", i)
		clean, err := cleanRepoPath(p, true)
		if err != nil {
			return bad(key, "%q %v", p, err)
		}
		c.Agents.Paths[i] = clean
	}
	if p := c.Agents.ServicesDir; p != "" && p != "." {
		clean, err := cleanRepoPath(p, true)
		if err != nil {
			return bad("agents.servicesDir", "%q %v", p, err)
		}
		c.Agents.ServicesDir = clean
	} else {
		c.Agents.ServicesDir = "" // "." is the default: the repository root
	}
	return nil
}

// at is "file:line" for a setting, or the file alone.
func (c *Repo) at(name, key string) string {
	if l := c.lines[key]; l > 0 {
		return fmt.Sprintf("%s:%d", name, l)
	}
	return name
}

// cleanRepoPath cleans a repository-relative, slash-separated path and
// refuses what cannot name something inside the repository, or what
// kubewright must not touch: absolute paths, ".." escapes, .git in any
// segment or letter case, and (for directories authors write, write)
// the repository root and .github.
func cleanRepoPath(p string, write bool) (string, error) {
	switch {
	case p == "":
		return "", errors.New("is empty (name a directory relative to the repository root, e.g. deploy/crds)")
	case len(p) > MaxPathBytes:
		return "", fmt.Errorf("is %d bytes long (at most %d)", len(p), MaxPathBytes)
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", errors.New("holds control characters (write a plain relative path)")
	case strings.Contains(p, `\`):
		return "", errors.New("uses backslashes (use forward slashes: deploy/crds)")
	case strings.HasPrefix(p, "/") || len(p) >= 2 && p[1] == ':':
		return "", errors.New("is absolute (use a path relative to the repository root, e.g. deploy/crds)")
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", errors.New("leaves the repository (remove the ..; use a path inside the repository)")
	}
	for _, seg := range strings.Split(clean, "/") {
		f := strings.TrimRight(seg, ". ")
		if strings.EqualFold(f, ".git") || strings.EqualFold(f, "git~1") {
			return "", errors.New("is inside .git (name a directory of the repository's files)")
		}
	}
	if write {
		top, _, _ := strings.Cut(clean, "/")
		switch {
		case clean == ".":
			return "", errors.New("is the whole repository (name the directories agents may edit, e.g. libs/shared)")
		case strings.EqualFold(strings.TrimRight(top, ". "), ".github"):
			return "", errors.New("may not be under .github (workflows are governed by allowWorkflows)")
		}
	}
	return clean, nil
}

// LoadRepo reads RepoConfigPath under root; a missing file is the empty
// configuration. The file must be a regular file reached without a
// symlink (.github and the file itself), no larger than
// MaxRepoConfigBytes. Path-valued settings that exist in the checkout
// must not pass through a symlink either, and name directories or
// regular files.
func LoadRepo(root string) (*Repo, error) {
	switch err := noSymlink(root, RepoConfigPath); {
	case errors.Is(err, fs.ErrNotExist):
		return &Repo{}, nil
	case err != nil:
		return nil, fmt.Errorf("%s: %w; kubewright reads its settings only from a regular file committed at %s (put the file itself there)", RepoConfigPath, err, RepoConfigPath)
	}
	data, err := yamlsafe.ReadFile(root, RepoConfigPath, MaxRepoConfigBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Repo{}, nil
	case errors.Is(err, yamlsafe.ErrTooLarge):
		return nil, fmt.Errorf("%s: the settings file is over %d KiB; kubewright.yaml holds a few settings, keep it short", RepoConfigPath, MaxRepoConfigBytes>>10)
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", RepoConfigPath, err)
	}
	c, err := ParseRepo(RepoConfigPath, data)
	if err != nil {
		return nil, err
	}
	check := func(key, p string, dirOnly bool) error {
		err := noSymlink(root, p)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			if err == nil && dirOnly {
				if st, serr := os.Stat(filepath.Join(root, filepath.FromSlash(p))); serr == nil && !st.IsDir() {
					err = fmt.Errorf("%s is not a directory", p)
				}
			}
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				return nil
			}
		}
		return fmt.Errorf("%s: %s: %q: %w (point it at a directory committed in the repository, not a link or a device)", c.at(RepoConfigPath, key), key, p, err)
	}
	for i, p := range c.Validate.CRDs {
		if err := check(fmt.Sprintf("validate.crds[%d]", i), p, false); err != nil {
			return nil, err
		}
	}
	for i, p := range c.Agents.Paths {
		if err := check(fmt.Sprintf("agents.paths[%d]", i), p, true); err != nil {
			return nil, err
		}
	}
	if p := c.Agents.ServicesDir; p != "" {
		if err := check("agents.servicesDir", p, true); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// noSymlink walks rel under root with Lstat: a symlink on the way is an
// error, so is a last component that is neither a directory nor a
// regular file (a device, a FIFO, a socket). A missing component is
// fs.ErrNotExist.
func noSymlink(root, rel string) error {
	cur := root
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		st, err := os.Lstat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.ErrNotExist
			}
			return fmt.Errorf("check %s: %w", path.Join(parts[:i+1]...), err)
		}
		sub := path.Join(parts[:i+1]...)
		switch m := st.Mode(); {
		case m&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink", sub)
		case i < len(parts)-1 && !m.IsDir():
			return fmt.Errorf("%s is not a directory", sub)
		case i == len(parts)-1 && !m.IsDir() && !m.IsRegular():
			return fmt.Errorf("%s is not a regular file or directory", sub)
		}
	}
	return nil
}
