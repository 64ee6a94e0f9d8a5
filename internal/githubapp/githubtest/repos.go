package githubtest

import (
	"encoding/base64"
	"net/http"
	"strings"
)

func (s *Server) getRepo(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	body := s.repoJSON(rp, true)
	s.viewRepo(body, rp, c.user)
	return reply{status: http.StatusOK, body: body}
}

// legacyPermission maps a role to the permission field GitHub still reports.
var legacyPermission = map[string]string{
	"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read",
}

func (s *Server) getPermission(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	user := c.params["username"]
	role, ok := rp.perms[user]
	perm := legacyPermission[role]
	if !ok {
		role, perm = "none", "none"
	}
	u := s.userJSON(user, "User")
	u["role_name"] = role
	u["permissions"] = map[string]any{
		"pull": perm != "none", "triage": role != "read" && perm != "none",
		"push": perm == "write" || perm == "admin", "maintain": role == "maintain" || role == "admin",
		"admin": role == "admin",
	}
	return reply{status: http.StatusOK, body: map[string]any{"permission": perm, "role_name": role, "user": u}}
}

func (s *Server) getTeamMembership(c *call) reply {
	org, team, user := c.params["org"], c.params["team_slug"], c.params["username"]
	s.mu.Lock()
	role, ok := s.teams[org+"/"+team][user]
	s.mu.Unlock()
	if !ok {
		return notFound()
	}
	return reply{status: http.StatusOK, body: map[string]any{
		"url":   s.APIURL() + "organizations/" + org + "/team/" + team + "/memberships/" + user,
		"role":  role,
		"state": "active",
	}}
}

func (s *Server) getContents(c *call) reply {
	owner, name, p := c.params["owner"], c.params["repo"], strings.Trim(c.params["path"], "/")
	s.mu.Lock()
	rp := s.repoLocked(c)
	var ref string
	if rp != nil {
		ref = rp.defaultBranch
	}
	s.mu.Unlock()
	if rp == nil {
		return notFound()
	}
	if q := c.r.URL.Query().Get("ref"); q != "" {
		ref = q
	}
	obj, err := s.git.object(owner, name, ref, p)
	if err != nil {
		return notFound()
	}
	api := s.APIURL() + "repos/" + owner + "/" + name
	entry := func(e gitEntry) map[string]any {
		self := api + "/contents/" + e.path + "?ref=" + ref
		kind := map[string]string{"blob": "file", "tree": "dir", "commit": "submodule"}[e.kind]
		gitURL := api + "/git/" + map[string]string{"blob": "blobs", "tree": "trees", "commit": "commits"}[e.kind] + "/" + e.sha
		html := s.URL + "/" + owner + "/" + name + "/blob/" + ref + "/" + e.path
		var download any
		if e.kind == "blob" {
			download = s.URL + "/" + owner + "/" + name + "/raw/" + ref + "/" + e.path
		}
		return map[string]any{
			"type": kind, "size": e.size, "name": e.name, "path": e.path, "sha": e.sha,
			"url": self, "git_url": gitURL, "html_url": html, "download_url": download,
			"_links": map[string]any{"self": self, "git": gitURL, "html": html},
		}
	}
	if obj.kind == "tree" {
		list := make([]any, 0, len(obj.entries))
		for _, e := range obj.entries {
			list = append(list, entry(e))
		}
		return reply{status: http.StatusOK, body: list}
	}
	if obj.kind != "blob" {
		return notFound()
	}
	body := entry(obj.gitEntry)
	body["encoding"] = "base64"
	body["content"] = wrap(base64.StdEncoding.EncodeToString(obj.data), 60)
	return reply{status: http.StatusOK, body: body}
}

// wrap breaks s into lines of n characters, as GitHub does for base64
// content.
func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n])
		b.WriteByte('\n')
		s = s[n:]
	}
	b.WriteString(s)
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}
