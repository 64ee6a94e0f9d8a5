package appmanifest

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// MaxConversionBytes caps GitHub's answer to a conversion: the App, its
// owner and a 2048-bit key come to about 4 KiB.
const MaxConversionBytes = 1 << 20

// ExchangeTimeout bounds one conversion request.
const ExchangeTimeout = 30 * time.Second

// ErrCodeRefused is GitHub not knowing the code: already exchanged
// (codes work once) or older than an hour.
var ErrCodeRefused = errors.New("GitHub refused the code")

// App is what a conversion returns. Its secrets stay out of String and
// of every message.
type App struct {
	ID      int64
	Slug    string
	Name    string
	HTMLURL string
	Owner   string
	// The secrets, written to their files and nowhere else.
	ClientID      string
	ClientSecret  string
	WebhookSecret string
	PEM           string
}

// String names the App without its secrets.
func (a App) String() string { return fmt.Sprintf("GitHub App %s (ID %d)", a.Slug, a.ID) }

// GoString keeps %#v from printing the secrets.
func (a App) GoString() string { return a.String() }

// Exchanger exchanges a manifest code for the App (POST
// {API}/app-manifests/{code}/conversions; no authentication: the code is
// the credential).
type Exchanger struct {
	// API is the REST base URL: https://api.github.com, or
	// https://HOST/api/v3 for GitHub Enterprise Server.
	API string
	// HTTP sends the request; nil means a client with ExchangeTimeout that
	// follows no redirect.
	HTTP *http.Client
}

var codeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// ValidCode reports whether code looks like a manifest code (GitHub's are
// 20 bytes of hex); anything else is not sent.
func ValidCode(code string) bool { return codeRE.MatchString(code) }

// Exchange converts code into the App. The answer is read up to
// MaxConversionBytes and checked: an ID, a slug, an html_url, a client ID
// and secret, and a PEM RSA private key; the webhook secret may be empty
// (GitHub sends null when the App has no active webhook).
func (e Exchanger) Exchange(ctx context.Context, code string) (*App, error) {
	if !ValidCode(code) {
		return nil, errors.New("the code GitHub sent back is malformed")
	}
	client := e.HTTP
	if client == nil {
		client = &http.Client{Timeout: ExchangeTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	ctx, cancel := context.WithTimeout(ctx, ExchangeTimeout)
	defer cancel()
	endpoint := strings.TrimSuffix(e.API, "/") + "/app-manifests/" + url.PathEscape(code) + "/conversions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("exchange the code: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "kubewright")
	resp, err := client.Do(req)
	if err != nil {
		// Not err itself: a *url.Error quotes the URL, and the URL holds
		// the code.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return nil, fmt.Errorf("exchange the code with %s: %w", e.API, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxConversionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("exchange the code: read GitHub's answer: %w", err)
	}
	if len(body) > MaxConversionBytes {
		return nil, fmt.Errorf("exchange the code: GitHub's answer is over %d KiB, not an App", MaxConversionBytes>>10)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w (404): it was already exchanged (codes work once) or is older than an hour", ErrCodeRefused)
	case resp.StatusCode != http.StatusCreated:
		return nil, fmt.Errorf("%w: %s%s", ErrCodeRefused, resp.Status, ghMessage(body))
	}
	return parseApp(body)
}

// ghMessage is GitHub's error message, cut short and stripped of control
// characters (it is shown in a terminal).
func ghMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return ""
	}
	msg := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, e.Message)
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return ": " + msg
}

func parseApp(body []byte) (*App, error) {
	var r struct {
		ID            int64   `json:"id"`
		Slug          string  `json:"slug"`
		Name          string  `json:"name"`
		HTMLURL       string  `json:"html_url"`
		ClientID      string  `json:"client_id"`
		ClientSecret  string  `json:"client_secret"`
		WebhookSecret *string `json:"webhook_secret"`
		PEM           string  `json:"pem"`
		Owner         struct {
			Login string `json:"login"`
		} `json:"owner"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, errors.New("exchange the code: GitHub's answer is not the App's JSON")
	}
	app := &App{ID: r.ID, Slug: r.Slug, Name: r.Name, HTMLURL: r.HTMLURL, Owner: r.Owner.Login,
		ClientID: r.ClientID, ClientSecret: r.ClientSecret, PEM: r.PEM}
	if r.WebhookSecret != nil {
		app.WebhookSecret = *r.WebhookSecret
	}
	var missing []string
	if app.ID <= 0 {
		missing = append(missing, "id")
	}
	if app.Slug == "" || !plain(app.Slug) {
		missing = append(missing, "slug")
	}
	if u, err := url.Parse(app.HTMLURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		missing = append(missing, "html_url")
	}
	if app.ClientID == "" || !plain(app.ClientID) {
		missing = append(missing, "client_id")
	}
	if app.ClientSecret == "" || !plain(app.ClientSecret) {
		missing = append(missing, "client_secret")
	}
	if !plain(app.WebhookSecret) {
		missing = append(missing, "webhook_secret")
	}
	if app.Owner == "" || !plain(app.Owner) {
		missing = append(missing, "owner")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("exchange the code: GitHub's answer lacks a usable %s", strings.Join(missing, ", "))
	}
	if _, err := ParseKey([]byte(app.PEM)); err != nil {
		return nil, fmt.Errorf("exchange the code: GitHub's pem: %w", err)
	}
	return app, nil
}

// plain reports a value safe to write on one line of a file: printable
// ASCII without spaces or quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\' || c == '`' || c == '$' {
			return false
		}
	}
	return true
}

// ParseKey parses a PEM RSA private key (PKCS#1, as GitHub sends it, or
// PKCS#8).
func ParseKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA private key")
	}
	return rk, nil
}
