package appmanifest

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
)

// noRedirect is a client that shows redirects instead of following them,
// as the tests play the browser step by step.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// run is one flow served in the background.
type run struct {
	page string // http://127.0.0.1:port/
	done chan struct{}
	res  *Result
	err  error
}

// startFlow serves the flow on 127.0.0.1 against the fake GitHub.
func startFlow(t *testing.T, ctx context.Context, gh *githubtest.Server, org string, out Output) *run {
	t.Helper()
	m, err := Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	m.SetWebhookURL("https://kw.acme.test/webhook")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &run{done: make(chan struct{})}
	announced := make(chan string, 1)
	go func() {
		defer close(r.done)
		r.res, r.err = Run(ctx, Settings{Manifest: m, GitHubURL: gh.URL, APIURL: DefaultAPI(gh.URL), Org: org, Out: out}, ln,
			func(u string) { announced <- u })
	}()
	select {
	case r.page = <-announced:
	case <-r.done:
		t.Fatalf("the flow ended before serving: %v", r.err)
	}
	return r
}

var (
	formAction   = regexp.MustCompile(`<form id="create" method="post" action="([^"]*)">`)
	formManifest = regexp.MustCompile(`<input type="hidden" name="manifest" value="([^"]*)">`)
)

// form GETs the page and returns where its form posts and the manifest.
func form(t *testing.T, page string) (action *url.URL, manifest string) {
	t.Helper()
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", page, resp.Status, body)
	}
	a, mf := formAction.FindSubmatch(body), formManifest.FindSubmatch(body)
	if a == nil || mf == nil {
		t.Fatalf("the page has no form posting a manifest:\n%s", body)
	}
	if !strings.Contains(string(body), "<button type=\"submit\">") || !strings.Contains(string(body), ".submit()") {
		t.Errorf("the form neither submits itself nor has a button:\n%s", body)
	}
	action, err = url.Parse(html.UnescapeString(string(a[1])))
	if err != nil {
		t.Fatal(err)
	}
	return action, html.UnescapeString(string(mf[1]))
}

