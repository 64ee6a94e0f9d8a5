package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// Defaults of LoadOptions.
const (
	// DefaultBuildTimeout bounds one root's kustomize build. Builds of
	// real repositories take well under a second; the deadline is for
	// inputs built to be slow.
	DefaultBuildTimeout = 30 * time.Second
	// defaultBuildBytes caps what one root's build reads in all: sixteen
	// files at the per-file cap.
	defaultBuildBytes int64 = 64 << 20
)

// LoadOptions bound loading. Zero values take the defaults.
type LoadOptions struct {
	// BuildTimeout bounds each root's kustomize build; a root that
	// overruns becomes a KW-BUILD-016 finding and its result is dropped.
	BuildTimeout time.Duration
	// BuildBytes caps what one root's build reads in all (KW-BUILD-017).
	BuildBytes int64
	// readDelay slows every read of a build down (tests of the deadline).
	readDelay time.Duration
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.BuildTimeout <= 0 {
		o.BuildTimeout = DefaultBuildTimeout
	}
	if o.BuildBytes <= 0 {
		o.BuildBytes = defaultBuildBytes
	}
	return o
}

// loader holds one Load's state.
type loader struct {
	in   *validate.Input
	root *os.Root
	opts LoadOptions
	// data are generator data files, repository relative.
	data map[string]bool
	// checked are files the source index already passed through yamlsafe.
	checked map[string]bool
	// scans are the pre-scans by kustomization file.
	scans map[string]*kustScan
}

// prescan scans every kustomization file of the repository.
func (l *loader) prescan() []finding.Finding {
	var fs []finding.Finding
	look := newRepoFS(l.root, 0)
	for _, f := range l.in.Files {
		if !isKustomizationName(path.Base(f)) {
			continue
		}
		data, err := look.read(f)
		if err != nil {
			s := &kustScan{file: f, dir: path.Dir(f)}
			s.fail(idUnsafe, validate.LineOf(err), "the kustomization cannot be read safely: "+validate.DetailOf(err), validate.HintOf(err))
			l.scans[f] = s
			fs = append(fs, s.findings...)
			continue
		}
		s := scanKustomization(f, data, look)
		l.scans[f] = s
		fs = append(fs, s.findings...)
		for _, r := range s.refs {
			if r.kind == refData && r.rel != "" {
				l.data[r.rel] = true
			}
		}
	}
	// A file that is also loaded as YAML (a resource, a patch) is no data
	// file: it is checked like any other.
	for _, s := range l.scans {
		for _, r := range s.refs {
			if r.kind != refData && r.rel != "" {
				delete(l.data, r.rel)
			}
		}
	}
	return fs
}

// rootResult is one root's outcome.
type rootResult struct {
	objs []validate.Object
	f    *finding.Finding
	// skipped: the root was refused by the pre-scan, which reported why.
	skipped bool
}

