package validate

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/finding"
)

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Load discovers and builds everything under dir: kustomization roots
// (built with krusty, in parallel), directories Flux Kustomizations point
// at without a kustomization file (built from a generated one, as Flux
// does), and loose manifests under k8s/ and gitops/. Build failures and
// unparsable YAML come back as findings; only an unreadable directory is
// an error.
func Load(ctx context.Context, dir string) (*Input, []finding.Finding, error) {
	repo, err := analyze.OpenRepo(dir)
	if err != nil {
		return nil, nil, err
	}
	in := &Input{Dir: repo.Root(), Files: repo.Files(), RootObjects: map[string][]Object{}}
	in.Sources = IndexSources(in.Dir, in.Files)
	var fs []finding.Finding
	for _, e := range in.Sources.ParseErrors {
		fs = append(fs, finding.Finding{ID: "KW-DISCOVER-001", Severity: finding.Error, Stage: StageDiscover, File: e.File, Line: e.Line,
			Message: "not valid YAML: " + e.Message, Hint: "fix the YAML syntax on that line"})
	}
	in.Roots = discoverRoots(in)

	type result struct {
		objs []Object
		f    *finding.Finding
	}
	results := make([]result, len(in.Roots))
	sem := make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, r := range in.Roots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			objs, f := buildRoot(in, r)
			results[i] = result{objs, f}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	// An object built by several roots (k8s/ and k8s/svc/) is checked once;
	// the same object written in two places (k8s/ and gitops/) is checked
	// in each, because either file may be the wrong one.
	seen := map[string]bool{}
	add := func(o Object) {
		if k := o.Key() + "|" + o.File; !seen[k] {
			seen[k] = true
			in.Objects = append(in.Objects, o)
		}
	}
	for i, r := range in.Roots {
		if results[i].f != nil {
			fs = append(fs, *results[i].f)
			continue
		}
		in.RootObjects[r.Dir] = results[i].objs
		for _, o := range results[i].objs {
			add(o)
		}
	}
	for _, o := range looseObjects(in) {
		add(o)
	}
	for _, o := range in.Objects {
		if o.U.GetKind() == "CustomResourceDefinition" && strings.HasPrefix(o.U.GetAPIVersion(), "apiextensions.k8s.io/") {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := fromUnstructured(o.U, &crd); err == nil {
				in.CRDs = append(in.CRDs, &crd)
			}
		}
	}
	return in, fs, nil
}

// discoverRoots finds every directory with a kustomization file, and every
// directory a Flux Kustomization points at that has none.
func discoverRoots(in *Input) []Root {
	// dirs maps each root directory to its kustomization file, preferring
	// names in kustomizationNames order when a directory has several.
	dirs := map[string]string{}
	rank := map[string]int{}
	for i, n := range kustomizationNames {
		rank[n] = i + 1
	}
	for _, f := range in.Files {
		r := rank[path.Base(f)]
		if r == 0 {
			continue
		}
		d := path.Dir(f)
		if cur, ok := dirs[d]; !ok || r < rank[path.Base(cur)] {
			dirs[d] = f
		}
	}
	var roots []Root
	for d, file := range dirs {
		roots = append(roots, Root{Dir: d, File: file})
	}
	for _, d := range in.Sources.Docs() {
		if d.Kind != "Kustomization" || !strings.HasPrefix(d.APIVersion, "kustomize.toolkit.fluxcd.io/") {
			continue
		}
		p := path.Clean(strings.TrimPrefix(scalar(child(d.Node, "spec"), "path"), "./"))
		if _, has := dirs[p]; p == "" || p == "." || strings.HasPrefix(p, "..") || has || !dirExists(in.Files, p) {
			continue
		}
		dirs[p] = ""
		roots = append(roots, Root{Dir: p, Generated: true})
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].Dir < roots[j].Dir })
	return roots
}

