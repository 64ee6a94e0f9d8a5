package gocheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/sandbox"
)

// Where things are inside the sandbox. The names are longer than what
// messages call them ($GOMODCACHE, ...), as goPaths.clean wants.
const (
	goBoxSrc     = "/sandbox/src"
	goBoxCache   = "/sandbox/gocache"
	goBoxModules = "/sandbox/gomodcache"
	goBoxHome    = "/tmp/home"
)

const (
	// goCopyMaxBytes and goCopyMaxFiles bound the scratch copy of a module.
	goCopyMaxBytes = 256 << 20
	goCopyMaxFiles = 20000
	// goModMaxBytes bounds a tidied go.mod or go.sum written back.
	goModMaxBytes = 8 << 20
)

// goJob is one module's scratch space: the copy, the caches, and the
// sandbox session its steps share.
type goJob struct {
	c       Check
	env     goEnv
	p       *goPaths
	scratch string // removed at the end
	src     string // the module's copy
	home    string // HOME for resolving, outside the sandbox
	gocache string // the module's own build cache
	modules string // GOMODCACHE: ModCache, or scratch/gomod
	sess    *sandbox.Session
}

// newGoJob copies the module and prepares the caches; on failure it
// returns the findings that say why.
func (c Check) newGoJob(env goEnv, p *goPaths) (*goJob, []finding.Finding) {
	gomod := p.file("go.mod")
	scratch, err := os.MkdirTemp("", "kubewright-gocheck-")
	if err != nil {
		return nil, []finding.Finding{goFinding(goIDToolchain, gomod, 0, fmt.Sprintf("create a scratch directory: %v", err))}
	}
	j := &goJob{c: c, env: env, p: p, scratch: scratch, src: filepath.Join(scratch, "src"), home: filepath.Join(scratch, "home"),
		gocache: filepath.Join(scratch, "gocache"), modules: c.ModCache}
	if j.modules == "" {
		j.modules = filepath.Join(scratch, "gomod")
	}
	fail := func(id, msg, hint string) (*goJob, []finding.Finding) {
		j.close()
		f := goFinding(id, gomod, 0, msg)
		switch {
		case hint != "":
			f.Hint = hint
		case id == goIDToolchain:
			f.Hint = "kubewright could not prepare the check on this machine (a full disk? permissions of the temporary directory?); nothing in the repository causes this"
		}
		return nil, []finding.Finding{f}
	}
	// The scratch root is kubewright's; the sandbox's user only needs to
	// pass through it to its mounts.
	if err := os.Chmod(scratch, 0o755); err != nil {
		return fail(goIDToolchain, fmt.Sprintf("prepare the scratch directory: %v", err), "")
	}
	for _, d := range []string{j.home, j.gocache, j.modules} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(goIDToolchain, fmt.Sprintf("prepare the scratch directory: %v", err), "")
		}
	}
	// Telemetry off (as `go telemetry off` records it): otherwise the go
	// command starts a detached upload process that outlives the check
	// and writes into the removed HOME.
	mode := filepath.Join(j.home, ".config", "go", "telemetry", "mode")
	if err := errors.Join(os.MkdirAll(filepath.Dir(mode), 0o755), os.WriteFile(mode, []byte("off"), 0o644)); err != nil {
		return fail(goIDToolchain, fmt.Sprintf("prepare the scratch directory: %v", err), "")
	}
	if err := goCopyModule(p.abs, j.src); err != nil {
		var tooBig *goTooBig
		if errors.As(err, &tooBig) {
			return fail(goIDLimit, tooBig.Error(), "keep build output, data and vendored trees out of the module directory; a service's sources are far smaller")
		}
		return fail(goIDToolchain, fmt.Sprintf("copy the module: %s", p.clean(err.Error())), "")
	}
	data, err := os.ReadFile(filepath.Join(j.src, "go.mod"))
	if err != nil {
		return fail(goIDToolchain, fmt.Sprintf("read the module's copy: %s", p.clean(err.Error())), "")
	}
	if fs := goCheckReplaces(data, gomod); len(fs) > 0 {
		j.close()
		return nil, fs
	}
	// Messages name the copies as the module, and the caches by their
	// variables.
	p.dir(j.src, p.rel)
	p.dir(path.Join(goBoxSrc, p.rel), p.rel)
	p.alias(j.modules, "$GOMODCACHE")
	p.alias(goBoxModules, "$GOMODCACHE")
	p.alias(j.gocache, "$GOCACHE")
	p.alias(goBoxCache, "$GOCACHE")
	p.alias(j.home, "$HOME")
	p.alias(goBoxHome, "$HOME")
	return j, nil
}

