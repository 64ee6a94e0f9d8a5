package jobpage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Auth is the App's OAuth side: its client credentials, GitHub's web and
// API bases, where the pages are served, and the key that signs cookies.
type Auth struct {
	ClientID, ClientSecret string
	Web, API               string // https://github.com and https://api.github.com, or GHES's {url} and {url}/api/v3
	BaseURL                string // the public base of /jobs/..., e.g. https://kubewright.example.com
	Key                    []byte // signs cookies; at least 32 bytes
}

// The settings AuthFromEnv reads.
const (
	EnvClientID     = "KUBEWRIGHT_OAUTH_CLIENT_ID"
	EnvClientSecret = "KUBEWRIGHT_OAUTH_CLIENT_SECRET"
	EnvPublicURL    = "KUBEWRIGHT_PUBLIC_URL"
)

// AuthFromEnv reads the App's OAuth client credentials and the public URL
// from the environment. Without a client ID the pages are off: it returns
// nil, nil. The cookie key is derived from the client secret, so every
// replica signs alike and a new secret signs everyone out.
func AuthFromEnv(getenv func(string) string, web, api string) (*Auth, error) {
	id := strings.TrimSpace(getenv(EnvClientID))
	if id == "" {
		return nil, nil
	}
	a := &Auth{ClientID: id, ClientSecret: getenv(EnvClientSecret), Web: strings.TrimRight(web, "/"),
		API: strings.TrimRight(api, "/"), BaseURL: strings.TrimRight(strings.TrimSpace(getenv(EnvPublicURL)), "/")}
	var errs []error
	if len(a.ClientSecret) < 16 {
		errs = append(errs, fmt.Errorf("%s is set, so %s is required: the App's client secret (the App's settings page, \"Generate a new client secret\")", EnvClientID, EnvClientSecret))
	}
	if a.BaseURL == "" {
		errs = append(errs, fmt.Errorf("%s is set, so %s is required: the https:// address people open job pages at (the App's callback URL is it plus /jobs/oauth/callback)", EnvClientID, EnvPublicURL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, []byte(a.ClientSecret))
	mac.Write([]byte("kubewright job page"))
	a.Key = mac.Sum(nil)
	if err := a.Check(); err != nil {
		return nil, err
	}
	return a, nil
}

// Check reports a malformed setting.
func (a *Auth) Check() error {
	var errs []error
	if a.ClientID == "" || a.ClientSecret == "" {
		errs = append(errs, fmt.Errorf("job pages: the OAuth client ID and secret are required (%s, %s)", EnvClientID, EnvClientSecret))
	}
	if len(a.Key) < 32 {
		errs = append(errs, errors.New("job pages: the cookie key must be at least 32 bytes"))
	}
	for _, b := range []struct{ name, v string }{{"GitHub web URL", a.Web}, {"GitHub API URL", a.API}} {
		if !httpURL(b.v) {
			errs = append(errs, fmt.Errorf("job pages: the %s %q is not an http(s) URL", b.name, b.v))
		}
	}
	u, err := url.Parse(a.BaseURL)
	switch {
	case err != nil || !httpURL(a.BaseURL) || u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, fmt.Errorf("%s %q: want an absolute https:// URL without query, e.g. https://kubewright.example.com", EnvPublicURL, a.BaseURL))
	case u.Scheme == "http" && !loopback(u.Hostname()):
		errs = append(errs, fmt.Errorf("%s %q: use https:// (sign-in cookies must not cross the network in clear text; http:// is for 127.0.0.1 and localhost only)", EnvPublicURL, a.BaseURL))
	}
	return errors.Join(errs...)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a *Auth) secure() bool { return strings.HasPrefix(a.BaseURL, "https://") }

func (a *Auth) callbackURL() string { return a.BaseURL + "/jobs/oauth/callback" }

// Cookie names: __Host- pins them to this host and path / over https.
func (a *Auth) cookieName(base string) string {
	if a.secure() {
		return "__Host-" + base
	}
	return base
}

const (
	sessionCookie = "kw_jobs_session"
	stateCookie   = "kw_jobs_state"
	stateLifetime = 10 * time.Minute // GitHub's codes live as long
	maxGrants     = 16
	maxCookie     = 3800 // bytes of a cookie's value; browsers keep 4096 per cookie
)

// session is the signed cookie of a signed-in viewer: who, and until when
// each repository (lower-case owner/name) may be read.
type session struct {
	Login string           `json:"l"`
	Repos map[string]int64 `json:"r"` // repository -> unix expiry of the grant
}

// state binds a sign-in to the browser that started it and the job to
// return to.
type state struct {
	Nonce   string `json:"n"`
	Job     string `json:"j"`
	Expires int64  `json:"e"`
}

// sign returns payload's cookie value: base64url(json).base64url(mac),
// the MAC over the purpose too, so a state never passes for a session.
func (a *Auth) sign(purpose string, v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(data)
	return p + "." + base64.RawURLEncoding.EncodeToString(a.mac(purpose, p)), nil
}

func (a *Auth) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, a.Key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// verify checks value's MAC and decodes it into v.
func (a *Auth) verify(purpose, value string, v any) bool {
	p, sig, ok := strings.Cut(value, ".")
	if !ok || len(value) > maxCookie {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(purpose, p)) {
		return false
	}
	data, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil
}

// readSession returns the viewer's session with its live grants.
func (a *Auth) readSession(r *http.Request, now time.Time) (session, bool) {
	c, err := r.Cookie(a.cookieName(sessionCookie))
	if err != nil {
		return session{}, false
	}
	var s session
	if !a.verify("session", c.Value, &s) || s.Login == "" {
		return session{}, false
	}
	for repo, exp := range s.Repos {
		if now.Unix() >= exp {
			delete(s.Repos, repo)
		}
	}
	return s, true
}

// may tells whether the session may read repo now.
func (s session) may(repo string, now time.Time) bool {
	exp, ok := s.Repos[strings.ToLower(repo)]
	return ok && now.Unix() < exp
}

// grant adds repo until exp, keeping at most maxGrants (those expiring
// last), and returns the cookie that carries the session.
func (a *Auth) grant(s session, repo string, exp time.Time) (*http.Cookie, error) {
	if s.Repos == nil {
		s.Repos = map[string]int64{}
	}
	s.Repos[strings.ToLower(repo)] = exp.Unix()
	for {
		if len(s.Repos) > maxGrants {
			s.Repos = dropSoonest(s.Repos)
			continue
		}
		v, err := a.sign("session", s)
		if err != nil {
			return nil, err
		}
		if len(v) > maxCookie && len(s.Repos) > 1 {
			s.Repos = dropSoonest(s.Repos)
			continue
		}
		var last int64
		for _, e := range s.Repos {
			last = max(last, e)
		}
		return a.cookie(sessionCookie, v, time.Unix(last, 0)), nil
	}
}

func dropSoonest(grants map[string]int64) map[string]int64 {
	keys := make([]string, 0, len(grants))
	for k := range grants {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if grants[keys[i]] != grants[keys[j]] {
			return grants[keys[i]] < grants[keys[j]]
		}
		return keys[i] < keys[j]
	})
	delete(grants, keys[0])
	return grants
}

