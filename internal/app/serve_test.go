package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/githubapp"
	"github.com/kubewright/kubewright/internal/githubapp/githubtest"
)

const secret = "e2e-webhook-secret-0123456789"

// TestServeEndToEnd: a signed issue_comment "/ai containerize" posted to
// the running App on loopback becomes a pull request on the fake GitHub
// with the validation table in its body, a completed check run and a
// comment with the link; the same delivery twice is one job.
func TestServeEndToEnd(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	fake := githubtest.New(t, githubtest.WithApp(githubtest.App{ID: 9, PublicKey: &key.PublicKey}))
	fake.AddInstallation(31, "acme")
	fake.AddRepo("acme", "shop", filepath.Join("..", "..", "testdata", "repos", "polyglot-shop"))
	fake.SetPermission("acme", "shop", "octocat", "admin")
	issue := fake.AddIssue("acme", "shop")
	commentID := fake.AddComment("acme", "shop", issue, "octocat", "/ai containerize")

	crds := os.Getenv("KUBEWRIGHT_CRDS")
	if crds == "" {
		crds = filepath.Join("..", "..", "..", "shared", "crds")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	cfg := config.Server{Listen: "127.0.0.1:0", AppID: 9, PrivateKeyFile: keyFile, WebhookSecret: secret,
		DataDir: t.TempDir(), GitHubURL: fake.URL, Workers: 2, Prefix: "/ai", CRDs: crds, Assets: os.Getenv("KUBEBUILDER_ASSETS")}
	ctx := context.Background()
	srv, err := NewServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(srv.Handler())
	defer web.Close()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		srv.Close(stop)
	}()

	payload, _ := json.Marshal(github.IssueCommentEvent{
		Action:  github.Ptr("created"),
		Issue:   &github.Issue{Number: github.Ptr(issue)},
		Comment: &github.IssueComment{ID: github.Ptr(commentID), Body: github.Ptr("/ai containerize"), User: &github.User{Login: github.Ptr("octocat"), ID: github.Ptr(int64(1)), Type: github.Ptr("User")}},
		Repo: &github.Repository{Name: github.Ptr("shop"), FullName: github.Ptr("acme/shop"), DefaultBranch: github.Ptr("main"),
			Owner: &github.User{Login: github.Ptr("acme")}},
		Installation: &github.Installation{ID: github.Ptr(int64(31))},
	})
	post := func(delivery string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, web.URL+"/webhook", bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "issue_comment")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", githubapp.Sign([]byte(secret), payload))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	start := time.Now()
	if code, body := post("delivery-1"); code != http.StatusAccepted || !strings.Contains(body, "accepted") {
		t.Fatalf("first delivery: %d %s", code, body)
	}
	if code, body := post("delivery-1"); code != http.StatusAccepted || !strings.Contains(body, "duplicate") {
		t.Fatalf("redelivery: %d %s", code, body)
	}
	var pulls []githubtest.Pull
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if pulls = fake.Pulls("acme", "shop"); len(pulls) > 0 && len(fake.CheckRuns("acme", "shop")) > 0 {
			break
		}
	}
	t.Logf("comment to pull request: %s", time.Since(start).Round(time.Millisecond))
	if len(pulls) != 1 || !strings.Contains(pulls[0].Body, "## Validation") || !strings.Contains(pulls[0].Body, "| dryrun | ✅ pass |") {
		t.Fatalf("pulls: %+v", pulls)
	}
	if runs := fake.CheckRuns("acme", "shop"); len(runs) != 1 || runs[0].Conclusion != "success" {
		t.Errorf("check runs: %+v", runs)
	}
	var linked bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !linked; time.Sleep(100 * time.Millisecond) {
		for _, c := range fake.Comments("acme", "shop") {
			linked = linked || strings.Contains(c.Body, "Opened ")
		}
	}
	if !linked {
		t.Error("no comment links the pull request")
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, err := http.Get(web.URL + path); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %v %v", path, err, resp)
		} else {
			resp.Body.Close()
		}
	}
	// The job's own metrics are recorded when the worker returns, a moment
	// after its last comment is posted, so read them until they settle.
	want := []string{
		`kubewright_webhook_deliveries_total{event="issue_comment",outcome="duplicate"} 1`,
		`kubewright_jobs_total{event="issue_comment",result="succeeded"} 1`,
		`kubewright_job_duration_seconds_count{event="issue_comment"} 1`,
		`kubewright_github_api_requests_total{code="201",method="POST"}`,
		`kubewright_jobs_running 0`,
		`kubewright_github_rate_limit_remaining{installation="31"} 4999`,
	}
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		missing = missingMetrics(t, web.URL+"/metrics", want)
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, m := range missing {
		t.Errorf("metrics lack %s", m)
	}
}

// missingMetrics returns the lines of want that the exposition at url lacks.
func missingMetrics(t *testing.T, url string, want []string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %v %v", url, err, resp)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var missing []string
	for _, w := range want {
		if !strings.Contains(string(b), w) {
			missing = append(missing, w)
		}
	}
	return missing
}

func TestServerRefusesBadSettings(t *testing.T) {
	_, err := NewServer(context.Background(), config.Server{Listen: ":0", Workers: 1, Prefix: "/ai"}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "KUBEWRIGHT_APP_ID") {
		t.Errorf("err = %v", err)
	}
}
