package githubtest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/routers"
)

// apiPrefix is where REST lives, as on GitHub Enterprise Server.
const apiPrefix = "/api/v3"

type authKind int

const (
	authJWT  authKind = iota // the App's JWT
	authRepo                 // an installation token of the repository's owner
	authOrg                  // an installation token of the organization
)

// route is one REST operation: how GitHub documents it and who serves it.
type route struct {
	method   string
	specPath string
	auth     authKind
	handle   func(*Server, *call) reply
	spec     *routers.Route
	params   []string
}

// call is one REST request after routing and authentication.
type call struct {
	r       *http.Request
	body    []byte
	params  map[string]string
	account string // the installation account behind the token
}

// reply is what a handler answers; body is marshaled to JSON.
type reply struct {
	status int
	header http.Header
	body   any
}

func (s *Server) routes() []route {
	return []route{
		{method: http.MethodPost, specPath: "/app/installations/{installation_id}/access_tokens", auth: authJWT, handle: (*Server).createToken},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}", auth: authRepo, handle: (*Server).getRepo},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/collaborators/{username}/permission", auth: authRepo, handle: (*Server).getPermission},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/issues/{issue_number}", auth: authRepo, handle: (*Server).getIssue},
		{method: http.MethodPost, specPath: "/repos/{owner}/{repo}/issues/{issue_number}/comments", auth: authRepo, handle: (*Server).createComment},
		{method: http.MethodPatch, specPath: "/repos/{owner}/{repo}/issues/comments/{comment_id}", auth: authRepo, handle: (*Server).updateComment},
		{method: http.MethodPost, specPath: "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", auth: authRepo, handle: (*Server).createReaction},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/contents/{path}", auth: authRepo, handle: (*Server).getContents},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/pulls", auth: authRepo, handle: (*Server).listPulls},
		{method: http.MethodPost, specPath: "/repos/{owner}/{repo}/pulls", auth: authRepo, handle: (*Server).createPull},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/pulls/{pull_number}", auth: authRepo, handle: (*Server).getPull},
		{method: http.MethodPatch, specPath: "/repos/{owner}/{repo}/pulls/{pull_number}", auth: authRepo, handle: (*Server).updatePull},
		{method: http.MethodPost, specPath: "/repos/{owner}/{repo}/check-runs", auth: authRepo, handle: (*Server).createCheckRun},
		{method: http.MethodPatch, specPath: "/repos/{owner}/{repo}/check-runs/{check_run_id}", auth: authRepo, handle: (*Server).updateCheckRun},
		{method: http.MethodGet, specPath: "/orgs/{org}/teams/{team_slug}/memberships/{username}", auth: authOrg, handle: (*Server).getTeamMembership},
	}
}

var specParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// restMux registers every route under apiPrefix; its pattern is derived from
// the documented path ({path} of contents takes the rest of the path).
func (s *Server) restMux() (*http.ServeMux, error) {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		spec, err := s.conf.operation(rt.method, rt.specPath)
		if err != nil {
			return nil, err
		}
		rt.spec = spec
		for _, m := range specParam.FindAllStringSubmatch(rt.specPath, -1) {
			rt.params = append(rt.params, m[1])
		}
		pattern := strings.Replace(rt.specPath, "{path}", "{path...}", 1)
		mux.HandleFunc(rt.method+" "+apiPrefix+pattern, func(w http.ResponseWriter, r *http.Request) {
			s.serveREST(w, r, rt)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, notFound())
	})
	return mux, nil
}

// serveREST validates the request, applies injected faults and
// authentication, runs the handler and validates the response it sends.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request, rt route) {
	op := rt.spec.Operation.OperationID
	body, err := io.ReadAll(io.LimitReader(r.Body, 25<<20))
	if err != nil {
		writeJSON(w, reply{status: http.StatusBadRequest, body: ghError("Problems reading the request body", docsURL, http.StatusBadRequest)})
		return
	}
	c := &call{r: r, body: body, params: map[string]string{}}
	for _, p := range rt.params {
		c.params[p] = r.PathValue(p)
	}

	var rep reply
	if err := s.conf.checkRequest(r.Context(), rt.spec, r, c.params, body); err != nil {
		s.reportf(op, "request %s %s: %v", r.Method, r.URL.Path, err)
		rep = invalid("", "invalid", "Invalid request: "+err.Error())
	} else if f, ok := s.takeFault(r.Method, strings.TrimPrefix(r.URL.Path, apiPrefix), rt.specPath); ok {
		rep = f.reply()
	} else if rep, ok = s.authorize(rt, c); ok {
		rep = rt.handle(s, c)
	}

	data, err := json.Marshal(rep.body)
	if err != nil {
		s.reportf(op, "marshal response: %v", err)
		data = []byte(`{"message":"Server Error"}`)
		rep.status = http.StatusInternalServerError
	}
	if s.hook != nil {
		data = s.hook(op, rep.status, data)
	}
	header := w.Header()
	for k, v := range rep.header {
		header[k] = v
	}
	header.Set("Content-Type", "application/json; charset=utf-8")
	if header.Get("X-RateLimit-Remaining") == "" {
		header.Set("X-RateLimit-Limit", "5000")
		header.Set("X-RateLimit-Remaining", "4999")
		header.Set("X-RateLimit-Used", "1")
		header.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		header.Set("X-RateLimit-Resource", "core")
	}
	s.validateResponse(r.Context(), rt.spec, r, c.params, rep.status, header.Clone(), data)
	w.WriteHeader(rep.status)
	_, _ = w.Write(data)
}

