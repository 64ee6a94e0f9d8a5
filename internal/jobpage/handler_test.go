package jobpage

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func get(t testing.TB, c *http.Client, u string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestAccess walks who sees what: the answers of the page and the
// callback, by viewer and request.
func TestAccess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, r := range []Record{
		{ID: "job-site", Repo: "acme/site", Number: 7, Request: "/ai help", Actor: "alice", Status: "done"},
		{ID: "job-docs", Repo: "acme/docs", Number: 1, Request: "/ai help", Actor: "carol", Status: "running"},
	} {
		if err := e.store.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	alice, status := e.signIn(t, "alice", testJob)
	if status != http.StatusOK {
		t.Fatalf("alice's sign-in ended in %d, want 200", status)
	}

	tests := []struct {
		name   string
		who    string // the person signed in to the fake GitHub
		client *http.Client
		path   string
		status int
		want   []string
	}{
		{"alice reads the page", "alice", alice, "/jobs/" + testJob, http.StatusOK, []string{"acme/shop#42", "/ai scale cart 3", "Signed in as alice"}},
		{"unknown job", "alice", alice, "/jobs/no-such-job", http.StatusNotFound, []string{"No such job"}},
		{"malformed job ID", "alice", alice, "/jobs/bad%20id", http.StatusNotFound, []string{"No such"}},
		{"another page of the tree", "alice", alice, "/jobs/a/b/c", http.StatusNotFound, []string{"No such page"}},
		{"bob cannot read acme/shop", "bob", browser(t, true), "/jobs/" + testJob, http.StatusForbidden, []string{"bob cannot read acme/shop", "Ask an owner"}},
		{"bob reads a public repository", "bob", browser(t, true), "/jobs/job-docs", http.StatusOK, []string{"acme/docs#1", "Signed in as bob"}},
		{"alice's other repository signs in again and shows", "alice", alice, "/jobs/job-site", http.StatusOK, []string{"acme/site#7"}},
		{"sign-in refused on GitHub", "", browser(t, true), "/jobs/" + testJob, http.StatusUnauthorized, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.gh.OAuthAs(tc.who)
			resp, body := get(t, tc.client, e.srv.URL+tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			contains(t, body, tc.want...)
		})
	}
	// Both grants stay in alice's cookie.
	s, ok := e.auth.readSession(&http.Request{Header: http.Header{"Cookie": {e.sessionCookie(t, alice).String()}}}, e.clock.now())
	if !ok || !s.may("acme/shop", e.clock.now()) || !s.may("ACME/Site", e.clock.now()) || s.Login != "alice" {
		t.Errorf("alice's session = %+v, %v; want grants for acme/shop and acme/site", s, ok)
	}
}

// TestSignInFlow checks each step's answer: the redirect to GitHub with
// its state cookie, and the callback's refusals.
func TestSignInFlow(t *testing.T) {
	e := newEnv(t)
	e.gh.OAuthAs("alice")
	c := browser(t, false)
	resp, _ := get(t, c, e.srv.URL+"/jobs/"+testJob)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("without a session: status %d, want 302", resp.StatusCode)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.gh.URL+"/login/oauth/authorize" {
		t.Errorf("redirect to %s, want GitHub's authorize page", got)
	}
	if q.Get("client_id") != testClientID || q.Get("redirect_uri") != e.srv.URL+"/jobs/oauth/callback" || len(q.Get("state")) < 32 {
		t.Errorf("authorize query %v: want the client ID, the callback and a state", q)
	}
	var sc *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == stateCookie {
			sc = ck
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Value == "" || strings.Contains(sc.Value, q.Get("state")) {
		t.Fatalf("state cookie %v: want HttpOnly, SameSite=Lax, Path=/, signed, the nonce not in clear", sc)
	}

	// GitHub's answer to this sign-in, to replay with changes.
	resp, _ = get(t, c, loc.String())
	back, _ := resp.Location()
	code := back.Query().Get("code")
	callback := func(v url.Values) string { return e.srv.URL + "/jobs/oauth/callback?" + v.Encode() }
	withState := func(c *http.Client) *http.Client {
		u, _ := url.Parse(e.srv.URL)
		c.Jar.SetCookies(u, []*http.Cookie{{Name: stateCookie, Value: sc.Value, Path: "/"}})
		return c
	}
	tests := []struct {
		name   string
		client *http.Client
		url    string
		status int
		want   string
	}{
		{"bad state", withState(browser(t, false)), callback(url.Values{"code": {code}, "state": {strings.Repeat("0", len(q.Get("state")))}}), http.StatusBadRequest, "does not match"},
		{"no state cookie", browser(t, false), callback(url.Values{"code": {code}, "state": {q.Get("state")}}), http.StatusBadRequest, "does not match"},
		{"forged state cookie", func() *http.Client {
			c := browser(t, false)
			u, _ := url.Parse(e.srv.URL)
			c.Jar.SetCookies(u, []*http.Cookie{{Name: stateCookie, Value: "eyJuIjoiMCJ9.AAAA", Path: "/"}})
			return c
		}(), callback(url.Values{"code": {code}, "state": {"0"}}), http.StatusBadRequest, "does not match"},
		{"cancelled on GitHub", withState(browser(t, false)), callback(url.Values{"error": {"access_denied"}, "state": {q.Get("state")}}), http.StatusForbidden, "cancelled"},
		{"made-up code", withState(browser(t, false)), callback(url.Values{"code": {"0000000000"}, "state": {q.Get("state")}}), http.StatusBadGateway, "bad_verification_code"},
		{"the real answer", withState(browser(t, false)), callback(url.Values{"code": {code}, "state": {q.Get("state")}}), http.StatusSeeOther, ""},
		{"the code again", withState(browser(t, false)), callback(url.Values{"code": {code}, "state": {q.Get("state")}}), http.StatusBadGateway, "bad_verification_code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.client, tc.url)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			contains(t, body, tc.want)
			if tc.status == http.StatusSeeOther {
				if loc, _ := resp.Location(); loc == nil || loc.String() != e.srv.URL+"/jobs/"+testJob {
					t.Errorf("after sign-in: redirect to %v, want the job page", loc)
				}
			}
		})
	}

	// The state expires with GitHub's code.
	e.clock.add(stateLifetime + time.Second)
	resp, _ = get(t, withState(browser(t, false)), callback(url.Values{"code": {code}, "state": {q.Get("state")}}))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an expired state: status %d, want 400", resp.StatusCode)
	}
}

