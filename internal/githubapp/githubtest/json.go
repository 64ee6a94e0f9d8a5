package githubtest

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

func numericID(s string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int64(h.Sum32()%100000000) + 1
}

func (s *Server) userJSON(login, typ string) map[string]any {
	api := s.APIURL() + "users/" + login
	id := numericID(login)
	return map[string]any{
		"login": login, "id": id, "node_id": fmt.Sprintf("U_%d", id),
		"avatar_url": s.URL + "/avatars/u/" + strconv.FormatInt(id, 10), "gravatar_id": "",
		"url": api, "html_url": s.URL + "/" + login,
		"followers_url": api + "/followers", "following_url": api + "/following{/other_user}",
		"gists_url": api + "/gists{/gist_id}", "starred_url": api + "/starred{/owner}{/repo}",
		"subscriptions_url": api + "/subscriptions", "organizations_url": api + "/orgs",
		"repos_url": api + "/repos", "events_url": api + "/events{/privacy}",
		"received_events_url": api + "/received_events", "type": typ, "site_admin": false,
	}
}

// actorJSON is a user or, for the App's bot login, a Bot.
func (s *Server) actorJSON(login string) map[string]any {
	if strings.HasSuffix(login, "[bot]") {
		return s.userJSON(login, "Bot")
	}
	return s.userJSON(login, "User")
}

func (s *Server) repoJSON(rp *repo, full bool) map[string]any {
	api := s.APIURL() + "repos/" + rp.owner + "/" + rp.name
	html := s.URL + "/" + rp.owner + "/" + rp.name
	created := rp.created.Format(time.RFC3339)
	m := map[string]any{
		"id": rp.id, "node_id": fmt.Sprintf("R_%d", rp.id), "name": rp.name, "full_name": rp.owner + "/" + rp.name,
		"owner": s.userJSON(rp.owner, "Organization"), "private": true, "html_url": html, "description": nil,
		"fork": rp.fork, "url": api, "archive_url": api + "/{archive_format}{/ref}", "assignees_url": api + "/assignees{/user}",
		"blobs_url": api + "/git/blobs{/sha}", "branches_url": api + "/branches{/branch}",
		"collaborators_url": api + "/collaborators{/collaborator}", "comments_url": api + "/comments{/number}",
		"commits_url": api + "/commits{/sha}", "compare_url": api + "/compare/{base}...{head}",
		"contents_url": api + "/contents/{+path}", "contributors_url": api + "/contributors",
		"deployments_url": api + "/deployments", "downloads_url": api + "/downloads", "events_url": api + "/events",
		"forks_url": api + "/forks", "git_commits_url": api + "/git/commits{/sha}", "git_refs_url": api + "/git/refs{/sha}",
		"git_tags_url": api + "/git/tags{/sha}", "git_url": "git://" + strings.TrimPrefix(html, "http://") + ".git",
		"hooks_url": api + "/hooks", "issue_comment_url": api + "/issues/comments{/number}",
		"issue_events_url": api + "/issues/events{/number}", "issues_url": api + "/issues{/number}",
		"keys_url": api + "/keys{/key_id}", "labels_url": api + "/labels{/name}", "languages_url": api + "/languages",
		"merges_url": api + "/merges", "milestones_url": api + "/milestones{/number}",
		"notifications_url": api + "/notifications{?since,all,participating}", "pulls_url": api + "/pulls{/number}",
		"releases_url": api + "/releases{/id}", "ssh_url": "git@127.0.0.1:" + rp.owner + "/" + rp.name + ".git",
		"stargazers_url": api + "/stargazers", "statuses_url": api + "/statuses/{sha}",
		"subscribers_url": api + "/subscribers", "subscription_url": api + "/subscription", "tags_url": api + "/tags",
		"teams_url": api + "/teams", "trees_url": api + "/git/trees{/sha}", "clone_url": html + ".git",
		"mirror_url": nil, "svn_url": html, "homepage": nil, "language": nil,
		"forks_count": 0, "forks": 0, "stargazers_count": 0, "watchers_count": 0, "watchers": 0, "size": 0,
		"default_branch": rp.defaultBranch, "open_issues_count": 0, "open_issues": 0,
		"has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false, "has_downloads": true,
		"has_discussions": false, "archived": false, "disabled": false, "visibility": "private", "license": nil,
		"pushed_at": created, "created_at": created, "updated_at": created,
	}
	if full {
		m["network_count"] = 0
		m["subscribers_count"] = 0
	}
	return m
}

func (s *Server) commentJSON(rp *repo, cm *Comment) map[string]any {
	api := s.APIURL() + "repos/" + rp.owner + "/" + rp.name
	return map[string]any{
		"id": cm.ID, "node_id": fmt.Sprintf("IC_%d", cm.ID),
		"url":       api + "/issues/comments/" + strconv.FormatInt(cm.ID, 10),
		"html_url":  fmt.Sprintf("%s/%s/%s/issues/%d#issuecomment-%d", s.URL, rp.owner, rp.name, cm.Issue, cm.ID),
		"issue_url": fmt.Sprintf("%s/issues/%d", api, cm.Issue), "body": cm.Body,
		"user": s.actorJSON(cm.User), "author_association": "NONE",
		"created_at": stamp(cm.CreatedAt), "updated_at": stamp(cm.UpdatedAt),
	}
}

func (s *Server) reactionJSON(r Reaction) map[string]any {
	return map[string]any{
		"id": r.ID, "node_id": fmt.Sprintf("REA_%d", r.ID), "user": s.actorJSON(r.User),
		"content": r.Content, "created_at": stamp(now()),
	}
}

