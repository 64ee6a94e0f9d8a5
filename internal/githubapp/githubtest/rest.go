package githubtest

import (
	"encoding/json"
	"errors"
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
	user    string // the person behind a user access token (oauth.go)
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
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/pulls/{pull_number}/files", auth: authRepo, handle: (*Server).listFiles},
		{method: http.MethodPost, specPath: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", auth: authRepo, handle: (*Server).createReview},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", auth: authRepo, handle: (*Server).listReviews},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/pulls/{pull_number}/comments", auth: authRepo, handle: (*Server).listReviewComments},
		{method: http.MethodPatch, specPath: "/repos/{owner}/{repo}/pulls/comments/{comment_id}", auth: authRepo, handle: (*Server).updateReviewComment},
		{method: http.MethodPost, specPath: "/repos/{owner}/{repo}/check-runs", auth: authRepo, handle: (*Server).createCheckRun},
		{method: http.MethodGet, specPath: "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", auth: authRepo, handle: (*Server).listAnnotations},
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
		if simple422(rt) {
			rep = invalidSimple("Invalid request: " + err.Error())
		}
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

// simple422 tells whether the operation declares its 422 answer in the
// "validation-error-simple" shape (errors as strings).
func simple422(rt route) bool {
	ref := rt.spec.Operation.Responses.Status(http.StatusUnprocessableEntity)
	return ref != nil && strings.HasSuffix(ref.Ref, "/validation_failed_simple")
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
	if rt.auth == authUser || strings.HasPrefix(cred, userTokenPrefix) {
		return s.authorizeUser(rt, c, cred)
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

// repoLocked finds the routed repository; the caller holds s.mu.
func (s *Server) repoLocked(c *call) *repo {
	return s.repos[c.params["owner"]+"/"+c.params["repo"]]
}

func (s *Server) botLogin() string { return s.app.Slug + "[bot]" }

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