// TestSession: the grant lasts its TTL, a changed cookie is no session,
// and the token never reaches a cookie.
func TestSession(t *testing.T) {
	e := newEnv(t, WithGrantTTL(time.Hour))
	alice, _ := e.signIn(t, "alice", testJob)
	ck := e.sessionCookie(t, alice)
	noFollow := func(cookie *http.Cookie) int {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/jobs/"+testJob, nil)
		req.AddCookie(cookie)
		resp, err := browser(t, false).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := noFollow(ck); got != http.StatusOK {
		t.Fatalf("with the session: status %d, want 200", got)
	}
	if strings.Contains(ck.Value, "ghu_") {
		t.Errorf("the session cookie carries a GitHub token: %s", ck.Value)
	}
	payload, sig, _ := strings.Cut(ck.Value, ".")
	tampered := []string{payload + "." + strings.Repeat("A", len(sig)), "x" + ck.Value, payload, ""}
	for _, v := range tampered {
		if got := noFollow(&http.Cookie{Name: ck.Name, Value: v}); got != http.StatusFound {
			t.Errorf("cookie %.20q…: status %d, want 302 to sign in", v, got)
		}
	}
	e.clock.add(time.Hour + time.Second)
	if got := noFollow(ck); got != http.StatusFound {
		t.Errorf("after the grant's hour: status %d, want 302 to sign in again", got)
	}
}

// TestPageContent checks headers and content of the page and that every
// text of a record is escaped.
func TestPageContent(t *testing.T) {
	e := newEnv(t)
	hostile := Record{ID: "hostile", Repo: "acme/shop", Number: 1, Status: "failed",
		Request:  `/ai do <script>alert(1)</script>`,
		Actor:    `"><img src=x onerror=alert(2)>`,
		Summary:  `</p><script>alert(3)</script>`,
		Current:  []string{`<iframe src="https://evil.example"></iframe>`},
		Proposed: []Change{{File: `<b>f</b>`, Object: `<svg onload=alert(4)>`, From: "<", To: "&"}},
		Mermaid:  "flowchart LR\n  a[\"<img src=x onerror=alert(5)>\"] --> b\n",
		Stages:   []Stage{{Name: `<script>alert(6)</script>`}},
		Diff:     "@@ -1 +1 @@\n-<script>alert(7)</script>\n+</pre><script>alert(8)</script>\n",
	}
	if err := e.store.Put(context.Background(), hostile); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Put(context.Background(), Record{ID: "js-link", Repo: "acme/shop", Status: "done", PullRequest: "javascript:alert(9)"}); err == nil {
		t.Error("a javascript: pull request link was stored")
	}
	alice, _ := e.signIn(t, "alice", testJob)

	resp, body := get(t, alice, e.srv.URL+"/jobs/hostile")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1)
	if len(scripts) != 2 || !strings.Contains(scripts[0], `src="/jobs/static/mermaid.min.js?v=`) || !strings.Contains(scripts[1], `src="/jobs/static/page.js?v=`) {
		t.Errorf("script elements %q: want only mermaid.min.js and page.js from this server", scripts)
	}
	for _, bad := range []string{"<iframe", "<img", "<svg", "<b>"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;iframe", `<span class="del">-&lt;script&gt;alert(7)`, "&lt;img src=x onerror=alert(5)&gt;")

	for _, path := range []string{"/jobs/" + testJob, "/jobs/nope", "/jobs/static/page.css", "/jobs/oauth/callback"} {
		resp, _ := get(t, alice, e.srv.URL+path)
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "default-src 'none'") ||
			strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: security headers %v", path, h)
		}
	}
	resp, body = get(t, alice, e.srv.URL+"/jobs/"+testJob)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the page's Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	if inline := regexp.MustCompile(`(?i)\son[a-z]+=|style=|<script>`).FindString(body); inline != "" {
		t.Errorf("the page holds inline code or style: %q", inline)
	}
	golden(t, "page.golden.html", regexp.MustCompile(`updated [0-9TZ:-]+`).ReplaceAllString(body, "updated (time)"))
}

