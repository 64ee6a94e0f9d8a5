package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// repoFS is the only filesystem krusty gets. Its "/" is the repository
// root, so no path can name anything outside it; symlinks are followed
// only while they stay inside; reads are capped per file and per build;
// devices, FIFOs and .git are refused; nothing can be written. It also
// re-checks, at the moment krusty reads them, every kustomization and
// builtin plugin configuration (the same scan Load runs beforehand), so a
// kustomization the pre-scan did not see (under vendor/, build/, ...)
// still cannot make krusty fetch a URL or clone a repository: krusty
// decides those before it touches a filesystem, from what it read here.
//
// One repoFS serves one build; it is safe for the concurrent reads krusty
// does not do, and records what it refused so a failed build reports the
// refusal instead of krusty's words about a missing file.
type repoFS struct {
	root *os.Root
	// overlay holds generated files (Flux's implicit kustomization) by
	// repository-relative path; they shadow nothing on disk.
	overlay map[string][]byte
	// data are generator data files (configMapGenerator files/envs),
	// capped but not YAML-checked: they are not parsed as YAML.
	data map[string]bool
	// checked are files already passed by yamlsafe.Check in this Load
	// (the source index): not parsed again. Read-only, shared by builds.
	checked map[string]bool
	// fileMax caps one file; budget caps what one build reads in all.
	fileMax int64

	budgetMax int64

	mu       sync.Mutex
	budget   int64
	refusals []refusal
	// delay, for tests only, slows every read down.
	delay time.Duration
}

// refusal is a read repoFS refused, for the finding.
type refusal struct {
	id   string
	rel  string // the file refused
	line int    // in rel, when known
	msg  string
	hint string
}

var errReadOnly = errors.New("the repository is read-only during a build")

// errEscape marks a path whose symlinks lead out of the repository.
var errEscape = errors.New("path goes through a symlink that leaves the repository")

func isEscape(err error) bool {
	return errors.Is(err, errEscape) || errors.Is(err, yamlsafe.ErrPath)
}

func newRepoFS(root *os.Root, budget int64) *repoFS {
	return &repoFS{root: root, overlay: map[string][]byte{}, data: map[string]bool{},
		fileMax: yamlsafe.MaxFileBytes, budget: budget, budgetMax: budget}
}

var _ filesys.FileSystem = (*repoFS)(nil)

// rel maps a krusty path to a repository-relative one ("." for the root).
// Relative paths are taken from "/"; ".." stops at "/".
func (r *repoFS) relOf(p string) string {
	c := path.Clean("/" + filepath.ToSlash(p))
	if c == "/" {
		return "."
	}
	return c[1:]
}

// resolve follows symlinks inside the repository and returns the real
// relative path; errEscape when one leads out, fs.ErrNotExist when a part
// is missing. Paths into .git are refused.
func (r *repoFS) resolve(rel string) (string, error) {
	if rel == "." {
		return ".", nil
	}
	parts := strings.Split(rel, "/")
	done := ""
	for i, hops := 0, 0; i < len(parts); i++ {
		c := parts[i]
		if c == "" || c == "." {
			continue
		}
		if strings.EqualFold(c, ".git") {
			return "", fmt.Errorf("%s: %w (.git is never read)", rel, fs.ErrPermission)
		}
		next := path.Join(done, c)
		if _, over := r.overlay[next]; over {
			done = next
			continue
		}
		info, err := r.root.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", next, fs.ErrNotExist)
		}
		if err != nil {
			return "", err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symlinks", rel)
		}
		target, err := r.root.Readlink(next)
		if err != nil {
			return "", err
		}
		target = filepath.ToSlash(target)
		if path.IsAbs(target) {
			return "", fmt.Errorf("%s: %w", rel, errEscape)
		}
		joined := path.Join(done, target)
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return "", fmt.Errorf("%s: %w", rel, errEscape)
		}
		rest := append(strings.Split(joined, "/"), parts[i+1:]...)
		parts, done, i = rest, "", -1
	}
	if done == "" {
		return ".", nil
	}
	return done, nil
}

type repoFileInfo struct {
	isDir, regular bool
	size           int64
}