// submit posts the form to the fake GitHub as the browser would and
// returns the redirect back to the page, with the code.
func submit(t *testing.T, action *url.URL, manifest string) *url.URL {
	t.Helper()
	resp, err := noRedirect.PostForm(action.String(), url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GitHub refused the form: %s %s", resp.Status, body)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// get GETs u and returns the status and body.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

func TestManifestFlow(t *testing.T) {
	gh := githubtest.New(t)
	for _, tt := range []struct {
		name, org, owner, newApp string
	}{
		{"user", "", githubtest.ManifestUser, "/settings/apps/new"},
		{"organization", "acme", "acme", "/organizations/acme/settings/apps/new"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := Output{Dir: t.TempDir() + "/app"}
			r := startFlow(t, t.Context(), gh, tt.org, out)
			action, manifest := form(t, r.page)
			if action.Path != tt.newApp || len(action.Query().Get("state")) < 40 {
				t.Errorf("the form posts to %s, want %s with a random state", action, tt.newApp)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(manifest), &m); err != nil {
				t.Fatalf("the manifest field is not JSON: %v", err)
			}
			if m["redirect_url"] != strings.TrimSuffix(r.page, "/")+"/callback" || m["name"] != "kubewright" ||
				m["hook_attributes"].(map[string]any)["url"] != "https://kw.acme.test/webhook" {
				t.Errorf("manifest posted = %v", m)
			}
			back := submit(t, action, manifest)
			if back.Query().Get("state") != action.Query().Get("state") {
				t.Fatalf("GitHub sent back state %q", back.Query().Get("state"))
			}
			status, body := get(t, back.String())
			<-r.done
			if r.err != nil || status != http.StatusOK {
				t.Fatalf("callback: %d, run: %v\n%s", status, r.err, body)
			}
			apps := gh.ManifestApps()
			created := apps[len(apps)-1]
			if created.Owner != tt.owner || r.res.App.Owner != tt.owner || r.res.App.ID != created.ID {
				t.Errorf("created %+v for %s, run returned %s owned by %s", created.Slug, created.Owner, r.res.App, r.res.App.Owner)
			}
			app := &App{ID: created.ID, ClientID: created.ClientID, ClientSecret: created.ClientSecret, WebhookSecret: created.WebhookSecret, PEM: created.PEM}
			checkServeFiles(t, out.Dir, app, gh.URL)
			for _, secret := range []string{created.ClientSecret, created.WebhookSecret, created.PEM[40:80]} {
				if strings.Contains(body, secret) {
					t.Error("the success page shows a secret")
				}
			}
			// The page is gone after the one exchange.
			if resp, err := noRedirect.Get(back.String()); err == nil {
				resp.Body.Close()
				t.Errorf("a second callback answered %s after the run ended", resp.Status)
			}
		})
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// checkServeFiles checks the files of a created App by what serve reads.
func checkServeFiles(t *testing.T, dir string, app *App, githubURL string) {
	t.Helper()
	for name, want := range map[string]string{FileAppID: jsonNumber(app.ID) + "\n", FileClientID: app.ClientID + "\n", FileClientSecret: app.ClientSecret + "\n",
		FileWebhookSecret: app.WebhookSecret + "\n", FilePrivateKey: app.PEM} {
		data, err := os.ReadFile(dir + "/" + name)
		if err != nil || string(data) != want {
			t.Errorf("%s: %v, content differs from GitHub's: %v", name, err, string(data) != want)
		}
	}
	for _, name := range fileNames {
		if st, err := os.Stat(dir + "/" + name); err != nil || st.Mode() != 0o600 {
			t.Errorf("%s: %v, mode %v, want -rw-------", name, err, st.Mode())
		}
	}
	env := readEnv(t, dir+"/"+FileEnv)
	if env[EnvAppID] != jsonNumber(app.ID) || env[EnvWebhookSecret] != app.WebhookSecret || env[EnvGitHubURL] != githubURL || !strings.HasSuffix(env[EnvPrivateKeyFile], "/"+FilePrivateKey) {
		t.Errorf("app.env = %v", env)
	}
}

// Requests that are not GitHub's redirect for this run change nothing.
func TestManifestFlowRefuses(t *testing.T) {
	gh := githubtest.New(t)
	// A code already exchanged: GitHub's codes work once.
	m, err := Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	m.SetWebhookURL("https://kw.acme.test/webhook")
	mj, _ := m.JSON("http://127.0.0.1:1/callback")
	used := gh.IssueManifestCode(string(mj))
	if _, err := (Exchanger{API: DefaultAPI(gh.URL)}).Exchange(t.Context(), used); err != nil {
		t.Fatal(err)
	}
	fresh := gh.IssueManifestCode(string(mj))

	for _, tt := range []struct {
		name   string
		query  func(state string) string
		host   string
		status int
		// ends: the run stops with an error holding this.
		ends string
	}{
		{"no state", func(string) string { return "code=" + fresh }, "", http.StatusBadRequest, ""},
		{"wrong state", func(string) string { return "code=" + fresh + "&state=forged" }, "", http.StatusBadRequest, ""},
		{"state of another length", func(s string) string { return "code=" + fresh + "&state=" + s + "x" }, "", http.StatusBadRequest, ""},
		{"no code", func(s string) string { return "state=" + s }, "", http.StatusBadRequest, ""},
		{"malformed code", func(s string) string { return "code=..%2F..&state=" + s }, "", http.StatusBadRequest, ""},
		{"other host", func(s string) string { return "code=" + fresh + "&state=" + s }, "evil.test", http.StatusMisdirectedRequest, ""},
		{"used code", func(s string) string { return "code=" + used + "&state=" + s }, "", http.StatusBadGateway, "already exchanged"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			out := Output{Dir: t.TempDir() + "/app"}
			r := startFlow(t, ctx, gh, "", out)
			action, _ := form(t, r.page)
			req, _ := http.NewRequest(http.MethodGet, r.page+"callback?"+tt.query(action.Query().Get("state")), nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("callback answered %s, want %d", resp.Status, tt.status)
			}
			if _, err := os.Stat(out.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("files were written: %v", err)
			}
			if tt.ends == "" {
				// Still waiting for the real redirect.
				select {
				case <-r.done:
					t.Fatalf("the run ended: %v", r.err)
				default:
				}
				cancel()
			}
			<-r.done
			if tt.ends == "" && !errors.Is(r.err, context.Canceled) || tt.ends != "" && (r.err == nil || !strings.Contains(r.err.Error(), tt.ends) || !errors.Is(r.err, ErrCodeRefused)) {
				t.Errorf("run ended with %v", r.err)
			}
			if r.res != nil {
				t.Errorf("run returned an App: %s", r.res.App)
			}
			if _, err := os.Stat(out.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("files were written: %v", err)
			}
		})
	}
}

func TestManifestListen(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8765", true},
		{"127.0.0.1:0", true},
		{"[::1]:8765", true},
		{"localhost:8765", true},
		{"127.1.2.3:8765", true},
		{"0.0.0.0:8765", false},
		{":8765", false},
		{"[::]:8765", false},
		{"192.0.2.10:8765", false},
		{"example.com:8765", false},
		{"127.0.0.1", false},
		{"127.0.0.1:http", false},
		{"127.0.0.1:70000", false},
	} {
		err := CheckListen(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckListen(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--listen") {
			t.Errorf("CheckListen(%q) = %v: does not name the flag", tt.addr, err)
		}
	}
}

func TestManifestSettings(t *testing.T) {
	m, err := Parse("m.yaml", []byte(validYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		s    Settings
		want string
	}{
		{Settings{Manifest: m, GitHubURL: DefaultGitHubURL, APIURL: DefaultAPIURL}, ""},
		{Settings{Manifest: m, GitHubURL: "https://ghe.acme.test/", APIURL: DefaultAPI("https://ghe.acme.test/"), Org: "acme-2"}, ""},
		{Settings{Manifest: m, GitHubURL: "http://127.0.0.1:9", APIURL: "http://127.0.0.1:9/api/v3"}, ""},
		{Settings{Manifest: m, GitHubURL: "http://ghe.acme.test", APIURL: DefaultAPIURL}, "--github-url \"http://ghe.acme.test\": use https"},
		{Settings{Manifest: m, GitHubURL: DefaultGitHubURL, APIURL: "api.github.com"}, "--api-url"},
		{Settings{Manifest: m, GitHubURL: DefaultGitHubURL, APIURL: DefaultAPIURL, Org: "../x"}, "--org \"../x\""},
		{Settings{Manifest: m, GitHubURL: DefaultGitHubURL, APIURL: DefaultAPIURL, Org: "-acme"}, "--org"},
	} {
		err := tt.s.Check()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Check(%+v) = %v, want %q", tt.s, err, tt.want)
		}
	}
	if got := DefaultAPI("https://ghe.acme.test/"); got != "https://ghe.acme.test/api/v3" {
		t.Errorf("DefaultAPI(GHES) = %s", got)
	}
	if got := DefaultAPI(DefaultGitHubURL); got != DefaultAPIURL {
		t.Errorf("DefaultAPI(github.com) = %s", got)
	}
	if got := NewAppURL("https://ghe.acme.test/", "acme", "s t"); got != "https://ghe.acme.test/organizations/acme/settings/apps/new?state=s+t" {
		t.Errorf("NewAppURL = %s", got)
	}
}
