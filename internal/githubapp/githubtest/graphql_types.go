package githubtest

import (
	"fmt"
	"strconv"
	"strings"
)

// The objects of GitHub's GraphQL schema that the fake serves: what only
// GraphQL does for pull request reviews (review threads, resolving them,
// minimizing comments) and the few fields around them. Resolvers run
// with s.mu held.

type (
	gqlQuery      struct{}
	gqlMutation   struct{}
	gqlRepository struct{ rp *repo }
	gqlPull       struct {
		rp *repo
		p  *Pull
	}
	gqlThread struct {
		rp   *repo
		root *ReviewComment
	}
	gqlReviewComment struct {
		rp *repo
		c  *ReviewComment
	}
	gqlReview struct {
		rp *repo
		r  *Review
	}
	gqlIssueComment struct {
		rp *repo
		c  *Comment
	}
	gqlActor  struct{ login, kind string } // kind: User, Bot or Organization
	gqlCommit struct{ oid string }
)

func (gqlQuery) typename() string         { return "Query" }
func (gqlMutation) typename() string      { return "Mutation" }
func (gqlRepository) typename() string    { return "Repository" }
func (gqlPull) typename() string          { return "PullRequest" }
func (gqlThread) typename() string        { return "PullRequestReviewThread" }
func (gqlReviewComment) typename() string { return "PullRequestReviewComment" }
func (gqlReview) typename() string        { return "PullRequestReview" }
func (gqlIssueComment) typename() string  { return "IssueComment" }
func (a gqlActor) typename() string       { return a.kind }
func (gqlCommit) typename() string        { return "Commit" }

func (gqlQuery) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	switch field {
	case "repository":
		owner, name := args["owner"].(string), args["name"].(string)
		rp := x.s.repos[owner+"/"+name]
		if rp == nil || !strings.EqualFold(rp.owner, x.account) {
			return nil, notFoundErr("Could not resolve to a Repository with the name '%s/%s'.", owner, name)
		}
		return gqlRepository{rp}, nil
	case "node":
		id, _ := args["id"].(string)
		obj := x.node(id)
		if obj == nil {
			return nil, notFoundErr("Could not resolve to a node with the global id of '%s'", id)
		}
		return obj, nil
	case "nodes":
		ids, _ := args["ids"].([]any)
		out := make([]any, 0, len(ids))
		for _, id := range ids {
			s, _ := id.(string)
			if obj := x.node(s); obj != nil {
				out = append(out, obj)
				continue
			}
			out = append(out, nil)
			x.errs = append(x.errs, gqlError{Type: "NOT_FOUND", Path: []any{"nodes", len(out) - 1},
				Message: fmt.Sprintf("Could not resolve to a node with the global id of '%s'", s)})
		}
		return out, nil
	}
	return nil, errUnserved
}

// node finds an object by its global id among the repositories the token
// may read; nil if there is none.
func (x *gqlExec) node(id string) gqlObject {
	kind, num, ok := strings.Cut(id, "_")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil {
		return nil
	}
	for _, rp := range x.s.repos {
		if !strings.EqualFold(rp.owner, x.account) {
			continue
		}
		switch kind {
		case "R":
			if rp.id == n {
				return gqlRepository{rp}
			}
		case "PR":
			for _, p := range rp.pulls {
				if p.ID == n {
					return gqlPull{rp, p}
				}
			}
		case "PRRT", "PRRC":
			for _, c := range rp.reviewComs {
				if c.ID == n && (kind == "PRRC" || c.InReplyTo == 0) {
					if kind == "PRRT" {
						return gqlThread{rp, c}
					}
					return gqlReviewComment{rp, c}
				}
			}
		case "PRR":
			for _, r := range rp.reviews {
				if r.ID == n {
					return gqlReview{rp, r}
				}
			}
		case "IC":
			for _, c := range rp.comments {
				if c.ID == n {
					return gqlIssueComment{rp, c}
				}
			}
		}
	}
	return nil
}

// minimizedReasons is how GitHub reports each classifier in
// minimizedReason.
var minimizedReasons = map[string]string{
	"ABUSE": "abuse", "DUPLICATE": "duplicate", "OFF_TOPIC": "off-topic", "OUTDATED": "outdated",
	"RESOLVED": "resolved", "SPAM": "spam",
}

