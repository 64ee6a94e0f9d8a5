package analyze

import (
	"bufio"
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// maxGitConfig caps what is read of .git/config (and of a .git file).
const maxGitConfig = 64 << 10

// readRemote returns the remote "origin" of the repository at root, read as
// data from .git/config (git is never run). A .git file ("gitdir: ...", as
// worktrees and submodules have) is followed to the config it points at.
// nil when there is no such remote or it is not a hosted repository URL.
func readRemote(root string) *Remote {
	gitPath := filepath.Join(root, ".git")
	st, err := os.Lstat(gitPath)
	if err != nil {
		return nil
	}
	dir := gitPath
	if st.Mode().IsRegular() {
		b, err := readCapped(gitPath)
		if err != nil {
			return nil
		}
		target, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
		if !ok {
			return nil
		}
		target = strings.TrimSpace(target)
		if !filepath.IsAbs(target) {
			target = filepath.Join(root, target)
		}
		dir = target
	} else if !st.IsDir() {
		return nil
	}
	cfg, err := readCapped(filepath.Join(dir, "config"))
	if err != nil {
		// a linked worktree keeps its config in the common directory
		common, cerr := readCapped(filepath.Join(dir, "commondir"))
		if cerr != nil {
			return nil
		}
		c := strings.TrimSpace(string(common))
		if !filepath.IsAbs(c) {
			c = filepath.Join(dir, c)
		}
		if cfg, err = readCapped(filepath.Join(c, "config")); err != nil {
			return nil
		}
	}
	return RemoteFromConfig(cfg)
}

func readCapped(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, os.ErrInvalid
	}
	return io.ReadAll(io.LimitReader(f, maxGitConfig))
}

var gitSectionRe = regexp.MustCompile(`^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]`)

// RemoteFromConfig parses a git config file and returns its remote
// "origin" (url rewritten by any url.<base>.insteadOf rule). Credentials
// in the URL are dropped.
func RemoteFromConfig(cfg []byte) *Remote {
	type rewrite struct{ base, prefix string }
	var origin string
	var rewrites []rewrite
	section, sub := "", ""
	sc := bufio.NewScanner(bytes.NewReader(cfg))
	sc.Buffer(make([]byte, 0, 4096), maxGitConfig)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			m := gitSectionRe.FindStringSubmatch(line)
			if m == nil {
				section, sub = "", ""
				continue
			}
			section, sub = strings.ToLower(m[1]), strings.ReplaceAll(m[2], `\"`, `"`)
			if rest := strings.TrimSpace(line[len(m[0]):]); rest != "" && rest[0] != '#' && rest[0] != ';' {
				line = rest // "[remote "origin"] url = ..." on one line
			} else {
				continue
			}
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = gitConfigValue(v)
		switch {
		case section == "remote" && sub == "origin" && k == "url" && origin == "":
			origin = v
		case section == "url" && k == "insteadof" && v != "":
			rewrites = append(rewrites, rewrite{base: sub, prefix: v})
		}
	}
	if origin == "" {
		return nil
	}
	sort.SliceStable(rewrites, func(i, j int) bool { return len(rewrites[i].prefix) > len(rewrites[j].prefix) })
	for _, rw := range rewrites {
		if strings.HasPrefix(origin, rw.prefix) {
			origin = rw.base + strings.TrimPrefix(origin, rw.prefix)
			break
		}
	}
	return ParseRemoteURL(origin)
}

// gitConfigValue strips an inline comment and surrounding quotes.
func gitConfigValue(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		if i := strings.Index(v[1:], `"`); i >= 0 {
			return v[1 : i+1]
		}
		return strings.Trim(v, `"`)
	}
	for _, c := range []string{" #", "\t#", " ;", "\t;"} {
		if i := strings.Index(v, c); i >= 0 {
			v = v[:i]
		}
	}
	return strings.TrimSpace(v)
}

var (
	scpLikeRe   = regexp.MustCompile(`^(?:[^@/:\s]+@)?([A-Za-z0-9.-]+):([^/\\].*)$`)
	remoteSegRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	remoteHost  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
)

// ParseRemoteURL reads a git remote URL: https://host/owner/name(.git),
// ssh://[user@]host[:port]/owner/name.git, git@host:owner/name.git,
// git://host/owner/name. Userinfo (tokens, passwords) is never kept.
// nil for local paths and anything that is not host/owner/name.
func ParseRemoteURL(raw string) *Remote {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 2048 {
		return nil
	}
	var host, p, transport string
	if i := strings.Index(raw, "://"); i > 0 {
		u, err := url.Parse(raw)
		if err != nil {
			return nil
		}
		transport = strings.ToLower(u.Scheme)
		switch transport {
		case "https", "http", "ssh", "git":
		case "git+ssh", "ssh+git":
			transport = "ssh"
		default:
			return nil
		}
		host, p = u.Hostname(), u.Path
	} else if m := scpLikeRe.FindStringSubmatch(raw); m != nil {
		host, p, transport = m[1], m[2], "ssh"
	} else {
		return nil
	}
	host = strings.ToLower(host)
	if !remoteHost.MatchString(host) || !strings.Contains(host, ".") && host != "localhost" {
		return nil
	}
	p = strings.Trim(p, "/")
	p = strings.TrimSuffix(p, ".git")
	p = strings.TrimSuffix(p, "/")
	parts := strings.Split(p, "/")
	if len(parts) < 2 {
		return nil
	}
	for _, s := range parts {
		if !remoteSegRe.MatchString(s) || s == "." || s == ".." {
			return nil
		}
	}
	owner, name := strings.Join(parts[:len(parts)-1], "/"), parts[len(parts)-1]
	return &Remote{Host: host, Owner: owner, Name: name, URL: "https://" + host + "/" + owner + "/" + name, Transport: transport}
}
