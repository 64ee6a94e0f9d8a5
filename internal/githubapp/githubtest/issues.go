package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
)

// getIssue serves an issue, or a pull request in its issue form (with the
// pull_request links), as GitHub does for numbers they share.
func (s *Server) getIssue(c *call) reply {
	n, err := strconv.Atoi(c.params["issue_number"])
	if err != nil {
		return notFound()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil || !rp.issues[n] {
		return notFound()
	}
	api := s.APIURL() + "repos/" + rp.owner + "/" + rp.name
	self := fmt.Sprintf("%s/issues/%d", api, n)
	comments := 0
	for _, cm := range rp.comments {
		if cm.Issue == n {
			comments++
		}
	}
	m := map[string]any{
		"id": int64(n) + rp.id*1000, "node_id": fmt.Sprintf("I_%d_%d", rp.id, n), "url": self, "repository_url": api,
		"labels_url": self + "/labels{/name}", "comments_url": self + "/comments", "events_url": self + "/events",
		"html_url": fmt.Sprintf("%s/%s/%s/issues/%d", s.URL, rp.owner, rp.name, n), "number": n,
		"state": "open", "locked": false, "labels": []any{}, "assignee": nil, "assignees": []any{}, "milestone": nil,
		"comments": comments, "closed_at": nil, "author_association": "NONE",
	}
	if it, ok := rp.issueText[n]; ok {
		m["title"], m["user"] = it.Title, s.actorJSON(it.User)
		m["body"] = nil
		if it.Body != "" {
			m["body"] = it.Body
		}
		m["created_at"], m["updated_at"] = stamp(it.CreatedAt), stamp(it.CreatedAt)
		return reply{status: http.StatusOK, body: m}
	}
	for _, p := range rp.pulls {
		if p.Number != n {
			continue
		}
		html := fmt.Sprintf("%s/%s/%s/pull/%d", s.URL, rp.owner, rp.name, n)
		m["title"], m["user"], m["body"], m["state"], m["draft"] = p.Title, s.actorJSON(p.User), p.Body, p.State, p.Draft
		m["html_url"] = html
		m["created_at"], m["updated_at"], m["closed_at"] = stamp(p.CreatedAt), stamp(p.UpdatedAt), stamp(p.ClosedAt)
		m["pull_request"] = map[string]any{
			"url": fmt.Sprintf("%s/pulls/%d", api, n), "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch", "merged_at": nil,
		}
		return reply{status: http.StatusOK, body: m}
	}
	return notFound()
}

func (s *Server) createComment(c *call) reply {
	var in struct {
		Body *string `json:"body"`
	}
	if err := decodeBody(c, &in); err != nil || in.Body == nil {
		return invalid("IssueComment", "missing_field", "body is required")
	}
	n, err := strconv.Atoi(c.params["issue_number"])
	if err != nil {
		return notFound()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil || !rp.issues[n] {
		return notFound()
	}
	t := now()
	cm := &Comment{ID: s.id(), Issue: n, User: s.botLogin(), Body: *in.Body, CreatedAt: t, UpdatedAt: t}
	rp.comments = append(rp.comments, cm)
	body := s.commentJSON(rp, cm)
	h := http.Header{}
	h.Set("Location", body["url"].(string))
	return reply{status: http.StatusCreated, header: h, body: body}
}

func (s *Server) findCommentLocked(rp *repo, idParam string) *Comment {
	id, err := strconv.ParseInt(idParam, 10, 64)
	if err != nil {
		return nil
	}
	for _, cm := range rp.comments {
		if cm.ID == id {
			return cm
		}
	}
	return nil
}

func (s *Server) updateComment(c *call) reply {
	var in struct {
		Body *string `json:"body"`
	}
	if err := decodeBody(c, &in); err != nil || in.Body == nil {
		return invalid("IssueComment", "missing_field", "body is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	cm := s.findCommentLocked(rp, c.params["comment_id"])
	if cm == nil {
		return notFound()
	}
	cm.Body = *in.Body
	cm.UpdatedAt = now()
	return reply{status: http.StatusOK, body: s.commentJSON(rp, cm)}
}

var reactionContents = map[string]bool{
	"+1": true, "-1": true, "laugh": true, "confused": true, "heart": true, "hooray": true, "rocket": true, "eyes": true,
}

func (s *Server) createReaction(c *call) reply {
	var in struct {
		Content string `json:"content"`
	}
	if err := decodeBody(c, &in); err != nil || !reactionContents[in.Content] {
		return invalid("Reaction", "invalid", "content must be one of +1, -1, laugh, confused, heart, hooray, rocket, eyes")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	cm := s.findCommentLocked(rp, c.params["comment_id"])
	if cm == nil {
		return notFound()
	}
	user := s.botLogin()
	for _, r := range rp.reactions {
		if r.CommentID == cm.ID && r.User == user && r.Content == in.Content {
			return reply{status: http.StatusOK, body: s.reactionJSON(r)} // already there
		}
	}
	r := Reaction{ID: s.id(), CommentID: cm.ID, User: user, Content: in.Content}
	rp.reactions = append(rp.reactions, r)
	return reply{status: http.StatusCreated, body: s.reactionJSON(r)}
}