func (gqlMutation) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	input, _ := args["input"].(map[string]any)
	payload := func(typ string, values map[string]any) gqlFields {
		values["clientMutationId"] = input["clientMutationId"]
		return gqlFields{typ: typ, values: values}
	}
	switch field {
	case "resolveReviewThread", "unresolveReviewThread":
		id, _ := input["threadId"].(string)
		th, ok := x.node(id).(gqlThread)
		if !strings.HasPrefix(id, "PRRT_") || !ok {
			return nil, notFoundErr("Could not resolve to PullRequestReviewThread node with the global id of '%s'.", id)
		}
		th.root.Resolved = field == "resolveReviewThread"
		th.root.ResolvedBy = ""
		if th.root.Resolved {
			th.root.ResolvedBy = x.s.botLogin()
		}
		return payload(strings.ToUpper(field[:1])+field[1:]+"Payload", map[string]any{"thread": th}), nil
	case "minimizeComment", "unminimizeComment":
		id, _ := input["subjectId"].(string)
		reason := ""
		if field == "minimizeComment" {
			reason = minimizedReasons[input["classifier"].(string)]
		}
		var subject gqlObject
		switch obj := x.node(id).(type) {
		case gqlReviewComment:
			obj.c.Minimized, subject = reason, obj
		case gqlReview:
			obj.r.Minimized, subject = reason, obj
		case gqlIssueComment:
			obj.c.Minimized, subject = reason, obj
		default:
			return nil, notFoundErr("Could not resolve to a node with the global id of '%s'", id)
		}
		key := "minimizedComment"
		if field == "unminimizeComment" {
			key = "unminimizedComment"
		}
		return payload(strings.ToUpper(field[:1])+field[1:]+"Payload", map[string]any{key: subject}), nil
	}
	return nil, errUnserved
}

func (r gqlRepository) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	rp := r.rp
	switch field {
	case "id":
		return fmt.Sprintf("R_%d", rp.id), nil
	case "databaseId":
		return int(rp.id), nil
	case "name":
		return rp.name, nil
	case "nameWithOwner":
		return rp.owner + "/" + rp.name, nil
	case "owner":
		return gqlActor{login: rp.owner, kind: "Organization"}, nil
	case "isFork":
		return rp.fork, nil
	case "url":
		return x.s.URL + "/" + rp.owner + "/" + rp.name, nil
	case "pullRequest":
		n, _ := args["number"].(int64)
		p := x.s.findPullLocked(rp, strconv.FormatInt(n, 10))
		if p == nil {
			return nil, notFoundErr("Could not resolve to a PullRequest with the number of %d.", n)
		}
		return gqlPull{rp, p}, nil
	}
	return nil, errUnserved
}

func (g gqlPull) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	p := g.p
	switch field {
	case "id":
		return fmt.Sprintf("PR_%d", p.ID), nil
	case "databaseId":
		return int(p.ID), nil
	case "number":
		return p.Number, nil
	case "title":
		return p.Title, nil
	case "body":
		return p.Body, nil
	case "state":
		return strings.ToUpper(p.State), nil
	case "isDraft":
		return p.Draft, nil
	case "headRefName":
		return p.Head, nil
	case "headRefOid":
		return p.HeadSHA, nil
	case "baseRefName":
		return p.Base, nil
	case "isCrossRepository":
		return p.HeadOwner != "", nil
	case "url":
		return fmt.Sprintf("%s/%s/%s/pull/%d", x.s.URL, g.rp.owner, g.rp.name, p.Number), nil
	case "author":
		return actor(p.User), nil
	case "repository":
		return gqlRepository{g.rp}, nil
	case "reviewThreads":
		var all []any
		for _, c := range g.rp.reviewComs {
			if c.Pull == p.Number && c.InReplyTo == 0 && !x.pending(g.rp, c) {
				all = append(all, gqlThread{g.rp, c})
			}
		}
		return page("PullRequestReviewThreadConnection", "PullRequestReviewThreadEdge", field, all, args)
	case "reviews":
		var all []any
		for _, r := range g.rp.reviews {
			if r.Pull == p.Number {
				all = append(all, gqlReview{g.rp, r})
			}
		}
		return page("PullRequestReviewConnection", "PullRequestReviewEdge", field, all, args)
	}
	return nil, errUnserved
}

