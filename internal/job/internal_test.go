package job

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/kubewright/kubewright/internal/draft"
)

// A fix is written inside the work tree and never through a symbolic
// link, which a pull request's head may point at its workflows.
func TestWriteFilesRefusesLinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
		link bool // refused for the link
	}{
		{"a plain file", "k8s/cart/deployment.yaml", false},
		{"a new directory", "k8s/orders/deployment.yaml", false},
		{"a file that is a link", "k8s/cart/service.yaml", true},
		{"a file under a linked directory", "k8s/linked/deployment.yaml", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(os.MkdirAll(filepath.Join(dir, "k8s", "cart"), 0o755))
			must(os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755))
			must(os.WriteFile(filepath.Join(dir, "k8s", "cart", "deployment.yaml"), []byte("kind: Deployment\n"), 0o644))
			must(os.WriteFile(filepath.Join(dir, ".github", "workflows", "ci.yml"), []byte("on: push\n"), 0o644))
			must(os.Symlink("../../.github/workflows/ci.yml", filepath.Join(dir, "k8s", "cart", "service.yaml")))
			must(os.Symlink("../.github/workflows", filepath.Join(dir, "k8s", "linked")))

			err := writeFiles(dir, []draft.File{{Path: tc.path, Content: []byte("kind: Service\n")}})
			if got := errors.Is(err, errThroughLink); got != tc.link || !tc.link && err != nil {
				t.Fatalf("err = %v, want a link refusal: %v", err, tc.link)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, ".github", "workflows", "ci.yml")); string(b) != "on: push\n" {
				t.Errorf("the workflow was written through the link: %q", b)
			}
			if !tc.link {
				if b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(tc.path))); string(b) != "kind: Service\n" {
					t.Errorf("%s = %q", tc.path, b)
				}
			}
		})
	}
}

// Pull request titles from free text keep whole characters.
func TestTitle(t *testing.T) {
	long := "ändere den Speicher von order-service auf 512Mi und skaliere ihn danach auf fünf Replikas bitte"
	for _, tc := range []struct{ in, want string }{
		{"  add   a redis cache ", "Add a redis cache"},
		{"élargir la mémoire", "Élargir la mémoire"},
		{"", "Agent change"},
		{long, "Ändere den Speicher von order-service auf 512Mi und skaliere ihn dana..."},
	} {
		got := title(tc.in)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("title(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