// TestStatic: versioned, cached for a year, mermaid.min.js gzipped when
// the browser takes it, and the bytes npm shipped (static/mermaid/SOURCE).
func TestStatic(t *testing.T) {
	e := newEnv(t)
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, gz := get(t, c, e.srv.URL+"/jobs/static/mermaid.min.js", "Accept-Encoding", "gzip, deflate")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=31536000") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("headers %v", resp.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	_, plain := get(t, c, e.srv.URL+"/jobs/static/mermaid.min.js", "Accept-Encoding", "identity")
	if !bytes.Equal(unzipped, []byte(plain)) {
		t.Error("the gzipped and the plain script differ")
	}
	source, err := os.ReadFile(filepath.Join("static", "mermaid", "SOURCE"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(plain))
	if !strings.Contains(string(source), "sha256: "+hex.EncodeToString(sum[:])) {
		t.Errorf("mermaid.min.js (%d bytes, sha256 %x) is not the file static/mermaid/SOURCE names", len(plain), sum)
	}
	t.Logf("mermaid.min.js: %d bytes, %d gzipped", len(plain), len(gz))
	etag := resp.Header.Get("ETag")
	resp, _ = get(t, c, e.srv.URL+"/jobs/static/mermaid.min.js", "If-None-Match", etag, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	if resp, _ = get(t, c, e.srv.URL+"/jobs/static/mermaid.min.js", "If-None-Match", etag, "Accept-Encoding", "identity"); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with the gzipped tag, for the plain file: status %d, want 200", resp.StatusCode)
	}
	for path, status := range map[string]int{"/jobs/static/page.js": 200, "/jobs/static/page.css": 200, "/jobs/static/mermaid-LICENSE.txt": 200,
		"/jobs/static/mermaid.min.js.gz": 404, "/jobs/static/..%2Fhandler.go": 404} {
		if resp, _ := get(t, c, e.srv.URL+path); resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d", path, resp.StatusCode, status)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/jobpage -run %s -update)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the rendered page; if the change is intended, run go test ./internal/jobpage -run %s -update and read the diff", path, t.Name())
	}
}

func BenchmarkRenderPage(b *testing.B) {
	as, err := loadAssets()
	if err != nil {
		b.Fatal(err)
	}
	r := Bound(sampleRecord(), time.Now())
	static := staticURLs{CSS: as.url("page.css"), JS: as.url("page.js"), Mermaid: as.url("mermaid.min.js")}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := pageTemplates.ExecuteTemplate(&buf, "page", newPageView(r, "alice", static)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}

// BenchmarkServePage is a signed-in GET of the page through the handler
// (session check, store read, render), without the network.
func BenchmarkServePage(b *testing.B) {
	e := newEnv(b)
	alice, _ := e.signIn(b, "alice", testJob)
	ck := e.sessionCookie(b, alice)
	h, err := Handler(e.store, e.auth, WithClock(e.clock.now))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/jobs/"+testJob, nil)
	req.AddCookie(ck)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
