package workspace

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testToken = "ghs_testtoken123"

// gitServer serves bare repositories under root over smart HTTP with real
// `git http-backend`, requiring the token as the basic-auth password.
func gitServer(t *testing.T) (url, root string) {
	t.Helper()
	root = t.TempDir()
	exe, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is required:", err)
	}
	backend := &cgi.Handler{Path: exe, Args: []string{"http-backend"}, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); !ok || pass != testToken {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, root
}

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func seedRepo(t *testing.T, root, name string) string {
	t.Helper()
	bare := filepath.Join(root, name+".git")
	run(t, root, "init", "-q", "--bare", "-b", "main", bare)
	run(t, bare, "config", "http.receivepack", "true")
	src := t.TempDir()
	run(t, src, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	run(t, src, "add", "-A")
	run(t, src, "commit", "-qm", "initial")
	run(t, src, "push", "-q", bare, "main")
	return bare
}

func TestCloneBranchCommitPush(t *testing.T) {
	url, root := gitServer(t)
	bare := seedRepo(t, root, "shop")
	ctx := context.Background()

	ws, err := Clone(ctx, url+"/shop.git", testToken, "main", CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := ws.Dir()
	defer func() {
		ws.Close()
		if _, err := os.Stat(dir); err == nil {
			t.Error("Close left the working tree behind")
		}
	}()
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		t.Fatal(err)
	}
	if err := ws.Branch("main"); !errors.Is(err, ErrProtectedBranch) {
		t.Errorf("Branch(main) = %v, want ErrProtectedBranch", err)
	}
	if err := ws.Branch("kubewright/containerize-1"); err != nil {
		t.Fatal(err)
	}
	if err := ws.Branch("kubewright/containerize-1"); err != nil {
		t.Fatalf("the branch again, at the base commit: %v", err)
	}
	// Nothing changed yet: no commit.
	if _, changed, err := ws.Commit("nothing", Signature{"kubewright[bot]", "bot@example.com"}); err != nil || changed {
		t.Fatalf("empty commit: changed=%v err=%v", changed, err)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	hash, changed, err := ws.Commit("Add Dockerfile", Signature{"kubewright[bot]", "bot@example.com"}, Signature{"octocat", "octocat@example.com"})
	if err != nil || !changed {
		t.Fatalf("commit: %v %v", changed, err)
	}
	if err := ws.Push(ctx, "main"); !errors.Is(err, ErrProtectedBranch) {
		t.Errorf("Push(main) = %v, want ErrProtectedBranch", err)
	}
	if err := ws.Push(ctx, "kubewright/containerize-1"); err != nil {
		t.Fatal(err)
	}
	if got := run(t, bare, "rev-parse", "refs/heads/kubewright/containerize-1"); got != hash {
		t.Errorf("remote branch at %s, want %s", got, hash)
	}
	msg := run(t, bare, "log", "-1", "--format=%an <%ae>%n%B", "kubewright/containerize-1")
	if !strings.Contains(msg, "kubewright[bot] <bot@example.com>") || !strings.Contains(msg, "Co-authored-by: octocat <octocat@example.com>") {
		t.Errorf("commit message:\n%s", msg)
	}
	if got := run(t, bare, "rev-parse", "refs/heads/main"); got == hash {
		t.Error("main moved")
	}

	// A second run rebuilds the branch from main and force-updates it.
	ws2, err := Clone(ctx, url+"/shop.git", testToken, "main", CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	ws2.Branch("kubewright/containerize-1")
	os.WriteFile(filepath.Join(ws2.Dir(), "Dockerfile"), []byte("FROM scratch\nUSER 65532\n"), 0o644)
	hash2, _, err := ws2.Commit("Add Dockerfile", Signature{"kubewright[bot]", "bot@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws2.Push(ctx, "kubewright/containerize-1"); err != nil {
		t.Fatal(err)
	}
	if got := run(t, bare, "rev-parse", "refs/heads/kubewright/containerize-1"); got != hash2 {
		t.Errorf("branch not updated: %s", got)
	}
}

func TestCloneBadTokenDoesNotLeakIt(t *testing.T) {
	url, root := gitServer(t)
	seedRepo(t, root, "shop")
	_, err := Clone(context.Background(), url+"/shop.git", "ghs_wrong_secret_value", "main", CloneOptions{})
	if err == nil {
		t.Fatal("clone with a bad token succeeded")
	}
	if strings.Contains(err.Error(), "ghs_wrong_secret_value") {
		t.Errorf("error leaks the token: %v", err)
	}
}

// seedLarge pushes a repository with files many files of size bytes each.
func seedLarge(t *testing.T, root, name string, files, size int) {
	t.Helper()
	bare := filepath.Join(root, name+".git")
	run(t, root, "init", "-q", "--bare", "-b", "main", bare)
	src := t.TempDir()
	run(t, src, "init", "-q", "-b", "main")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7919%251) ^ byte(i>>8) // poorly compressible
	}
	for i := range files {
		data[0] = byte(i)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d.bin", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, src, "add", "-A")
	run(t, src, "commit", "-qm", "initial")
	run(t, src, "push", "-q", bare, "main")
}

// TestCloneCaps: a clone that writes more bytes or files than its caps
// stops with ErrTooLarge and a message giving the sizes, and leaves
// nothing behind under its root; within the caps it succeeds there.
func TestCloneCaps(t *testing.T) {
	url, root := gitServer(t)
	seedLarge(t, root, "big", 3, 1<<20) // 3 MB of blobs
	seedLarge(t, root, "many", 40, 64)  // 40 small files
	tests := []struct {
		name, repo string
		opts       CloneOptions
		want       string // "" for success
	}{
		{"bytes", "big", CloneOptions{MaxBytes: 2 << 20}, "MB > 2 MB on disk"},
		{"files", "many", CloneOptions{MaxFiles: 20}, "more than 20 files"},
		{"big within caps", "big", CloneOptions{MaxBytes: 64 << 20}, ""},
		{"many within caps", "many", CloneOptions{MaxFiles: 100}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			tt.opts.Root = work
			ws, err := Clone(context.Background(), url+"/"+tt.repo+".git", testToken, "main", tt.opts)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer ws.Close()
				if filepath.Dir(ws.Dir()) != work || !strings.HasPrefix(filepath.Base(ws.Dir()), DirPrefix) {
					t.Errorf("workspace %s is not a %s* directory of %s", ws.Dir(), DirPrefix, work)
				}
				// The caps bound the clone only: committing afterwards works.
				os.WriteFile(filepath.Join(ws.Dir(), "Dockerfile"), []byte("FROM scratch\n"), 0o644)
				if _, changed, err := ws.Commit("more", Signature{"kubewright[bot]", "bot@example.com"}); err != nil || !changed {
					t.Errorf("commit after clone: changed=%v err=%v", changed, err)
				}
				return
			}
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "repository too large for kubewright") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrTooLarge with %q", err, tt.want)
			}
			if left, _ := os.ReadDir(work); len(left) != 0 {
				t.Errorf("the failed clone left %d entries in its root", len(left))
			}
		})
	}
}

// TestSweep: workspaces older than the cutoff are removed; newer ones and
// other entries of the root stay.
func TestSweep(t *testing.T) {
	root := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Join(p, "src"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, "src", "main.go"), []byte("package main\n"), 0o644)
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk(DirPrefix+"111", old)
	fresh := mk(DirPrefix+"222", time.Now())
	other := mk("queue-data", old)
	n, err := Sweep(root, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 removed", n, err)
	}
	for p, want := range map[string]bool{stale: false, fresh: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if _, err := Sweep(filepath.Join(root, "missing"), time.Hour); err == nil {
		t.Error("sweeping a missing root should fail")
	}
}
