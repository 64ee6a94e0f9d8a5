package draft

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Stage is a private copy of a repository where a job applies drafts and
// model edits and validates them, so nothing proposed (or any build it
// triggers) touches the repository until the change is applied to it.
// Changes reads the change back as files.
type Stage struct {
	root string // the original repository
	dir  string // the copy
	tmp  string // what Close removes
}

// skipDirs are never copied: VCS data and dependency or build output that
// neither validation nor a model needs (analysis ignores them too).
var skipDirs = map[string]bool{".git": true, "node_modules": true, "bin": true, "obj": true, "target": true, ".venv": true, "vendor": true, "dist": true, "build": true, ".gradle": true}

// NewStage copies the repository at root (regular files only: symlinks
// and devices stay out, so nothing can write through them) into a new
// temporary directory. Close removes it.
func NewStage(root string) (*Stage, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "kubewright-stage-")
	if err != nil {
		return nil, err
	}
	// The copy keeps the repository's directory name: the analyzer names
	// the system after it, and labels carry that name.
	dir := filepath.Join(tmp, filepath.Base(root))
	s := &Stage{root: root, dir: dir, tmp: tmp}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return os.MkdirAll(dir, 0o755)
		}
		if d.IsDir() {
			if skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("copy %s: %w", root, err)
	}
	return s, nil
}

// Dir is the copy: apply drafts and validate here.
func (s *Stage) Dir() string { return s.dir }

// Root is the original repository, never written.
func (s *Stage) Root() string { return s.root }

// Close removes the copy.
func (s *Stage) Close() error { return os.RemoveAll(s.tmp) }

// Read returns a file of the copy; ok is false when it cannot be read.
func (s *Stage) Read(rel string) (content string, ok bool) {
	data, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(rel)))
	if err != nil {
		return "", false
	}
	return string(data), true
}

// Changes lists every file that differs between the repository and the
// copy (the directories the copy left out aside): writes and deletions,
// by path, each with its part (PartOf).
func (s *Stage) Changes() ([]File, error) {
	seen := map[string]bool{}
	var out []File
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			// A directory the copy left out holds nothing of the change;
			// one of the same name that a draft created (k8s/build/ for a
			// service named build) does.
			if rel != "." && skipDirs[d.Name()] && isDir(filepath.Join(s.root, filepath.FromSlash(rel))) {
				return filepath.SkipDir
			}
			return nil
		}
		seen[rel] = true
		now, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		old, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(rel)))
		if err == nil && bytes.Equal(old, now) {
			return nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		out = append(out, File{Path: rel, Content: now, Part: PartOf(rel)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && !seen[rel] {
			out = append(out, File{Path: rel, Delete: true, Part: PartOf(rel)})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// Restore makes the copy hold exactly the given change over the
// repository (Changes of an earlier state: the last one that validated).
func (s *Stage) Restore(files []File) error {
	current, err := s.Changes()
	if err != nil {
		return err
	}
	for _, f := range current { // undo everything
		abs := filepath.Join(s.dir, filepath.FromSlash(f.Path))
		orig, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(f.Path)))
		switch {
		case err == nil:
			if err := writeFile(abs, orig); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Remove(abs); err != nil {
				return err
			}
		default:
			return err
		}
	}
	for _, f := range files {
		abs := filepath.Join(s.dir, filepath.FromSlash(f.Path))
		if f.Delete {
			if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		if err := writeFile(abs, f.Content); err != nil {
			return err
		}
	}
	return nil
}

func isDir(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.IsDir()
}

func writeFile(abs string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return err
	}
	return os.WriteFile(abs, data, 0o644)
}
