package appmanifest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The defaults: github.com and its API.
const (
	DefaultGitHubURL = "https://github.com"
	DefaultAPIURL    = "https://api.github.com"
	DefaultListen    = "127.0.0.1:8765"
)

// DefaultAPI is the REST URL for a GitHub web URL: api.github.com for
// github.com, {URL}/api/v3 for GitHub Enterprise Server.
func DefaultAPI(githubURL string) string {
	u := strings.TrimSuffix(githubURL, "/")
	if u == "" || u == DefaultGitHubURL {
		return DefaultAPIURL
	}
	return u + "/api/v3"
}

// Settings are one run of the flow.
type Settings struct {
	// Manifest is the App to create, Checked.
	Manifest *Manifest
	// GitHubURL is GitHub's web address (the new-App page is there),
	// APIURL its REST API (the code is exchanged there).
	GitHubURL, APIURL string
	// Org creates the App under this organization; "" under the user.
	Org string
	// Out is where the App's credentials are written.
	Out Output
	// Exchange sends the conversion; nil means an Exchanger on APIURL.
	Exchange func(ctx context.Context, code string) (*App, error)
}

// Result is a created App and the files its credentials went to.
type Result struct {
	App   *App
	Files []string
}

var orgRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// Check refuses settings the flow cannot run with.
func (s Settings) Check() error {
	if s.Manifest == nil {
		return errors.New("no manifest")
	}
	if err := s.Manifest.Check(); err != nil {
		return err
	}
	if s.Org != "" && !orgRE.MatchString(s.Org) {
		return fmt.Errorf("--org %q is not a GitHub organization name (letters, digits and hyphens, at most 39)", s.Org)
	}
	if err := checkBase("--github-url", s.GitHubURL); err != nil {
		return err
	}
	return checkBase("--api-url", s.APIURL)
}

// checkBase wants an absolute https URL, or http on a loopback host (the
// tests' fake GitHub): the exchange's answer holds the App's private key.
func checkBase(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%s %q: want an absolute https URL such as %s", flag, raw, DefaultGitHubURL)
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Errorf("%s %q: use https (the App's private key comes back over it); plain http is only for a loopback address", flag, raw)
	}
	return nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen refuses an address that is not host:port on a loopback
// host: the page hands out the state, and the callback takes GitHub's
// one-use code and writes the App's private key, so nothing off this
// machine may reach them.
func CheckListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: not host:port; use %s", addr, DefaultListen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--listen %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if !loopbackHost(host) {
		shown := host
		if shown == "" {
			shown = "every address"
		}
		return fmt.Errorf("--listen %q: %s is not a loopback address; the page takes GitHub's one-use code and writes the App's private key, so it listens on this machine only: use 127.0.0.1:%s", addr, shown, port)
	}
	return nil
}

// NewAppURL is where the form posts: the user's or the organization's
// new-App page, with the state.
func NewAppURL(githubURL, org, state string) string {
	base := strings.TrimSuffix(githubURL, "/")
	path := "/settings/apps/new"
	if org != "" {
		path = "/organizations/" + url.PathEscape(org) + "/settings/apps/new"
	}
	return base + path + "?state=" + url.QueryEscape(state)
}

// flow is one run: the page, the callback and its outcome.
type flow struct {
	s        Settings
	ctx      context.Context
	state    string
	action   string
	manifest string
	hosts    map[string]bool // Host headers served
	exchange func(ctx context.Context, code string) (*App, error)

	mu       sync.Mutex
	busy     bool // an exchange is running or has run
	closed   bool // the run has ended: no exchange may start
	finished chan struct{}
	result   *Result
	err      error
}

// Run serves the flow on ln until one App is created and its files are
// written, the exchange fails, or ctx ends; it closes ln. announce is
// called with the page's URL once it is served.
func Run(ctx context.Context, s Settings, ln net.Listener, announce func(pageURL string)) (*Result, error) {
	defer ln.Close()
	if err := s.Check(); err != nil {
		return nil, err
	}
	state, err := randomToken(32)
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	redirect := "http://" + addr + "/callback"
	data, err := s.Manifest.JSON(redirect)
	if err != nil {
		return nil, err
	}
	f := &flow{s: s, ctx: ctx, state: state, action: NewAppURL(s.GitHubURL, s.Org, state), manifest: string(data),
		hosts: map[string]bool{addr: true, "localhost:" + port: true}, finished: make(chan struct{})}
	f.exchange = s.Exchange
	if f.exchange == nil {
		f.exchange = Exchanger{API: s.APIURL}.Exchange
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * ExchangeTimeout, MaxHeaderBytes: 16 << 10}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if announce != nil {
		announce("http://" + addr + "/")
	}
	var res *Result
	select {
	case <-f.finished:
		res, err = f.result, f.err
	case err = <-served:
		return nil, fmt.Errorf("serve the page on %s: %w", addr, err)
	case <-ctx.Done():
		err = ctx.Err()
		// An exchange under way may still finish: its App exists on GitHub.
		f.mu.Lock()
		busy := f.busy
		f.closed = true
		f.mu.Unlock()
		if busy {
			<-f.finished
			res, err = f.result, f.err
		}
	}
	// Let the last page reach the browser, then stop.
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shut); serr != nil {
		srv.Close()
	}
	return res, err
}

