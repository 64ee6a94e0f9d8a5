package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/config"
)

// TestServeReportsSandbox: start-up logs where generated code runs, and
// /readyz says it (this machine has bubblewrap: make test installs it).
func TestServeReportsSandbox(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg := config.Server{Listen: "127.0.0.1:0", AppID: 9, PrivateKeyFile: keyFile, WebhookSecret: secret, DataDir: t.TempDir(), Workers: 1, Prefix: "/ai"}
	srv, err := NewServer(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	}()
	if !strings.Contains(logs.String(), `"msg":"sandbox","mechanism":"bubblewrap"`) {
		t.Errorf("start-up did not log the sandbox:\n%s", logs.String())
	}
	web := httptest.NewServer(srv.Handler())
	defer web.Close()
	resp, err := web.Client().Get(web.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("/readyz: %s", body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ready\nsandbox: bubblewrap ") {
		t.Errorf("/readyz = %d %q, want ready and the sandbox", resp.StatusCode, body)
	}
}
