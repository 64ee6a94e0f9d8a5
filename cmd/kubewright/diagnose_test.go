package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kubewright/kubewright/internal/diagnose/diagnosetest"
	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

// diagnoseCase is the crash-looping service of internal/diagnose's
// cases; its repository puts it in namespace shop, where it is set up.
var diagnoseCase = filepath.Join("..", "..", "internal", "diagnose", "testdata", "crashloop")

// rootCauseAnswer is the scripted model's answer for it.
const rootCauseAnswer = `{"causes":[{"rank":1,"cause":"The api container exits at start because ORDERS_QUEUE_URL is not set.",` +
	`"evidence":["panic: config: ORDERS_QUEUE_URL is required"],"fix":"Add ORDERS_QUEUE_URL to the api container's env in k8s/orders/deployment.yaml:17.","finding":"KW-DIAG-001"}]}`

// webhookSecret is the secret part of the notify URL.
const webhookSecret = "/services/T0KW/B0KW/xoxW3bh00kS3cr3t"

// TestDiagnoseCLI runs `kubewright diagnose` against a real kube-apiserver
// (with the kubelet stand-in serving the crash's log) through kubeconfig
// files, as a person would: outputs are golden (-update rewrites them),
// exit codes are the command's.
func TestDiagnoseCLI(t *testing.T) {
	te, err := diagnosetest.Start()
	if err != nil {
		t.Fatalf("this test needs a kube-apiserver: %v. Run `make testenv` and export KUBEBUILDER_ASSETS=$PWD/.cache/kube-assets KUBEWRIGHT_CRDS=/work/shared/crds", err)
	}
	t.Cleanup(te.Stop)
	f := diagnosetest.SetUp(t, te, diagnoseCase, "shop")
	repo, err := filepath.Abs(filepath.Join(f.Dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	if goldenDir, err = filepath.Abs(filepath.Join("testdata", "diagnose")); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	plain, withNS := filepath.Join(tmp, "plain.kubeconfig"), filepath.Join(tmp, "shop.kubeconfig")
	if err := te.WriteKubeconfig(plain, ""); err != nil {
		t.Fatal(err)
	}
	if err := te.WriteKubeconfig(withNS, "shop"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{llm.EnvModel, llm.EnvBaseURL, llm.EnvAPIKey, llm.EnvOpenAIAPIKey, "KUBEWRIGHT_NOTIFY_URL", "KUBERNETES_SERVICE_HOST"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", tmp)
	t.Setenv("KUBECONFIG", filepath.Join(tmp, "absent"))

	t.Run("namespace from the repository", func(t *testing.T) {
		code, out, errOut := runCLI("diagnose", "orders", "--kubeconfig", plain, "--repo", repo)
		if code != exitFail {
			t.Fatalf("exit %d, want %d\n%s%s", code, exitFail, out, errOut)
		}
		goldenCLI(t, "crashloop.txt", out)
		for _, want := range []string{"kubewright: namespace shop, where the repository's manifests put orders\n", "kubewright: the diagnosis found 2 errors\n"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
	})
	t.Run("in the repository, namespace from the context, json", func(t *testing.T) {
		t.Chdir(repo)
		code, out, errOut := runCLI("diagnose", "orders", "--kubeconfig", withNS, "--format", "json", "-q")
		if code != exitFail || errOut != "kubewright: the diagnosis found 2 errors\n" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		stats := r["stats"].(map[string]any)
		if stats["requests"].(float64) < 10 {
			t.Errorf("stats %v", stats)
		}
		delete(stats, "requests")
		delete(stats, "duration")
		b, _ := json.MarshalIndent(r, "", "  ")
		goldenCLI(t, "crashloop.json", string(b)+"\n")
	})
	t.Run("model and notification, markdown", func(t *testing.T) {
		model := llmtest.NewServer(t, llmtest.Reply{Content: rootCauseAnswer, PromptTokens: 2000, CompletionTokens: 100})
		hook := newWebhook(t, http.StatusOK)
		code, out, errOut := runCLI("diagnose", "orders", "--kubeconfig", plain, "--namespace", "shop", "--repo", repo, "--format", "markdown",
			"--llm-base-url", model.URL(), "--llm-model", "test-model", "--llm-api-key", "test-key", "--notify", hook.url())
		if code != exitFail {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		goldenCLI(t, "crashloop-rootcause.md", out)
		if want := "kubewright: summary posted to " + hook.srv.Listener.Addr().String() + "\n"; !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
		if len(hook.bodies) != 1 || !strings.Contains(hook.bodies[0], "The api container exits at start because ORDERS_QUEUE_URL is not set.") {
			t.Errorf("posted %q", hook.bodies)
		}
		req := model.Requests()
		if len(req) != 1 || req[0].MaxTokens != 4000 {
			t.Fatalf("model requests %+v", req)
		}
		for _, s := range []string{"Sup3rS3cretPassw0rd", "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngOnly00000", "c0rrect-h0rse-battery-stapl3"} {
			if bytes.Contains(req[0].Body, []byte(s)) || strings.Contains(hook.bodies[0], s) || strings.Contains(out, s) {
				t.Errorf("a secret reached the model, the webhook or the output: %q", s)
			}
		}
		noWebhookSecret(t, errOut)
	})
	t.Run("notification refused", func(t *testing.T) {
		hook := newWebhook(t, http.StatusForbidden)
		t.Setenv("KUBEWRIGHT_NOTIFY_URL", hook.url())
		code, out, errOut := runCLI("diagnose", "orders", "--kubeconfig", withNS, "--repo", repo)
		if code != exitUsage || !strings.HasPrefix(out, "Diagnosis of orders in namespace shop") {
			t.Fatalf("exit %d, want %d with the report printed\n%s", code, exitUsage, out)
		}
		if !strings.Contains(errOut, "kubewright: the diagnosis was not posted: notify "+hook.srv.Listener.Addr().String()+": the webhook answered 403") {
			t.Errorf("stderr: %s", errOut)
		}
		noWebhookSecret(t, errOut)
	})
	t.Run("nothing wrong", func(t *testing.T) {
		code, out, errOut := runCLI("diagnose", "orders", "--kubeconfig", plain, "-n", "quiet", "--repo", repo)
		if code != exitOK || !strings.HasPrefix(out, "Diagnosis of orders in namespace quiet: 0 errors, 0 warnings (0 of 0 Pods failing)") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	})
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"format", []string{"--format", "yaml"}, `kubewright: --format "yaml": use text, json or markdown`},
		{"no namespace", []string{"ghost", "--kubeconfig", plain, "--repo", repo},
			"kubewright: no namespace: the kubeconfig's context sets none and the repository at " + repo + " does not place ghost in one; name it with --namespace"},
		{"no cluster", []string{"orders", "--repo", repo},
			"kubewright: no cluster to diagnose: give --kubeconfig, set KUBECONFIG, or write ~/.kube/config (in a pod, the ServiceAccount is used)"},
		{"missing kubeconfig", []string{"orders", "--kubeconfig", filepath.Join(tmp, "nope"), "--repo", repo}, "kubewright: --kubeconfig " + filepath.Join(tmp, "nope") + ": "},
		{"unknown context", []string{"orders", "--kubeconfig", plain, "--context", "prod", "--repo", repo}, `context "prod" does not exist`},
		{"plain http webhook", []string{"orders", "--kubeconfig", withNS, "--notify", "http://hooks.example.com" + webhookSecret},
			"kubewright: --notify (or KUBEWRIGHT_NOTIFY_URL): the notify URL uses plain http to hooks.example.com, which is not a loopback address: use its https URL"},
		{"llm without model", []string{"orders", "--kubeconfig", withNS, "--llm-base-url", "http://127.0.0.1:9/v1"}, "kubewright: --llm-base-url or --llm-api-key without a model: name it with --llm-model"},
		{"repo", []string{"orders", "--kubeconfig", withNS, "--repo", filepath.Join(tmp, "absent")}, "is not a directory"},
		{"two services", []string{"a", "b"}, "accepts at most 1 arg"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(append([]string{"diagnose"}, tt.args...)...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, exitUsage, tt.want)
			}
			noWebhookSecret(t, errOut)
		})
	}
}

// webhook is a Slack-compatible incoming webhook on 127.0.0.1 answering
// status.
type webhook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newWebhook(t *testing.T, status int) *webhook {
	t.Helper()
	h := &webhook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status)+" for "+r.URL.Path)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *webhook) url() string { return h.srv.URL + webhookSecret }

func noWebhookSecret(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, "xoxW3bh00kS3cr3t") {
		t.Errorf("the webhook URL shows: %s", s)
	}
}

// goldenDir is testdata/diagnose, absolute (some runs change directory).
var goldenDir string

// goldenCLI compares out with testdata/diagnose/name (-update rewrites).
func goldenCLI(t *testing.T, name, out string) {
	t.Helper()
	file := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/kubewright -run TestDiagnoseCLI -update)", err)
	}
	if string(want) != out {
		t.Errorf("%s differs (-update rewrites it); got:\n%s", file, out)
	}
}