func (f *flow) finish(res *Result, err error) {
	f.result, f.err = res, err
	close(f.finished)
}

func (f *flow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Another site's page that a rebinding DNS name points here would
	// read the state: serve only requests addressed to this listener.
	if !f.hosts[strings.ToLower(r.Host)] {
		f.page(w, http.StatusMisdirectedRequest, "Wrong address", "Open this page at its address on this machine, as kubewright printed it.", "")
		return
	}
	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		f.form(w)
	case r.URL.Path == "/callback" && r.Method == http.MethodGet:
		// The callback's URL holds the code: no page it leads to learns it.
		h.Set("Referrer-Policy", "no-referrer")
		f.callback(w, r)
	default:
		f.page(w, http.StatusNotFound, "Not found", "This page only serves / and GitHub's redirect to /callback.", "")
	}
}

// form is the page that posts the manifest to GitHub: at once with
// JavaScript, with the button otherwise.
func (f *flow) form(w http.ResponseWriter) {
	nonce, err := randomToken(16)
	if err != nil {
		f.page(w, http.StatusInternalServerError, "Error", "No randomness for the page: "+err.Error(), "")
		return
	}
	target, _ := url.Parse(f.action)
	where := "your account"
	if f.s.Org != "" {
		where = "the organization " + f.s.Org
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+nonce+"'; form-action 'self' "+target.Scheme+"://"+target.Host+"; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = formPage.Execute(w, map[string]string{
		"Name": f.s.Manifest.Name(), "File": f.s.Manifest.File, "Host": target.Host, "Where": where,
		"Action": f.action, "Manifest": f.manifest, "Nonce": nonce, "Out": f.s.Out.Dir,
	})
}

// callback takes GitHub's redirect: the state must be this run's, then
// the code is exchanged once, whatever comes of it.
func (f *flow) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, code := q.Get("state"), q.Get("code")
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(f.state)) != 1 {
		f.page(w, http.StatusBadRequest, "Not this run's request",
			"The state of this request is missing or is not the one this run of kubewright app create sent to GitHub, so nothing was exchanged or written. Start again from the address kubewright printed.", "")
		return
	}
	if !ValidCode(code) {
		f.page(w, http.StatusBadRequest, "No code",
			"GitHub's redirect carries no usable code, so nothing was exchanged or written. Start again from the address kubewright printed.", "")
		return
	}
	f.mu.Lock()
	busy, closed := f.busy, f.closed
	f.busy = true
	f.mu.Unlock()
	if closed && !busy {
		f.page(w, http.StatusServiceUnavailable, "Too late", "This run of kubewright app create has ended, so nothing was exchanged or written. Start it again.", "")
		return
	}
	if busy {
		f.page(w, http.StatusConflict, "Already done", "This run has already exchanged a code; the terminal says how it went.", "")
		return
	}
	app, err := f.exchange(context.WithoutCancel(f.ctx), code)
	if err != nil {
		err = fmt.Errorf("%w; start again with kubewright app create (if GitHub created the App, delete it or generate a private key on its settings page)", err)
		f.page(w, http.StatusBadGateway, "The App's credentials could not be fetched", err.Error(), "")
		f.finish(nil, err)
		return
	}
	files, err := f.s.Out.Write(app, f.s.GitHubURL)
	if err != nil {
		err = fmt.Errorf("the %s was created (%s), but its credentials could not be saved: %w; generate a private key and a webhook secret on its settings page", app, app.HTMLURL, err)
		f.page(w, http.StatusInternalServerError, "The App's credentials could not be saved", err.Error(), app.HTMLURL)
		f.finish(nil, err)
		return
	}
	f.page(w, http.StatusOK, "The GitHub App "+app.Name+" is created",
		"Its ID, private key and secrets are saved in "+f.s.Out.Dir+", readable by you only. You can close this tab: the terminal says what to do next.",
		app.HTMLURL)
	f.finish(&Result{App: app, Files: files}, nil)
}

func (f *flow) page(w http.ResponseWriter, status int, title, message, link string) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = messagePage.Execute(w, map[string]string{"Title": title, "Message": message, "Link": link})
}

// randomToken is n random bytes from crypto/rand, base64url.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

const style = `body{font-family:system-ui,sans-serif;max-width:42em;margin:3em auto;padding:0 1em;line-height:1.5}button{font-size:1.1em;padding:.4em 1em}`

// formPage keeps the default referrer policy: GitHub sees the page's
// origin, as with any site that posts a manifest.
var formPage = template.Must(template.New("form").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Create the GitHub App {{.Name}}</title><style>` + style + `</style></head>
<body>
<h1>Create the GitHub App {{.Name}}</h1>
<p>This page sends the App manifest {{.File}} to {{.Host}}, where you create the App for {{.Where}}. GitHub then sends you back here, and kubewright saves the App's ID, private key and secrets in {{.Out}}.</p>
<form id="create" method="post" action="{{.Action}}">
<input type="hidden" name="manifest" value="{{.Manifest}}">
<button type="submit">Continue to {{.Host}}</button>
</form>
<script nonce="{{.Nonce}}">document.getElementById("create").submit();</script>
</body></html>
`))

var messagePage = template.Must(template.New("message").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>{{.Title}}</title><style>` + style + `</style></head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Link}}<p><a href="{{.Link}}">{{.Link}}</a></p>{{end}}
</body></html>
`))
