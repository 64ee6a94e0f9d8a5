package draft

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		abs := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(abs, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// summary is a change as "path action" pairs, for comparisons.
func summary(files []File) []string {
	var out []string
	for _, f := range files {
		what := "write " + string(f.Content)
		if f.Delete {
			what = "delete"
		}
		out = append(out, f.Path+" "+what+" ["+f.Part+"]")
	}
	return out
}

// TestStage: the copy leaves out build output and symlinks, never writes
// the repository, reads back what changed (writes and deletions), and
// restores an earlier change exactly.
func TestStage(t *testing.T) {
	root := filepath.Join(t.TempDir(), "shop")
	writeTree(t, root, map[string]string{
		"svc/main.go":           "package main\n",
		"svc/Dockerfile":        "FROM hand-written\n",
		"k8s/old.yaml":          "kind: ConfigMap\n",
		"node_modules/x/a.js":   "big\n",
		"svc/target/app.jar":    "binary\n",
		".git/HEAD":             "ref: refs/heads/main\n",
		"gitops/apps/base/k.md": "x\n",
	})
	if err := os.Symlink("/etc", filepath.Join(root, "k8s", "link")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	st, err := NewStage(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if filepath.Base(st.Dir()) != "shop" || st.Root() != root {
		t.Errorf("stage %s of %s: the copy must keep the repository's name", st.Dir(), st.Root())
	}
	for _, p := range []string{"node_modules", "svc/target", ".git", "k8s/link"} {
		if _, err := os.Lstat(filepath.Join(st.Dir(), p)); err == nil {
			t.Errorf("%s was copied", p)
		}
	}
	// Build output in a directory the copy left out is no change.
	writeTree(t, st.Dir(), map[string]string{"svc/target/app.jar": "rebuilt\n"})
	if c, ok := st.Read("svc/main.go"); !ok || c != "package main\n" {
		t.Errorf("Read(svc/main.go) = %q, %v", c, ok)
	}
	if changes, err := st.Changes(); err != nil || len(changes) != 0 {
		t.Fatalf("a fresh copy has changes %v (%v)", summary(changes), err)
	}

	first := []File{{Path: "k8s/new.yaml", Content: []byte("kind: Service\n")}, {Path: "svc/Dockerfile", Content: []byte("FROM generated\n")},
		{Path: "k8s/build/deployment.yaml", Content: []byte("kind: Deployment\n")}}
	if _, err := Apply(st.Dir(), first, ApplyOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	valid, err := st.Changes()
	if err != nil {
		t.Fatal(err)
	}
	// k8s/build/ is a service's directory the draft created, not build
	// output the copy left out.
	want := []string{"k8s/build/deployment.yaml write kind: Deployment\n [k8s]", "k8s/new.yaml write kind: Service\n [k8s]", "svc/Dockerfile write FROM generated\n [dockerfile]"}
	if got := summary(valid); !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}

	second := []File{{Path: "k8s/old.yaml", Delete: true}, {Path: "svc/main.go", Content: []byte("package broken\n")}}
	if _, err := Apply(st.Dir(), second, ApplyOptions{Force: true, Policy: Policy{Dirs: []string{"svc"}}}); err != nil {
		t.Fatal(err)
	}
	changes, err := st.Changes()
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"k8s/build/deployment.yaml write kind: Deployment\n [k8s]", "k8s/new.yaml write kind: Service\n [k8s]", "k8s/old.yaml delete [k8s]", "svc/Dockerfile write FROM generated\n [dockerfile]", "svc/main.go write package broken\n []"}
	if got := summary(changes); !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}

	if err := st.Restore(valid); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Changes(); err != nil || !reflect.DeepEqual(summary(got), summary(valid)) {
		t.Errorf("after Restore: %q (%v), want %q", summary(got), err, summary(valid))
	}
	if b, _ := os.ReadFile(filepath.Join(root, "svc", "Dockerfile")); string(b) != "FROM hand-written\n" {
		t.Errorf("the repository was written: %q", b)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.Dir()); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", st.Dir(), err)
	}
}

func TestPartOf(t *testing.T) {
	for p, want := range map[string]string{
		"k8s/a/deployment.yaml": PartK8s, "gitops/apps/x.yaml": PartGitops, "svc/Dockerfile": PartDockerfile,
		"Dockerfile.dev": PartDockerfile, "svc/.dockerignore": PartDockerfile, "svc/main.go": "", "k8sx/a.yaml": "",
	} {
		if got := PartOf(p); got != want {
			t.Errorf("PartOf(%q) = %q, want %q", p, got, want)
		}
	}
}
