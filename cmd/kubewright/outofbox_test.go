package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/validate/dryrun"
)

// generatedShop is testdata/repos/polyglot-shop after `kubewright
// containerize`: Flux, Istio, External Secrets and the CloudNativePG,
// MariaDB, MongoDB and RabbitMQ operators' custom resources.
func generatedShop(t *testing.T) string {
	t.Helper()
	dir := copyFixture(t, "polyglot-shop")
	if code, _, errOut := runCLI("containerize", "--quiet", dir); code != exitOK {
		t.Fatalf("containerize: exit %d: %s", code, errOut)
	}
	return dir
}

// testAssets is the kube-apiserver and etcd `make test` builds.
func testAssets(t *testing.T) string {
	t.Helper()
	dir, err := dryrun.FindAssets("")
	if err != nil {
		t.Fatalf("%v: run `make test`, which builds them into .cache/kube-assets", err)
	}
	return dir
}

// TestValidateOutOfTheBox: a new user's `kubewright validate` on a
// generated tree needs no --crds (the embedded CRDs cover every custom
// resource kubewright writes), and names `make install` when it finds no
// kube-apiserver; with --assets the dry-run runs and passes.
func TestValidateOutOfTheBox(t *testing.T) {
	assets := testAssets(t)
	dir := generatedShop(t)
	t.Setenv(dryrun.AssetsEnv, "")
	t.Setenv("KUBEWRIGHT_CRDS", "")
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"no flags", []string{"validate", "--quiet", dir}, []string{
			"schema     pass  0 errors, 0 warnings",
			"dryrun     SKIP  no kube-apiserver found: run `make install` in a kubewright checkout"}},
		{"assets", []string{"validate", "--quiet", "--assets", assets, dir}, []string{
			"schema     pass  0 errors, 0 warnings",
			"dryrun     pass  0 errors, 0 warnings"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != exitOK || !strings.Contains(out, "0 errors, 0 warnings, 0 info") || strings.Contains(out, "KW-SCHEMA-010") {
				t.Errorf("exit %d, want %d and no findings\nstdout:\n%s\nstderr:\n%s", code, exitOK, out, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestMakeInstall: `make install PREFIX=DIR` lays out kubewright, and
// kube-apiserver and etcd beside it, so that the installed binary's
// `validate` runs the dry-run with no flag and no variable.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs kubewright with make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make: %v", err)
	}
	assets := testAssets(t)
	dir := generatedShop(t)
	prefix := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case dryrun.AssetsEnv, "KUBEWRIGHT_CRDS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL":
		default:
			env = append(env, kv)
		}
	}
	// ASSETS: the binaries this test run uses, wherever they are.
	mk := exec.Command("make", "-C", filepath.Join("..", ".."), "install", "PREFIX="+prefix, "ASSETS="+assets)
	mk.Env = env
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, f := range []string{"bin/kubewright", "lib/kubewright/assets/kube-apiserver", "lib/kubewright/assets/etcd"} {
		if st, err := os.Stat(filepath.Join(prefix, f)); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s: not installed executable (%v)", f, err)
		}
	}
	var out, errOut bytes.Buffer
	kw := exec.Command(filepath.Join(prefix, "bin", "kubewright"), "validate", "--quiet", dir)
	kw.Env, kw.Dir, kw.Stdout, kw.Stderr = env, t.TempDir(), &out, &errOut
	err := kw.Run()
	if err != nil || !strings.Contains(errOut.String(), "dryrun     pass  0 errors, 0 warnings") || !strings.Contains(out.String(), "0 errors, 0 warnings, 0 info") {
		t.Errorf("installed kubewright validate: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &errOut)
	}
}