// authorize checks the credentials the route needs. On failure it returns
// GitHub's answer and false.
func (s *Server) authorize(rt route, c *call) (reply, bool) {
	scheme, cred, _ := strings.Cut(c.r.Header.Get("Authorization"), " ")
	scheme = strings.ToLower(scheme)
	if rt.auth == authJWT {
		if scheme != "bearer" {
			return unauthorized("A JSON web token could not be decoded"), false
		}
		if err := s.verifyJWT(cred, time.Now()); err != nil {
			return unauthorized(err.Error()), false
		}
		return reply{}, true
	}
	if cred == "" || (scheme != "token" && scheme != "bearer") {
		return unauthorized("Requires authentication"), false
	}
	account, ok := s.tokenAccount(cred)
	if !ok {
		return unauthorized("Bad credentials"), false
	}
	owner := c.params["owner"]
	if rt.auth == authOrg {
		owner = c.params["org"]
	}
	if !strings.EqualFold(account, owner) {
		// GitHub hides what an installation cannot see.
		return notFound(), false
	}
	c.account = account
	return reply{}, true
}

// verifyJWT checks an App JWT as GitHub does: RS256 signed by the App's key,
// iss the App ID, issued in the past and expiring in the next ten minutes.
func (s *Server) verifyJWT(jwt string, now time.Time) error {
	if s.app.PublicKey == nil {
		return errors.New("A JSON web token could not be decoded: no App is configured on this fake (githubtest.WithApp)")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("A JSON web token could not be decoded")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat *json.Number    `json:"iat"`
		Exp *json.Number    `json:"exp"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	if hdr.Alg != "RS256" {
		return fmt.Errorf("'alg' must be RS256, got %q", hdr.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(s.app.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return errors.New("A JSON web token could not be decoded: the signature does not match the App's public key")
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	iss := strings.Trim(string(claims.Iss), `"`)
	if iss != strconv.FormatInt(s.app.ID, 10) {
		return fmt.Errorf("'Issuer' claim ('iss') must be the App ID %d, got %s", s.app.ID, claims.Iss)
	}
	if claims.Exp == nil || claims.Iat == nil {
		return errors.New("'Expiration time' claim ('exp') and 'Issued at' claim ('iat') are required")
	}
	exp, err1 := claims.Exp.Int64()
	iat, err2 := claims.Iat.Int64()
	if err1 != nil || err2 != nil {
		return errors.New("'exp' and 'iat' must be integers")
	}
	switch {
	case time.Unix(exp, 0).Before(now):
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case time.Unix(exp, 0).After(now.Add(10*time.Minute + 30*time.Second)):
		return errors.New("'Expiration time' claim ('exp') is too far in the future")
	case time.Unix(iat, 0).After(now.Add(time.Minute)):
		return errors.New("'Issued at' claim ('iat') must be an Integer representing a time in the past")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

const docsURL = "https://docs.github.com/rest"

func ghError(message, doc string, status int) map[string]any {
	return map[string]any{"message": message, "documentation_url": doc, "status": strconv.Itoa(status)}
}

func unauthorized(msg string) reply {
	return reply{status: http.StatusUnauthorized, body: ghError(msg, docsURL, http.StatusUnauthorized)}
}

func notFound() reply {
	return reply{status: http.StatusNotFound, body: ghError("Not Found", docsURL, http.StatusNotFound)}
}

// invalid is GitHub's 422 "Validation Failed" with one error.
func invalid(resource, code, msg string) reply {
	e := map[string]any{"code": code, "message": msg}
	if resource != "" {
		e["resource"] = resource
	}
	return reply{status: http.StatusUnprocessableEntity, body: map[string]any{
		"message": "Validation Failed", "documentation_url": docsURL, "status": "422",
		"errors": []any{e},
	}}
}

func writeJSON(w http.ResponseWriter, rep reply) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	_ = json.NewEncoder(w).Encode(rep.body)
}

func decodeBody(c *call, v any) error {
	if len(c.body) == 0 {
		return errors.New("a JSON body is required")
	}
	return json.Unmarshal(c.body, v)
}

func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// ---- handlers ----

func (s *Server) createToken(c *call) reply {
	id, err := strconv.ParseInt(c.params["installation_id"], 10, 64)
	if err != nil {
		return notFound()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	account, ok := s.installations[id]
	if !ok {
		return notFound()
	}
	m := s.newTokenLocked(id, account)
	return reply{status: http.StatusCreated, body: map[string]any{
		"token":      m.value,
		"expires_at": m.expires.UTC().Format(time.RFC3339),
		"permissions": map[string]any{
			"checks": "write", "contents": "write", "issues": "write", "metadata": "read",
			"pull_requests": "write", "members": "read",
		},
		"repository_selection": "all",
	}}
}

// repoLocked finds the routed repository; the caller holds s.mu.
func (s *Server) repoLocked(c *call) *repo {
	return s.repos[c.params["owner"]+"/"+c.params["repo"]]
}

func (s *Server) getRepo(c *call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	return reply{status: http.StatusOK, body: s.repoJSON(rp, true)}
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

func (s *Server) botLogin() string { return s.app.Slug + "[bot]" }

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
			headBranch != "" && (!strings.EqualFold(headOwner, rp.owner) || p.Head != headBranch),
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
		if p.State == "open" && p.Head == head && p.Base == in.Base {
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

// refreshHeads records the current commit of each pull request's head
// branch, as GitHub does when a branch is pushed.
func (s *Server) refreshHeads(c *call) {
	heads, err := s.git.heads(c.params["owner"], c.params["repo"])
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.repoLocked(c); rp != nil {
		for _, p := range rp.pulls {
			if sha, ok := heads[p.Head]; ok {
				p.HeadSHA = sha
			}
		}
	}
}

type checkRunInput struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	Conclusion  *string `json:"conclusion"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       *string           `json:"title"`
		Summary     *string           `json:"summary"`
		Text        *string           `json:"text"`
		Annotations []json.RawMessage `json:"annotations"`
	} `json:"output"`
}

// apply copies the input onto the check run with GitHub's rules: a
// conclusion completes the run, a completed run needs a conclusion.
func (in *checkRunInput) apply(cr *CheckRun) *reply {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&cr.Name, in.Name)
	set(&cr.DetailsURL, in.DetailsURL)
	set(&cr.ExternalID, in.ExternalID)
	set(&cr.Status, in.Status)
	set(&cr.Conclusion, in.Conclusion)
	for _, ts := range []struct {
		src *string
		dst *time.Time
	}{{in.StartedAt, &cr.StartedAt}, {in.CompletedAt, &cr.CompletedAt}} {
		if ts.src != nil {
			t, err := time.Parse(time.RFC3339, *ts.src)
			if err != nil {
				r := invalid("CheckRun", "invalid", "timestamps must be ISO 8601: "+*ts.src)
				return &r
			}
			*ts.dst = t.UTC()
		}
	}
	if o := in.Output; o != nil {
		set(&cr.Title, o.Title)
		set(&cr.Summary, o.Summary)
		set(&cr.Text, o.Text)
		cr.AnnotationsCount += len(o.Annotations)
	}
	if cr.Conclusion != "" {
		cr.Status = "completed"
	}
	if cr.Status == "completed" {
		if cr.Conclusion == "" {
			r := invalid("CheckRun", "missing_field", "conclusion is required when status is completed")
			return &r
		}
		if cr.CompletedAt.IsZero() {
			cr.CompletedAt = now()
		}
	}
	return nil
}

func (s *Server) createCheckRun(c *call) reply {
	var in checkRunInput
	if err := decodeBody(c, &in); err != nil {
		return invalid("CheckRun", "invalid", "Problems parsing JSON")
	}
	if in.Name == nil || *in.Name == "" || in.HeadSHA == "" {
		return invalid("CheckRun", "missing_field", "name and head_sha are required")
	}
	if !s.git.hasCommit(c.params["owner"], c.params["repo"], in.HeadSHA) {
		return invalid("CheckRun", "invalid", "No commit found for SHA: "+in.HeadSHA)
	}
	cr := &CheckRun{HeadSHA: in.HeadSHA, Status: "queued", StartedAt: now()}
	if rep := in.apply(cr); rep != nil {
		return *rep
	}
	s.refreshHeads(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repoLocked(c)
	if rp == nil {
		return notFound()
	}
	cr.ID = s.id()
	rp.checkRuns = append(rp.checkRuns, cr)
	return reply{status: http.StatusCreated, body: s.checkRunJSON(rp, cr)}
}

func (s *Server) updateCheckRun(c *call) reply {
	var in checkRunInput
	if err := decodeBody(c, &in); err != nil {
		return invalid("CheckRun", "invalid", "Problems parsing JSON")
	}
	id, err := strconv.ParseInt(c.params["check_run_id"], 10, 64)
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
	for _, cr := range rp.checkRuns {
		if cr.ID == id {
			next := *cr
			if rep := in.apply(&next); rep != nil {
				return *rep
			}
			*cr = next
			return reply{status: http.StatusOK, body: s.checkRunJSON(rp, cr)}
		}
	}
	return notFound()
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

// ---- JSON shapes ----

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
		"fork": false, "url": api, "archive_url": api + "/{archive_format}{/ref}", "assignees_url": api + "/assignees{/user}",
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
	owner := s.userJSON(rp.owner, "Organization")
	ref := func(branch, sha string) map[string]any {
		return map[string]any{"label": rp.owner + ":" + branch, "ref": branch, "sha": sha, "user": owner, "repo": s.repoJSON(rp, false)}
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
		"head": ref(p.Head, p.HeadSHA), "base": ref(p.Base, baseSHA),
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
