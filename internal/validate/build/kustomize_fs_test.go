package build

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

// TestRepoFS: krusty's filesystem maps "/" to the repository and cannot
// be made to read anything else, or to write.
func TestRepoFS(t *testing.T) {
	outside := t.TempDir()
	validatetest.WriteTree(t, outside, map[string]string{"secret.yaml": "kind: Secret\n"})
	dir := t.TempDir()
	validatetest.WriteTree(t, dir, map[string]string{
		"k8s/kustomization.yaml":        kustHead + "resources:\n  - cm.yaml\n",
		"k8s/cm.yaml":                   configMap,
		"k8s/bomb.yaml":                 validatetest.AliasBomb,
		"k8s/data.bin":                  "\x00\x01 binary",
		"k8s/stars.txt":                 "*&\x00\x01",
		"k8s/remote/kustomization.yaml": kustHead + "resources:\n  - http://127.0.0.1:1/x\n",
		"k8s/gen.yaml":                  "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: g\nfiles:\n  - https://x/y\n",
		".git/config":                   "[core]\n",
	})
	for link, target := range map[string]string{
		"k8s/in.yaml":      "cm.yaml",
		"k8s/out.yaml":     filepath.Join(outside, "secret.yaml"),
		"k8s/up.yaml":      "../../" + filepath.Base(outside) + "/secret.yaml",
		"k8s/outdir":       outside,
		"k8s/loop.yaml":    "loop.yaml",
		"k8s/devzero.yaml": "/dev/zero",
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "k8s", "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	t.Run("reads", func(t *testing.T) {
		tests := []struct {
			path    string
			data    bool // a generator data file
			ok      bool
			refused string // the refusal's ID, when refused
		}{
			{path: "/k8s/cm.yaml", ok: true},
			{path: "k8s/cm.yaml", ok: true},
			{path: "/k8s/in.yaml", ok: true},
			{path: "/../../k8s/cm.yaml", ok: true},      // ".." stops at the repository root
			{path: "/k8s/data.bin", ok: true},           // not YAML, no way to expand
			{path: "/k8s/stars.txt", refused: idUnsafe}, // not YAML, with a "*": refused unless data
			{path: "/k8s/stars.txt", data: true, ok: true},
			{path: "/k8s/kustomization.yaml", ok: true},
			{path: "/etc/passwd"},
			{path: "/k8s/out.yaml", refused: idEscape},
			{path: "/k8s/up.yaml", refused: idEscape},
			{path: "/k8s/outdir/secret.yaml", refused: idEscape},
			{path: "/k8s/devzero.yaml", refused: idEscape},
			{path: "/k8s/loop.yaml"},
			{path: "/k8s/fifo.yaml", refused: idUnsafe},
			{path: "/k8s/bomb.yaml", refused: idUnsafe},
			{path: "/k8s/remote/kustomization.yaml", refused: idRemote},
			{path: "/k8s/gen.yaml", refused: idRemote},
			{path: "/.git/config"},
		}
		for _, tt := range tests {
			rfs := newRepoFS(root, defaultBuildBytes)
			if tt.data {
				rfs.data[strings.TrimPrefix(tt.path, "/")] = true
			}
			_, err := rfs.ReadFile(tt.path)
			if tt.ok != (err == nil) {
				t.Errorf("ReadFile(%s) = %v, want ok=%v", tt.path, err, tt.ok)
			}
			ref, refused := rfs.firstRefusal()
			if (tt.refused != "") != refused || refused && ref.id != tt.refused {
				t.Errorf("ReadFile(%s): refusal %+v (%v), want %q", tt.path, ref, refused, tt.refused)
			}
			if err != nil && strings.Contains(err.Error(), "kind: Secret") {
				t.Errorf("ReadFile(%s) error quotes content: %v", tt.path, err)
			}
		}
	})

	t.Run("paths", func(t *testing.T) {
		rfs := newRepoFS(root, defaultBuildBytes)
		d, f, err := rfs.CleanedAbs("/k8s/in.yaml")
		if err != nil || d != filesys.ConfirmedDir("/k8s") || f != "cm.yaml" {
			t.Errorf("CleanedAbs(in.yaml) = %q, %q, %v; want the link's target", d, f, err)
		}
		if d, f, err := rfs.CleanedAbs("/"); err != nil || d != "/" || f != "" {
			t.Errorf("CleanedAbs(/) = %q, %q, %v", d, f, err)
		}
		if _, _, err := rfs.CleanedAbs("/k8s/outdir"); err == nil {
			t.Error("CleanedAbs of a symlinked directory outside succeeded")
		}
		if !rfs.IsDir("/k8s") || rfs.IsDir("/k8s/outdir") || !rfs.Exists("/k8s/cm.yaml") || rfs.Exists("/.git/config") {
			t.Error("IsDir/Exists disagree with the repository")
		}
		names, err := rfs.ReadDir("/k8s")
		if err != nil || len(names) == 0 {
			t.Errorf("ReadDir = %v, %v", names, err)
		}
		var walked []string
		if err := rfs.Walk("/", func(p string, _ fs.FileInfo, err error) error {
			walked = append(walked, p)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, p := range walked {
			if strings.Contains(p, ".git") || strings.HasPrefix(p, outside) {
				t.Errorf("Walk visited %s", p)
			}
		}
	})

	t.Run("read-only", func(t *testing.T) {
		rfs := newRepoFS(root, defaultBuildBytes)
		for name, err := range map[string]error{
			"WriteFile": rfs.WriteFile("/k8s/x.yaml", []byte("x")),
			"Mkdir":     rfs.Mkdir("/k8s/d"),
			"MkdirAll":  rfs.MkdirAll("/k8s/d/e"),
			"RemoveAll": rfs.RemoveAll("/k8s"),
		} {
			if !errors.Is(err, errReadOnly) {
				t.Errorf("%s = %v, want errReadOnly", name, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "k8s", "cm.yaml")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("budget", func(t *testing.T) {
		rfs := newRepoFS(root, int64(len(configMap))*2)
		for i := 0; i < 2; i++ {
			if _, err := rfs.ReadFile("/k8s/cm.yaml"); err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
		}
		if _, err := rfs.ReadFile("/k8s/cm.yaml"); !errors.Is(err, errBudget) {
			t.Fatalf("third read = %v, want errBudget", err)
		}
		if ref, _ := rfs.firstRefusal(); ref.id != idBudget {
			t.Errorf("refusal = %+v, want %s", ref, idBudget)
		}
	})
}
