package githubtest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v88/github"
)

// signJWT signs an App JWT by hand: RS256 over header.claims.
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func appClaims(iss any, now time.Time) map[string]any {
	return map[string]any{"iss": iss, "iat": now.Add(-30 * time.Second).Unix(), "exp": now.Add(9 * time.Minute).Unix()}
}

func TestInstallationToken(t *testing.T) {
	f := newFixture(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name   string
		jwt    string
		inst   int64
		status int
	}{
		{"valid JWT, string iss", signJWT(t, f.key, appClaims("4242", now)), testInst, http.StatusCreated},
		{"valid JWT, numeric iss", signJWT(t, f.key, appClaims(testAppID, now)), testInst, http.StatusCreated},
		{"expired", signJWT(t, f.key, map[string]any{"iss": "4242", "iat": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix()}), testInst, http.StatusUnauthorized},
		{"exp too far ahead", signJWT(t, f.key, map[string]any{"iss": "4242", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}), testInst, http.StatusUnauthorized},
		{"wrong issuer", signJWT(t, f.key, appClaims("1", now)), testInst, http.StatusUnauthorized},
		{"signed by another key", signJWT(t, other, appClaims("4242", now)), testInst, http.StatusUnauthorized},
		{"not a JWT", "ghs_notajwt", testInst, http.StatusUnauthorized},
		{"unknown installation", signJWT(t, f.key, appClaims("4242", now)), 999, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, _, err := ghClient(t, f.Server, tc.jwt).Apps.CreateInstallationToken(context.Background(), tc.inst, nil)
			if tc.status != http.StatusCreated {
				if got := statusOf(err); got != tc.status {
					t.Fatalf("status = %d (err %v), want %d", got, err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok.GetToken(), "ghs_") || tok.GetExpiresAt().Before(time.Now()) {
				t.Fatalf("token = %q expires %v", tok.GetToken(), tok.GetExpiresAt())
			}
			repo, _, err := ghClient(t, f.Server, tok.GetToken()).Repositories.Get(context.Background(), testOwner, testRepo)
			if err != nil {
				t.Fatalf("the new token does not open the repository: %v", err)
			}
			if repo.GetDefaultBranch() != "main" {
				t.Errorf("default branch = %q", repo.GetDefaultBranch())
			}
		})
	}
}

// TestGhinstallation is the bot's own path: ghinstallation signs the JWT,
// exchanges it for an installation token and authenticates go-github.
func TestGhinstallation(t *testing.T) {
	f := newFixture(t)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.key)})
	itr, err := ghinstallation.New(http.DefaultTransport, testAppID, testInst, pemKey)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = strings.TrimSuffix(f.APIURL(), "/")
	c, err := github.NewClient(github.WithTransport(itr), github.WithEnterpriseURLs(f.URL, f.URL))
	if err != nil {
		t.Fatal(err)
	}
	repo, _, err := c.Repositories.Get(context.Background(), testOwner, testRepo)
	if err != nil {
		t.Fatal(err)
	}
	if repo.GetCloneURL() != f.CloneURL(testOwner, testRepo) {
		t.Errorf("clone URL = %q, want %q", repo.GetCloneURL(), f.CloneURL(testOwner, testRepo))
	}
	if n := f.ValidatedResponses()["apps/create-installation-access-token"]; n != 1 {
		t.Errorf("token responses validated = %d, want 1", n)
	}
}

func TestAuthErrors(t *testing.T) {
	f := newFixture(t)
	f.AddInstallation(88, "globex")
	ctx := context.Background()
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "ghs_0000000000000000000000000000000000000", http.StatusUnauthorized},
		{"other installation's token", f.MintToken(88), http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ghClient(t, f.Server, tc.token).Repositories.Get(ctx, testOwner, testRepo)
			if got := statusOf(err); got != tc.status {
				t.Fatalf("status = %d (%v), want %d", got, err, tc.status)
			}
			var er *github.ErrorResponse
			if errors.As(err, &er) && er.Message == "" {
				t.Errorf("error without GitHub's message: %+v", er)
			}
		})
	}
	t.Run("unknown route", func(t *testing.T) {
		for _, p := range []string{"/api/v3/repos/acme/shop/nonsense", "/api/v3/meta", "/nowhere"} {
			resp, err := http.Get(f.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || err != nil || body["message"] != "Not Found" {
				t.Errorf("%s: %d %v %v", p, resp.StatusCode, body, err)
			}
		}
	})
}