// stat is repoLookup.stat: the target of rel after symlinks.
func (r *repoFS) stat(rel string) (repoFileInfo, error) {
	if b, ok := r.overlay[rel]; ok {
		return repoFileInfo{regular: true, size: int64(len(b))}, nil
	}
	real, err := r.resolve(rel)
	if err != nil {
		return repoFileInfo{}, err
	}
	if b, ok := r.overlay[real]; ok {
		return repoFileInfo{regular: true, size: int64(len(b))}, nil
	}
	info, err := r.root.Stat(real)
	if err != nil {
		return repoFileInfo{}, err
	}
	return repoFileInfo{isDir: info.IsDir(), regular: info.Mode().IsRegular(), size: info.Size()}, nil
}

// read is repoLookup.read: a capped read outside any build budget.
func (r *repoFS) read(rel string) ([]byte, error) {
	if b, ok := r.overlay[rel]; ok {
		return b, nil
	}
	real, err := r.resolve(rel)
	if err != nil {
		return nil, err
	}
	return yamlsafe.ReadRoot(r.root, real, r.fileMax)
}

// CleanedAbs splits a path into its (symlink-free) directory and file.
func (r *repoFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	rel := r.relOf(p)
	real, err := r.resolve(rel)
	if err != nil {
		return "", "", fmt.Errorf("'%s': %w", p, err)
	}
	info, err := r.stat(real)
	if err != nil {
		return "", "", fmt.Errorf("'%s': %w", p, err)
	}
	if info.isDir {
		return filesys.ConfirmedDir(vpath(real)), "", nil
	}
	return filesys.ConfirmedDir(vpath(path.Dir(real))), path.Base(real), nil
}

func vpath(rel string) string {
	if rel == "." || rel == "" {
		return "/"
	}
	return "/" + rel
}

func (r *repoFS) Exists(p string) bool {
	_, err := r.stat(r.relOf(p))
	return err == nil
}

func (r *repoFS) IsDir(p string) bool {
	info, err := r.stat(r.relOf(p))
	return err == nil && info.isDir
}

// maxDirEntries bounds ReadDir, Glob and Walk.
const maxDirEntries = 100_000

func (r *repoFS) ReadDir(p string) ([]string, error) {
	rel := r.relOf(p)
	real, err := r.resolve(rel)
	if err != nil {
		return nil, err
	}
	f, err := r.root.Open(real)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(maxDirEntries)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	for o := range r.overlay {
		if path.Dir(o) == real {
			names = append(names, path.Base(o))
		}
	}
	return names, nil
}

func (r *repoFS) Glob(pattern string) ([]string, error) {
	rel := r.relOf(pattern)
	matches, err := fs.Glob(r.root.FS(), rel)
	if err != nil {
		return nil, err
	}
	if len(matches) > maxDirEntries {
		matches = matches[:maxDirEntries]
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		if !hasGitDir(m) {
			out = append(out, vpath(m))
		}
	}
	if filesys.IsHiddenFilePath(pattern) {
		return out, nil
	}
	return filesys.RemoveHiddenFiles(out), nil
}

func (r *repoFS) Walk(p string, fn filepath.WalkFunc) error {
	real, err := r.resolve(r.relOf(p))
	if err != nil {
		return err
	}
	n := 0
	return fs.WalkDir(r.root.FS(), real, func(q string, d fs.DirEntry, err error) error {
		if n++; n > maxDirEntries {
			return fmt.Errorf("walk %s: more than %d entries", p, maxDirEntries)
		}
		if err != nil {
			return fn(vpath(q), nil, err)
		}
		if d.IsDir() && strings.EqualFold(d.Name(), ".git") {
			return fs.SkipDir
		}
		info, err := d.Info()
		return fn(vpath(q), info, err)
	})
}

