package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kubewright/kubewright/internal/appmanifest"
	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
)

// shippedManifest is the repository's App manifest.
var shippedManifest = filepath.Join("..", "..", "deploy", "github-app.yaml")

// announceWriter is the command's stderr: it keeps what was written and
// hands over the page's address once the command prints it.
type announceWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	page chan string
	sent bool
}

var announceRE = regexp.MustCompile(`open (http://127\.0\.0\.1:\d+/) in your browser`)

func (w *announceWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := announceRE.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.sent = true
		w.page <- m[1]
	}
	return len(p), nil
}

func (w *announceWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// appRun is `kubewright app create` running in the background.
type appRun struct {
	page   string
	done   chan struct{}
	code   int
	stdout bytes.Buffer
	stderr *announceWriter
}

func startAppCreate(t *testing.T, ctx context.Context, args ...string) *appRun {
	t.Helper()
	r := &appRun{done: make(chan struct{}), stderr: &announceWriter{page: make(chan string, 1)}}
	go func() {
		defer close(r.done)
		r.code = run(ctx, append([]string{"app", "create"}, args...), &r.stdout, r.stderr)
	}()
	select {
	case r.page = <-r.stderr.page:
	case <-r.done:
		t.Fatalf("kubewright app create exited %d before serving:\n%s%s", r.code, r.stdout.String(), r.stderr)
	}
	return r
}

var (
	pageAction   = regexp.MustCompile(`<form id="create" method="post" action="([^"]*)">`)
	pageManifest = regexp.MustCompile(`<input type="hidden" name="manifest" value="([^"]*)">`)
	noFollow     = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
)

// browse plays the browser: GET the page, post its form to the fake
// GitHub, and return GitHub's redirect back to the page.
func browse(t *testing.T, page string) (action *url.URL, manifest map[string]any, back *url.URL) {
	t.Helper()
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a, m := pageAction.FindSubmatch(body), pageManifest.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || a == nil || m == nil {
		t.Fatalf("GET %s: %s, no manifest form:\n%s", page, resp.Status, body)
	}
	if action, err = url.Parse(html.UnescapeString(string(a[1]))); err != nil {
		t.Fatal(err)
	}
	raw := html.UnescapeString(string(m[1]))
	if err := json.Unmarshal([]byte(raw), &manifest); err != nil {
		t.Fatalf("the manifest field is not JSON: %v", err)
	}
	resp, err = noFollow.PostForm(action.String(), url.Values{"manifest": {raw}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GitHub refused the form: %s %s", resp.Status, body)
	}
	back, err = url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return action, manifest, back
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAppCreate runs `kubewright app create` against the fake GitHub the
// way a person does: open the page, create the App on GitHub, come back.
func TestAppCreate(t *testing.T) {
	gh := githubtest.New(t)
	for _, tt := range []struct {
		name string
		args []string
		// before runs before the command; it returns the out directory.
		before       func(t *testing.T, out string)
		newApp       string
		owner        string
		appName      string
		wrongStateOK bool // send a forged callback first
	}{
		{name: "user", newApp: "/settings/apps/new", owner: githubtest.ManifestUser, appName: "kubewright"},
		{name: "organization and name", args: []string{"--org", "acme", "--name", "kubewright-staging"},
			newApp: "/organizations/acme/settings/apps/new", owner: "acme", appName: "kubewright-staging"},
		{name: "forged callback first", newApp: "/settings/apps/new", owner: githubtest.ManifestUser, appName: "kubewright", wrongStateOK: true},
		{name: "force replaces", args: []string{"--force"}, newApp: "/settings/apps/new", owner: githubtest.ManifestUser, appName: "kubewright",
			before: func(t *testing.T, out string) {
				if err := os.MkdirAll(out, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(out, appmanifest.FilePrivateKey), []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "creds", "app")
			if tt.before != nil {
				tt.before(t, out)
			}
			args := append([]string{"--manifest", shippedManifest, "--webhook-url", "https://kw.acme.test/webhook",
				"--github-url", gh.URL, "--listen", "127.0.0.1:0", "--out", out}, tt.args...)
			r := startAppCreate(t, t.Context(), args...)
			action, manifest, back := browse(t, r.page)
			state := action.Query().Get("state")
			if action.Path != tt.newApp || len(state) < 40 || back.Query().Get("state") != state {
				t.Errorf("the form posts to %s, want %s with a random state", action, tt.newApp)
			}
			if manifest["redirect_url"] != r.page+"callback" || manifest["name"] != tt.appName {
				t.Errorf("manifest posted: redirect_url %v, name %v", manifest["redirect_url"], manifest["name"])
			}
			if tt.wrongStateOK {
				forged := *back
				q := forged.Query()
				q.Set("state", "forged-"+state[7:])
				forged.RawQuery = q.Encode()
				if status := getStatus(t, forged.String()); status != http.StatusBadRequest {
					t.Errorf("forged callback answered %d, want 400", status)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Fatalf("the forged callback wrote files: %v", err)
				}
			}
			if status := getStatus(t, back.String()); status != http.StatusOK {
				t.Errorf("callback answered %d", status)
			}
			<-r.done
			if r.code != exitOK {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout.String(), r.stderr)
			}
			apps := gh.ManifestApps()
			app := apps[len(apps)-1]
			if app.Owner != tt.owner || app.Name != tt.appName || app.HookURL != "https://kw.acme.test/webhook" {
				t.Errorf("created %s for %s, hook %s", app.Name, app.Owner, app.HookURL)
			}
			checkCreated(t, out, app, gh.URL)
			stdout := r.stdout.String()
			for _, want := range append([]string{gh.URL + "/apps/" + app.Slug, "ID " + strconv.FormatInt(app.ID, 10)}, filesIn(out)...) {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout does not show %q:\n%s", want, stdout)
				}
			}
			all := stdout + r.stderr.String()
			for what, secret := range map[string]string{"client secret": app.ClientSecret, "webhook secret": app.WebhookSecret, "private key": strings.Split(app.PEM, "\n")[1]} {
				if strings.Contains(all, secret) {
					t.Errorf("the output shows the %s", what)
				}
			}
		})
	}
}

func filesIn(dir string) []string {
	return appmanifest.Output{Dir: dir}.Paths()
}

// checkCreated checks the files of the App the fake created: contents,
// modes, and app.env as `kubewright serve` reads it.
func checkCreated(t *testing.T, dir string, app githubtest.ManifestApp, githubURL string) {
	t.Helper()
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm()&0o077 != 0 && !strings.Contains(t.Name(), "force") {
		t.Errorf("%s: %v, want a directory only the user can open", dir, err)
	}
	want := map[string]string{
		appmanifest.FileAppID: strconv.FormatInt(app.ID, 10) + "\n", appmanifest.FileClientID: app.ClientID + "\n",
		appmanifest.FilePrivateKey: app.PEM, appmanifest.FileWebhookSecret: app.WebhookSecret + "\n",
		appmanifest.FileClientSecret: app.ClientSecret + "\n", appmanifest.FileEnv: "",
	}
	for name, content := range want {
		p := filepath.Join(dir, name)
		st, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode() != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", name, st.Mode())
		}
		if data, _ := os.ReadFile(p); content != "" && string(data) != content {
			t.Errorf("%s does not hold what GitHub sent", name)
		}
	}
	key, _ := os.ReadFile(filepath.Join(dir, appmanifest.FilePrivateKey))
	if _, err := appmanifest.ParseKey(key); err != nil {
		t.Errorf("private-key.pem: %v", err)
	}
	env := map[string]string{}
	f, err := os.Open(filepath.Join(dir, appmanifest.FileEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	cfg, err := config.ServerDefaults(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Join(dir, appmanifest.FilePrivateKey))
	if cfg.AppID != app.ID || cfg.PrivateKeyFile != abs || cfg.WebhookSecret != app.WebhookSecret || cfg.GitHubURL != githubURL {
		t.Errorf("kubewright serve reads app.env as app %d, key %s, github %s (webhook secret matches: %v)",
			cfg.AppID, cfg.PrivateKeyFile, cfg.GitHubURL, cfg.WebhookSecret == app.WebhookSecret)
	}
}

// Mistakes are refused before anything is served, with the flag or the
// file named.
func TestAppCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noName := write("no-name.yaml", "url: https://a.test\nhook_attributes:\n  url: https://kw.acme.test/webhook\n")
	noHook := write("no-hook.yaml", "name: kw\nurl: https://a.test\n")
	existing := filepath.Join(dir, "existing")
	if err := os.MkdirAll(existing, 0o700); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join("existing", appmanifest.FileWebhookSecret), "old\n")
	base := []string{"--manifest", shippedManifest, "--webhook-url", "https://kw.acme.test/webhook", "--out", filepath.Join(dir, "out")}
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"any address", append(base, "--listen", "0.0.0.0:8765"), []string{"--listen", "0.0.0.0", "not a loopback address", "127.0.0.1:8765"}},
		{"all interfaces", append(base, "--listen", ":8765"), []string{"--listen", "every address"}},
		{"other host", append(base, "--listen", "192.0.2.10:8765"), []string{"--listen", "192.0.2.10", "loopback"}},
		{"no port", append(base, "--listen", "127.0.0.1"), []string{"--listen", "host:port"}},
		{"manifest without name", []string{"--manifest", noName, "--out", filepath.Join(dir, "out")}, []string{noName, "name: missing", "--name"}},
		{"manifest without webhook", []string{"--manifest", noHook, "--out", filepath.Join(dir, "out")}, []string{noHook, "hook_attributes.url: missing", "--webhook-url"}},
		{"placeholder webhook", []string{"--manifest", shippedManifest, "--out", filepath.Join(dir, "out")}, []string{"github-app.yaml", "kubewright.example.com", "--webhook-url"}},
		{"missing manifest", []string{"--manifest", filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml", "no such file"}},
		{"existing files", append(base[:4:4], "--out", existing), []string{filepath.Join(existing, appmanifest.FileWebhookSecret), "exists", "--force"}},
		{"plain http", append(base, "--github-url", "http://ghe.acme.test"), []string{"--github-url", "https"}},
		{"bad org", append(base, "--org", "acme/evil"), []string{"--org", "organization name"}},
		{"long name", append(base, "--name", strings.Repeat("k", 35)), []string{"name", "at most 34"}},
		{"timeout", append(base, "--timeout", "0s"), []string{"--timeout"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"app", "create"}, tt.args...), &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s%s", code, exitUsage, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not name %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "open http") {
				t.Error("the page was served")
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
				t.Errorf("--out was created: %v", err)
			}
		})
	}
	if data, _ := os.ReadFile(filepath.Join(existing, appmanifest.FileWebhookSecret)); string(data) != "old\n" {
		t.Error("an existing file was replaced without --force")
	}
}

