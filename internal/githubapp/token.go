package githubapp

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v88/github"
)

// TokenClients hands out clients that act with one token, whatever the
// installation: the GitHub Actions step, whose workflow token (or the
// `token` input) is all it has.
type TokenClients struct {
	token string
	ep    Endpoints
}

// NewTokenClients acts with token against the GitHub at serverURL (the
// Actions GITHUB_SERVER_URL; empty means github.com) whose REST API is
// at apiURL (GITHUB_API_URL; empty: derived from serverURL).
func NewTokenClients(token, serverURL, apiURL string) *TokenClients {
	ep := EndpointsFor(serverURL)
	if apiURL != "" {
		ep.API = strings.TrimRight(apiURL, "/")
	}
	return &TokenClients{token: token, ep: ep}
}

// Endpoints says where GitHub is.
func (c *TokenClients) Endpoints() Endpoints { return c.ep }

// Installation returns a client acting with the token.
func (c *TokenClients) Installation(int64) (*github.Client, error) {
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}), github.WithAuthToken(c.token)}
	if c.ep.API != "https://api.github.com" {
		base := c.ep.API + "/"
		opts = append(opts, github.WithURLs(&base, &base))
	}
	return github.NewClient(opts...)
}

// Token is the token, for git over HTTPS.
func (c *TokenClients) Token(context.Context, int64) (string, error) { return c.token, nil }
