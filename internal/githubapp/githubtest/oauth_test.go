package githubtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	testClientID     = "Iv1.fake0123456789"
	testClientSecret = "fake-client-secret-0123456789abcdef"
	testCallback     = "http://127.0.0.1:9/jobs/oauth/callback"
)

// noRedirect is an HTTP client that shows redirects instead of following
// them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func oauthFixture(t *testing.T) fixture {
	t.Helper()
	f := newFixture(t)
	f.AddOAuthApp(OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, CallbackURL: testCallback})
	return f
}

// authorize visits the authorize page and returns its redirect.
func authorize(t *testing.T, f fixture, q url.Values) (int, *url.URL) {
	t.Helper()
	resp, err := noRedirect.Get(f.URL + "/login/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	loc, _ := resp.Location()
	return resp.StatusCode, loc
}

// exchange posts the token exchange form and decodes the JSON answer.
func exchange(t *testing.T, f fixture, form url.Values) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token exchange: status %d", resp.StatusCode)
	}
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func signIn(t *testing.T, f fixture, login string) string {
	t.Helper()
	f.OAuthAs(login)
	status, loc := authorize(t, f, url.Values{"client_id": {testClientID}, "redirect_uri": {testCallback}, "state": {"s1"}})
	if status != http.StatusFound || loc == nil {
		t.Fatalf("authorize: status %d, want a redirect", status)
	}
	code := loc.Query().Get("code")
	out := exchange(t, f, url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "code": {code}, "redirect_uri": {testCallback}})
	if !strings.HasPrefix(out["access_token"], userTokenPrefix) || out["token_type"] != "bearer" {
		t.Fatalf("token exchange answered %v", out)
	}
	return out["access_token"]
}

func TestOAuthAuthorize(t *testing.T) {
	f := oauthFixture(t)
	tests := []struct {
		name      string
		signedIn  string
		q         url.Values
		status    int
		wantTo    string // the redirect's URL without its query
		wantQuery map[string]string
	}{
		{"approves at once", "alice", url.Values{"client_id": {testClientID}, "redirect_uri": {testCallback}, "state": {"xyz"}},
			http.StatusFound, testCallback, map[string]string{"state": "xyz"}},
		{"a path below the callback", "alice", url.Values{"client_id": {testClientID}, "redirect_uri": {testCallback + "/more?keep=1"}, "state": {"xyz"}},
			http.StatusFound, testCallback + "/more", map[string]string{"keep": "1", "state": "xyz"}},
		{"no redirect_uri: the callback", "alice", url.Values{"client_id": {testClientID}, "state": {"xyz"}},
			http.StatusFound, testCallback, map[string]string{"state": "xyz"}},
		{"redirect_uri elsewhere", "alice", url.Values{"client_id": {testClientID}, "redirect_uri": {"http://127.0.0.1:10/steal"}, "state": {"xyz"}},
			http.StatusFound, testCallback, map[string]string{"error": "redirect_uri_mismatch", "state": "xyz"}},
		{"unknown client", "alice", url.Values{"client_id": {"nope"}}, http.StatusNotFound, "", nil},
		{"nobody signed in", "", url.Values{"client_id": {testClientID}}, http.StatusUnauthorized, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.OAuthAs(tc.signedIn)
			status, loc := authorize(t, f, tc.q)
			if status != tc.status {
				t.Fatalf("status = %d, want %d", status, tc.status)
			}
			if tc.wantTo == "" {
				return
			}
			q := loc.Query()
			got := *loc
			got.RawQuery = ""
			if got.String() != tc.wantTo {
				t.Errorf("redirect to %s, want %s", got.String(), tc.wantTo)
			}
			for k, v := range tc.wantQuery {
				if q.Get(k) != v {
					t.Errorf("redirect query %s = %q, want %q (%s)", k, q.Get(k), v, loc)
				}
			}
			if _, isErr := tc.wantQuery["error"]; !isErr && len(q.Get("code")) < 16 {
				t.Errorf("redirect carries no code: %s", loc)
			}
		})
	}
}

