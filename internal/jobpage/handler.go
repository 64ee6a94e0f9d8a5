package jobpage

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Option configures the handler.
type Option func(*handler)

// WithHTTPClient sets the client that talks to GitHub (default: 10 s
// timeout, no redirects followed).
func WithHTTPClient(c *http.Client) Option { return func(h *handler) { h.http = c } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(h *handler) { h.log = l } }

// WithClock sets the clock grants and sign-ins expire by (default
// time.Now).
func WithClock(now func() time.Time) Option { return func(h *handler) { h.now = now } }

// WithGrantTTL sets how long a checked read access holds before GitHub is
// asked again (default one hour, at most a day).
func WithGrantTTL(d time.Duration) Option { return func(h *handler) { h.ttl = d } }

type handler struct {
	store  Store
	auth   *Auth
	http   *http.Client
	log    *slog.Logger
	now    func() time.Time
	ttl    time.Duration
	assets assets
	static staticURLs
	mux    *http.ServeMux
}

// csp allows scripts and style sheets from this server only, images
// only as data: URLs, and nothing else. Inline styles are allowed for
// Mermaid: it writes a <style> element into each SVG it draws. No script
// runs inline, and no inline event handler either.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the job pages:
//
//	GET /jobs/{id}             the page, after sign-in, to people who may read the job's repository
//	GET /jobs/oauth/callback   GitHub's redirect after sign-in
//	GET /jobs/static/{file}    page.css, page.js, mermaid.min.js (cached for a year, versioned URLs)
//
// Mount it on "/jobs/". auth's BaseURL must lead to it.
func Handler(store Store, auth *Auth, opts ...Option) (http.Handler, error) {
	if store == nil || auth == nil {
		return nil, errors.New("job pages: a store and the OAuth settings are required")
	}
	if err := auth.Check(); err != nil {
		return nil, err
	}
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	h := &handler{store: store, auth: auth, log: slog.New(slog.DiscardHandler), now: time.Now, ttl: time.Hour, assets: as,
		http: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for _, o := range opts {
		o(h)
	}
	if h.ttl <= 0 || h.ttl > 24*time.Hour {
		return nil, errors.New("job pages: the grant TTL must be between 1 ns and 24 h")
	}
	h.static = staticURLs{CSS: as.url("page.css"), JS: as.url("page.js"), Mermaid: as.url("mermaid.min.js")}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /jobs/static/{file}", h.serveStatic)
	h.mux.HandleFunc("GET /jobs/oauth/callback", h.serveCallback)
	h.mux.HandleFunc("GET /jobs/{id}", h.servePage)
	h.mux.HandleFunc("/jobs/", func(w http.ResponseWriter, r *http.Request) {
		h.problem(w, http.StatusNotFound, "No such page", "There is no job page here.", "")
	})
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if h.auth.secure() {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.mux.ServeHTTP(w, r)
}

func (h *handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("file")]
	if !ok {
		h.problem(w, http.StatusNotFound, "No such file", "There is no such file here.", "")
		return
	}
	gz := a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding"))
	etag := `"` + a.version + `"`
	if gz {
		etag = `"` + a.version + `-gz"` // another representation, another tag
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("ETag", etag)
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	switch {
	case a.gz == nil:
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	case gz:
		hd.Set("Content-Encoding", "gzip")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.gz))
	default:
		zr, err := gzip.NewReader(bytes.NewReader(a.gz)) // checked by loadAssets
		if err != nil {
			h.problem(w, http.StatusInternalServerError, "Cannot send this file", "The file is damaged.", "")
			return
		}
		_, _ = io.Copy(w, zr)
	}
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, ok := h.record(w, r.Context(), id)
	if !ok {
		return
	}
	now := h.now()
	s, signedIn := h.auth.readSession(r, now)
	if !signedIn || !s.may(rec.Repo, now) {
		h.startSignIn(w, r, id, now)
		return
	}
	h.log.Info("job page viewed", "job", id, "repo", rec.Repo, "login", s.Login)
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, http.StatusOK, "page", newPageView(rec, s.Login, h.static))
}