func (j *goJob) close() {
	if j.sess != nil {
		j.sess.Close()
	}
	goRemoveAll(j.scratch)
}

// goRemoveAll removes a scratch directory, making directories a run left
// read-only writable first when it has to (a run as kubewright's own user
// can do that to leave files behind).
func goRemoveAll(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// resolve runs `go mod tidy` in the copy, outside the sandbox: it reads
// go.mod and import lines, downloads, and runs nothing (see the package
// comment of the stage). Downloads into a module cache of the check's own
// are bounded by the sandbox's disk limit; full is set when they ran
// into it.
func (j *goJob) resolve(ctx context.Context, s goStep) (out []byte, truncated, full bool, err error) {
	vars := append([]string(nil), j.env.vars...)
	for _, kv := range []string{
		"HOME=" + j.home, "GOCACHE=" + j.gocache, "GOMODCACHE=" + j.modules, "GOFLAGS=" + s.goflags,
		"GOVCS=*:off", "GOTOOLCHAIN=local", "GOWORK=off", "GOENV=off", "GOAUTH=off", "CGO_ENABLED=0", "GOINSECURE=", "GONOPROXY=",
	} {
		vars = goSetEnv(vars, kv)
	}
	if j.c.Proxy != "" {
		vars = goSetEnv(vars, "GOPROXY="+j.c.Proxy)
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := func() {}
	if j.c.ModCache == "" {
		stop = sandbox.WatchDisk([]string{j.modules}, j.limits().Disk, func() { cancel(errGoDisk) })
	}
	out, truncated, err = goRun(rctx, j.env.bin, j.src, vars, s.args)
	stop()
	return out, truncated, errors.Is(context.Cause(rctx), errGoDisk), err
}

var errGoDisk = errors.New("disk limit")

// limits are the step's limits: Check's over the sandbox's.
func (j *goJob) limits() sandbox.Limits {
	return j.c.Limits.Or(j.c.Sandbox.Limits())
}

// resolveHints points a failed resolve at the proxy setting when
// downloads are off.
func (j *goJob) resolveHints(fs []finding.Finding, out []byte) []finding.Finding {
	if !bytes.Contains(out, []byte("GOPROXY=off")) {
		return fs
	}
	for i := range fs {
		fs[i].Hint += "; module downloads are off on this machine (--go-proxy / KUBEWRIGHT_GOPROXY=off): require only modules its module cache holds, or ask the operator for a proxy"
	}
	return fs
}

// writeBack puts the tidied go.mod and go.sum (written by the go command,
// outside the sandbox) into the module, when they changed.
func (j *goJob) writeBack() error {
	for _, name := range []string{"go.mod", "go.sum"} {
		from := filepath.Join(j.src, name)
		st, err := os.Lstat(from)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() || st.Size() > goModMaxBytes {
			return fmt.Errorf("%s: not a regular file under %s", name, sandbox.Bytes(goModMaxBytes))
		}
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		to := filepath.Join(j.p.abs, name)
		if old, err := os.ReadFile(to); err == nil && bytes.Equal(old, data) {
			continue
		}
		// A new file renamed over the old one: a symbolic link in the
		// module is replaced, never written through.
		tmp, err := os.CreateTemp(j.p.abs, ".kubewright-"+name+"-")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(data)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644), os.Rename(tmp.Name(), to)); err != nil {
			os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}

// run runs one step in the sandbox; the steps of a module share a session
// (one user), which gets the copy and the build cache.
func (j *goJob) run(ctx context.Context, s goStep) (sandbox.Result, error) {
	if j.sess == nil {
		sess, err := j.c.Sandbox.Session(ctx)
		if err != nil {
			return sandbox.Result{ExitCode: -1}, err
		}
		j.sess = sess
		if j.c.BuildCache != "" {
			// Links only where the runs cannot write kubewright's files.
			if err := goSeedCache(j.c.BuildCache, j.gocache, sess.OwnUser()); err != nil {
				return sandbox.Result{ExitCode: -1}, fmt.Errorf("seed the build cache: %w", err)
			}
		}
		if err := errors.Join(sess.Give(j.src), sess.Give(j.gocache)); err != nil {
			return sandbox.Result{ExitCode: -1}, fmt.Errorf("%w: %w", sandbox.ErrUnavailable, err)
		}
	}
	dir := path.Join(goBoxSrc, j.p.rel)
	lim := j.c.Limits
	lim.Output = goOutputCap
	return j.sess.Run(ctx, sandbox.Spec{
		Args: append([]string{path.Join(filepath.ToSlash(j.env.root), "bin", "go")}, s.args...),
		Dir:  dir,
		Env: []string{
			"PATH=" + path.Join(filepath.ToSlash(j.env.root), "bin") + ":/usr/bin:/bin",
			"HOME=" + goBoxHome, "TMPDIR=/tmp",
			"GOCACHE=" + goBoxCache, "GOMODCACHE=" + goBoxModules,
			"GOPROXY=off", "GOSUMDB=off", "GOFLAGS=" + s.goflags,
			"GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOWORK=off", "GOENV=off",
		},
		Mounts: []sandbox.Mount{
			{Source: j.env.root, Dest: filepath.ToSlash(j.env.root)},
			{Source: j.modules, Dest: goBoxModules},
			{Source: j.gocache, Dest: goBoxCache, Writable: true},
			{Source: j.src, Dest: dir, Writable: true},
		},
		Limits: lim,
	})
}

// goTooBig is a module too large to copy.
type goTooBig struct{ files, bytes int64 }

func (e *goTooBig) Error() string {
	return fmt.Sprintf("the module directory holds more than %d files or %s: too large to check", goCopyMaxFiles, sandbox.Bytes(goCopyMaxBytes))
}

// goCopyModule copies the regular files and directories of a module
// (VCS data and vendor trees aside: the steps run with -mod=readonly,
// which ignores vendor) into dst.
func goCopyModule(src, dst string) error {
	var files, size int64
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if rel != "." && (d.Name() == ".git" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil // symbolic links and devices stay out
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		size += info.Size()
		if files > goCopyMaxFiles || size > goCopyMaxBytes {
			return &goTooBig{files, size}
		}
		return goCopyFile(p, target, info.Mode().Perm()&0o755|0o644)
	})
}

func goCopyFile(from, to string, mode fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// goCheckReplaces refuses replace directives that point at a directory
// outside the module: only the module is copied, and resolving must read
// nothing else. An unparseable go.mod is left to `go mod tidy` to report.
func goCheckReplaces(data []byte, gomod string) []finding.Finding {
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return nil
	}
	var out []finding.Finding
	for _, r := range f.Replace {
		if r.New.Version != "" {
			continue // a module path and version: downloaded
		}
		target := filepath.ToSlash(r.New.Path)
		clean := path.Clean(target)
		if !path.IsAbs(target) && filepath.VolumeName(r.New.Path) == "" && clean != ".." && !strings.HasPrefix(clean, "../") {
			continue
		}
		line := 0
		if r.Syntax != nil {
			line = r.Syntax.Start.Line
		}
		fd := goFinding(goIDModule, gomod, line, fmt.Sprintf("replace %s => %s points at a directory outside the module: only the module's own directory is available when it is built and tested", r.Old.Path, r.New.Path))
		fd.Hint = "require a published version instead, or copy the replacement into the module (replace " + r.Old.Path + " => ./third_party/...); the repair agent gets this finding"
		out = append(out, fd)
	}
	return out
}

// goSeedCache fills a module's build cache from a seed: hard links when
// link is set and the seed is on the same file system (the sandbox's user
// cannot write files it does not own, and Session.Give leaves linked files
// alone), copies otherwise. trim.txt is written fresh, so the go command
// does not trim the seed's older entries away mid-check.
func goSeedCache(seed, dst string, link bool) error {
	err := filepath.WalkDir(seed, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(seed, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || rel == "trim.txt" || rel == "README" || strings.HasPrefix(d.Name(), ".kubewright-") || strings.HasSuffix(d.Name(), ".kubewright-tmp") {
			return nil // not an entry, or one a warmer is still writing
		}
		if link {
			if err := os.Link(p, target); err == nil || errors.Is(err, fs.ErrExist) {
				return nil
			}
		}
		if err := goCopyFile(p, target, 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "trim.txt"), []byte(strconv.FormatInt(time.Now().Unix(), 10)), 0o644)
}
