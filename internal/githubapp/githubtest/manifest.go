package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// GitHub App manifest flow
// (https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
//
//  1. a page POSTs the form field "manifest" (the App as JSON) to
//     {URL}/settings/apps/new, or {URL}/organizations/{org}/settings/apps/new
//     for an organization, with an optional ?state=;
//  2. after the person confirms, GitHub redirects to the manifest's
//     redirect_url with ?code=...&state=... (the fake confirms at once);
//  3. POST {API}/app-manifests/{code}/conversions, without authentication,
//     exchanges the one-use code for the App's ID, private key (pem),
//     webhook secret and OAuth client credentials.
//
// A test that plays the browser posts the form to the fake and follows the
// redirect; a test that plays only GitHub's redirect takes a code from
// IssueManifestCode.

// ManifestUser is the account that owns Apps created on /settings/apps/new
// (the person signed in to the fake) and those of IssueManifestCode.
const ManifestUser = "octocat"

// ManifestApp is an App created through the manifest flow, secrets
// included, as its conversion returned them.
type ManifestApp struct {
	ID            int64
	Slug          string
	Name          string
	Owner         string // ManifestUser or the organization
	OwnerType     string // User or Organization
	HookURL       string
	Events        []string
	Permissions   map[string]string
	ClientID      string
	ClientSecret  string
	WebhookSecret string
	PEM           string // PKCS#1 RSA private key, as GitHub sends it
	Manifest      string // the manifest JSON as posted
}

// pendingManifest is a manifest whose code has not been converted yet.
type pendingManifest struct {
	owner, ownerType string
	manifest         map[string]any
	raw              string
}

// manifestFlow serves the manifest flow's routes and hands every other
// request to the REST routes.
type manifestFlow struct {
	s    *Server
	next http.Handler
	mux  *http.ServeMux

	mu      sync.Mutex
	pending map[string]pendingManifest // code -> manifest; a code converts once
	apps    []ManifestApp
}

const conversionPath = "/app-manifests/{code}/conversions"

// withManifestFlow wraps the REST routes with the manifest flow's.
func (s *Server) withManifestFlow(next http.Handler) http.Handler {
	s.t.Helper()
	spec, err := s.conf.operation(http.MethodPost, conversionPath)
	if err != nil {
		s.t.Fatalf("githubtest: %v", err)
	}
	mf := &manifestFlow{s: s, next: next, mux: http.NewServeMux(), pending: map[string]pendingManifest{}}
	mf.mux.HandleFunc("POST "+apiPrefix+conversionPath, func(w http.ResponseWriter, r *http.Request) {
		mf.serveConversion(w, r, route{method: http.MethodPost, specPath: conversionPath, spec: spec, params: []string{"code"}})
	})
	mf.mux.HandleFunc("POST /settings/apps/new", func(w http.ResponseWriter, r *http.Request) {
		mf.serveNewApp(w, r, ManifestUser, "User")
	})
	mf.mux.HandleFunc("POST /organizations/{org}/settings/apps/new", func(w http.ResponseWriter, r *http.Request) {
		mf.serveNewApp(w, r, r.PathValue("org"), "Organization")
	})
	mf.mux.Handle("/", next)
	return mf
}

func (mf *manifestFlow) ServeHTTP(w http.ResponseWriter, r *http.Request) { mf.mux.ServeHTTP(w, r) }

func (s *Server) manifests() *manifestFlow {
	s.t.Helper()
	mf, ok := s.handler.(*manifestFlow)
	if !ok {
		s.t.Fatalf("githubtest: the manifest flow's routes are not installed")
	}
	return mf
}

// IssueManifestCode records manifest (the JSON a page posts in the field
// "manifest") as an App ManifestUser confirmed on GitHub, and returns the
// temporary code GitHub appends to the redirect_url. The code converts
// once: a second conversion is 404, as on GitHub. A manifest GitHub would
// refuse fails the test.
func (s *Server) IssueManifestCode(manifest string) string {
	s.t.Helper()
	mf := s.manifests()
	m, err := checkManifest(manifest)
	if err != nil {
		s.t.Fatalf("githubtest: IssueManifestCode: %v", err)
	}
	return mf.issue(ManifestUser, "User", m, manifest)
}

