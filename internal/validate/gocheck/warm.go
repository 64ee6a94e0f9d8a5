package gocheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
)

// goWarmMain and goWarmTest make a module that compiles, vets and tests
// the standard packages services (and their tests) use most.
const (
	goWarmMod  = "module kubewright.local/warm\n\ngo 1.21\n"
	goWarmMain = `package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	_ = bufio.NewReader
	_ = bytes.NewReader
	_ = rand.Read
	_ = sha256.New
	_ = tls.Client
	_ = sql.Open
	_ = errors.New
	_ = flag.Parse
	_ = io.Copy
	_ = log.Println
	_ = net.Dial
	_ = url.Parse
	_ = exec.Command
	_ = signal.Notify
	_ = filepath.Join
	_ = regexp.MustCompile
	_ = sort.Strings
	_ = strconv.Itoa
	_ = strings.Cut
	_ = syscall.SIGTERM
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	b, _ := json.Marshal(map[string]int{"a": 1})
	slog.InfoContext(ctx, "warm", "json", string(b))
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	fmt.Fprintln(os.Stderr, "warm")
}
`
	goWarmTest = `package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWarm(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
`
)

// WarmBuildCache fills dir with a Go build cache for later checks to start
// from (Check.BuildCache), so that each does not compile the standard
// library anew. It checks, in the sandbox and with c's settings, a module
// of kubewright's own that uses the standard packages services use most,
// then each of the trusted module directories (kubewright's own fixtures:
// never code from a repository or a model, whose build could leave
// anything in the cache), and copies what their builds cached into dir.
// dir is kubewright's; sandboxes only ever see copies or links of it that
// they cannot write. The work is done once: a marker file in dir records
// it, and a lock keeps processes that warm the same dir side by side from
// doing it twice.
func (c Check) WarmBuildCache(ctx context.Context, dir string, trusted ...string) error {
	env, err := c.env()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("build cache %s: %w", dir, err)
	}
	marker := filepath.Join(dir, ".kubewright-warmed")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".kubewright-lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("build cache %s: %w", dir, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock the build cache %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := c.warm(ctx, env, dir, trusted); err != nil {
		return err
	}
	return os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

func (c Check) warm(ctx context.Context, env goEnv, dir string, trusted []string) error {
	repo, err := os.MkdirTemp("", "kubewright-warm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(repo)
	mods := []string{"warm"}
	for name, content := range map[string]string{"go.mod": goWarmMod, "main.go": goWarmMain, "main_test.go": goWarmTest} {
		if err := os.MkdirAll(filepath.Join(repo, "warm"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(repo, "warm", name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for i, src := range trusted {
		name := fmt.Sprintf("trusted%d", i)
		if err := os.CopyFS(filepath.Join(repo, name), os.DirFS(src)); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		mods = append(mods, name)
	}
	keep := func(gocache string) error { return goMergeCache(gocache, dir) }
	for _, m := range mods {
		if fs := c.checkModule(ctx, repo, env, m, keep); finding.AtLeast(fs, finding.Warning) > 0 {
			var errs []error
			for _, f := range fs {
				errs = append(errs, errors.New(f.String()))
			}
			return fmt.Errorf("warm the build cache with %s: %w", m, errors.Join(errs...))
		}
		c.BuildCache = dir // later modules start from what earlier ones built
	}
	return nil
}

// goMergeCache copies the entries of a module's build cache that dir does
// not have into dir, as kubewright's files (each written whole, then
// renamed, so concurrent warmers and readers see complete files).
func goMergeCache(from, dir string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || rel == "trim.txt" || rel == "README" || strings.HasPrefix(d.Name(), ".kubewright-") {
			return nil
		}
		if _, err := os.Lstat(target); err == nil {
			return nil
		}
		tmp := target + ".kubewright-tmp"
		if err := goCopyFile(p, tmp, 0o644); err != nil {
			os.Remove(tmp)
			if errors.Is(err, fs.ErrExist) {
				return nil // another warmer is writing it
			}
			return err
		}
		return os.Rename(tmp, target)
	})
}