func TestOAuthExchange(t *testing.T) {
	f := oauthFixture(t)
	f.OAuthAs("alice")
	code := func() string {
		_, loc := authorize(t, f, url.Values{"client_id": {testClientID}, "redirect_uri": {testCallback}})
		return loc.Query().Get("code")
	}
	used := code()
	exchange(t, f, url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "code": {used}})
	tests := []struct {
		name string
		form url.Values
		want string // the error, "" for a token
	}{
		{"good", url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "code": {code()}, "redirect_uri": {testCallback}}, ""},
		{"wrong secret", url.Values{"client_id": {testClientID}, "client_secret": {"guess"}, "code": {code()}}, "incorrect_client_credentials"},
		{"unknown client", url.Values{"client_id": {"nope"}, "client_secret": {testClientSecret}, "code": {code()}}, "incorrect_client_credentials"},
		{"code used twice", url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "code": {used}}, "bad_verification_code"},
		{"made-up code", url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "code": {"0123456789abcdef0123"}}, "bad_verification_code"},
		{"another redirect_uri", url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "code": {code()}, "redirect_uri": {testCallback + "/x"}}, "redirect_uri_mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := exchange(t, f, tc.form)
			if out["error"] != tc.want {
				t.Fatalf("error = %q, want %q (%v)", out["error"], tc.want, out)
			}
			if tc.want == "" && !strings.HasPrefix(out["access_token"], userTokenPrefix) {
				t.Fatalf("no user access token: %v", out)
			}
			if tc.want != "" && (out["access_token"] != "" || out["error_description"] == "") {
				t.Fatalf("a failed exchange answered %v", out)
			}
		})
	}

	t.Run("form-encoded without Accept", func(t *testing.T) {
		resp, err := http.PostForm(f.URL+"/login/oauth/access_token", url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "code": {code()}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil || !strings.HasPrefix(form.Get("access_token"), userTokenPrefix) || form.Get("token_type") != "bearer" {
			t.Fatalf("answer %q (%v), want access_token=ghu_...&token_type=bearer", body, err)
		}
	})
}

func TestOAuthUserAccess(t *testing.T) {
	f := oauthFixture(t)
	f.AddRepo(testOwner, "site", "")
	f.SetPublic(testOwner, "site")
	f.SetPermission(testOwner, testRepo, "alice", "read")
	f.SetPermission(testOwner, testRepo, "carol", "write")
	ctx := context.Background()
	tokens := map[string]string{"alice": signIn(t, f, "alice"), "bob": signIn(t, f, "bob"), "carol": f.UserToken("carol"),
		"installation": f.MintToken(testInst), "forged": userTokenPrefix + "000000000000000000000000000000000000"}

	for _, login := range []string{"alice", "bob", "carol"} {
		u, _, err := ghClient(t, f.Server, tokens[login]).Users.Get(ctx, "")
		if err != nil || u.GetLogin() != login {
			t.Errorf("GET /user as %s = %q, %v", login, u.GetLogin(), err)
		}
	}
	if _, _, err := ghClient(t, f.Server, tokens["installation"]).Users.Get(ctx, ""); statusOf(err) != http.StatusForbidden {
		t.Errorf("GET /user with an installation token: %v, want 403", err)
	}

	tests := []struct {
		who, repo     string
		status        int
		pull, push    bool
		wantPrivate   bool
		wantVisiblity string
	}{
		{"alice", testRepo, http.StatusOK, true, false, true, "private"},
		{"carol", testRepo, http.StatusOK, true, true, true, "private"},
		{"bob", testRepo, http.StatusNotFound, false, false, false, ""},
		{"bob", "site", http.StatusOK, true, false, false, "public"},
		{"alice", "missing", http.StatusNotFound, false, false, false, ""},
		{"forged", testRepo, http.StatusUnauthorized, false, false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.who+" reads "+tc.repo, func(t *testing.T) {
			r, resp, err := ghClient(t, f.Server, tokens[tc.who]).Repositories.Get(ctx, testOwner, tc.repo)
			if tc.status != http.StatusOK {
				if statusOf(err) != tc.status {
					t.Fatalf("status: %v, want %d", err, tc.status)
				}
				return
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /repos/%s/%s: %v", testOwner, tc.repo, err)
			}
			p := r.GetPermissions()
			if p.GetPull() != tc.pull || p.GetPush() != tc.push {
				t.Errorf("permissions = %v, want pull %v push %v", p, tc.pull, tc.push)
			}
			if r.GetPrivate() != tc.wantPrivate || r.GetVisibility() != tc.wantVisiblity {
				t.Errorf("private %v visibility %q, want %v %q", r.GetPrivate(), r.GetVisibility(), tc.wantPrivate, tc.wantVisiblity)
			}
		})
	}
	for _, op := range []string{"users/get-authenticated", "repos/get"} {
		if f.ValidatedResponses()[op] == 0 {
			t.Errorf("no %s response was checked against GitHub's OpenAPI description", op)
		}
	}
}
