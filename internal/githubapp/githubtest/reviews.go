package githubtest

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Review is a pull request review.
type Review struct {
	ID          int64
	Pull        int
	User        string
	Body        string
	State       string // COMMENTED, APPROVED, CHANGES_REQUESTED or PENDING
	CommitID    string
	SubmittedAt time.Time
	Minimized   string // the classifier it was minimized with, "" if not
}

// ReviewComment is an inline comment of a review. A comment that replies to
// none starts a review thread; Resolved is the thread's state, kept on
// that first comment.
type ReviewComment struct {
	ID, ReviewID int64
	Pull         int
	User         string
	Body         string
	Path         string
	Side         string // LEFT (base) or RIGHT (head)
	StartSide    string // "" for a one-line comment
	// Line and StartLine are where the comment sits at CommitID (0 when
	// outdated); the Original* fields are where it was posted.
	Line, StartLine                 int
	OriginalLine, OriginalStartLine int
	CommitID, OriginalCommitID      string
	Position, OriginalPosition      int
	DiffHunk                        string
	InReplyTo                       int64
	Outdated                        bool
	Resolved                        bool
	ResolvedBy                      string
	Minimized                       string // the classifier it was minimized with, "" if not
	CreatedAt, UpdatedAt            time.Time
}

func (c *ReviewComment) startSide() string {
	if c.StartSide != "" {
		return c.StartSide
	}
	return c.Side
}

// Reviews returns copies of a pull request's reviews in creation order.
func (s *Server) Reviews(owner, name string, pull int) []Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		return nil
	}
	var out []Review
	for _, r := range rp.reviews {
		if r.Pull == pull {
			out = append(out, *r)
		}
	}
	return out
}