// pending tells whether a comment belongs to a review not yet submitted.
func (x *gqlExec) pending(rp *repo, c *ReviewComment) bool {
	for _, r := range rp.reviews {
		if r.ID == c.ReviewID {
			return r.State == "PENDING"
		}
	}
	return false
}

func (t gqlThread) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	c := t.root
	orNil := func(n int) any {
		if n == 0 {
			return nil
		}
		return n
	}
	switch field {
	case "id":
		return fmt.Sprintf("PRRT_%d", c.ID), nil
	case "isResolved":
		return c.Resolved, nil
	case "isCollapsed":
		return c.Resolved || c.Outdated, nil
	case "isOutdated":
		return c.Outdated, nil
	case "path":
		return c.Path, nil
	case "line":
		return orNil(c.Line), nil
	case "startLine":
		return orNil(c.StartLine), nil
	case "originalLine":
		return orNil(c.OriginalLine), nil
	case "originalStartLine":
		return orNil(c.OriginalStartLine), nil
	case "diffSide":
		return c.Side, nil
	case "startDiffSide":
		if c.StartLine == 0 && c.OriginalStartLine == 0 {
			return nil, nil
		}
		return c.startSide(), nil
	case "subjectType":
		return "LINE", nil
	case "resolvedBy":
		if c.ResolvedBy == "" || strings.HasSuffix(c.ResolvedBy, "[bot]") {
			return nil, nil // a User; an App that resolved the thread is not one
		}
		return actor(c.ResolvedBy), nil
	case "viewerCanResolve":
		return !c.Resolved, nil
	case "viewerCanUnresolve":
		return c.Resolved, nil
	case "viewerCanReply":
		return true, nil
	case "pullRequest":
		return gqlPull{t.rp, x.s.findPullLocked(t.rp, strconv.Itoa(c.Pull))}, nil
	case "repository":
		return gqlRepository{t.rp}, nil
	case "comments":
		all := []any{gqlReviewComment{t.rp, c}}
		for _, r := range t.rp.reviewComs {
			if r.InReplyTo == c.ID {
				all = append(all, gqlReviewComment{t.rp, r})
			}
		}
		return page("PullRequestReviewCommentConnection", "PullRequestReviewCommentEdge", field, all, args)
	}
	return nil, errUnserved
}

// commentFields are the fields every comment kind shares.
func commentFields(x *gqlExec, field, user, body, minimized string, id int64, created, updated any, url string) (any, bool) {
	switch field {
	case "databaseId":
		return int(id), true
	case "fullDatabaseId":
		return strconv.FormatInt(id, 10), true
	case "body":
		return body, true
	case "author":
		return actor(user), true
	case "isMinimized":
		return minimized != "", true
	case "minimizedReason":
		if minimized == "" {
			return nil, true
		}
		return minimized, true
	case "viewerCanMinimize":
		return true, true
	case "viewerDidAuthor":
		return user == x.s.botLogin(), true
	case "createdAt":
		return created, true
	case "updatedAt":
		return updated, true
	case "url":
		return url, true
	}
	return nil, false
}