func dirExists(files []string, dir string) bool {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for _, f := range files {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

var quotedPath = regexp.MustCompile(`'([^']+)'`)

// buildRoot runs krusty on one root and maps each object to its source.
func buildRoot(in *Input, r Root) ([]Object, *finding.Finding) {
	fsys := filesys.MakeFsOnDisk()
	dir := path.Join(in.Dir, r.Dir)
	if r.Generated {
		mem, err := generatedRoot(in, r.Dir)
		if err != nil {
			return nil, &finding.Finding{ID: "KW-BUILD-002", Severity: finding.Error, Stage: StageBuild, File: r.Dir,
				Message: "cannot emulate Flux's generated kustomization: " + err.Error()}
		}
		fsys, dir = mem, "/"+r.Dir
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(fsys, dir)
	if err != nil {
		f := &finding.Finding{ID: "KW-BUILD-001", Severity: finding.Error, Stage: StageBuild, File: r.File, Line: 1,
			Message: "kustomize build " + r.Dir + " failed: " + trimBuildError(err.Error(), in.Dir),
			Hint:    "fix the kustomization or the file it names; `kustomize build " + r.Dir + "` shows the same error"}
		if r.Generated {
			f.File = r.Dir
		}
		// Point at the line of the kustomization that names the culprit.
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
		return nil, f
	}
	var objs []Object
	for _, res := range resMap.Resources() {
		m, err := res.Map()
		if err != nil {
			continue
		}
		u, err := newUnstructured(m)
		if err != nil {
			continue
		}
		o := Object{U: u, Root: r.Dir, File: r.File, Line: 1}
		if d, ok := in.Sources.Find(r.Dir, u.GetKind(), u.GetNamespace(), u.GetName()); ok {
			o.File, o.Line = d.File, d.Line
		}
		if o.File == "" {
			o.File = r.Dir
		}
		objs = append(objs, o)
	}
	return objs, nil
}

func trimBuildError(msg, dir string) string {
	return strings.ReplaceAll(msg, dir+"/", "")
}

// generatedRoot copies the tree under dir into memory with the
// kustomization Flux would generate: every manifest file, and every
// subdirectory that has its own kustomization as a single resource.
func generatedRoot(in *Input, dir string) (filesys.FileSystem, error) {
	mem := filesys.MakeFsInMemory()
	var resources []string
	nested := map[string]bool{}
	prefix := dir + "/"
	for _, f := range in.Files {
		if strings.HasPrefix(f, prefix) {
			for _, n := range kustomizationNames {
				if path.Base(f) == n && path.Dir(f) != dir {
					nested[path.Dir(f)] = true
				}
			}
		}
	}
	for _, f := range in.Files {
		if !strings.HasPrefix(f, prefix) {
			continue
		}
		b, err := in.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := mem.MkdirAll(path.Dir("/" + f)); err != nil {
			return nil, err
		}
		if err := mem.WriteFile("/"+f, b); err != nil {
			return nil, err
		}
		underNested := false
		for n := range nested {
			if strings.HasPrefix(f, n+"/") {
				underNested = true
			}
		}
		if underNested || !(strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) || !isManifest(b) {
			continue
		}
		resources = append(resources, strings.TrimPrefix(f, prefix))
	}
	for n := range nested {
		resources = append(resources, strings.TrimPrefix(n, prefix))
	}
	sort.Strings(resources)
	k, err := yaml.Marshal(map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources})
	if err != nil {
		return nil, err
	}
	return mem, mem.WriteFile("/"+dir+"/kustomization.yaml", k)
}

var kindLine = regexp.MustCompile(`(?m)^kind:\s*\S`)

func isManifest(b []byte) bool { return kindLine.Match(b) }

// looseObjects are the documents of YAML files under k8s/ and gitops/ that
// no root covers.
func looseObjects(in *Input) []Object {
	var out []Object
	for _, d := range in.Sources.Docs() {
		top, _, _ := strings.Cut(d.File, "/")
		if (top != "k8s" && top != "gitops") || d.Kind == "" || d.APIVersion == "" {
			continue
		}
		covered := false
		for _, r := range in.Roots {
			if r.Dir == "." || strings.HasPrefix(d.File, r.Dir+"/") {
				covered = true
				break
			}
		}
		if covered || d.Kind == "Kustomization" && strings.HasPrefix(d.APIVersion, "kustomize.config.k8s.io") {
			continue
		}
		raw, err := yamlNodeBytes(d)
		if err != nil {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			continue
		}
		u, err := newUnstructured(m)
		if err != nil {
			continue
		}
		out = append(out, Object{U: u, File: d.File, Line: d.Line})
	}
	return out
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	b, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s: %w", u.GetName(), err)
	}
	return nil
}

// newUnstructured normalizes a decoded object to the JSON value types the
// apimachinery code expects (int64/float64, no int), via a JSON round trip.
func newUnstructured(m map[string]any) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return u, nil
}
