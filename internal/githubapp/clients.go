package githubapp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v88/github"
	"github.com/prometheus/client_golang/prometheus"
)

// Endpoints are where GitHub answers: github.com, or a GitHub Enterprise
// Server (and the tests' fake) at one base URL.
type Endpoints struct {
	// Web is the base for git over HTTPS (https://github.com).
	Web string
	// API is the REST base without a trailing slash (https://api.github.com).
	API string
}

// EndpointsFor derives the endpoints from the configured GitHub URL: empty
// or https://github.com means github.com, anything else GitHub Enterprise
// Server's layout ({url}/api/v3).
func EndpointsFor(githubURL string) Endpoints {
	u := strings.TrimRight(githubURL, "/")
	if u == "" || u == "https://github.com" {
		return Endpoints{Web: "https://github.com", API: "https://api.github.com"}
	}
	return Endpoints{Web: u, API: u + "/api/v3"}
}

// CloneURL is the HTTPS clone URL of owner/repo.
func (e Endpoints) CloneURL(fullName string) string { return e.Web + "/" + fullName + ".git" }

// Clients hands out GitHub clients for the App's installations. One
// process serves every installation; each installation's token transport
// is created once and refreshes its token itself.
type Clients struct {
	apps    *ghinstallation.AppsTransport
	ep      Endpoints
	base    http.RoundTripper
	metrics *apiMetrics

	mu    sync.Mutex
	cache map[int64]*ghinstallation.Transport
}

// NewClients authenticates as the App with its ID and PEM private key.
// reg (optional) receives API call and rate-limit metrics.
func NewClients(appID int64, privateKeyPEM []byte, ep Endpoints, reg prometheus.Registerer) (*Clients, error) {
	base := &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}
	metrics := newAPIMetrics(reg)
	// Only installation clients are counted (the token exchange happens
	// inside their transport, once an hour per installation).
	apps, err := ghinstallation.NewAppsTransport(base, appID, privateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("GitHub App private key: %w", err)
	}
	apps.BaseURL = ep.API
	return &Clients{apps: apps, ep: ep, base: base, metrics: metrics, cache: map[int64]*ghinstallation.Transport{}}, nil
}

// Endpoints returns where the clients talk to.
func (c *Clients) Endpoints() Endpoints { return c.ep }

func (c *Clients) transport(installation int64) *ghinstallation.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.cache[installation]
	if !ok {
		t = ghinstallation.NewFromAppsTransport(c.apps, installation)
		t.BaseURL = c.ep.API
		c.cache[installation] = t
	}
	return t
}

// Installation returns a REST client acting as the installation.
func (c *Clients) Installation(installation int64) (*github.Client, error) {
	t := c.transport(installation)
	rt := counting{next: t, m: c.metrics, installation: strconv.FormatInt(installation, 10)}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(&http.Client{Transport: rt, Timeout: 30 * time.Second})}
	if c.ep.API != "https://api.github.com" {
		opts = append(opts, github.WithEnterpriseURLs(c.ep.Web, c.ep.Web))
	}
	return github.NewClient(opts...)
}

// Token returns the installation's current access token, for git over
// HTTPS. It is never logged.
func (c *Clients) Token(ctx context.Context, installation int64) (string, error) {
	return c.transport(installation).Token(ctx)
}
