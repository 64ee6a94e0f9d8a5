package draft

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyDirsNeverWiden: Dirs (service directories, agents.paths) never

// open what Forbidden closes, whatever they name.

func TestApply(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		fp := filepath.Join(root, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(fp), 0o755)
		if err := os.WriteFile(fp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("svc/Dockerfile", "FROM hand-written\n")
	write("k8s/same.yaml", "same\n")
	files := []File{
		{Path: "svc/Dockerfile", Content: []byte("FROM generated\n")},
		{Path: "k8s/same.yaml", Content: []byte("same\n")},
		{Path: "k8s/new/x.yaml", Content: []byte("new\n")},
	}

	// Dry run: actions and diff, nothing written.
	res, err := Apply(root, files, ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"svc/Dockerfile": ActionKeep, "k8s/same.yaml": ActionUnchanged, "k8s/new/x.yaml": ActionCreate}
	for _, f := range res.Files {
		if want[f.Path] != f.Action {
			t.Errorf("dry run %s: %s, want %s", f.Path, f.Action, want[f.Path])
		}
	}
	if !strings.Contains(res.Diff, "+++ b/k8s/new/x.yaml") || strings.Contains(res.Diff, "svc/Dockerfile") {
		t.Errorf("diff:\n%s", res.Diff)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s/new/x.yaml")); err == nil {
		t.Error("dry run wrote a file")
	}

	// Real run keeps the hand-written Dockerfile.
	if _, err := Apply(root, files, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "svc/Dockerfile")); string(b) != "FROM hand-written\n" {
		t.Errorf("existing Dockerfile overwritten without --force: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "k8s/new/x.yaml")); string(b) != "new\n" {
		t.Errorf("new file: %q", b)
	}

	// Force overwrites it.
	res, err = Apply(root, files, ApplyOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "svc/Dockerfile")); string(b) != "FROM generated\n" {
		t.Errorf("--force did not overwrite: %q", b)
	}
	if !strings.Contains(res.Diff, "-FROM hand-written") {
		t.Errorf("update diff:\n%s", res.Diff)
	}
}

func TestApplyRefusesWholeDraft(t *testing.T) {
	root := t.TempDir()
	files := []File{
		{Path: "k8s/ok.yaml", Content: []byte("ok\n")},
		{Path: "../escape/Dockerfile", Content: []byte("x")},
	}
	if _, err := Apply(root, files, ApplyOptions{}); !errors.Is(err, ErrPolicy) {
		t.Fatalf("err = %v, want a policy error", err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s/ok.yaml")); err == nil {
		t.Error("a refused draft still wrote files")
	}
}

func TestApplyRefusesSymlink(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "k8s")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	_, err := Apply(root, []File{{Path: "k8s/x.yaml", Content: []byte("x")}}, ApplyOptions{})
	if !errors.Is(err, ErrPolicy) {
		t.Fatalf("err = %v, want a policy error", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Error("wrote through a symlink")
	}
}

func TestApplySizeCap(t *testing.T) {
	_, err := Apply(t.TempDir(), []File{{Path: "k8s/big.yaml", Content: make([]byte, 2<<20)}}, ApplyOptions{})
	if !errors.Is(err, ErrPolicy) {
		t.Fatalf("err = %v, want a policy error", err)
	}
}

func TestApplyDeleteAndTotalCap(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "k8s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "k8s", "old.yaml"), []byte("kind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []File{{Path: "k8s/old.yaml", Delete: true}, {Path: "k8s/missing.yaml", Delete: true}, {Path: "k8s/new.yaml", Content: []byte("kind: Service\n")}}
	dry, err := Apply(root, files, ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s", "old.yaml")); err != nil {
		t.Fatalf("a dry run deleted the file: %v", err)
	}
	if !strings.Contains(dry.Diff, "+++ /dev/null") || len(dry.Files) != 2 || dry.Files[0].Action != ActionDelete {
		t.Fatalf("dry run: %+v\n%s", dry.Files, dry.Diff)
	}
	if _, err := Apply(root, files, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s", "old.yaml")); !os.IsNotExist(err) {
		t.Fatalf("old.yaml still there: %v", err)
	}
	big := []File{{Path: "k8s/a.yaml", Content: make([]byte, 600)}, {Path: "k8s/b.yaml", Content: make([]byte, 600)}}
	if _, err := Apply(root, big, ApplyOptions{Policy: Policy{MaxTotalBytes: 1000}}); !errors.Is(err, ErrPolicy) {
		t.Fatalf("over the total cap: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s", "a.yaml")); !os.IsNotExist(err) {
		t.Fatal("a refused change wrote a file")
	}
}
