package job

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/config"
)

// maxConfigBytes bounds .github/kubewright.yaml: settings, not data.
const maxConfigBytes = 64 << 10

// settings is the repository's configuration, read at most once per job
// from the default branch and shared by authorization and every stage.
type settings struct {
	read bool
	cfg  *config.Repo
	err  error // a *stageError of stageConfig: the file is at fault
}

// config returns the default branch's .github/kubewright.yaml, reading it
// on the first call. A file that does not parse is a *stageError naming
// the file, the key and the fix; a GitHub failure is returned as is (and
// the next call tries again).
func (r *Runner) config(ctx context.Context, gh *github.Client, q task) (*config.Repo, error) {
	if q.settings.read {
		return q.settings.cfg, q.settings.err
	}
	cfg, err := repoConfig(ctx, gh, q.owner, q.name, q.defaultBranch)
	var se *stageError
	if err != nil && !errors.As(err, &se) {
		return nil, err
	}
	*q.settings = settings{read: true, cfg: cfg, err: err}
	return cfg, err
}

// repoConfig reads .github/kubewright.yaml from ref (the default branch,
// never a pull request branch); a missing file is the empty configuration.
func repoConfig(ctx context.Context, gh *github.Client, owner, name, ref string) (*config.Repo, error) {
	file, _, resp, err := gh.Repositories.GetContents(ctx, owner, name, config.RepoConfigPath, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return &config.Repo{}, nil
		}
		return nil, err
	}
	if file == nil {
		return nil, &stageError{stage: stageConfig, err: fmt.Errorf("%s is a directory: make it a YAML file (see the README)", config.RepoConfigPath)}
	}
	if n := file.GetSize(); n > maxConfigBytes {
		return nil, &stageError{stage: stageConfig, err: fmt.Errorf("%s is %d bytes: kubewright reads settings files of up to %d KiB; keep only settings in it", config.RepoConfigPath, n, maxConfigBytes>>10)}
	}
	content, err := file.GetContent()
	if err != nil {
		return nil, &stageError{stage: stageConfig, err: fmt.Errorf("read %s: %w", config.RepoConfigPath, err)}
	}
	if len(content) > maxConfigBytes {
		return nil, &stageError{stage: stageConfig, err: fmt.Errorf("%s is %d bytes: kubewright reads settings files of up to %d KiB; keep only settings in it", config.RepoConfigPath, len(content), maxConfigBytes>>10)}
	}
	cfg, err := config.ParseRepo(config.RepoConfigPath, []byte(content))
	if err != nil {
		return nil, &stageError{stage: stageConfig, err: err}
	}
	return cfg, nil
}

// authorized: write, maintain or admin on the repository, or an active
// member of a team the default branch's configuration lists. It runs once
// per job, when the job runs. note explains a refusal that a broken
// configuration may have caused.
func (r *Runner) authorized(ctx context.Context, gh *github.Client, q task) (ok bool, note string, err error) {
	perm, resp, err := gh.Repositories.GetPermissionLevel(ctx, q.owner, q.name, q.user)
	if err != nil && (resp == nil || resp.StatusCode != http.StatusNotFound) {
		return false, "", err
	}
	if err == nil {
		switch perm.GetRoleName() {
		case "admin", "maintain", "write":
			return true, "", nil
		}
		switch perm.GetPermission() {
		case "admin", "write":
			return true, "", nil
		}
	}
	cfg, err := r.config(ctx, gh, q)
	var se *stageError
	if errors.As(err, &se) {
		// The team list cannot be read: nobody is let in through it.
		return false, " The teams allowed in " + config.RepoConfigPath + " could not be read: " + se.message(), nil
	}
	if err != nil {
		return false, "", err
	}
	for _, team := range cfg.Commands.Teams {
		org, slug, _ := strings.Cut(team, "/")
		m, resp, err := gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, q.user)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				continue
			}
			return false, "", err
		}
		if m.GetState() == "active" {
			return true, "", nil
		}
	}
	return false, "", nil
}