// cookie is an HttpOnly, SameSite=Lax cookie on /, Secure over https;
// expires zero deletes it.
func (a *Auth) cookie(name, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: a.cookieName(name), Value: value, Path: "/", HttpOnly: true, Secure: a.secure(), SameSite: http.SameSiteLaxMode}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires.UTC()
	}
	return c
}

// authorizeURL starts a sign-in for job: the state cookie to set and where
// to send the browser.
func (a *Auth) authorizeURL(job string, now time.Time) (*http.Cookie, string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	st := state{Nonce: hex.EncodeToString(b), Job: job, Expires: now.Add(stateLifetime).Unix()}
	v, err := a.sign("state", st)
	if err != nil {
		return nil, "", err
	}
	q := url.Values{"client_id": {a.ClientID}, "redirect_uri": {a.callbackURL()}, "state": {st.Nonce}, "allow_signup": {"false"}}
	return a.cookie(stateCookie, v, now.Add(stateLifetime)), a.Web + "/login/oauth/authorize?" + q.Encode(), nil
}

// readState returns the sign-in the callback's state belongs to.
func (a *Auth) readState(r *http.Request, now time.Time) (state, bool) {
	c, err := r.Cookie(a.cookieName(stateCookie))
	if err != nil {
		return state{}, false
	}
	var st state
	if !a.verify("state", c.Value, &st) || now.Unix() >= st.Expires || !ValidID(st.Job) {
		return state{}, false
	}
	got := r.URL.Query().Get("state")
	return st, len(got) == len(st.Nonce) && hmac.Equal([]byte(got), []byte(st.Nonce))
}

// githubError is a failed exchange or API call, with what GitHub said.
type githubError struct {
	What   string
	Status int
	Code   string // the OAuth error, e.g. bad_verification_code
}

func (e *githubError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s: GitHub answered %s", e.What, e.Code)
	}
	return fmt.Sprintf("%s: GitHub answered %d", e.What, e.Status)
}

// exchange trades the callback's code for the viewer's token.
func (a *Auth) exchange(ctx context.Context, hc *http.Client, code string) (string, error) {
	form := url.Values{"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "code": {code}, "redirect_uri": {a.callbackURL()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Web+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	status, err := do(hc, req, &out)
	if err != nil {
		return "", fmt.Errorf("sign-in: exchange the code: %w", err)
	}
	if status != http.StatusOK || out.Error != "" || out.AccessToken == "" {
		return "", &githubError{What: "sign-in: exchange the code", Status: status, Code: clip(out.Error, 64)}
	}
	return out.AccessToken, nil
}

// viewer asks GitHub, with the viewer's token, who they are and whether
// they may read repo: 404 (and 403) mean they may not.
func (a *Auth) viewer(ctx context.Context, hc *http.Client, token, repo string) (login string, may bool, err error) {
	var user struct {
		Login string `json:"login"`
	}
	status, err := a.api(ctx, hc, token, "/user", &user)
	if err != nil {
		return "", false, err
	}
	if status != http.StatusOK || user.Login == "" {
		return "", false, &githubError{What: "sign-in: GET /user", Status: status}
	}
	owner, name, _ := strings.Cut(repo, "/")
	var rp struct {
		FullName string `json:"full_name"`
	}
	status, err = a.api(ctx, hc, token, "/repos/"+url.PathEscape(owner)+"/"+url.PathEscape(name), &rp)
	switch {
	case err != nil:
		return user.Login, false, err
	case status == http.StatusOK:
		return user.Login, true, nil
	case status == http.StatusNotFound || status == http.StatusForbidden:
		return user.Login, false, nil
	}
	return user.Login, false, &githubError{What: "sign-in: GET /repos/" + repo, Status: status}
}

func (a *Auth) api(ctx context.Context, hc *http.Client, token, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.API+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	status, err := do(hc, req, v)
	if err != nil {
		return 0, fmt.Errorf("sign-in: GET %s: %w", path, err)
	}
	return status, nil
}

// do sends req and decodes a JSON answer of at most 1 MiB into v when the
// status is 200.
func do(hc *http.Client, req *http.Request, v any) (int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, fmt.Errorf("decode the answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}
