package githubtest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// gitHost keeps the bare repositories under root/{owner}/{name}.git and runs
// git with a private HOME so no user or system configuration leaks in.
type gitHost struct {
	root    string // GIT_PROJECT_ROOT
	home    string
	backend string // path of git-http-backend
}

func newGitHost(dir string) (*gitHost, error) {
	g := &gitHost{root: filepath.Join(dir, "repos"), home: filepath.Join(dir, "home")}
	for _, d := range []string{g.root, g.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	execPath, err := g.run("", nil, "--exec-path")
	if err != nil {
		return nil, fmt.Errorf("git is needed to serve repositories: %w", err)
	}
	g.backend = filepath.Join(strings.TrimSpace(execPath), "git-http-backend")
	if _, err := os.Stat(g.backend); err != nil {
		return nil, fmt.Errorf("git-http-backend not found next to git (%s): %w", g.backend, err)
	}
	return g, nil
}

// env is the environment of every git process: the parent's without GIT_*
// variables, plus isolation.
func (g *gitHost) env(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, append([]string{"HOME=" + g.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"}, extra...)...)
}

// run runs git with args (never through a shell) in the bare repository
// gitDir ("" for none) and returns its standard output.
func (g *gitHost) run(gitDir string, extraEnv []string, args ...string) (string, error) {
	if gitDir != "" {
		args = append([]string{"--git-dir", gitDir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = g.env(extraEnv)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// validName is what GitHub allows in owner and repository names.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (g *gitHost) dir(owner, name string) (string, error) {
	if !validName.MatchString(owner) || !validName.MatchString(name) || strings.HasSuffix(name, ".git") {
		return "", fmt.Errorf("invalid repository name %q/%q", owner, name)
	}
	return filepath.Join(g.root, owner, name+".git"), nil
}

// create makes a bare repository that accepts pushes over HTTP and commits
// the files of src (if any) as the first commit of main.
func (g *gitHost) create(owner, name, src string) error {
	bare, err := g.dir(owner, name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bare); err == nil {
		return errors.New("repository already exists")
	}
	if _, err := g.run("", nil, "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		return err
	}
	if _, err := g.run(bare, nil, "config", "http.receivepack", "true"); err != nil {
		return err
	}
	index := filepath.Join(bare, "githubfake-seed-index")
	defer os.Remove(index)
	env := []string{
		"GIT_INDEX_FILE=" + index,
		"GIT_AUTHOR_NAME=githubfake", "GIT_AUTHOR_EMAIL=githubfake@example.com",
		"GIT_COMMITTER_NAME=githubfake", "GIT_COMMITTER_EMAIL=githubfake@example.com",
	}
	if src != "" {
		abs, err := filepath.Abs(src)
		if err != nil {
			return err
		}
		if _, err := g.run(bare, env, "--work-tree", abs, "add", "--all", "--force", "--", "."); err != nil {
			return err
		}
	}
	tree, err := g.run(bare, env, "write-tree")
	if err != nil {
		return err
	}
	commit, err := g.run(bare, env, "commit-tree", strings.TrimSpace(tree), "-m", "Initial commit")
	if err != nil {
		return err
	}
	_, err = g.run(bare, nil, "update-ref", "refs/heads/main", strings.TrimSpace(commit))
	return err
}

// heads lists refs/heads as branch -> commit.
func (g *gitHost) heads(owner, name string) (map[string]string, error) {
	bare, err := g.existing(owner, name)
	if err != nil {
		return nil, err
	}
	out, err := g.run(bare, nil, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads/")
	if err != nil {
		return nil, err
	}
	heads := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if branch, sha, ok := strings.Cut(line, " "); ok {
			heads[branch] = sha
		}
	}
	return heads, nil
}

func (g *gitHost) existing(owner, name string) (string, error) {
	bare, err := g.dir(owner, name)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bare); err != nil {
		return "", fmt.Errorf("repository %s/%s does not exist", owner, name)
	}
	return bare, nil
}

// ahead counts the commits on head that base does not have.
func (g *gitHost) ahead(owner, name, base, head string) (int, error) {
	bare, err := g.existing(owner, name)
	if err != nil {
		return 0, err
	}
	out, err := g.run(bare, nil, "rev-list", "--count", "refs/heads/"+base+"..refs/heads/"+head, "--")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

var hexSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

func (g *gitHost) hasCommit(owner, name, sha string) bool {
	bare, err := g.existing(owner, name)
	if err != nil || !hexSHA.MatchString(sha) {
		return false
	}
	_, err = g.run(bare, nil, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

type gitEntry struct {
	kind, sha, name, path string // kind: blob, tree or commit (submodule)
	size                  int
}

type gitObject struct {
	gitEntry
	data    []byte     // blob content
	entries []gitEntry // tree entries
}

// object reads path at ref (branch, tag or commit) from the repository.
func (g *gitHost) object(owner, name, ref, p string) (*gitObject, error) {
	bare, err := g.existing(owner, name)
	if err != nil {
		return nil, err
	}
	out, err := g.run(bare, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+":"+p)
	if err != nil {
		return nil, fmt.Errorf("%s:%s not found", ref, p)
	}
	obj := &gitObject{gitEntry: gitEntry{sha: strings.TrimSpace(out), path: p, name: filepath.Base(p)}}
	kind, err := g.run(bare, nil, "cat-file", "-t", obj.sha)
	if err != nil {
		return nil, err
	}
	obj.kind = strings.TrimSpace(kind)
	switch obj.kind {
	case "blob":
		content, err := g.run(bare, nil, "cat-file", "blob", obj.sha)
		if err != nil {
			return nil, err
		}
		obj.data = []byte(content)
		obj.size = len(obj.data)
	case "tree":
		list, err := g.run(bare, nil, "ls-tree", "-l", "-z", obj.sha)
		if err != nil {
			return nil, err
		}
		for _, rec := range strings.Split(strings.TrimSuffix(list, "\x00"), "\x00") {
			meta, entryName, ok := strings.Cut(rec, "\t")
			if !ok {
				continue
			}
			f := strings.Fields(meta) // mode type sha size
			if len(f) != 4 {
				continue
			}
			size, _ := strconv.Atoi(f[3]) // "-" for trees
			entryPath := entryName
			if p != "" {
				entryPath = p + "/" + entryName
			}
			obj.entries = append(obj.entries, gitEntry{kind: f[1], sha: f[2], name: entryName, path: entryPath, size: size})
		}
	}
	return obj, nil
}

// gitPath recognises /{owner}/{name}.git and /{owner}/{name}.git/...
func gitPath(p string) (owner, name string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) < 2 || parts[0] == "" || !strings.HasSuffix(parts[1], ".git") {
		return "", "", false
	}
	return parts[0], strings.TrimSuffix(parts[1], ".git"), true
}

// serveGit authenticates like GitHub (basic auth, user x-access-token,
// password an installation token of the owner) and hands the request to git
// http-backend.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request, owner, name string) {
	user, pass, ok := r.BasicAuth()
	account, valid := s.tokenAccount(pass)
	if !ok || user != "x-access-token" || !valid {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "remote: Invalid username or token. Use user x-access-token and an installation token as the password.", http.StatusUnauthorized)
		return
	}
	if _, err := s.git.existing(owner, name); err != nil || !strings.EqualFold(account, owner) {
		http.Error(w, "remote: Repository not found.", http.StatusNotFound)
		return
	}
	h := &cgi.Handler{
		Path: s.git.backend,
		Dir:  s.git.root,
		Env: s.git.env([]string{
			"GIT_PROJECT_ROOT=" + s.git.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=" + user,
		}),
	}
	h.ServeHTTP(w, r)
}
