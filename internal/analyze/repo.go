package analyze

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxFileSize caps what the analyzer reads of any single file; larger files
// are treated as absent (generated bundles, data dumps).
const maxFileSize = 2 << 20

// ignoredDirs are build outputs and vendored trees; nothing under them is
// ever a service or evidence about one.
var ignoredDirs = map[string]bool{
	"bin": true, "obj": true, "out": true, "target": true, "build": true,
	"dist": true, "node_modules": true, "vendor": true, ".git": true,
	".gradle": true, ".venv": true, "venv": true, "__pycache__": true,
	".idea": true, ".vscode": true, ".mvn": false, ".next": true,
}

// Repo is a walked repository: the regular files an analysis may read, as
// sorted slash-separated paths relative to the root. Symlinks are followed
// only when their target stays inside the root.
type Repo struct {
	root  string
	files []string
	set   map[string]bool
	// nested are directories holding a .git of their own (nested clones,
	// submodules): separate repositories, not walked.
	nested []string
}

// OpenRepo walks root and returns the files it holds, skipping ignored
// directories and symlinks that leave the repository.
func OpenRepo(root string) (*Repo, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", root, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open repository %s: not a directory", root)
	}
	r := &Repo{root: real, set: map[string]bool{}}
	err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == real {
				return err
			}
			return nil // unreadable entries are skipped, not fatal
		}
		rel, _ := filepath.Rel(real, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != real && ignoredDirs[d.Name()] {
				return filepath.SkipDir
			}
			if p != real {
				if _, err := os.Lstat(filepath.Join(p, ".git")); err == nil {
					r.nested = append(r.nested, rel)
					return filepath.SkipDir
				}
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(p)
			if err != nil || !within(real, target) {
				return nil
			}
			ti, err := os.Stat(target)
			if err != nil || !ti.Mode().IsRegular() {
				return nil // symlinked directories are not descended into
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		r.files = append(r.files, rel)
		r.set[rel] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk repository %s: %w", root, err)
	}
	sort.Strings(r.files)
	sort.Strings(r.nested)
	return r, nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// Root is the absolute path of the repository.
func (r *Repo) Root() string { return r.root }

// Nested returns the directories that are git repositories of their own
// (a .git directory or file inside the tree), sorted; their files are not
// part of this repository.
func (r *Repo) Nested() []string { return r.nested }

// Files returns every file, sorted.
func (r *Repo) Files() []string { return r.files }

// Exists reports whether the file rel (slash-separated) is in the repository.
func (r *Repo) Exists(rel string) bool { return r.set[path.Clean(rel)] }

// ReadFile reads a repository file by its slash-separated relative path.
// Files larger than 2 MiB are refused.
func (r *Repo) ReadFile(rel string) ([]byte, error) {
	rel = path.Clean(rel)
	if !r.set[rel] {
		return nil, fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
	}
	// O_NONBLOCK: a FIFO put in the file's place must not block the open.
	f, err := os.OpenFile(filepath.Join(r.root, filepath.FromSlash(rel)), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The file may have changed since the walk: check what was opened,
	// and read no more than the cap whatever its size claims.
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", rel)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: %w (%d bytes)", rel, errTooLarge, st.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxFileSize {
		return nil, fmt.Errorf("%s: %w (over %d bytes)", rel, errTooLarge, maxFileSize)
	}
	return data, nil
}

var errTooLarge = errors.New("file too large to analyze")

// Named returns the files whose base name is name, sorted.
func (r *Repo) Named(name string) []string {
	var out []string
	for _, f := range r.files {
		if path.Base(f) == name {
			out = append(out, f)
		}
	}
	return out
}

// Matching returns the files whose base name matches the path.Match pattern.
func (r *Repo) Matching(pattern string) []string {
	var out []string
	for _, f := range r.files {
		if ok, _ := path.Match(pattern, path.Base(f)); ok {
			out = append(out, f)
		}
	}
	return out
}

// Under returns the files inside dir (slash-separated, "." for the root),
// recursively, sorted. Use Join to build paths inside dir.
func (r *Repo) Under(dir string) []string {
	if dir == "." || dir == "" {
		return r.files
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var out []string
	for _, f := range r.files {
		if strings.HasPrefix(f, prefix) {
			out = append(out, f)
		}
	}
	return out
}

// Join joins a service directory and a relative file the way Repo paths are
// spelled ("." + "go.mod" = "go.mod").
func Join(dir, rel string) string { return path.Clean(path.Join(dir, rel)) }

// Rel returns file as seen from dir, both slash-separated repository paths,
// with ".." steps when file lies outside dir ("pom.xml", "../pom.xml").
func Rel(dir, file string) string {
	if dir == "." || dir == "" {
		return file
	}
	d, f := strings.Split(dir, "/"), strings.Split(file, "/")
	i := 0
	for i < len(d) && i < len(f)-1 && d[i] == f[i] {
		i++
	}
	return strings.Repeat("../", len(d)-i) + strings.Join(f[i:], "/")
}
