package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) listPulls(c *call) reply {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	// GitHub ignores a head filter without the "owner:" prefix.
	var headOwner, headBranch string
	if h := q.Get("head"); strings.Contains(h, ":") {
		headOwner, headBranch, _ = strings.Cut(h, ":")
	}
	perPage, page := 30, 1
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	s.refreshHeads(c)

	s.mu.Lock()
	rp := s.repoLocked(c)
	if rp == nil {
		s.mu.Unlock()
		return notFound()
	}
	var match []*Pull
	for i := len(rp.pulls) - 1; i >= 0; i-- { // newest first
		p := rp.pulls[i]
		switch {
		case state != "all" && p.State != state,
			headBranch != "" && (!strings.EqualFold(headOwner, p.headOwner(rp)) || p.Head != headBranch),
			q.Get("base") != "" && p.Base != q.Get("base"):
			continue
		}
		cp := *p
		match = append(match, &cp)
	}
	s.mu.Unlock()

	h := http.Header{}
	start := (page - 1) * perPage
	if start > len(match) {
		start = len(match)
	}
	end := min(start+perPage, len(match))
	if end < len(match) {
		next := *c.r.URL
		qs := next.Query()
		qs.Set("page", strconv.Itoa(page+1))
		qs.Set("per_page", strconv.Itoa(perPage))
		next.RawQuery = qs.Encode()
		h.Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, s.URL, next.RequestURI()))
	}
	list := make([]any, 0, end-start)
	for _, p := range match[start:end] {
		list = append(list, s.pullJSON(rp, p, false))
	}
	return reply{status: http.StatusOK, header: h, body: list}
}

func (s *Server) createPull(c *call) reply {
	var in struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if err := decodeBody(c, &in); err != nil {
		return invalid("PullRequest", "invalid", "Problems parsing JSON")
	}
	owner, name := c.params["owner"], c.params["repo"]
	head := in.Head
	if o, b, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(o, owner) {
			return invalid("PullRequest", "invalid", "head: pull requests from forks are not supported by githubtest")
		}
		head = b
	}
	switch {
	case in.Title == "":
		return invalid("PullRequest", "missing_field", "title is required")
	case head == "" || in.Base == "":
		return invalid("PullRequest", "missing_field", "head and base are required")
	}
	heads, err := s.git.heads(owner, name)
	if err != nil {
		return notFound()
	}
	headSHA, ok := heads[head]
	if !ok {
		return invalid("PullRequest", "invalid", "head: branch "+head+" does not exist")
	}
	if _, ok := heads[in.Base]; !ok {
		return invalid("PullRequest", "invalid", "base: branch "+in.Base+" does not exist")
	}
	if ahead, err := s.git.ahead(owner, name, in.Base, head); err != nil || ahead == 0 {
		return invalid("PullRequest", "custom", "No commits between "+in.Base+" and "+head)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	for _, p := range rp.pulls {
		if p.State == "open" && p.HeadOwner == "" && p.Head == head && p.Base == in.Base {
			return invalid("PullRequest", "custom", "A pull request already exists for "+owner+":"+head+".")
		}
	}
	t := now()
	p := &Pull{
		ID: s.id(), Number: rp.nextNumber, User: s.botLogin(), Head: head, HeadSHA: headSHA, Base: in.Base,
		Title: in.Title, Body: in.Body, Draft: in.Draft, State: "open", CreatedAt: t, UpdatedAt: t,
	}
	rp.nextNumber++
	rp.issues[p.Number] = true
	rp.pulls = append(rp.pulls, p)
	body := s.pullJSON(rp, p, true)
	h := http.Header{}
	h.Set("Location", body["url"].(string))
	return reply{status: http.StatusCreated, header: h, body: body}
}

func (s *Server) findPullLocked(rp *repo, numParam string) *Pull {
	n, err := strconv.Atoi(numParam)
	if err != nil {
		return nil
	}
	for _, p := range rp.pulls {
		if p.Number == n {
			return p
		}
	}
	return nil
}

func (s *Server) getPull(c *call) reply {
	s.refreshHeads(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	p := s.findPullLocked(rp, c.params["pull_number"])
	if p == nil {
		return notFound()
	}
	return reply{status: http.StatusOK, body: s.pullJSON(rp, p, true)}
}

func (s *Server) updatePull(c *call) reply {
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if err := decodeBody(c, &in); err != nil {
		return invalid("PullRequest", "invalid", "Problems parsing JSON")
	}
	s.refreshHeads(c)
	var heads map[string]string
	if in.Base != nil {
		var err error
		if heads, err = s.git.heads(c.params["owner"], c.params["repo"]); err != nil {
			return notFound()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	p := s.findPullLocked(rp, c.params["pull_number"])
	if p == nil {
		return notFound()
	}
	if in.Base != nil {
		if _, ok := heads[*in.Base]; !ok {
			return invalid("PullRequest", "invalid", "base: branch "+*in.Base+" does not exist")
		}
		p.Base = *in.Base
	}
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	if in.State != nil && *in.State != p.State {
		p.State = *in.State
		p.ClosedAt = time.Time{}
		if p.State == "closed" {
			p.ClosedAt = now()
		}
	}
	p.UpdatedAt = now()
	return reply{status: http.StatusOK, body: s.pullJSON(rp, p, true)}
}

// refreshHeads brings the routed repository's pull requests up to date
// with their head branches (refreshRepo).
func (s *Server) refreshHeads(c *call) { s.refreshRepo(c.params["owner"], c.params["repo"]) }

// headOwner is the owner of the repository the head branch lives in.
func (p *Pull) headOwner(rp *repo) string {
	if p.HeadOwner != "" {
		return p.HeadOwner
	}
	return rp.owner
}