// ReviewComments returns copies of a pull request's review comments in
// creation order, brought up to date with the head branch first (a push
// since the comments were posted may have outdated or moved them).
func (s *Server) ReviewComments(owner, name string, pull int) []ReviewComment {
	s.refreshRepo(owner, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	if rp == nil {
		return nil
	}
	var out []ReviewComment
	for _, c := range rp.reviewComs {
		if c.Pull == pull {
			out = append(out, *c)
		}
	}
	return out
}

// reviewStates maps a review event to the state GitHub records.
var reviewStates = map[string]string{"": "PENDING", "COMMENT": "COMMENTED", "APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}

type draftComment struct {
	Path      string `json:"path"`
	Position  *int   `json:"position"`
	Body      string `json:"body"`
	Line      *int   `json:"line"`
	Side      string `json:"side"`
	StartLine *int   `json:"start_line"`
	StartSide string `json:"start_side"`
}

// createReview posts a review and its comments with GitHub's rules: each
// comment on lines of the pull request's diff at commit_id (its head by
// default), a multi-line comment within one hunk, no approving or
// requesting changes on one's own pull request.
func (s *Server) createReview(c *call) reply {
	var in struct {
		CommitID string         `json:"commit_id"`
		Body     string         `json:"body"`
		Event    string         `json:"event"`
		Comments []draftComment `json:"comments"`
	}
	if err := decodeBody(c, &in); err != nil {
		return invalidSimple("Problems parsing JSON")
	}
	s.refreshHeads(c)
	s.mu.Lock()
	rp := s.repoLocked(c)
	var p *Pull
	if rp != nil {
		p = s.findPullLocked(rp, c.params["pull_number"])
	}
	if p == nil {
		s.mu.Unlock()
		return notFound()
	}
	pull, head, base, author := p.Number, p.HeadSHA, p.Base, p.User
	s.mu.Unlock()

	user := s.botLogin()
	switch {
	case in.Event == "APPROVE" && author == user:
		return invalidSimple("Can not approve your own pull request")
	case in.Event == "REQUEST_CHANGES" && author == user:
		return invalidSimple("Can not request changes on your own pull request")
	case in.Event == "REQUEST_CHANGES" && strings.TrimSpace(in.Body) == "":
		return invalidSimple("Body is required when requesting changes")
	case in.Event == "COMMENT" && strings.TrimSpace(in.Body) == "" && len(in.Comments) == 0:
		return invalidSimple("Review body can't be blank")
	}
	commit := head
	if in.CommitID != "" {
		if !s.git.hasCommit(c.params["owner"], c.params["repo"], in.CommitID) {
			return invalidSimple("Commit " + in.CommitID + " could not be found in this pull request")
		}
		commit = in.CommitID
	}
	diff, err := s.git.prDiff(c.params["owner"], c.params["repo"], base, commit)
	if err != nil {
		return invalidSimple("The diff of the pull request could not be computed: " + err.Error())
	}
	t := now()
	var coms []*ReviewComment
	for i, d := range in.Comments {
		rc, msg := anchorComment(diff, d)
		if msg != "" {
			return invalidSimple(fmt.Sprintf("comments[%d]: %s", i, msg))
		}
		rc.Pull, rc.User, rc.CommitID, rc.OriginalCommitID, rc.CreatedAt, rc.UpdatedAt = pull, user, commit, commit, t, t
		coms = append(coms, rc)
	}

	s.mu.Lock()
	rv := &Review{ID: s.id(), Pull: pull, User: user, Body: in.Body, State: reviewStates[in.Event], CommitID: commit}
	if rv.State != "PENDING" {
		rv.SubmittedAt = t
	}
	for _, rc := range coms {
		rc.ID, rc.ReviewID = s.id(), rv.ID
	}
	rp.reviews = append(rp.reviews, rv)
	rp.reviewComs = append(rp.reviewComs, coms...)
	body := s.reviewJSON(rp, rv)
	s.mu.Unlock()
	if commit != head {
		var moved []ReviewComment
		for _, rc := range coms {
			moved = append(moved, *rc)
		}
		s.moveComments(rp, base, head, moved)
	}
	return reply{status: http.StatusOK, body: body}
}

// anchorComment places a draft comment on the diff; msg says why it cannot
// be placed, in GitHub's words.
func anchorComment(diff []*fileDiff, d draftComment) (*ReviewComment, string) {
	if strings.TrimSpace(d.Body) == "" {
		return nil, "body can't be blank"
	}
	var f *fileDiff
	for _, x := range diff {
		if x.path == d.Path {
			f = x
		}
	}
	if f == nil {
		return nil, "Path could not be resolved"
	}
	rc := &ReviewComment{Path: d.Path, Body: d.Body, Side: d.Side}
	switch {
	case d.Line == nil && d.Position == nil:
		return nil, "line or position is required"
	case d.Line == nil:
		side, line := f.atPosition(*d.Position)
		if line == 0 {
			return nil, "Position is invalid"
		}
		rc.Side, rc.Line = side, line
	default:
		rc.Line = *d.Line
	}
	if rc.Side == "" {
		rc.Side = "RIGHT"
	}
	if rc.Side != "LEFT" && rc.Side != "RIGHT" {
		return nil, "side must be LEFT or RIGHT"
	}
	end, ok := f.locate(rc.Side, rc.Line)
	if !ok {
		return nil, "Pull request review thread line must be part of the diff"
	}
	if d.StartLine != nil {
		rc.StartLine, rc.StartSide = *d.StartLine, d.StartSide
		if rc.StartSide == "" {
			rc.StartSide = rc.Side
		}
		if rc.StartSide == rc.Side && rc.StartLine >= rc.Line {
			return nil, "Pull request review thread start line must precede the end line"
		}
		start, ok := f.locate(rc.StartSide, rc.StartLine)
		if !ok {
			return nil, "Pull request review thread start line must be part of the diff"
		}
		if start.hunk != end.hunk {
			return nil, "Pull request review thread start line must be part of the same hunk as the line"
		}
	}
	rc.Position, rc.OriginalPosition, rc.DiffHunk = end.position, end.position, f.diffHunk(end)
	rc.OriginalLine, rc.OriginalStartLine = rc.Line, rc.StartLine
	return rc, ""
}

func (s *Server) listReviews(c *call) reply {
	s.mu.Lock()
	rp := s.repoLocked(c)
	var list []any
	var p *Pull
	if rp != nil {
		p = s.findPullLocked(rp, c.params["pull_number"])
	}
	if p == nil {
		s.mu.Unlock()
		return notFound()
	}
	for _, rv := range rp.reviews {
		if rv.Pull == p.Number {
			list = append(list, s.reviewJSON(rp, rv))
		}
	}
	s.mu.Unlock()
	return paginate(s, c, list)
}

func (s *Server) listReviewComments(c *call) reply {
	s.refreshHeads(c)
	q := c.r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return invalid("PullRequestReviewComment", "invalid", "since must be an ISO 8601 timestamp")
		}
		since = t
	}
	s.mu.Lock()
	rp := s.repoLocked(c)
	var p *Pull
	if rp != nil {
		p = s.findPullLocked(rp, c.params["pull_number"])
	}
	if p == nil {
		s.mu.Unlock()
		return notFound()
	}
	pending := map[int64]bool{}
	for _, rv := range rp.reviews {
		pending[rv.ID] = rv.State == "PENDING"
	}
	var match []*ReviewComment
	for _, rc := range rp.reviewComs {
		if rc.Pull == p.Number && !pending[rc.ReviewID] && !rc.UpdatedAt.Before(since) {
			match = append(match, rc)
		}
	}
	byUpdated := q.Get("sort") == "updated"
	sort.SliceStable(match, func(i, j int) bool {
		if byUpdated {
			return match[i].UpdatedAt.Before(match[j].UpdatedAt)
		}
		return match[i].CreatedAt.Before(match[j].CreatedAt)
	})
	if q.Get("direction") == "desc" {
		for i, j := 0, len(match)-1; i < j; i, j = i+1, j-1 {
			match[i], match[j] = match[j], match[i]
		}
	}
	list := make([]any, 0, len(match))
	for _, rc := range match {
		list = append(list, s.reviewCommentJSON(rp, rc))
	}
	s.mu.Unlock()
	return paginate(s, c, list)
}

