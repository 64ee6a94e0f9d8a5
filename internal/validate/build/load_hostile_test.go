package build

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

// heapWatch samples the live heap every 2 ms from start to stop and keeps
// the peak above the heap at start. Past abort it ends the test process:
// a loader without its protections would otherwise take the machine with
// it (the anchor bomb reached 2.3 GB).
type heapWatch struct {
	base, peak uint64
	stopc      chan struct{}
	done       sync.WaitGroup
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func watchHeap(name string, abort uint64) *heapWatch {
	runtime.GC()
	w := &heapWatch{base: liveHeap(), stopc: make(chan struct{})}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if h := liveHeap(); h > w.base && h-w.base > w.peak {
				w.peak = h - w.base
				if w.peak > abort {
					fmt.Fprintf(os.Stderr, "FAIL %s: heap grew by %d MiB, past %d MiB: stopping the test process\n", name, w.peak>>20, abort>>20)
					os.Exit(1)
				}
			}
			select {
			case <-w.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *heapWatch) stop() uint64 {
	close(w.stopc)
	w.done.Wait()
	return w.peak
}

const kustHead = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: shop\ndata:\n  LOG_LEVEL: info\n"

// TestLoadHostile loads repositories built to hurt the loader. Each must
// end as a finding on the right file and line within seconds, with the
// heap growing by less than 300 MiB, no request reaching the listener, no
// git process started, and no finding quoting what a reference points at.
func TestLoadHostile(t *testing.T) {
	// A git on PATH that records being run: krusty's cloner execs "git".
	bin := t.TempDir()
	gitRan := filepath.Join(bin, "git-ran")
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte("#!/bin/sh\ntouch '"+gitRan+"'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	// A listener that accepts and never answers: a fetch would hang.
	var hits atomic.Int64
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	slow := srv.URL + "/slow"

	outside := t.TempDir()
	secret := "root:x:0:0:hostile-test-marker"
	validatetest.WriteTree(t, outside, map[string]string{
		"passwd":                  secret + "\n",
		"base/kustomization.yaml": kustHead + "resources:\n  - cm.yaml\n",
		"base/cm.yaml":            strings.Replace(configMap, "LOG_LEVEL: info", "LEAK: "+secret, 1),
	})

	tests := []struct {
		name     string
		fixture  string // a case of testdata/invalid, copied
		files    map[string]string
		setup    func(t *testing.T, dir string)
		wantID   string
		wantFile string
		wantLine int
	}{
		{name: "anchor bomb", fixture: "build-anchor-bomb", wantID: idUnsafe, wantFile: "k8s/kustomization.yaml", wantLine: 5},
		{name: "file URL", fixture: "build-remote-file", wantID: idRemote, wantFile: "k8s/kustomization.yaml", wantLine: 9},
		{name: "git URL", fixture: "build-remote-git", wantID: idRemote, wantFile: "k8s/kustomization.yaml", wantLine: 5},
		{name: "escape", fixture: "build-path-escape", wantID: idEscape, wantFile: "k8s/kustomization.yaml", wantLine: 6},
		{name: "helm chart", fixture: "build-helm-chart", wantID: idHelm, wantFile: "k8s/kustomization.yaml", wantLine: 5},
		{name: "exec plugin", fixture: "build-exec-plugin", wantID: idPlugin, wantFile: "k8s/kustomization.yaml", wantLine: 6},
		{name: "slow http resource", files: map[string]string{
			"k8s/kustomization.yaml": kustHead + "resources:\n  - configmap.yaml\n  - " + slow + "\n",
			"k8s/configmap.yaml":     configMap,
		}, wantID: idRemote, wantFile: "k8s/kustomization.yaml", wantLine: 5},
		{name: "slow http generator file", files: map[string]string{
			"k8s/kustomization.yaml": kustHead + "configMapGenerator:\n  - name: x\n    files:\n      - " + slow + "\n",
		}, wantID: idRemote, wantFile: "k8s/kustomization.yaml", wantLine: 6},
		{name: "slow http behind a Flux generated root", files: map[string]string{
			"clusters/prod/apps.yaml":            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
			"apps/web/vendor/kustomization.yaml": kustHead + "resources:\n  - " + slow + "\n",
			"apps/web/kustomization.yaml":        kustHead + "resources:\n  - vendor\n",
		}, wantID: idRemote, wantFile: "apps/web/vendor/kustomization.yaml", wantLine: 4},
		{name: "30 MB data file", files: map[string]string{
			"k8s/kustomization.yaml": kustHead + "resources:\n  - configmap.yaml\nconfigMapGenerator:\n  - name: catalog\n    namespace: shop\n    files:\n      - catalog.json\n",
			"k8s/configmap.yaml":     configMap,
		}, setup: func(t *testing.T, dir string) {
			big := strings.Repeat(`{"sku": "A-1", "kind": "shoe", "price": 10},`+"\n", 30<<20/45)
			validatetest.WriteTree(t, dir, map[string]string{"k8s/catalog.json": "[" + big + "{}]\n"})
		}, wantID: idUnsafe, wantFile: "k8s/kustomization.yaml", wantLine: 9},
		{name: "30 MB manifest", files: map[string]string{
			"k8s/kustomization.yaml": kustHead + "resources:\n  - configmap.yaml\n  - big.yaml\n",
			"k8s/configmap.yaml":     configMap,
		}, setup: func(t *testing.T, dir string) {
			var b strings.Builder
			b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n")
			for i := 0; b.Len() < 30<<20; i++ {
				fmt.Fprintf(&b, "  k%d: value number %d\n", i, i)
			}
			validatetest.WriteTree(t, dir, map[string]string{"k8s/big.yaml": b.String()})
		}, wantID: idUnsafe, wantFile: "k8s/kustomization.yaml", wantLine: 5},
		{name: "symlink to a host file", files: map[string]string{
			"k8s/kustomization.yaml": kustHead + "resources:\n  - configmap.yaml\nconfigMapGenerator:\n  - name: users\n    files:\n      - users.txt\n",
			"k8s/configmap.yaml":     configMap,
		}, setup: func(t *testing.T, dir string) {
			if err := os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(dir, "k8s", "users.txt")); err != nil {
				t.Fatal(err)
			}
		}, wantID: idEscape, wantFile: "k8s/kustomization.yaml", wantLine: 8},
		{name: "symlinked base outside", files: map[string]string{
			"k8s/kustomization.yaml": kustHead + "resources:\n  - configmap.yaml\n  - shared\n",
			"k8s/configmap.yaml":     configMap,
		}, setup: func(t *testing.T, dir string) {
			if err := os.Symlink(filepath.Join(outside, "base"), filepath.Join(dir, "k8s", "shared")); err != nil {
				t.Fatal(err)
			}
		}, wantID: idEscape, wantFile: "k8s/kustomization.yaml", wantLine: 5},
		{name: "device", files: map[string]string{
			"k8s/kustomization.yaml": kustHead + "resources:\n  - configmap.yaml\n  - zero.yaml\n",
			"k8s/configmap.yaml":     configMap,
		}, setup: func(t *testing.T, dir string) {
			if err := os.Symlink("/dev/zero", filepath.Join(dir, "k8s", "zero.yaml")); err != nil {
				t.Fatal(err)
			}
		}, wantID: idEscape, wantFile: "k8s/kustomization.yaml", wantLine: 5},
		{name: "git metadata", files: map[string]string{
			"kustomization.yaml": kustHead + "configMapGenerator:\n  - name: git\n    files:\n      - .git/config\n",
			".git/config":        "[remote \"origin\"]\n\turl = https://x-access-token:" + secret + "@github.com/acme/shop\n",
		}, wantID: idEscape, wantFile: "kustomization.yaml", wantLine: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			if tt.fixture != "" {
				if out, err := exec.Command("cp", "-R", filepath.Join("..", "..", "..", "testdata", "invalid", tt.fixture), dir).CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			validatetest.WriteTree(t, dir, tt.files)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			w := watchHeap(t.Name(), 1<<30)
			start := time.Now()
			_, fs, err := LoadWith(ctx, dir, LoadOptions{BuildTimeout: 10 * time.Second})
			elapsed, peak := time.Since(start), w.stop()
			if err != nil {
				t.Fatalf("LoadWith: %v", err)
			}
			t.Logf("%s: %d findings in %s, heap +%d MiB", tt.name, len(fs), elapsed.Round(time.Millisecond), peak>>20)
			found := false
			for _, f := range fs {
				t.Logf("  %s (hint: %s)", f, f.Hint)
				if f.ID == tt.wantID && f.File == tt.wantFile && f.Line == tt.wantLine {
					found = true
				}
				if strings.Contains(f.Message+f.Hint, "hostile-test-marker") || strings.Contains(f.Message, `"lol"`) {
					t.Errorf("finding carries loaded content: %s", f)
				}
			}
			if !found {
				t.Errorf("no %s at %s:%d; findings:\n%v", tt.wantID, tt.wantFile, tt.wantLine, fs)
			}
			if elapsed > 10*time.Second {
				t.Errorf("took %s, want a few seconds at most", elapsed)
			}
			if peak > 300<<20 {
				t.Errorf("heap grew by %d MiB, want < 300 MiB", peak>>20)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the listener; the loader must never fetch", n)
	}
	if _, err := os.Stat(gitRan); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("git was run (%v); the loader must never clone", err)
	}
}

// TestLoadDeadline: a build that overruns its deadline becomes a finding
// and Load returns; a cancelled context ends Load promptly.
func TestLoadDeadline(t *testing.T) {
	dir := t.TempDir()
	validatetest.WriteTree(t, dir, map[string]string{
		"k8s/kustomization.yaml": kustHead + "resources:\n  - configmap.yaml\n",
		"k8s/configmap.yaml":     configMap,
	})
	t.Run("deadline", func(t *testing.T) {
		start := time.Now()
		_, fs, err := LoadWith(context.Background(), dir, LoadOptions{BuildTimeout: 200 * time.Millisecond, readDelay: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 || fs[0].ID != idDeadline || fs[0].File != "k8s/kustomization.yaml" {
			t.Fatalf("findings = %v, want one %s on k8s/kustomization.yaml", fs, idDeadline)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Load took %s with a 200ms build deadline", d)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := LoadWith(ctx, dir, LoadOptions{readDelay: 3 * time.Second})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the context's", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Load took %s after its context ended at 200ms", d)
		}
	})
	t.Run("in time", func(t *testing.T) {
		in, fs, err := LoadWith(context.Background(), dir, LoadOptions{BuildTimeout: 20 * time.Second})
		if err != nil || len(fs) != 0 || len(in.Objects) != 1 {
			t.Fatalf("LoadWith = %d objects, %v, %v; want the ConfigMap", len(in.Objects), fs, err)
		}
	})
}
