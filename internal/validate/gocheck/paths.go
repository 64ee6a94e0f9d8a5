package gocheck

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// goModulesIn lists the directories of files that hold a go.mod, skipping
// testdata, vendor and directories the go command ignores.
func goModulesIn(files []string) []string {
	var mods []string
	for _, f := range files {
		if path.Base(f) != "go.mod" {
			continue
		}
		dir := path.Dir(f)
		skip := false
		for _, seg := range strings.Split(dir, "/") {
			if seg == "testdata" || seg == "vendor" || seg != "." && (strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_")) {
				skip = true
				break
			}
		}
		if !skip {
			mods = append(mods, dir)
		}
	}
	sort.Strings(mods)
	return mods
}

func goSlashClean(mod string) string {
	m := filepath.ToSlash(mod)
	if m == "" {
		return "."
	}
	return path.Clean(m)
}

// goPaths locates one module: repository-relative and on disk, and turns
// paths the go command prints back into repository-relative ones.
type goPaths struct {
	rel string // repository-relative, slash-separated, "." for the root
	abs string // absolute module directory
	// dirs are absolute directories as the go command may print them
	// (as given and with symbolic links resolved), each with what it
	// becomes in messages; longest first.
	dirs []goDirRename
	// aliases are directories outside the repository (caches, HOME,
	// scratch copies) and the names messages give them; longest first.
	aliases []goDirRename
	home    string
}

// dir adds a directory that holds the repository-relative path to
// (the module's copy, inside and outside the sandbox).
func (p *goPaths) dir(from, to string) {
	p.dirs = append(p.dirs, goDirRename{filepath.ToSlash(from), to})
	sort.SliceStable(p.dirs, func(i, j int) bool { return len(p.dirs[i].from) > len(p.dirs[j].from) })
}

// alias names a directory outside the repository in messages.
func (p *goPaths) alias(from, to string) {
	if from == "" {
		return
	}
	p.aliases = append(p.aliases, goDirRename{filepath.ToSlash(from), to})
	sort.SliceStable(p.aliases, func(i, j int) bool { return len(p.aliases[i].from) > len(p.aliases[j].from) })
}

type goDirRename struct{ from, to string }

// goModulePaths checks that mod stays inside the repository (a module
// directory may come from a model) and resolves it.
func goModulePaths(repo, mod string) (goPaths, error) {
	if mod == "" {
		mod = "."
	}
	if filepath.IsAbs(mod) || path.IsAbs(filepath.ToSlash(mod)) || filepath.VolumeName(mod) != "" {
		return goPaths{}, fmt.Errorf("module directory %q is absolute: give it relative to the repository root", mod)
	}
	rel := goSlashClean(mod)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return goPaths{}, fmt.Errorf("module directory %q leaves the repository: give it relative to the repository root", mod)
	}
	repoAbs, err := filepath.Abs(repo)
	if err != nil {
		return goPaths{}, fmt.Errorf("module directory %q: %w", mod, err)
	}
	p := goPaths{rel: rel, abs: filepath.Join(repoAbs, filepath.FromSlash(rel))}
	repoReal, rerr := filepath.EvalSymlinks(repoAbs)
	modReal, merr := filepath.EvalSymlinks(p.abs)
	if rerr == nil && merr == nil {
		r, err := filepath.Rel(repoReal, modReal)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return goPaths{}, fmt.Errorf("module directory %q is a symbolic link out of the repository", mod)
		}
	}
	add := func(from, to string) {
		if from != "" {
			p.dirs = append(p.dirs, goDirRename{filepath.ToSlash(from), to})
		}
	}
	add(p.abs, rel)
	if merr == nil && modReal != p.abs {
		add(modReal, rel)
	}
	add(repoAbs, ".")
	if rerr == nil && repoReal != repoAbs {
		add(repoReal, ".")
	}
	sort.SliceStable(p.dirs, func(i, j int) bool { return len(p.dirs[i].from) > len(p.dirs[j].from) })
	return p, nil
}

// file is the repository-relative path of a module-relative file.
func (p goPaths) file(name string) string {
	return path.Join(p.rel, name)
}

// clean replaces absolute workspace paths in s with repository-relative
// ones, and the throwaway HOME with $HOME.
func (p goPaths) clean(s string) string {
	var pairs []string
	if p.home != "" {
		pairs = append(pairs, filepath.ToSlash(p.home), "$HOME")
	}
	for _, d := range p.dirs {
		if d.to == "." {
			pairs = append(pairs, d.from+"/", "", d.from, ".")
		} else {
			pairs = append(pairs, d.from+"/", d.to+"/", d.from, d.to)
		}
	}
	for _, a := range p.aliases {
		pairs = append(pairs, a.from, a.to)
	}
	if len(pairs) == 0 {
		return s
	}
	// Repeating until nothing changes leaves no path that a replacement
	// happened to join together; the replacements are shorter than what
	// they replace, and the bound keeps a caller's short cache directory
	// from making that a long loop.
	r := strings.NewReplacer(pairs...)
	for range 8 {
		next := r.Replace(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

// repoFile turns a path the go command printed (module-relative, maybe
// "./"-prefixed, or absolute) into a repository-relative one; false when
// it is outside the repository (the module cache, GOROOT).
func (p goPaths) repoFile(name string) (string, bool) {
	name = filepath.ToSlash(name)
	if path.IsAbs(name) {
		for _, d := range p.dirs {
			if strings.HasPrefix(name, d.from+"/") {
				return goInRepo(path.Join(d.to, strings.TrimPrefix(name, d.from+"/")))
			}
		}
		return "", false
	}
	return goInRepo(path.Join(p.rel, name))
}

// goInRepo passes a cleaned repository-relative path that stays inside the
// repository.
func goInRepo(f string) (string, bool) {
	if f == "." || f == ".." || strings.HasPrefix(f, "../") || path.IsAbs(f) {
		return "", false
	}
	return f, true
}