// record loads a job's record, answering 404 or 500 itself when it
// cannot.
func (h *handler) record(w http.ResponseWriter, ctx context.Context, id string) (Record, bool) {
	if !ValidID(id) {
		h.problem(w, http.StatusNotFound, "No such job", "There is no job with this ID.", "")
		return Record{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rec, ok, err := h.store.Get(ctx, id)
	if err != nil {
		h.log.Error("job page: read the record", "job", id, "err", err.Error())
		h.problem(w, http.StatusInternalServerError, "Cannot show this job", "The job's record could not be read. Try again in a moment.", "/jobs/"+id)
		return Record{}, false
	}
	if !ok {
		h.problem(w, http.StatusNotFound, "No such job", "There is no job with this ID. Job pages are kept for a limited time.", "")
		return Record{}, false
	}
	return rec, true
}

func (h *handler) startSignIn(w http.ResponseWriter, r *http.Request, id string, now time.Time) {
	c, to, err := h.auth.authorizeURL(id, now)
	if err != nil {
		h.log.Error("job page: start sign-in", "job", id, "err", err.Error())
		h.problem(w, http.StatusInternalServerError, "Cannot sign you in", "Signing in could not start. Try again in a moment.", "/jobs/"+id)
		return
	}
	http.SetCookie(w, c)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

func (h *handler) serveCallback(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	w.Header().Set("Cache-Control", "no-store")
	st, ok := h.auth.readState(r, now)
	// The state is single-use either way.
	http.SetCookie(w, h.auth.cookie(stateCookie, "", time.Time{}))
	if !ok {
		h.problem(w, http.StatusBadRequest, "Sign-in expired or was not started here",
			"This sign-in does not match the one this browser started (or it took longer than ten minutes). Open the job page again to sign in.", "")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		h.log.Info("job page: sign-in refused on GitHub", "job", st.Job, "error", clip(e, 64))
		h.problem(w, http.StatusForbidden, "Sign-in was cancelled", "GitHub did not sign you in, so this job page cannot be shown.", "/jobs/"+st.Job)
		return
	}
	rec, ok := h.record(w, r.Context(), st.Job)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	token, err := h.auth.exchange(ctx, h.http, q.Get("code"))
	if err != nil {
		h.githubFailed(w, st.Job, err)
		return
	}
	// The token is not kept: the grant below is all that stays.
	login, may, err := h.auth.viewer(ctx, h.http, token, rec.Repo)
	if err != nil {
		h.githubFailed(w, st.Job, err)
		return
	}
	if !may {
		h.log.Info("job page: no read access", "job", st.Job, "repo", rec.Repo, "login", login)
		h.problem(w, http.StatusForbidden, "You cannot read this repository",
			"GitHub says "+login+" cannot read "+rec.Repo+", so this job page is not shown. Ask an owner of the repository for access, then open the page again.", "")
		return
	}
	s, _ := h.auth.readSession(r, now)
	if s.Login != login {
		s = session{Login: login}
	}
	c, err := h.auth.grant(s, rec.Repo, now.Add(h.ttl))
	if err != nil {
		h.githubFailed(w, st.Job, err)
		return
	}
	http.SetCookie(w, c)
	h.log.Info("job page: signed in", "job", st.Job, "repo", rec.Repo, "login", login)
	http.Redirect(w, r, h.auth.BaseURL+"/jobs/"+st.Job, http.StatusSeeOther)
}

func (h *handler) githubFailed(w http.ResponseWriter, job string, err error) {
	h.log.Warn("job page: sign-in failed", "job", job, "err", err.Error())
	msg := "GitHub could not be asked who you are. Try again in a moment."
	var ge *githubError
	if errors.As(err, &ge) && ge.Code != "" {
		msg = "GitHub did not accept the sign-in (" + ge.Code + "). Open the job page again to sign in anew."
	}
	h.problem(w, http.StatusBadGateway, "Sign-in failed", msg, "/jobs/"+job)
}

func (h *handler) problem(w http.ResponseWriter, status int, heading, message, retry string) {
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, status, "problem", problemView{Title: heading, Heading: heading, Message: message, Retry: retry, Static: h.static})
}

// render executes a template into memory first, so a failure is a clean
// 500 instead of half a page.
func (h *handler) render(w http.ResponseWriter, status int, name string, v any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, v); err != nil {
		h.log.Error("job page: render", "template", name, "err", err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("The page could not be rendered.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
