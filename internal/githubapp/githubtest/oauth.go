package githubtest

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A GitHub App's user sign-in (the web application flow,
// https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app):
//
//  1. the browser goes to {URL}/login/oauth/authorize?client_id=...&redirect_uri=...&state=...;
//     the person signed in to the fake (OAuthAs) approves at once and is
//     redirected to redirect_uri?code=...&state=...;
//  2. the App POSTs client_id, client_secret and code (and redirect_uri)
//     to {URL}/login/oauth/access_token and gets a user access token
//     (ghu_...), as JSON with Accept: application/json, else form-encoded;
//  3. with that token, GET {API}/user names the person, and
//     GET {API}/repos/{owner}/{repo} answers 200 when the person may read
//     the repository (a role set with SetPermission, or a public
//     repository, SetPublic), else 404, as GitHub hides what a person
//     cannot see. Other REST routes refuse user tokens: the fake serves
//     them only where a test needs them.
//
// A code converts once and expires after ten minutes; errors of the
// token exchange are 200 answers with "error" and "error_description",
// as on GitHub.

// OAuthApp is the OAuth side of a GitHub App: its client credentials and
// its callback URL (redirect_uri must be it or a path below it, on the
// same host and port).
type OAuthApp struct {
	ClientID     string
	ClientSecret string
	CallbackURL  string
}

// userTokenPrefix starts GitHub App user access tokens.
const userTokenPrefix = "ghu_"

// codeLifetime is how long an authorization code may be exchanged.
const codeLifetime = 10 * time.Minute

// oauthFlow serves the sign-in pages and holds their state. Its mutex is
// a leaf: nothing takes the Server's mutex while holding it.
type oauthFlow struct {
	s    *Server
	next http.Handler
	mux  *http.ServeMux

	mu       sync.Mutex
	apps     map[string]OAuthApp // client ID -> app
	signedIn string              // the person the authorize page approves for
	codes    map[string]oauthCode
	tokens   map[string]string // user access token -> login
	public   map[string]bool   // "owner/name"
}

type oauthCode struct {
	clientID, login, redirectURI string
	expires                      time.Time
}

// withOAuth wraps the REST routes with the sign-in routes and GET /user.
func (s *Server) withOAuth(next http.Handler) http.Handler {
	s.t.Helper()
	userSpec, err := s.conf.operation(http.MethodGet, "/user")
	if err != nil {
		s.t.Fatalf("githubtest: %v", err)
	}
	f := &oauthFlow{s: s, next: next, mux: http.NewServeMux(), apps: map[string]OAuthApp{},
		codes: map[string]oauthCode{}, tokens: map[string]string{}, public: map[string]bool{}}
	f.mux.HandleFunc("GET /login/oauth/authorize", f.serveAuthorize)
	f.mux.HandleFunc("POST /login/oauth/access_token", f.serveAccessToken)
	f.mux.HandleFunc("GET "+apiPrefix+"/user", func(w http.ResponseWriter, r *http.Request) {
		s.serveREST(w, r, route{method: http.MethodGet, specPath: "/user", auth: authUser, handle: (*Server).getAuthenticatedUser, spec: userSpec})
	})
	f.mux.Handle("/", next)
	s.oauth = f
	return f
}

func (f *oauthFlow) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// AddOAuthApp registers an App's client credentials and callback URL for
// the sign-in flow.
func (s *Server) AddOAuthApp(app OAuthApp) {
	s.t.Helper()
	if app.ClientID == "" || app.ClientSecret == "" {
		s.t.Fatalf("githubtest: AddOAuthApp: ClientID and ClientSecret are required")
	}
	if u, err := url.Parse(app.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		s.t.Fatalf("githubtest: AddOAuthApp: CallbackURL %q is not an absolute http(s) URL", app.CallbackURL)
	}
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.apps[app.ClientID] = app
}

// OAuthAs signs login in to the fake's web pages: the authorize page
// approves every App for that person. "" signs out (the page then
// answers 401).
func (s *Server) OAuthAs(login string) {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.signedIn = login
}

// SetPublic makes a repository public: every signed-in person may read it
// (GET /repos/{owner}/{repo} then reports it public).
func (s *Server) SetPublic(owner, name string) {
	s.t.Helper()
	s.mu.Lock()
	s.mustRepoLocked(owner, name)
	s.mu.Unlock()
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	s.oauth.public[owner+"/"+name] = true
}

// UserToken mints a user access token for login without the web flow, for
// tests that are not about signing in.
func (s *Server) UserToken(login string) string {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	tok := userTokenPrefix + randomHex(18)
	s.oauth.tokens[tok] = login
	return tok
}

func (f *oauthFlow) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	app, known := f.apps[q.Get("client_id")]
	login := f.signedIn
	f.mu.Unlock()
	if !known {
		http.Error(w, "Not Found: no App has the client_id "+q.Get("client_id"), http.StatusNotFound)
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		redirect = app.CallbackURL
	}
	if !underCallback(redirect, app.CallbackURL) {
		// GitHub sends the person to the registered callback URL instead.
		http.Redirect(w, r, withQuery(app.CallbackURL, url.Values{"error": {"redirect_uri_mismatch"},
			"error_description": {"The redirect_uri MUST match the registered callback URL for this application."},
			"state":             {q.Get("state")}}), http.StatusFound)
		return
	}
	if login == "" {
		http.Error(w, "githubtest: nobody is signed in to the fake GitHub: call OAuthAs(login) first", http.StatusUnauthorized)
		return
	}
	code := randomHex(10)
	f.mu.Lock()
	f.codes[code] = oauthCode{clientID: app.ClientID, login: login, redirectURI: q.Get("redirect_uri"), expires: time.Now().Add(codeLifetime)}
	f.mu.Unlock()
	http.Redirect(w, r, withQuery(redirect, url.Values{"code": {code}, "state": {q.Get("state")}}), http.StatusFound)
}