// buildAll builds every root, at most max(2, GOMAXPROCS) at a time. A
// build that overruns its deadline keeps its slot until it ends, so
// abandoned builds cannot pile up; Load does not wait for them.
func (l *loader) buildAll(ctx context.Context) ([]rootResult, error) {
	results := make([]rootResult, len(l.in.Roots))
	sem := make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, r := range l.in.Roots {
		if s := l.scans[r.File]; r.File != "" && s != nil && s.refused() {
			results[i].skipped = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			results[i] = l.buildRoot(ctx, r, func() { <-sem })
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

type krustyResult struct {
	m   resmap.ResMap
	err error
}

// buildRoot runs krusty on one root under the deadline and maps each
// object to its source. release frees the root's slot when krusty ends.
func (l *loader) buildRoot(ctx context.Context, r validate.Root, release func()) rootResult {
	in := l.in
	rfs := newRepoFS(l.root, l.opts.BuildBytes)
	rfs.data, rfs.checked, rfs.delay = l.data, l.checked, l.opts.readDelay
	file := r.File
	if r.Generated {
		k, err := generatedKustomization(in, r.Dir)
		if err != nil {
			release()
			return rootResult{f: &finding.Finding{ID: "KW-BUILD-002", Severity: finding.Error, Stage: validate.StageBuild, File: r.Dir,
				Message: "cannot emulate Flux's generated kustomization: " + err.Error()}}
		}
		rfs.overlay[path.Join(r.Dir, "kustomization.yaml")] = k
		file = r.Dir
	}
	done := make(chan krustyResult, 1)
	go func() {
		defer release()
		defer func() {
			if p := recover(); p != nil {
				done <- krustyResult{err: fmt.Errorf("kustomize failed unexpectedly: %v", p)}
			}
		}()
		opts := krusty.MakeDefaultOptions()
		opts.LoadRestrictions = types.LoadRestrictionsRootOnly
		opts.PluginConfig = types.DisabledPluginConfig()
		m, err := krusty.MakeKustomizer(opts).Run(rfs, vpath(r.Dir))
		done <- krustyResult{m, err}
	}()
	timer := time.NewTimer(l.opts.BuildTimeout)
	defer timer.Stop()
	var res krustyResult
	select {
	case res = <-done:
	case <-timer.C:
		return rootResult{f: &finding.Finding{ID: idDeadline, Severity: finding.Error, Stage: validate.StageBuild, File: file, Line: 1,
			Message: fmt.Sprintf("kustomize build %s did not finish within %s; its result is dropped", r.Dir, l.opts.BuildTimeout),
			Hint:    "make the kustomization smaller (fewer nested bases, patches and generators), or split it into several roots"}}
	case <-ctx.Done():
		return rootResult{}
	}
	if res.err != nil {
		if ref, ok := rfs.firstRefusal(); ok {
			return rootResult{f: l.refusalFinding(r, ref)}
		}
		return rootResult{f: l.buildFailure(r, res.err)}
	}
	var objs []validate.Object
	for _, res := range res.m.Resources() {
		m, err := res.Map()
		if err != nil {
			continue
		}
		u, err := validate.NewUnstructured(m)
		if err != nil {
			continue
		}
		o := validate.Object{U: u, Root: r.Dir, File: r.File, Line: 1}
		if d, ok := in.Sources.Find(r.Dir, u.GetKind(), u.GetNamespace(), u.GetName()); ok {
			o.File, o.Line = d.File, d.Line
		}
		if o.File == "" {
			o.File = r.Dir
		}
		objs = append(objs, o)
	}
	return rootResult{objs: objs}
}

// refusalFinding reports what repoFS refused during a build, on the
// kustomization line that references the refused file when the pre-scan
// saw one (the root's own kustomization first), else on the file itself.
func (l *loader) refusalFinding(r validate.Root, ref refusal) *finding.Finding {
	f := &finding.Finding{ID: ref.id, Severity: finding.Error, Stage: validate.StageBuild, File: ref.rel, Line: ref.line,
		Message: "kustomize build " + r.Dir + " refused " + ref.msg, Hint: ref.hint}
	files := make([]string, 0, len(l.scans))
	for k := range l.scans {
		files = append(files, k)
	}
	sort.Slice(files, func(i, j int) bool { return (files[i] == r.File) || (files[j] != r.File && files[i] < files[j]) })
	for _, k := range files {
		for _, rf := range l.scans[k].refs {
			if rf.rel == ref.rel {
				f.File, f.Line = k, rf.line
				return f
			}
		}
	}
	return f
}

var quotedPath = regexp.MustCompile(`'([^']+)'`)

// buildFailure reports a failed build on the kustomization line that
// names the culprit.
func (l *loader) buildFailure(r validate.Root, err error) *finding.Finding {
	in := l.in
	msg := trimBuildError(err.Error(), in.Dir)
	f := &finding.Finding{ID: "KW-BUILD-001", Severity: finding.Error, Stage: validate.StageBuild, File: r.File, Line: 1,
		Message: "kustomize build " + r.Dir + " failed: " + msg,
		Hint:    "fix the kustomization or the file it names; `kustomize build " + r.Dir + "` shows the same error"}
	if r.Generated {
		f.File = r.Dir
	}
	if r.File != "" {
		if b, rerr := in.ReadFile(r.File); rerr == nil {
			for _, m := range quotedPath.FindAllStringSubmatch(err.Error(), -1) {
				name := path.Base(m[1])
				for i, line := range strings.Split(string(b), "\n") {
					if strings.Contains(line, name) && strings.Contains(line, "-") {
						f.Line = i + 1
					}
				}
			}
		}
	}
	return f
}

// trimBuildError shows repository paths as the person knows them: krusty
// sees the repository as "/", and errors from os name the real directory.
func trimBuildError(msg, dir string) string {
	msg = strings.ReplaceAll(msg, dir+"/", "")
	// krusty quotes the paths of its filesystem, whose "/" is the
	// repository root: show them repository relative.
	msg = strings.ReplaceAll(msg, "'/", "'")
	const max = 2000
	if len(msg) > max {
		msg = msg[:max] + "…"
	}
	return msg
}

// generatedKustomization is the kustomization Flux would generate for dir:
// every manifest file under it, and every subdirectory that has its own
// kustomization as a single resource.
func generatedKustomization(in *validate.Input, dir string) ([]byte, error) {
	var resources []string
	nested := map[string]bool{}
	prefix := dir + "/"
	for _, f := range in.Files {
		if strings.HasPrefix(f, prefix) && isKustomizationName(path.Base(f)) && path.Dir(f) != dir {
			nested[path.Dir(f)] = true
		}
	}
	for _, f := range in.Files {
		if !strings.HasPrefix(f, prefix) || !(strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
			continue
		}
		underNested := false
		for n := range nested {
			if strings.HasPrefix(f, n+"/") {
				underNested = true
			}
		}
		if underNested {
			continue
		}
		b, err := in.ReadFile(f)
		var unsafe *yamlsafe.Error
		if errors.Is(err, os.ErrNotExist) || errors.As(err, &unsafe) {
			continue // missing, or refused and reported by the source index
		}
		if err != nil {
			return nil, err
		}
		if !isManifest(b) {
			continue
		}
		resources = append(resources, strings.TrimPrefix(f, prefix))
	}
	for n := range nested {
		resources = append(resources, strings.TrimPrefix(n, prefix))
	}
	sort.Strings(resources)
	return yaml.Marshal(map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources})
}