func (g gqlReviewComment) resolve(x *gqlExec, field string, _ map[string]any) (any, error) {
	c, rp := g.c, g.rp
	url := fmt.Sprintf("%s/%s/%s/pull/%d#discussion_r%d", x.s.URL, rp.owner, rp.name, c.Pull, c.ID)
	if v, ok := commentFields(x, field, c.User, c.Body, c.Minimized, c.ID, stamp(c.CreatedAt), stamp(c.UpdatedAt), url); ok {
		return v, nil
	}
	orNil := func(n int) any {
		if n == 0 {
			return nil
		}
		return n
	}
	switch field {
	case "id":
		return fmt.Sprintf("PRRC_%d", c.ID), nil
	case "path":
		return c.Path, nil
	case "line":
		return orNil(c.Line), nil
	case "startLine":
		return orNil(c.StartLine), nil
	case "originalLine":
		return orNil(c.OriginalLine), nil
	case "originalStartLine":
		return orNil(c.OriginalStartLine), nil
	case "outdated":
		return c.Outdated, nil
	case "diffHunk":
		return c.DiffHunk, nil
	case "commit":
		return gqlCommit{c.CommitID}, nil
	case "originalCommit":
		return gqlCommit{c.OriginalCommitID}, nil
	case "subjectType":
		return "LINE", nil
	case "state":
		if x.pending(rp, c) {
			return "PENDING", nil
		}
		return "SUBMITTED", nil
	case "pullRequest":
		return gqlPull{rp, x.s.findPullLocked(rp, strconv.Itoa(c.Pull))}, nil
	case "pullRequestReview":
		for _, r := range rp.reviews {
			if r.ID == c.ReviewID {
				return gqlReview{rp, r}, nil
			}
		}
		return nil, nil
	case "replyTo":
		for _, r := range rp.reviewComs {
			if c.InReplyTo != 0 && r.ID == c.InReplyTo {
				return gqlReviewComment{rp, r}, nil
			}
		}
		return nil, nil
	}
	return nil, errUnserved
}

func (g gqlReview) resolve(x *gqlExec, field string, args map[string]any) (any, error) {
	r, rp := g.r, g.rp
	url := fmt.Sprintf("%s/%s/%s/pull/%d#pullrequestreview-%d", x.s.URL, rp.owner, rp.name, r.Pull, r.ID)
	if v, ok := commentFields(x, field, r.User, r.Body, r.Minimized, r.ID, stamp(r.SubmittedAt), stamp(r.SubmittedAt), url); ok {
		if r.SubmittedAt.IsZero() && (field == "createdAt" || field == "updatedAt") {
			return stamp(now()), nil
		}
		return v, nil
	}
	switch field {
	case "id":
		return fmt.Sprintf("PRR_%d", r.ID), nil
	case "state":
		return r.State, nil
	case "submittedAt":
		return stamp(r.SubmittedAt), nil
	case "commit":
		return gqlCommit{r.CommitID}, nil
	case "pullRequest":
		return gqlPull{rp, x.s.findPullLocked(rp, strconv.Itoa(r.Pull))}, nil
	case "comments":
		var all []any
		for _, c := range rp.reviewComs {
			if c.ReviewID == r.ID {
				all = append(all, gqlReviewComment{rp, c})
			}
		}
		return page("PullRequestReviewCommentConnection", "PullRequestReviewCommentEdge", field, all, args)
	}
	return nil, errUnserved
}

func (g gqlIssueComment) resolve(x *gqlExec, field string, _ map[string]any) (any, error) {
	c, rp := g.c, g.rp
	url := fmt.Sprintf("%s/%s/%s/issues/%d#issuecomment-%d", x.s.URL, rp.owner, rp.name, c.Issue, c.ID)
	if v, ok := commentFields(x, field, c.User, c.Body, c.Minimized, c.ID, stamp(c.CreatedAt), stamp(c.UpdatedAt), url); ok {
		return v, nil
	}
	if field == "id" {
		return fmt.Sprintf("IC_%d", c.ID), nil
	}
	return nil, errUnserved
}

// actor is a login as GraphQL shows it: a bot's login without "[bot]".
func actor(login string) gqlActor {
	if bot, ok := strings.CutSuffix(login, "[bot]"); ok {
		return gqlActor{login: bot, kind: "Bot"}
	}
	return gqlActor{login: login, kind: "User"}
}

func (a gqlActor) resolve(x *gqlExec, field string, _ map[string]any) (any, error) {
	switch field {
	case "login":
		return a.login, nil
	case "id":
		return fmt.Sprintf("U_%d", numericID(a.login)), nil
	case "url":
		return x.s.URL + "/" + a.login, nil
	}
	return nil, errUnserved
}

func (c gqlCommit) resolve(_ *gqlExec, field string, _ map[string]any) (any, error) {
	switch field {
	case "oid":
		return c.oid, nil
	case "id":
		return "C_" + c.oid, nil
	}
	return nil, errUnserved
}