func (s *Server) pullJSON(rp *repo, p *Pull, full bool) map[string]any {
	api := s.APIURL() + "repos/" + rp.owner + "/" + rp.name
	self := fmt.Sprintf("%s/pulls/%d", api, p.Number)
	html := fmt.Sprintf("%s/%s/%s/pull/%d", s.URL, rp.owner, rp.name, p.Number)
	issue := fmt.Sprintf("%s/issues/%d", api, p.Number)
	ref := func(r *repo, branch, sha string) map[string]any {
		return map[string]any{"label": r.owner + ":" + branch, "ref": branch, "sha": sha, "user": s.userJSON(r.owner, "Organization"), "repo": s.repoJSON(r, false)}
	}
	headRepo := rp
	if fork := s.repos[p.HeadOwner+"/"+rp.name]; p.HeadOwner != "" && fork != nil {
		headRepo = fork
	}
	baseSHA := ""
	if heads, err := s.git.heads(rp.owner, rp.name); err == nil {
		baseSHA = heads[p.Base]
	}
	link := func(href string) map[string]any { return map[string]any{"href": href} }
	m := map[string]any{
		"url": self, "id": p.ID, "node_id": fmt.Sprintf("PR_%d", p.ID), "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issue,
		"commits_url": self + "/commits", "review_comments_url": self + "/comments",
		"review_comment_url": api + "/pulls/comments{/number}", "comments_url": issue + "/comments",
		"statuses_url": api + "/statuses/" + p.HeadSHA, "number": p.Number, "state": p.State, "locked": false,
		"title": p.Title, "user": s.actorJSON(p.User), "body": p.Body, "labels": []any{}, "milestone": nil,
		"active_lock_reason": nil, "created_at": stamp(p.CreatedAt), "updated_at": stamp(p.UpdatedAt),
		"closed_at": stamp(p.ClosedAt), "merged_at": nil, "merge_commit_sha": nil, "assignee": nil,
		"assignees": []any{}, "requested_reviewers": []any{}, "requested_teams": []any{},
		"head": ref(headRepo, p.Head, p.HeadSHA), "base": ref(rp, p.Base, baseSHA),
		"_links": map[string]any{
			"self": link(self), "html": link(html), "issue": link(issue), "comments": link(issue + "/comments"),
			"review_comments": link(self + "/comments"), "review_comment": link(api + "/pulls/comments{/number}"),
			"commits": link(self + "/commits"), "statuses": link(api + "/statuses/" + p.HeadSHA),
		},
		"author_association": "NONE", "auto_merge": nil, "draft": p.Draft,
	}
	if full {
		for k, v := range map[string]any{
			"merged": false, "mergeable": nil, "rebaseable": nil, "mergeable_state": "unknown", "merged_by": nil,
			"comments": 0, "review_comments": 0, "maintainer_can_modify": false, "commits": 1,
			"additions": 0, "deletions": 0, "changed_files": 0,
		} {
			m[k] = v
		}
	}
	return m
}

func (s *Server) checkRunJSON(rp *repo, cr *CheckRun) map[string]any {
	api := s.APIURL() + "repos/" + rp.owner + "/" + rp.name
	self := fmt.Sprintf("%s/check-runs/%d", api, cr.ID)
	orNil := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	repoMin := map[string]any{"id": rp.id, "url": api, "name": rp.name}
	prs := []any{}
	for _, p := range rp.pulls {
		if p.State == "open" && p.HeadSHA == cr.HeadSHA {
			prs = append(prs, map[string]any{
				"id": p.ID, "number": p.Number, "url": fmt.Sprintf("%s/pulls/%d", api, p.Number),
				"head": map[string]any{"ref": p.Head, "sha": p.HeadSHA, "repo": repoMin},
				"base": map[string]any{"ref": p.Base, "sha": "", "repo": repoMin},
			})
		}
	}
	appTime := rp.created.Format(time.RFC3339)
	return map[string]any{
		"id": cr.ID, "node_id": fmt.Sprintf("CR_%d", cr.ID), "head_sha": cr.HeadSHA, "name": cr.Name,
		"url": self, "html_url": fmt.Sprintf("%s/%s/%s/runs/%d", s.URL, rp.owner, rp.name, cr.ID),
		"details_url": orNil(cr.DetailsURL), "external_id": orNil(cr.ExternalID),
		"status": cr.Status, "conclusion": orNil(cr.Conclusion),
		"started_at": stamp(cr.StartedAt), "completed_at": stamp(cr.CompletedAt),
		"output": map[string]any{
			"title": orNil(cr.Title), "summary": orNil(cr.Summary), "text": orNil(cr.Text),
			"annotations_count": cr.AnnotationsCount, "annotations_url": self + "/annotations",
		},
		"check_suite": map[string]any{"id": cr.ID + 1},
		"app": map[string]any{
			"id": s.app.ID, "slug": s.app.Slug, "node_id": fmt.Sprintf("A_%d", s.app.ID),
			"owner": s.userJSON(rp.owner, "Organization"), "name": s.app.Slug, "description": nil,
			"external_url": s.URL, "html_url": s.URL + "/apps/" + s.app.Slug,
			"created_at": appTime, "updated_at": appTime,
			"permissions": map[string]any{"checks": "write", "contents": "write", "issues": "write", "metadata": "read"},
			"events":      []any{"issue_comment", "pull_request"},
		},
		"pull_requests": prs,
	}
}
