package gocheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// goEnvKeys are the go settings a module's build inherits from the
// process's own `go env`; everything else it gets is fixed here.
var goEnvKeys = []string{"GOCACHE", "GOMODCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE"}

// goFixedEnv are set whatever the process has. GOWORK=off keeps a go.work
// above the module (the repository's, or a temporary directory's) from
// turning the check into a workspace build.
var goFixedEnv = []string{"GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off"}

type goEnvResult struct {
	vars    []string
	version string
	root    string // GOROOT
}

var (
	goEnvMu    sync.Mutex
	goEnvCache = map[string]goEnvResult{}
)

// ScrubbedGoEnv is the environment the go command starts from when
// Check resolves a module's requirements, outside the sandbox: PATH, the
// process's GOCACHE, GOMODCACHE, GOPROXY, GOSUMDB, GONOSUMDB and GOPRIVATE
// as `go env` reports them (those that are set), GOTOOLCHAIN=local,
// CGO_ENABLED=0, GOFLAGS= and GOWORK=off. Check then replaces HOME and
// the caches with directories of its own (see Check). Nothing else of
// the process's environment (tokens, API keys, KUBEWRIGHT_*, GITHUB_*) is
// passed on. `go env` runs once per go binary; its answer is kept.
func ScrubbedGoEnv() ([]string, error) {
	bin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("find go: %w (install Go)", err)
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	r, err := scrubbedGoEnv(bin)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), r.vars...), nil
}

func scrubbedGoEnv(bin string) (goEnvResult, error) {
	goEnvMu.Lock()
	defer goEnvMu.Unlock()
	if r, ok := goEnvCache[bin]; ok {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"env", "-json", "GOVERSION", "GOROOT"}, goEnvKeys...)...)
	cmd.Dir = os.TempDir() // no go.mod or go.work of the caller's
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return goEnvResult{}, fmt.Errorf("%s env: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	var vals map[string]string
	if err := json.Unmarshal(out, &vals); err != nil {
		return goEnvResult{}, fmt.Errorf("%s env -json: %w", bin, err)
	}
	pathVar := os.Getenv("PATH")
	if pathVar == "" {
		pathVar = "/usr/local/bin:/usr/bin:/bin"
	}
	// The go binary's own directory first, so a test that runs "go" gets
	// the same one.
	vars := []string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + pathVar}
	for _, k := range goEnvKeys {
		if v := vals[k]; v != "" {
			vars = append(vars, k+"="+v)
		}
	}
	vars = append(vars, goFixedEnv...)
	r := goEnvResult{vars: vars, version: vals["GOVERSION"], root: vals["GOROOT"]}
	goEnvCache[bin] = r
	return r, nil
}

// goSetEnv sets kv (KEY=VALUE) in vars, replacing an earlier KEY.
func goSetEnv(vars []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range vars {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			vars[i] = kv
			return vars
		}
	}
	return append(vars, kv)
}
