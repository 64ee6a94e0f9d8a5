package jobpage

import (
	"context"
	"flag"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	testClientID     = "Iv1.jobpagetest0001"
	testClientSecret = "jobpage-test-client-secret-0123456789"
	testJob          = "6f1c2e0a-8d3b-11ef-9a4e-0242ac120002"
)

// env is a fake GitHub with acme/shop (alice reads it, bob does not) and
// the job pages on 127.0.0.1, signing in through the fake.
type env struct {
	gh    *githubtest.Server
	store *MemoryStore
	srv   *httptest.Server
	auth  *Auth
	clock *clock
}

// clock is a settable clock for grant expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newEnv(t testing.TB, opts ...Option) *env {
	t.Helper()
	gh := githubtest.New(t)
	gh.AddRepo("acme", "shop", "")
	gh.AddRepo("acme", "site", "")
	gh.AddRepo("acme", "docs", "")
	gh.SetPermission("acme", "shop", "alice", "read")
	gh.SetPermission("acme", "site", "alice", "write")
	gh.SetPublic("acme", "docs")
	e := &env{gh: gh, store: NewMemoryStore(0), clock: &clock{t: time.Now()}}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.auth = &Auth{ClientID: testClientID, ClientSecret: testClientSecret, Web: gh.URL, API: gh.URL + "/api/v3",
		BaseURL: e.srv.URL, Key: []byte("0123456789abcdef0123456789abcdef")}
	gh.AddOAuthApp(githubtest.OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, CallbackURL: e.srv.URL + "/jobs/oauth/callback"})
	var err error
	h, err = Handler(e.store, e.auth, append([]Option{WithClock(e.clock.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Put(context.Background(), sampleRecord()); err != nil {
		t.Fatal(err)
	}
	return e
}

// browser is an HTTP client with a cookie jar that shows redirects
// instead of following them when follow is false.
func browser(t testing.TB, follow bool) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// signIn opens the job page as login, following the sign-in through the
// fake GitHub, and returns the browser and the final answer's status.
func (e *env) signIn(t testing.TB, login, job string) (*http.Client, int) {
	t.Helper()
	e.gh.OAuthAs(login)
	c := browser(t, true)
	resp, err := c.Get(e.srv.URL + "/jobs/" + job)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c, resp.StatusCode
}

// sessionCookie returns the session cookie the browser holds for the
// pages.
func (e *env) sessionCookie(t testing.TB, c *http.Client) *http.Cookie {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/jobs/", nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		if ck.Name == sessionCookie {
			return ck
		}
	}
	t.Fatal("the browser holds no session cookie")
	return nil
}

// sampleRecord is a finished `/ai scale cart 3` job on acme/shop#42.
func sampleRecord() Record {
	created := time.Date(2026, 11, 30, 9, 14, 0, 0, time.UTC)
	return Record{
		ID: testJob, Repo: "acme/shop", Number: 42, Request: "/ai scale cart 3", Actor: "alice", Status: "done",
		Summary: "Scale the cart Deployment in namespace shop from 2 to 3 replicas. The HorizontalPodAutoscaler does not manage cart, " +
			"so the change is a one-line edit to apps/cart/deployment.yaml; Flux applies it after the pull request merges.",
		Current: []string{
			"Deployment/shop/cart: 2 replicas, 2 ready, image ghcr.io/acme/cart:1.8.2",
			"Deployment/shop/checkout: 2 replicas, 2 ready",
			"StatefulSet/shop/orders-db: 1 replica, 1 ready (postgres:16)",
			"Kustomization/flux-system/shop: Ready, revision main@sha1:4be1c0d",
		},
		Proposed: []Change{
			{File: "apps/cart/deployment.yaml", Line: 9, Object: "Deployment/shop/cart", Field: "spec.replicas", From: "2", To: "3"},
		},
		Mermaid: "flowchart LR\n  checkout[checkout] -->|HTTP| cart[cart]\n  cart -->|SQL| db[(orders-db)]\n",
		Stages: []Stage{
			{Name: "build", Errors: 0, Warnings: 0},
			{Name: "schema", Errors: 0, Warnings: 1},
			{Name: "flux", Errors: 0, Warnings: 0},
			{Name: "policy", Errors: 0, Warnings: 0},
			{Name: "dryrun", Skipped: "no cluster credentials"},
		},
		Findings: []finding.Finding{
			{ID: "KW-SCHEMA-004", Severity: finding.Warning, Stage: "schema", File: "apps/cart/deployment.yaml", Line: 21,
				Object: "Deployment/shop/cart", Message: "container cart has no memory limit", Hint: "set resources.limits.memory"},
		},
		Diff: "diff --git a/apps/cart/deployment.yaml b/apps/cart/deployment.yaml\n" +
			"--- a/apps/cart/deployment.yaml\n+++ b/apps/cart/deployment.yaml\n" +
			"@@ -6,7 +6,7 @@ metadata:\n   namespace: shop\n spec:\n-  replicas: 2\n+  replicas: 3\n   selector:\n     matchLabels:\n       app: cart\n",
		PullRequest: "https://github.com/acme/shop/pull/43",
		Created:     created, Updated: created.Add(3 * time.Minute),
	}
}

func contains(t testing.TB, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
}