func (s *Server) updateReviewComment(c *call) reply {
	var in struct {
		Body *string `json:"body"`
	}
	if err := decodeBody(c, &in); err != nil || in.Body == nil {
		return invalid("PullRequestReviewComment", "missing_field", "body is required")
	}
	id, err := strconv.ParseInt(c.params["comment_id"], 10, 64)
	if err != nil {
		return notFound()
	}
	s.refreshHeads(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	for _, rc := range rp.reviewComs {
		if rc.ID == id {
			rc.Body, rc.UpdatedAt = *in.Body, now()
			return reply{status: http.StatusOK, body: s.reviewCommentJSON(rp, rc)}
		}
	}
	return notFound()
}

// maxPullFiles is how many files GitHub lists for a pull request.
const maxPullFiles = 3000

func (s *Server) listFiles(c *call) reply {
	s.refreshHeads(c)
	s.mu.Lock()
	rp := s.repoLocked(c)
	var p *Pull
	if rp != nil {
		p = s.findPullLocked(rp, c.params["pull_number"])
	}
	if p == nil {
		s.mu.Unlock()
		return notFound()
	}
	base, head := p.Base, p.HeadSHA
	s.mu.Unlock()
	owner, name := c.params["owner"], c.params["repo"]
	diff, err := s.git.prDiff(owner, name, base, head)
	if err != nil {
		return reply{status: http.StatusInternalServerError, body: ghError("Server Error: "+err.Error(), docsURL, http.StatusInternalServerError)}
	}
	api := s.APIURL() + "repos/" + owner + "/" + name
	html := s.URL + "/" + owner + "/" + name
	list := make([]any, 0, len(diff))
	for _, f := range diff[:min(len(diff), maxPullFiles)] {
		m := map[string]any{
			"sha": f.sha, "filename": f.path, "status": f.status,
			"additions": f.additions, "deletions": f.deletions, "changes": f.additions + f.deletions,
			"blob_url":     html + "/blob/" + head + "/" + f.path,
			"raw_url":      html + "/raw/" + head + "/" + f.path,
			"contents_url": api + "/contents/" + f.path + "?ref=" + head,
		}
		if !f.binary && len(f.hunks) > 0 {
			m["patch"] = f.patch()
		}
		if f.oldPath != "" {
			m["previous_filename"] = f.oldPath
		}
		list = append(list, m)
	}
	return paginate(s, c, list)
}

// paginate answers one page of list (per_page up to 100, default 30) with
// the Link header GitHub sends when there is a next page.
func paginate(s *Server, c *call, list []any) reply {
	q := c.r.URL.Query()
	perPage, page := 30, 1
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	start := min((page-1)*perPage, len(list))
	end := min(start+perPage, len(list))
	h := http.Header{}
	if end < len(list) {
		next := *c.r.URL
		qs := next.Query()
		qs.Set("page", strconv.Itoa(page+1))
		qs.Set("per_page", strconv.Itoa(perPage))
		next.RawQuery = qs.Encode()
		h.Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, s.URL, next.RequestURI()))
	}
	out := list[start:end]
	if out == nil {
		out = []any{}
	}
	return reply{status: http.StatusOK, header: h, body: out}
}

