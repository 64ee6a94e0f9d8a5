package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/analyze"
)

// expectedFile is the format of testdata/eval/<repo>.yaml and of a
// repository's own expected-services.yaml (see testdata/eval/README.md).
type expectedFile struct {
	Repository  string            `json:"repository,omitempty"`
	Services    []expectedService `json:"services"`
	Unsupported []expectedService `json:"unsupported,omitempty"`
}

type expectedService struct {
	Name     string `json:"name,omitempty"`
	Path     string `json:"path"`
	Language string `json:"language"`
	Port     int    `json:"port,omitempty"`
}

// maxExpected bounds an expected-services file.
const maxExpected = 1 << 20

// loadExpected reads and checks an expected-services file; errors name
// the file and what to fix.
func loadExpected(file string) (*expectedFile, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxExpected {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d an expected-services file may have", file, st.Size(), maxExpected)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var e expectedFile
	if err := yaml.UnmarshalStrict(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %v (see testdata/eval/README.md for the format)", file, err)
	}
	for i, s := range append(append([]expectedService(nil), e.Services...), e.Unsupported...) {
		if s.Path == "" || s.Language == "" {
			return nil, fmt.Errorf("%s: entry %d (%q) needs path and language", file, i+1, s.Name)
		}
		if p := path.Clean(s.Path); strings.HasPrefix(p, "../") || path.IsAbs(p) {
			return nil, fmt.Errorf("%s: entry %d: path %q is not inside the repository", file, i+1, s.Path)
		}
		if s.Port < 0 || s.Port > 65535 {
			return nil, fmt.Errorf("%s: entry %d: port %d is not a TCP port", file, i+1, s.Port)
		}
	}
	return &e, nil
}

// findExpected looks for a repository's expected services: its own
// expected-services.yaml, else <dir>/<name>.yaml. ok is false when neither
// exists.
func findExpected(repo, dir, name string) (*expectedFile, string, bool, error) {
	for _, f := range []string{filepath.Join(repo, "expected-services.yaml"), filepath.Join(dir, name+".yaml")} {
		e, err := loadExpected(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return e, f, true, err
	}
	return nil, "", false, nil
}

// servicePaths are the directories a detected service answers to: its
// path, and the directory of its project file when that is deeper (a
// Cargo workspace member, a .NET project below its build context).
func servicePaths(s analyze.Service) []string {
	p := path.Clean(s.Path)
	out := []string{p}
	if d := path.Dir(path.Join(p, s.Project)); d != p && s.Project != "" {
		out = append(out, d)
	}
	return out
}

// match pairs detected services with expected ones: by path and name
// first, then by path, then by name; each is used at most once.
func match(detected []analyze.Service, expected []expectedService) (pairs map[int]int) {
	pairs = map[int]int{} // expected index -> detected index
	used := map[int]bool{}
	try := func(ok func(e expectedService, s analyze.Service) bool) {
		for ei, e := range expected {
			if _, done := pairs[ei]; done {
				continue
			}
			for di, s := range detected {
				if !used[di] && ok(e, s) {
					pairs[ei], used[di] = di, true
					break
				}
			}
		}
	}
	samePath := func(e expectedService, s analyze.Service) bool {
		for _, p := range servicePaths(s) {
			if p == path.Clean(e.Path) {
				return true
			}
		}
		return false
	}
	try(func(e expectedService, s analyze.Service) bool { return samePath(e, s) && e.Name == s.Name })
	try(samePath)
	try(func(e expectedService, s analyze.Service) bool { return e.Name != "" && e.Name == s.Name })
	return pairs
}

// unsupportedFound counts expected unsupported services the analysis
// reported (an error of kind unsupported at or below the expected path).
func unsupportedFound(errs []analyze.ServiceError, want []expectedService) (found int, missed []string) {
	for _, w := range want {
		hit := false
		for _, e := range errs {
			p := path.Clean(e.Path)
			if e.Kind == analyze.ErrUnsupported && (p == path.Clean(w.Path) || strings.HasPrefix(p, path.Clean(w.Path)+"/")) {
				hit = true
			}
		}
		if hit {
			found++
		} else {
			missed = append(missed, w.Path+" ("+w.Language+")")
		}
	}
	return found, missed
}
