package appmanifest

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/config"
)

func testApp(t *testing.T) *App {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &App{ID: 4711, Slug: "kw", Name: "kw", HTMLURL: "https://github.com/apps/kw", Owner: "octocat",
		ClientID: "Iv1.0123456789abcdef", ClientSecret: "cs0123456789abcdef0123456789", WebhookSecret: "ws0123456789abcdef0123456789",
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))}
}

// readEnv reads app.env as `set -a; . app.env` would: comments skipped,
// NAME=value lines, single quotes removed.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not NAME=value", path, line)
		}
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.Trim(v, "'"), `'\''`, "'")
		}
		env[k] = v
	}
	return env
}

// checkAppFiles checks the files of a written App: modes, contents, and app.env
// as `kubewright serve` reads it.
func checkAppFiles(t *testing.T, dir string, app *App, githubURL string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s has mode %v, want no access for group and others", dir, st.Mode().Perm())
	}
	want := map[string]string{
		FileAppID: "4711\n", FileClientID: app.ClientID + "\n", FilePrivateKey: app.PEM,
		FileWebhookSecret: app.WebhookSecret + "\n", FileClientSecret: app.ClientSecret + "\n",
	}
	for _, name := range fileNames {
		p := filepath.Join(dir, name)
		st, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode() != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", name, st.Mode())
		}
		data, _ := os.ReadFile(p)
		if w, ok := want[name]; ok && string(data) != w {
			t.Errorf("%s = %q, want %q", name, data, w)
		}
	}
	env := readEnv(t, filepath.Join(dir, FileEnv))
	cfg, err := config.ServerDefaults(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Abs(filepath.Join(dir, FilePrivateKey))
	if cfg.AppID != app.ID || cfg.PrivateKeyFile != key || cfg.WebhookSecret != app.WebhookSecret {
		t.Errorf("kubewright serve reads app.env as app ID %d, key %s, webhook secret of %d bytes; want %d, %s, %d bytes",
			cfg.AppID, cfg.PrivateKeyFile, len(cfg.WebhookSecret), app.ID, key, len(app.WebhookSecret))
	}
	if githubURL == DefaultGitHubURL && cfg.GitHubURL != "" || githubURL != DefaultGitHubURL && cfg.GitHubURL != githubURL {
		t.Errorf("app.env sets the GitHub URL %q for %s", cfg.GitHubURL, githubURL)
	}
	// The OAuth client is the job pages' (jobpage.AuthFromEnv reads it).
	if env[EnvOAuthClientID] != app.ClientID || env[EnvOAuthClientSecret] != app.ClientSecret {
		t.Errorf("app.env's OAuth client %q, want the App's %q", env[EnvOAuthClientID], app.ClientID)
	}
	for k := range env {
		if k != EnvGitHubURL && k != EnvAppID && k != EnvPrivateKeyFile && k != EnvWebhookSecret && k != EnvOAuthClientID && k != EnvOAuthClientSecret {
			t.Errorf("app.env sets %s, which is not one of serve's App settings", k)
		}
	}
	if err := cfg.Check(); err != nil && (strings.Contains(err.Error(), "KUBEWRIGHT_APP_ID") || strings.Contains(err.Error(), "KUBEWRIGHT_PRIVATE_KEY_FILE") || strings.Contains(err.Error(), "KUBEWRIGHT_WEBHOOK_SECRET")) {
		t.Errorf("kubewright serve refuses app.env: %v", err)
	}
	pemData, err := os.ReadFile(filepath.Join(dir, FilePrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKey(pemData); err != nil {
		t.Errorf("private-key.pem: %v", err)
	}
}

func TestAppFilesWrite(t *testing.T) {
	app := testApp(t)
	for _, tt := range []struct {
		name      string
		githubURL string
		out       string // under the test's directory
	}{
		{"github.com", DefaultGitHubURL, ".kubewright/app"},
		{"enterprise server", "https://ghe.acme.test", "out"},
		{"path with a space", DefaultGitHubURL, "my creds/app"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := Output{Dir: filepath.Join(t.TempDir(), tt.out)}
			if err := o.CheckFree(); err != nil {
				t.Fatal(err)
			}
			written, err := o.Write(app, tt.githubURL)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(written, ",") != strings.Join(o.Paths(), ",") {
				t.Errorf("wrote %v, want %v", written, o.Paths())
			}
			checkAppFiles(t, o.Dir, app, tt.githubURL)
			if err := o.CheckFree(); err == nil || !strings.Contains(err.Error(), "--force") {
				t.Errorf("CheckFree after writing = %v, want a refusal naming --force", err)
			}
			if _, err := o.Write(app, tt.githubURL); err == nil {
				t.Error("a second Write without Force replaced the files")
			}
		})
	}
}

// Force replaces files, with mode 0600 whatever the old mode, and replaces
// a symlink instead of writing through it.
func TestAppFilesForce(t *testing.T) {
	app := testApp(t)
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Output{Dir: filepath.Join(dir, "out")}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(o.Dir, FileAppID), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(o.Dir, FilePrivateKey)); err != nil {
		t.Fatal(err)
	}
	if err := o.CheckFree(); err == nil || !strings.Contains(err.Error(), filepath.Join(o.Dir, FileAppID)) {
		t.Fatalf("CheckFree = %v, want the existing app-id named", err)
	}
	o.Force = true
	if err := o.CheckFree(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Write(app, DefaultGitHubURL); err != nil {
		t.Fatal(err)
	}
	checkAppFiles(t, o.Dir, app, DefaultGitHubURL)
	if data, _ := os.ReadFile(outside); string(data) != "keep" {
		t.Errorf("the symlink's target was written: %q", data)
	}
	left, _ := filepath.Glob(filepath.Join(o.Dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestAppFilesRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (Output{Dir: file, Force: true}).CheckFree(); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("CheckFree on a file = %v", err)
	}
	app := testApp(t)
	app.WebhookSecret = ""
	o := Output{Dir: filepath.Join(dir, "no-secret")}
	written, err := o.Write(app, DefaultGitHubURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range written {
		if filepath.Base(p) == FileWebhookSecret {
			t.Error("an empty webhook secret was written")
		}
	}
	if env := readEnv(t, filepath.Join(o.Dir, FileEnv)); env[EnvWebhookSecret] != "" || env[EnvAppID] != "4711" {
		t.Errorf("app.env without a webhook secret = %v", env)
	}
}
