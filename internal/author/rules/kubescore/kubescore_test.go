package kubescore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinaryMissingSaysHowToInstall(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "internal", "x")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env, want string
	}{
		{"", "run `make test`"},
		{filepath.Join(root, "nope"), "KUBE_SCORE=" + filepath.Join(root, "nope")},
	} {
		t.Setenv("KUBE_SCORE", tc.env)
		_, err := Binary(sub)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("KUBE_SCORE=%q: got %v, want an error containing %q", tc.env, err, tc.want)
		}
	}
	bin := filepath.Join(root, ".cache", "bin", "kube-score")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBE_SCORE", "")
	if got, err := Binary(sub); err != nil || got != bin {
		t.Errorf("got %q, %v; want %s", got, err, bin)
	}
}
