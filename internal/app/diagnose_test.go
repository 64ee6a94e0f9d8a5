package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubewright/kubewright/internal/llm"
)

// writeKubeconfig writes a kubeconfig with two contexts on a server that
// is never reached: "with-ns" (namespace shop, the current one) and
// "bare".
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "not-a-real-token"}
	cfg.Contexts["with-ns"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: "shop"}
	cfg.Contexts["bare"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "with-ns"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// The namespace of the context is the kubeconfig's current one's, or the
// named context's.
func TestDiagnoseKubeconfigNamespace(t *testing.T) {
	kc := writeKubeconfig(t)
	for _, tt := range []struct{ context, want string }{{"", "shop"}, {"with-ns", "shop"}, {"bare", ""}} {
		cfg, ns, err := kubectlConfig(kc, tt.context)
		if err != nil {
			t.Fatal(err)
		}
		if ns != tt.want || cfg.Host != "https://127.0.0.1:1" || cfg.QPS != 20 {
			t.Errorf("context %q: namespace %q host %s qps %v, want %q", tt.context, ns, cfg.Host, cfg.QPS, tt.want)
		}
	}
}

// Settings that cannot work are refused before the cluster is asked
// anything, each naming the flag to fix.
func TestDiagnoseSettingErrors(t *testing.T) {
	kc := writeKubeconfig(t)
	repo := t.TempDir()
	for _, dir := range []string{"a", "b"} {
		p := filepath.Join(repo, "k8s", dir, "deployment.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: " + dir + "-ns\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:1.0.0\n"
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	for _, tt := range []struct {
		name string
		s    DiagnoseSettings
		want string
	}{
		{"two namespaces in the repository", DiagnoseSettings{Service: "web", Kubeconfig: kc, Context: "bare", Repo: repo},
			"the repository puts web in namespaces a-ns, b-ns: name the one to diagnose with --namespace"},
		{"no namespace at all", DiagnoseSettings{Kubeconfig: kc, Context: "bare", Repo: repo},
			"no namespace: the kubeconfig's context sets none; name it with --namespace"},
		{"model from the environment, malformed", DiagnoseSettings{Kubeconfig: kc, Repo: repo, Getenv: env(map[string]string{llm.EnvModel: "m", llm.EnvResponseFormat: "xml"})},
			`response format "xml" is unknown`},
		{"webhook secret in a bad URL", DiagnoseSettings{Kubeconfig: kc, Repo: repo, Getenv: env(map[string]string{EnvNotifyURL: "ftp://hooks.example.com/services/T/B/s3cr3tp4th"})},
			`--notify (or KUBEWRIGHT_NOTIFY_URL): the notify URL's scheme "ftp" is not https`},
		{"unknown context", DiagnoseSettings{Kubeconfig: kc, Context: "prod", Repo: repo}, `context "prod" does not exist`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s.Getenv == nil {
				tt.s.Getenv = env(nil)
			}
			_, err := Diagnose(context.Background(), tt.s)
			if !IsSettingError(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a setting error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3tp4th") {
				t.Errorf("the error shows the webhook URL: %v", err)
			}
		})
	}
}