// invalidSimple is GitHub's 422 in the "validation-error-simple" shape that
// the review operations declare: errors are plain strings.
func invalidSimple(msgs ...string) reply {
	return reply{status: http.StatusUnprocessableEntity, body: map[string]any{
		"message": "Unprocessable Entity", "documentation_url": docsURL, "status": "422", "errors": msgs,
	}}
}

func (s *Server) reviewJSON(rp *repo, rv *Review) map[string]any {
	api := s.APIURL() + "repos/" + rp.owner + "/" + rp.name
	pr := fmt.Sprintf("%s/pulls/%d", api, rv.Pull)
	html := fmt.Sprintf("%s/%s/%s/pull/%d#pullrequestreview-%d", s.URL, rp.owner, rp.name, rv.Pull, rv.ID)
	m := map[string]any{
		"id": rv.ID, "node_id": fmt.Sprintf("PRR_%d", rv.ID), "user": s.actorJSON(rv.User), "body": rv.Body,
		"state": rv.State, "html_url": html, "pull_request_url": pr, "commit_id": rv.CommitID,
		"_links":             map[string]any{"html": map[string]any{"href": html}, "pull_request": map[string]any{"href": pr}},
		"author_association": "NONE",
	}
	if !rv.SubmittedAt.IsZero() {
		m["submitted_at"] = stamp(rv.SubmittedAt)
	}
	return m
}

// reviewCommentJSON shapes a review comment. GitHub sends line and
// position null for an outdated comment, which its description does not
// allow: the fake leaves them out.
func (s *Server) reviewCommentJSON(rp *repo, rc *ReviewComment) map[string]any {
	api := s.APIURL() + "repos/" + rp.owner + "/" + rp.name
	self := fmt.Sprintf("%s/pulls/comments/%d", api, rc.ID)
	pr := fmt.Sprintf("%s/pulls/%d", api, rc.Pull)
	html := fmt.Sprintf("%s/%s/%s/pull/%d#discussion_r%d", s.URL, rp.owner, rp.name, rc.Pull, rc.ID)
	orNil := func(n int) any {
		if n == 0 {
			return nil
		}
		return n
	}
	m := map[string]any{
		"url": self, "id": rc.ID, "node_id": fmt.Sprintf("PRRC_%d", rc.ID), "pull_request_review_id": rc.ReviewID,
		"diff_hunk": rc.DiffHunk, "path": rc.Path, "commit_id": rc.CommitID, "original_commit_id": rc.OriginalCommitID,
		"user": s.actorJSON(rc.User), "body": rc.Body, "created_at": stamp(rc.CreatedAt), "updated_at": stamp(rc.UpdatedAt),
		"html_url": html, "pull_request_url": pr, "author_association": "NONE",
		"_links": map[string]any{
			"self": map[string]any{"href": self}, "html": map[string]any{"href": html}, "pull_request": map[string]any{"href": pr},
		},
		"original_position": rc.OriginalPosition, "original_line": rc.OriginalLine,
		"start_line": orNil(rc.StartLine), "original_start_line": orNil(rc.OriginalStartLine),
		"side": rc.Side, "subject_type": "line",
	}
	if rc.StartLine != 0 || rc.OriginalStartLine != 0 {
		m["start_side"] = rc.startSide()
	} else {
		m["start_side"] = nil
	}
	if !rc.Outdated {
		m["line"], m["position"] = rc.Line, rc.Position
	}
	if rc.InReplyTo != 0 {
		m["in_reply_to_id"] = rc.InReplyTo
	}
	return m
}
