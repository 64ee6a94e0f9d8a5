package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/kubewright/kubewright/internal/appmanifest"
)

// AppCreateSettings are `kubewright app create`'s flags.
type AppCreateSettings struct {
	// Manifest is the manifest file (deploy/github-app.yaml).
	Manifest string
	// Name and WebhookURL override the manifest's name and
	// hook_attributes.url when set.
	Name, WebhookURL string
	// Org creates the App under an organization.
	Org string
	// GitHubURL and APIURL are GitHub's web and REST addresses; an empty
	// APIURL follows GitHubURL (api.github.com, or {URL}/api/v3).
	GitHubURL, APIURL string
	// Listen is the loopback address of the local page.
	Listen string
	// Out is the directory of the App's files; Force replaces them.
	Out   string
	Force bool
	// Timeout bounds the whole flow.
	Timeout time.Duration
	// Announce is told the page's address once it is served.
	Announce func(pageURL string)
}

// CreateApp runs GitHub's App manifest flow: everything a flag or the
// manifest can get wrong is refused (a SettingError) before anything is
// served, so no App is created whose credentials cannot be saved.
func CreateApp(ctx context.Context, s AppCreateSettings) (*appmanifest.Result, error) {
	if s.GitHubURL == "" {
		s.GitHubURL = appmanifest.DefaultGitHubURL
	}
	if s.APIURL == "" {
		s.APIURL = appmanifest.DefaultAPI(s.GitHubURL)
	}
	if s.Timeout <= 0 {
		return nil, &SettingError{fmt.Errorf("--timeout %s: give a positive duration such as 10m", s.Timeout)}
	}
	if err := appmanifest.CheckListen(s.Listen); err != nil {
		return nil, &SettingError{err}
	}
	m, err := appmanifest.Load(s.Manifest)
	if err != nil {
		return nil, &SettingError{err}
	}
	if s.Name != "" {
		m.SetName(s.Name)
	}
	if s.WebhookURL != "" {
		m.SetWebhookURL(s.WebhookURL)
	}
	out := appmanifest.Output{Dir: s.Out, Force: s.Force}
	settings := appmanifest.Settings{Manifest: m, GitHubURL: s.GitHubURL, APIURL: s.APIURL, Org: s.Org, Out: out}
	if err := settings.Check(); err != nil {
		return nil, &SettingError{err}
	}
	if err := out.CheckFree(); err != nil {
		return nil, &SettingError{err}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.Listen)
	if err != nil {
		return nil, &SettingError{fmt.Errorf("--listen %s: %w (choose another port)", s.Listen, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	res, err := appmanifest.Run(ctx, settings, ln, s.Announce)
	// Run returns ctx's own error when the run ended waiting; an exchange
	// that timed out comes wrapped, with its own message.
	switch {
	case err == context.DeadlineExceeded && res == nil: //nolint:errorlint // identity on purpose, see above
		return nil, fmt.Errorf("no App was created within %s (--timeout): run kubewright app create again", s.Timeout)
	case err == context.Canceled && res == nil: //nolint:errorlint // identity on purpose
		return nil, errors.New("interrupted before GitHub sent the App back: no files were written")
	}
	return res, err
}
