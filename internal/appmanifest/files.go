package appmanifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The files written to the output directory. app-id, private-key.pem and
// webhook-secret are also the keys of deploy/'s Secret
// kubewright-github-app, so `kubectl create secret generic
// --from-file=DIR/app-id ...` takes them as they are.
const (
	FileAppID         = "app-id"
	FileClientID      = "client-id"
	FilePrivateKey    = "private-key.pem"
	FileWebhookSecret = "webhook-secret"
	FileClientSecret  = "client-secret"
	FileEnv           = "app.env"
)

// The environment variables `kubewright serve` reads for the App
// (internal/config.ServerDefaults).
const (
	EnvAppID          = "KUBEWRIGHT_APP_ID"
	EnvPrivateKeyFile = "KUBEWRIGHT_PRIVATE_KEY_FILE"
	EnvWebhookSecret  = "KUBEWRIGHT_WEBHOOK_SECRET"
	EnvGitHubURL      = "KUBEWRIGHT_GITHUB_URL"
	// The App's OAuth client: viewers sign in to the job pages with it.
	EnvOAuthClientID     = "KUBEWRIGHT_OAUTH_CLIENT_ID"
	EnvOAuthClientSecret = "KUBEWRIGHT_OAUTH_CLIENT_SECRET"
)

// fileNames are the output's files in the order they are written.
var fileNames = []string{FileAppID, FileClientID, FilePrivateKey, FileWebhookSecret, FileClientSecret, FileEnv}

// Output is where the App's credentials go: one file per value, each
// readable by the user only (0600), in a directory created 0700.
type Output struct {
	Dir string
	// Force replaces files that exist; without it they are refused.
	Force bool
}

// Paths are the files Write writes, in order.
func (o Output) Paths() []string {
	out := make([]string, len(fileNames))
	for i, n := range fileNames {
		out[i] = filepath.Join(o.Dir, n)
	}
	return out
}

// CheckFree refuses, unless Force, when any of the files exists (checked
// before the App is created, so that its credentials have somewhere to
// go), and when Dir is something other than a directory.
func (o Output) CheckFree() error {
	if st, err := os.Stat(o.Dir); err == nil && !st.IsDir() {
		return fmt.Errorf("--out %s is a file, not a directory: choose a directory for the App's files", o.Dir)
	}
	if o.Force {
		return nil
	}
	for _, p := range o.Paths() {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists: pass --force to replace the App's files there, or --out another directory", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--out %s: %w", o.Dir, err)
		}
	}
	return nil
}

// Write writes the App's credentials and app.env, and returns the paths
// written. githubURL is the web URL the App lives on; app.env names it
// (KUBEWRIGHT_GITHUB_URL) unless it is github.com. An App without a
// webhook secret gets no webhook-secret file and no variable for it.
func (o Output) Write(app *App, githubURL string) ([]string, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", o.Dir, err)
	}
	key, err := filepath.Abs(filepath.Join(o.Dir, FilePrivateKey))
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", o.Dir, err)
	}
	env, err := envFile(app, key, githubURL)
	if err != nil {
		return nil, err
	}
	values := map[string]string{
		FileAppID:         strconv.FormatInt(app.ID, 10) + "\n",
		FileClientID:      app.ClientID + "\n",
		FilePrivateKey:    app.PEM,
		FileWebhookSecret: app.WebhookSecret + "\n",
		FileClientSecret:  app.ClientSecret + "\n",
		FileEnv:           env,
	}
	var written []string
	for _, name := range fileNames {
		if name == FileWebhookSecret && app.WebhookSecret == "" {
			continue
		}
		p := filepath.Join(o.Dir, name)
		if err := o.writeFile(p, []byte(values[name])); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// writeFile creates p 0600: exclusively without Force, else through a
// temporary file renamed over it, so a replaced file takes the new mode
// and a symlink in its place is replaced, not followed.
func (o Output) writeFile(p string, data []byte) error {
	if !o.Force {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s appeared while the App was being created: pass --force to replace it", p)
			}
			return fmt.Errorf("write %s: %w", p, err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// envFile is app.env: the variables `kubewright serve` reads for the App,
// for `set -a; . app.env; set +a`, a systemd EnvironmentFile or
// `docker run --env-file`.
func envFile(app *App, keyPath, githubURL string) (string, error) {
	if strings.ContainsAny(keyPath, "\n\r\x00") {
		return "", fmt.Errorf("--out %q: the path holds a line break, which an env file cannot carry", filepath.Dir(keyPath))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# kubewright serve's settings for the GitHub App %s (ID %d), written by `kubewright app create`.\n", app.Slug, app.ID)
	b.WriteString("# Load them with: set -a; . ./app.env; set +a\n")
	fmt.Fprintf(&b, "%s=%d\n", EnvAppID, app.ID)
	fmt.Fprintf(&b, "%s=%s\n", EnvPrivateKeyFile, shellValue(keyPath))
	if app.WebhookSecret != "" {
		fmt.Fprintf(&b, "%s=%s\n", EnvWebhookSecret, app.WebhookSecret)
	}
	if app.ClientID != "" && app.ClientSecret != "" && plain(app.ClientID) && plain(app.ClientSecret) {
		fmt.Fprintf(&b, "%s=%s\n%s=%s\n", EnvOAuthClientID, app.ClientID, EnvOAuthClientSecret, app.ClientSecret)
	}
	if u := strings.TrimSuffix(githubURL, "/"); u != "" && u != DefaultGitHubURL {
		fmt.Fprintf(&b, "%s=%s\n", EnvGitHubURL, shellValue(u))
	}
	return b.String(), nil
}

// shellValue quotes s for a shell when it holds anything but plain
// characters (paths with spaces).
func shellValue(s string) string {
	if plain(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