func (f *oauthFlow) serveAccessToken(w http.ResponseWriter, r *http.Request) {
	params, err := tokenParams(r)
	if err != nil {
		http.Error(w, "Problems parsing the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	answer := func(v map[string]string) {
		accept := r.Header.Get("Accept")
		if strings.Contains(accept, "application/json") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(v)
			return
		}
		form := url.Values{}
		for k, s := range v {
			form.Set(k, s)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = io.WriteString(w, form.Encode())
	}
	fail := func(code, desc string) {
		answer(map[string]string{"error": code, "error_description": desc,
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#" + strings.ReplaceAll(code, "_", "-")})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	app, ok := f.apps[params.Get("client_id")]
	if !ok || app.ClientSecret != params.Get("client_secret") {
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	c, ok := f.codes[params.Get("code")]
	if !ok || c.clientID != app.ClientID || time.Now().After(c.expires) {
		fail("bad_verification_code", "The code passed is incorrect or expired.")
		return
	}
	if ru := params.Get("redirect_uri"); ru != "" && c.redirectURI != "" && ru != c.redirectURI {
		fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
		return
	}
	delete(f.codes, params.Get("code"))
	tok := userTokenPrefix + randomHex(18)
	f.tokens[tok] = c.login
	answer(map[string]string{"access_token": tok, "token_type": "bearer", "scope": ""})
}

// tokenParams reads the exchange's parameters from the query and a form
// or JSON body, as GitHub accepts all three.
func tokenParams(r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case len(body) == 0:
	case mt == "application/json":
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		for k, v := range m {
			params.Set(k, v)
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		for k, v := range form {
			params[k] = v
		}
	}
	return params, nil
}

// underCallback tells whether redirect is the callback URL or a path below
// it on the same scheme, host and port, as GitHub requires.
func underCallback(redirect, callback string) bool {
	ru, err1 := url.Parse(redirect)
	cu, err2 := url.Parse(callback)
	if err1 != nil || err2 != nil || ru.Scheme != cu.Scheme || ru.Host != cu.Host || ru.User != nil {
		return false
	}
	base := strings.TrimSuffix(cu.Path, "/")
	return ru.Path == cu.Path || ru.Path == base || strings.HasPrefix(ru.Path, base+"/")
}

func withQuery(raw string, add url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k, v := range add {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// authUser marks routes only a user access token may call.
const authUser authKind = 100

// authorizeUser checks a user access token (and any token on a user-only
// route): GET /user for the token's person, GET /repos/{owner}/{repo}
// when the person may read it.
func (s *Server) authorizeUser(rt route, c *call, cred string) (reply, bool) {
	s.oauth.mu.Lock()
	login, ok := s.oauth.tokens[cred]
	public := s.oauth.public[c.params["owner"]+"/"+c.params["repo"]]
	s.oauth.mu.Unlock()
	if !ok {
		if _, inst := s.tokenAccount(cred); inst && rt.auth == authUser {
			return reply{status: http.StatusForbidden, body: ghError("Resource not accessible by integration", docsURL, http.StatusForbidden)}, false
		}
		return unauthorized("Bad credentials"), false
	}
	switch {
	case rt.auth == authUser:
	case rt.method == http.MethodGet && rt.specPath == "/repos/{owner}/{repo}":
		s.mu.Lock()
		rp := s.repoLocked(c)
		readable := rp != nil && (public || rp.perms[login] != "")
		s.mu.Unlock()
		if !readable {
			return notFound(), false
		}
	default:
		s.t.Errorf("githubtest: %s %s with a user access token: the fake serves user tokens only on GET /user and GET /repos/{owner}/{repo}", rt.method, rt.specPath)
		return reply{status: http.StatusForbidden, body: ghError("Resource not accessible by integration", docsURL, http.StatusForbidden)}, false
	}
	c.user = login
	return reply{}, true
}

func (s *Server) getAuthenticatedUser(c *call) reply {
	u := s.userJSON(c.user, "User")
	for k, v := range map[string]any{"name": nil, "company": nil, "blog": "", "location": nil, "email": nil,
		"hireable": nil, "bio": nil, "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
		"created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "user_view_type": "public"} {
		u[k] = v
	}
	return reply{status: http.StatusOK, body: u}
}

// viewRepo completes GET /repos/{owner}/{repo}'s answer: a public
// repository says so, and a person's token sees its permissions. The
// caller holds s.mu (oauth.mu is taken inside it, never the reverse).
func (s *Server) viewRepo(body map[string]any, rp *repo, user string) {
	s.oauth.mu.Lock()
	public := s.oauth.public[rp.owner+"/"+rp.name]
	s.oauth.mu.Unlock()
	if public {
		body["private"], body["visibility"] = false, "public"
	}
	if user == "" {
		return
	}
	role := rp.perms[user]
	pull := role != "" || public
	body["permissions"] = map[string]any{
		"admin": role == "admin", "maintain": role == "admin" || role == "maintain",
		"push":   role == "admin" || role == "maintain" || role == "write",
		"triage": role != "" && role != "read", "pull": pull,
	}
}
