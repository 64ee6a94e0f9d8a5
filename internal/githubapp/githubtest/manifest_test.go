package githubtest

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const testManifest = `{"name":"Kube Wright","url":"https://github.com/kubewright/kubewright",` +
	`"hook_attributes":{"url":"https://kw.acme.test/webhook"},"redirect_url":"http://127.0.0.1:1/callback?x=1",` +
	`"default_permissions":{"contents":"write","checks":"write"},"default_events":["issues","pull_request"]}`

func convert(t *testing.T, s *Server, code string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.APIURL()+"app-manifests/"+code+"/conversions", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// A code converts once into an App whose answer conforms to GitHub's
// description; the second conversion is 404, as GitHub's codes are
// one-use.
func TestManifestConversion(t *testing.T) {
	s := New(t)
	code := s.IssueManifestCode(testManifest)
	status, app := convert(t, s, code)
	if status != http.StatusCreated {
		t.Fatalf("conversion: %d %v", status, app)
	}
	apps := s.ManifestApps()
	if len(apps) != 1 {
		t.Fatalf("ManifestApps = %d", len(apps))
	}
	got := apps[0]
	if app["slug"] != "kube-wright" || got.Slug != "kube-wright" || app["html_url"] != s.URL+"/apps/kube-wright" ||
		app["owner"].(map[string]any)["login"] != ManifestUser || app["pem"] != got.PEM || app["webhook_secret"] != got.WebhookSecret ||
		app["client_secret"] != got.ClientSecret || app["client_id"] != got.ClientID || int64(app["id"].(float64)) != got.ID {
		t.Errorf("answer %v does not match the App %+v", app, got.Slug)
	}
	if got.HookURL != "https://kw.acme.test/webhook" || got.Permissions["contents"] != "write" || got.Permissions["metadata"] != "read" ||
		strings.Join(got.Events, ",") != "issues,pull_request" {
		t.Errorf("App = %+v", got)
	}
	block, _ := pem.Decode([]byte(got.PEM))
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("pem is not a PKCS#1 RSA key")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		t.Fatal(err)
	}
	if len(got.WebhookSecret) < 16 {
		t.Errorf("webhook secret of %d characters: serve wants at least 16", len(got.WebhookSecret))
	}
	if status, body := convert(t, s, code); status != http.StatusNotFound {
		t.Errorf("second conversion: %d %v, want 404", status, body)
	}
	if status, _ := convert(t, s, "0000"); status != http.StatusNotFound {
		t.Errorf("unknown code: %d, want 404", status)
	}
	if n := s.ValidatedResponses()["apps/create-from-manifest"]; n != 3 {
		t.Errorf("validated %d conversion answers, want 3", n)
	}
}

// The conformance check sees a conversion answer GitHub would not send.
func TestManifestConversionConformance(t *testing.T) {
	var reported []string
	s := New(t, WithReporter(func(op string, err error) { reported = append(reported, op+": "+err.Error()) }),
		WithResponseHook(func(op string, status int, body []byte) []byte {
			if op != "apps/create-from-manifest" || status != http.StatusCreated {
				return body
			}
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			delete(m, "pem")
			out, _ := json.Marshal(m)
			return out
		}))
	convert(t, s, s.IssueManifestCode(testManifest))
	if len(reported) != 1 || !strings.Contains(reported[0], "pem") {
		t.Errorf("reported %q, want the missing pem", reported)
	}
}

// The new-App pages take the form as GitHub's do and send the browser
// back to redirect_url with the code and the state.
func TestManifestNewAppPage(t *testing.T) {
	s := New(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		name, path, manifest, state string
		status                      int
		owner                       string
	}{
		{"user", "/settings/apps/new", testManifest, "s1", http.StatusFound, ManifestUser},
		{"organization", "/organizations/acme/settings/apps/new", testManifest, "s2", http.StatusFound, "acme"},
		{"no state", "/settings/apps/new", testManifest, "", http.StatusFound, ManifestUser},
		{"no manifest", "/settings/apps/new", "", "s", http.StatusUnprocessableEntity, ""},
		{"no name", "/settings/apps/new", strings.Replace(testManifest, `"name":"Kube Wright"`, `"name":""`, 1), "s", http.StatusUnprocessableEntity, ""},
		{"long name", "/settings/apps/new", strings.Replace(testManifest, "Kube Wright", strings.Repeat("k", 35), 1), "s", http.StatusUnprocessableEntity, ""},
		{"no webhook", "/settings/apps/new", strings.Replace(testManifest, `"hook_attributes":{"url":"https://kw.acme.test/webhook"},`, "", 1), "s", http.StatusUnprocessableEntity, ""},
		{"bad permission", "/settings/apps/new", strings.Replace(testManifest, `"checks":"write"`, `"checks":"all"`, 1), "s", http.StatusUnprocessableEntity, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := s.URL + tt.path
			if tt.state != "" {
				target += "?state=" + tt.state
			}
			resp, err := client.PostForm(target, url.Values{"manifest": {tt.manifest}})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("%s: %s %s", tt.path, resp.Status, body)
			}
			if tt.status != http.StatusFound {
				return
			}
			back, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			q := back.Query()
			if back.Host != "127.0.0.1:1" || back.Path != "/callback" || q.Get("x") != "1" || q.Get("state") != tt.state || q.Get("code") == "" {
				t.Errorf("redirect to %s", back)
			}
			if status, app := convert(t, s, q.Get("code")); status != http.StatusCreated || app["owner"].(map[string]any)["login"] != tt.owner {
				t.Errorf("conversion: %d, owner %v, want %s", status, app["owner"], tt.owner)
			}
		})
	}
}

// Faults apply to the conversion as to every REST route.
func TestManifestConversionFault(t *testing.T) {
	s := New(t)
	code := s.IssueManifestCode(testManifest)
	s.FailNext(http.MethodPost, conversionPath, http.StatusBadGateway, nil)
	if status, _ := convert(t, s, code); status != http.StatusBadGateway {
		t.Fatalf("status %d, want the injected 502", status)
	}
	if status, _ := convert(t, s, code); status != http.StatusCreated {
		t.Errorf("the code did not survive the fault: %d", status)
	}
}