// ManifestApps returns the Apps created by conversions, in order.
func (s *Server) ManifestApps() []ManifestApp {
	mf := s.manifests()
	mf.mu.Lock()
	defer mf.mu.Unlock()
	out := make([]ManifestApp, len(mf.apps))
	for i, a := range mf.apps {
		out[i] = a
		out[i].Events = append([]string(nil), a.Events...)
		out[i].Permissions = make(map[string]string, len(a.Permissions))
		for k, v := range a.Permissions {
			out[i].Permissions[k] = v
		}
	}
	return out
}

func (mf *manifestFlow) issue(owner, ownerType string, m map[string]any, raw string) string {
	code := randomHex(20)
	mf.mu.Lock()
	defer mf.mu.Unlock()
	mf.pending[code] = pendingManifest{owner: owner, ownerType: ownerType, manifest: m, raw: raw}
	return code
}

// checkManifest refuses what GitHub's new-App page refuses: not a JSON
// object, no name (or one over 34 characters), no homepage url, no
// webhook URL, values of the wrong type.
func checkManifest(raw string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m == nil {
		return nil, fmt.Errorf("the manifest is not a JSON object: %v", err)
	}
	name, _ := m["name"].(string)
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > 34 {
		return nil, fmt.Errorf("the manifest's name %q is empty or longer than 34 characters", name)
	}
	if u, _ := m["url"].(string); !absURL(u) {
		return nil, fmt.Errorf("the manifest's url %q is not an absolute URL", u)
	}
	hook, _ := m["hook_attributes"].(map[string]any)
	if u, _ := hook["url"].(string); !absURL(u) {
		return nil, fmt.Errorf("the manifest's hook_attributes.url %q is not an absolute URL", u)
	}
	if r, ok := m["redirect_url"]; ok {
		if u, _ := r.(string); !absURL(u) {
			return nil, fmt.Errorf("the manifest's redirect_url %v is not an absolute URL", r)
		}
	}
	if ev, ok := m["default_events"]; ok {
		list, ok := ev.([]any)
		if !ok {
			return nil, fmt.Errorf("the manifest's default_events is not a list")
		}
		for _, e := range list {
			if _, ok := e.(string); !ok {
				return nil, fmt.Errorf("the manifest's default_events holds %v, not an event name", e)
			}
		}
	}
	if p, ok := m["default_permissions"]; ok {
		perms, ok := p.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the manifest's default_permissions is not an object")
		}
		for k, v := range perms {
			if s, _ := v.(string); s != "read" && s != "write" && s != "admin" {
				return nil, fmt.Errorf("the manifest's default_permissions.%s is %v, not read, write or admin", k, v)
			}
		}
	}
	return m, nil
}

func absURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// serveNewApp is GitHub's new-App page after the person clicked "Create
// GitHub App": it takes the posted manifest and redirects to its
// redirect_url with the code and the state.
func (mf *manifestFlow) serveNewApp(w http.ResponseWriter, r *http.Request, owner, ownerType string) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "githubtest: the new-App form could not be read: "+err.Error(), http.StatusBadRequest)
		return
	}
	raw := r.PostForm.Get("manifest")
	m, err := checkManifest(raw)
	if err != nil {
		http.Error(w, "githubtest: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	redirect, _ := m["redirect_url"].(string)
	if redirect == "" {
		http.Error(w, "githubtest: the manifest has no redirect_url, so the fake has nowhere to send the code", http.StatusUnprocessableEntity)
		return
	}
	to, _ := url.Parse(redirect)
	q := to.Query()
	q.Set("code", mf.issue(owner, ownerType, m, raw))
	if st := r.FormValue("state"); st != "" {
		q.Set("state", st)
	}
	to.RawQuery = q.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

// serveConversion is POST /app-manifests/{code}/conversions: validated
// against GitHub's OpenAPI description like every REST route, without
// authentication (GitHub needs none: the code is the credential).
func (mf *manifestFlow) serveConversion(w http.ResponseWriter, r *http.Request, rt route) {
	s := mf.s
	op := rt.spec.Operation.OperationID
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, reply{status: http.StatusBadRequest, body: ghError("Problems reading the request body", docsURL, http.StatusBadRequest)})
		return
	}
	params := map[string]string{"code": r.PathValue("code")}
	var rep reply
	if err := s.conf.checkRequest(r.Context(), rt.spec, r, params, body); err != nil {
		s.reportf(op, "request %s %s: %v", r.Method, r.URL.Path, err)
		rep = reply{status: http.StatusUnprocessableEntity, body: map[string]any{
			"message": "Unprocessable Entity", "documentation_url": docsURL, "status": "422",
			"errors": []string{"Invalid request: " + err.Error()},
		}}
	} else if f, ok := s.takeFault(r.Method, strings.TrimPrefix(r.URL.Path, apiPrefix), rt.specPath); ok {
		rep = f.reply()
	} else {
		rep = mf.convert(params["code"])
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
	s.validateResponse(r.Context(), rt.spec, r, params, rep.status, header.Clone(), data)
	w.WriteHeader(rep.status)
	_, _ = w.Write(data)
}

// convert creates the App of a pending code and forgets the code.
func (mf *manifestFlow) convert(code string) reply {
	mf.mu.Lock()
	p, ok := mf.pending[code]
	delete(mf.pending, code)
	mf.mu.Unlock()
	if !ok {
		return notFound()
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return reply{status: http.StatusInternalServerError, body: ghError("Server Error", docsURL, http.StatusInternalServerError)}
	}
	s := mf.s
	name := p.manifest["name"].(string)
	hook := p.manifest["hook_attributes"].(map[string]any)
	app := ManifestApp{
		ID: s.idLocked(), Slug: slugify(name), Name: name, Owner: p.owner, OwnerType: p.ownerType,
		HookURL:       hook["url"].(string),
		Permissions:   map[string]string{"metadata": "read"},
		ClientID:      "Iv1." + randomHex(8),
		ClientSecret:  randomHex(20),
		WebhookSecret: randomHex(20),
		PEM:           string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		Manifest:      p.raw,
	}
	if perms, ok := p.manifest["default_permissions"].(map[string]any); ok {
		for k, v := range perms {
			app.Permissions[k] = v.(string)
		}
	}
	events := []any{}
	if ev, ok := p.manifest["default_events"].([]any); ok {
		for _, e := range ev {
			app.Events = append(app.Events, e.(string))
			events = append(events, e)
		}
	}
	mf.mu.Lock()
	mf.apps = append(mf.apps, app)
	mf.mu.Unlock()

	created := now().Format(time.RFC3339)
	perms := map[string]any{}
	for k, v := range app.Permissions {
		perms[k] = v
	}
	description, _ := p.manifest["description"].(string)
	homepage, _ := p.manifest["url"].(string)
	return reply{status: http.StatusCreated, body: map[string]any{
		"id": app.ID, "slug": app.Slug, "node_id": "A_" + strconv.FormatInt(app.ID, 10),
		"owner": s.userJSON(app.Owner, app.OwnerType), "name": app.Name, "description": description,
		"external_url": homepage, "html_url": s.URL + "/apps/" + app.Slug,
		"created_at": created, "updated_at": created, "permissions": perms, "events": events,
		"client_id": app.ClientID, "client_secret": app.ClientSecret,
		"webhook_secret": app.WebhookSecret, "pem": app.PEM,
	}}
}

// idLocked is id under the server's lock.
func (s *Server) idLocked() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id()
}

// slugify turns an App's name into its slug as GitHub does: lower case,
// runs of anything but letters and digits become one hyphen.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
