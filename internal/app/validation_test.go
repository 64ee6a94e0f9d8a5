package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/dryrun"
	"github.com/kubewright/kubewright/internal/validate/gocheck/gochecktest"
)

// TestNewValidationSettings: a missing or malformed setting fails
// construction with a message naming it (as the user set it) and the fix.
func TestNewValidationSettings(t *testing.T) {
	t.Setenv(dryrun.AssetsEnv, "")
	serve := SettingNames{CRDs: "--crds / KUBEWRIGHT_CRDS", Assets: "--assets / KUBEWRIGHT_ASSETS", GoProxy: "--go-proxy / KUBEWRIGHT_GOPROXY"}
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name string
		s    ValidationSettings
		want string // "" = no error
	}{
		{"nothing set", ValidationSettings{}, ""},
		{"no dry-run", ValidationSettings{NoDryRun: true, Assets: missing}, ""},
		{"required but off", ValidationSettings{NoDryRun: true, RequireDryRun: true}, "--no-dry-run skips the dry-run that --require dry-run (or validate.require in .github/kubewright.yaml) makes mandatory: drop one of them"},
		{"both modes", ValidationSettings{Ephemeral: true, Kubeconfig: "x"}, "--ephemeral and --kubeconfig exclude each other"},
		{"missing crds", ValidationSettings{CRDs: []string{missing}}, "--crds: "},
		{"missing crds serve", ValidationSettings{CRDs: []string{missing}, Names: serve}, "--crds / KUBEWRIGHT_CRDS: "},
		{"missing assets", ValidationSettings{Assets: missing}, "no kube-apiserver and etcd in " + missing + ": build them with `make testenv` (they land in .cache/kube-assets) and pass that directory to --assets"},
		{"missing assets serve", ValidationSettings{Assets: missing, Names: serve}, "pass that directory to --assets / KUBEWRIGHT_ASSETS"},
		{"required, none", ValidationSettings{RequireDryRun: true}, "the dry-run is required but no kube-apiserver was found: run `make install` in a kubewright checkout (it puts kube-apiserver and etcd beside kubewright; the container image has them built in); or pass --assets DIR (or set KUBEBUILDER_ASSETS), or dry-run against a cluster with --kubeconfig"},
		{"ephemeral, none", ValidationSettings{Ephemeral: true}, "the dry-run is required but no kube-apiserver was found"},
		{"missing kubeconfig", ValidationSettings{Kubeconfig: missing}, "kubeconfig " + missing + ": "},
		{"bad go proxy", ValidationSettings{GoProxy: "direct"}, "--go-proxy: "},
		{"bad go proxy serve", ValidationSettings{GoProxy: "direct", Names: serve}, "--go-proxy / KUBEWRIGHT_GOPROXY: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewValidation(context.Background(), tt.s)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewValidation: %v", err)
				}
				if err := v.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				v.Close()
				t.Fatalf("NewValidation succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestValidationDryRunWiring: the CLI gets one server for the process,
// serve one per job from a pool; without binaries the stage is skipped.
func TestValidationDryRunWiring(t *testing.T) {
	assets, err := dryrun.FindAssets("")
	if err != nil {
		t.Fatalf("%v (set KUBEBUILDER_ASSETS)", err)
	}
	for _, perJob := range []bool{false, true} {
		v, err := NewValidation(context.Background(), ValidationSettings{Assets: assets, PerJob: perJob})
		if err != nil {
			t.Fatal(err)
		}
		if (v.pool != nil) != perJob || (v.eph != nil) == perJob || v.Options().DryRun == nil {
			t.Errorf("PerJob=%v: pool %v, ephemeral %v, dry-run %v", perJob, v.pool != nil, v.eph != nil, v.Options().DryRun != nil)
		}
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(dryrun.AssetsEnv, "")
	v, err := NewValidation(context.Background(), ValidationSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Options().DryRun != nil || v.pool != nil || v.eph != nil {
		t.Error("a dry-run was wired without kube-apiserver binaries")
	}
}

// tamperTest is a generated module's test that tries to change every file
// of its build cache (some of them the seed's) and reports how it fared
// by failing on purpose.
const tamperTest = `package svc

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestTamper(t *testing.T) {
	var files, changed int
	filepath.WalkDir(os.Getenv("GOCACHE"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		files++
		ok := false
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			_, werr := f.Write([]byte("poison"))
			ok = ok || werr == nil
			f.Close()
		}
		ok = os.Chmod(p, 0o666) == nil || ok
		ok = os.Truncate(p, 1) == nil || ok
		if ok {
			changed++
		}
		return nil
	})
	t.Fatal(fmt.Sprintf("TAMPER files=%d changed=%d", files, changed))
}
`

// TestGoCacheSeedIsReadOnlyToTheSandbox: code a Go check runs (a model's)
// cannot alter the shared build cache seed, though its own build cache
// starts from it. The seed is a private copy of the test machine's warmed
// seed, so a failure here damages nothing else.
func TestGoCacheSeedIsReadOnlyToTheSandbox(t *testing.T) {
	shared := gochecktest.GoCheck(t).BuildCache // warmed once per machine
	seed := filepath.Join(t.TempDir(), "seed")
	if err := os.CopyFS(seed, os.DirFS(shared)); err != nil {
		t.Fatal(err)
	}
	v, err := NewValidation(context.Background(), ValidationSettings{Sandbox: true, GoProxy: "off", GoCacheSeed: seed, NoDryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.SandboxErr() != nil {
		t.Fatalf("no sandbox: %v (make test installs bubblewrap)", v.SandboxErr())
	}
	v.Start() // the copy is marked warmed: nothing to build
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := v.WaitWarm(ctx); err != nil {
		t.Fatal(err)
	}
	before := hashTree(t, seed)
	if len(before) < 100 {
		t.Fatalf("the seed holds %d files; want a warmed cache", len(before))
	}

	repo := t.TempDir()
	for name, content := range map[string]string{"svc/go.mod": "module example.com/svc\n\ngo 1.26\n", "svc/svc.go": "package svc\n\nfunc Answer() int { return 42 }\n", "svc/svc_test.go": tamperTest} {
		p := filepath.Join(repo, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := v.GoCheck()
	if c.BuildCache != seed {
		t.Fatalf("GoCheck.BuildCache = %q, want the seed %q", c.BuildCache, seed)
	}
	c.Timeout = 5 * time.Minute
	fs := c.Check(context.Background(), &validate.Input{Dir: repo, Files: []string{"svc/go.mod", "svc/svc.go", "svc/svc_test.go"}})
	var report string
	for _, f := range fs {
		if strings.Contains(f.Message, "TAMPER") {
			report = f.Message
		}
	}
	if report == "" {
		t.Fatalf("the tampering test did not run; findings:\n%s", findingsText(fs))
	}
	t.Logf("inside the sandbox: %s", report)
	if strings.Contains(report, "files=0 ") {
		t.Fatalf("the sandbox's build cache was empty, not seeded: %s", report)
	}
	after := hashTree(t, seed)
	for p, h := range before {
		if after[p] != h {
			t.Errorf("seed file %s was changed from the sandbox (%s -> %s)", p, h, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("seed file %s was added from the sandbox", p)
		}
	}
}

// hashTree maps each regular file under dir to its mode and content hash.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = info.Mode().String() + " " + hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func findingsText(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// BenchmarkGoCheckSeed: go mod tidy, build, vet and test of a tiny
// generated HTTP service, with each check's build cache seeded from a
// warmed cache and from nothing (the standard library compiled anew).
// Run with -benchtime=1x: unseeded takes minutes.
func BenchmarkGoCheckSeed(b *testing.B) {
	base := gochecktest.GoCheck(b)
	repo := b.TempDir()
	files := map[string]string{
		"svc/go.mod":       "module example.com/svc\n\ngo 1.26\n",
		"svc/main.go":      "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n)\n\nfunc handler(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, \"ok\") }\n\nfunc main() {\n\thttp.HandleFunc(\"/\", handler)\n\t_ = http.ListenAndServe(\":8080\", nil)\n}\n",
		"svc/main_test.go": "package main\n\nimport (\n\t\"net/http/httptest\"\n\t\"testing\"\n)\n\nfunc TestHandler(t *testing.T) {\n\tw := httptest.NewRecorder()\n\thandler(w, httptest.NewRequest(\"GET\", \"/\", nil))\n\tif w.Body.String() != \"ok\\n\" {\n\t\tt.Fatal(w.Body.String())\n\t}\n}\n",
	}
	var rels []string
	for name, content := range files {
		p := filepath.Join(repo, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
		rels = append(rels, name)
	}
	for _, seeded := range []bool{true, false} {
		name := "fresh"
		if seeded {
			name = "seeded"
		}
		b.Run(name, func(b *testing.B) {
			c := base
			c.Timeout = 20 * time.Minute
			if !seeded {
				c.BuildCache = ""
			}
			for b.Loop() {
				if fs := c.Check(context.Background(), &validate.Input{Dir: repo, Files: rels}); len(fs) > 0 {
					b.Fatalf("findings:\n%s", findingsText(fs))
				}
			}
		})
	}
}