// A code that was already exchanged fails the command clearly, and
// writes nothing.
func TestAppCreateUsedCode(t *testing.T) {
	gh := githubtest.New(t)
	out := filepath.Join(t.TempDir(), "app")
	r := startAppCreate(t, t.Context(), "--manifest", shippedManifest, "--webhook-url", "https://kw.acme.test/webhook",
		"--github-url", gh.URL, "--listen", "127.0.0.1:0", "--out", out)
	_, _, back := browse(t, r.page)
	// Someone exchanged the code first (a second tab, a replay).
	if _, err := (appmanifest.Exchanger{API: gh.APIURL()}).Exchange(t.Context(), back.Query().Get("code")); err != nil {
		t.Fatal(err)
	}
	if status := getStatus(t, back.String()); status != http.StatusBadGateway {
		t.Errorf("callback with a used code answered %d, want 502", status)
	}
	<-r.done
	if r.code != exitFail {
		t.Errorf("exit %d, want %d", r.code, exitFail)
	}
	for _, want := range []string{"GitHub refused the code", "already exchanged", "start again"} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("files were written: %v", err)
	}
}

// The deadline (--timeout) and an interrupt free the command when nobody
// comes back.
func TestAppCreateGivesUp(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout string
		cancel  bool
		want    string
	}{
		// 1ns has passed by the time the page is served, whatever the load.
		{"deadline", "1ns", false, "no App was created within 1ns (--timeout)"},
		{"interrupt", "10m", true, "interrupted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			out := filepath.Join(t.TempDir(), "app")
			r := startAppCreate(t, ctx, "--manifest", shippedManifest, "--webhook-url", "https://kw.acme.test/webhook",
				"--github-url", "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--out", out, "--timeout", tt.timeout)
			if tt.cancel {
				cancel()
			}
			<-r.done
			if r.code != exitFail || !strings.Contains(r.stderr.String(), tt.want) {
				t.Errorf("exit %d, want %d and %q:\n%s", r.code, exitFail, tt.want, r.stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("files were written: %v", err)
			}
		})
	}
}