// ReadFile reads a file for krusty: capped, charged to the build's budget,
// YAML-checked, and, for kustomizations and builtin plugin
// configurations, scanned for remote references.
func (r *repoFS) ReadFile(p string) ([]byte, error) {
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	rel := r.relOf(p)
	data, ok := r.overlay[rel]
	if !ok {
		real, err := r.resolve(rel)
		if err != nil {
			if isEscape(err) {
				return nil, r.refuse(refusal{id: idEscape, rel: rel, msg: rel + " goes through a symlink that leaves the repository",
					hint: "replace the symlink with the file itself, or with a link to a file inside the repository"})
			}
			return nil, err
		}
		if data, err = yamlsafe.ReadRoot(r.root, real, r.fileMax); err != nil {
			var ye *yamlsafe.Error
			if errors.As(err, &ye) {
				return nil, r.refuse(refusal{id: idUnsafe, rel: rel, msg: rel + ": " + ye.Detail, hint: ye.Hint})
			}
			return nil, err
		}
		rel = real
	}
	if err := r.charge(rel, int64(len(data))); err != nil {
		return nil, err
	}
	if r.data[rel] {
		return data, nil
	}
	kust := isKustomizationName(path.Base(rel))
	if r.checked[rel] && !kust && !bytes.Contains(data, []byte("builtin")) {
		return data, nil
	}
	if err := yamlsafe.Check(rel, data, yamlsafe.Limits{MaxBytes: r.fileMax}); err != nil {
		// A file YAML cannot parse and that has no alias cannot expand:
		// let krusty report it (or read it as data) in its own words.
		if kust || !errors.Is(err, yamlsafe.ErrSyntax) || bytes.IndexByte(data, '*') >= 0 {
			return nil, r.refuse(refusal{id: idUnsafe, rel: rel, line: validate.LineOf(err), msg: rel + ": " + validate.DetailOf(err), hint: validate.HintOf(err)})
		}
		return data, nil
	}
	if kust || bytes.Contains(data, []byte("builtin")) {
		var s *kustScan
		if kust {
			s = scanKustomization(rel, data, r)
		} else {
			s = scanPluginFile(rel, data)
		}
		if s.refused() {
			f := s.findings[0]
			return nil, r.refuse(refusal{id: f.ID, rel: rel, line: f.Line, msg: rel + ": " + f.Message, hint: f.Hint})
		}
	}
	return data, nil
}

// scanPluginFile checks a file that may hold builtin plugin
// configurations: the resources of a generators/transformers entry.
func scanPluginFile(rel string, data []byte) *kustScan {
	s := &kustScan{file: rel, dir: path.Dir(rel)}
	docs, err := yamlsafe.Decode(rel, data, yamlsafe.Limits{})
	if err != nil {
		return s // Check passed already; a partial parse has nothing to add
	}
	var builtin []*yaml.Node
	for _, d := range docs {
		if len(d.Content) > 0 && nodeText(yfield(deref(d.Content[0]), "apiVersion")) == "builtin" {
			builtin = append(builtin, d)
		}
	}
	s.pluginDocs(rel, func(inner int) int { return inner }, builtin)
	return s
}

func (r *repoFS) charge(rel string, n int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > r.budget {
		r.refusals = append(r.refusals, refusal{id: idBudget, rel: rel,
			msg:  fmt.Sprintf("the build read more than %s in total (at %s)", validate.HumanBytes(r.budgetMax), rel),
			hint: "split the kustomization, or keep large files out of it"})
		return fmt.Errorf("%s: %w", rel, errBudget)
	}
	r.budget -= n
	return nil
}

var errBudget = errors.New("build read budget exhausted")

func (r *repoFS) refuse(f refusal) error {
	r.mu.Lock()
	r.refusals = append(r.refusals, f)
	r.mu.Unlock()
	return fmt.Errorf("%s: refused: %s", f.rel, f.msg)
}

func (r *repoFS) firstRefusal() (refusal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refusals) == 0 {
		return refusal{}, false
	}
	return r.refusals[0], true
}

// Open serves a capped, checked read as a read-only file.
func (r *repoFS) Open(p string) (filesys.File, error) {
	data, err := r.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(data), name: path.Base(r.relOf(p)), size: int64(len(data))}, nil
}

func (r *repoFS) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (r *repoFS) Mkdir(string) error                  { return errReadOnly }
func (r *repoFS) MkdirAll(string) error               { return errReadOnly }
func (r *repoFS) RemoveAll(string) error              { return errReadOnly }
func (r *repoFS) WriteFile(string, []byte) error      { return errReadOnly }

// memFile is a read-only in-memory file.
type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Write([]byte) (int, error) { return 0, errReadOnly }
func (f *memFile) Close() error              { return nil }
func (f *memFile) Stat() (os.FileInfo, error) {
	return memInfo{name: f.name, size: f.size}, nil
}

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

func isKustomizationName(base string) bool {
	for _, n := range kustomizationNames {
		if base == n {
			return true
		}
	}
	return false
}
