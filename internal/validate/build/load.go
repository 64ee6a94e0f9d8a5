// Package build is the first stage of validation: it discovers a
// directory's kustomization roots (and the directories Flux Kustomizations
// point at without one), builds them with krusty, collects loose manifests,
// and returns the Input every other stage reads, with the findings of
// discovery and build (KW-DISCOVER-*, KW-BUILD-*). Nothing it loads can
// reach outside the repository or run code: see LoadWith.
package build

import (
	"context"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Load discovers and builds everything under dir with the default
// LoadOptions. See LoadWith.
func Load(ctx context.Context, dir string) (*validate.Input, []finding.Finding, error) {
	return LoadWith(ctx, dir, LoadOptions{})
}

// LoadWith discovers and builds everything under dir: kustomization roots
// (built with krusty, in parallel), directories Flux Kustomizations point
// at without a kustomization file (built from a generated one, as Flux
// does), and loose manifests under k8s/ and gitops/. Build failures and
// unparsable YAML come back as findings; only an unreadable directory is
// an error.
//
// Nothing it loads can reach outside the repository: every kustomization
// is pre-scanned (scanKustomization) and a root that references a URL, an
// absolute path, a path out of the repository or a plugin is not built;
// krusty runs root-only, without plugins, over repoFS, under a deadline
// per root. Every YAML file passes yamlsafe before a decoder sees it.
func LoadWith(ctx context.Context, dir string, opts LoadOptions) (*validate.Input, []finding.Finding, error) {
	opts = opts.withDefaults()
	repo, err := analyze.OpenRepo(dir)
	if err != nil {
		return nil, nil, err
	}
	root, err := os.OpenRoot(repo.Root())
	if err != nil {
		return nil, nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	// Closing the root also fails the reads of builds that overran their
	// deadline and still run.
	defer root.Close()
	in := &validate.Input{Dir: repo.Root(), Files: repo.Files(), RootObjects: map[string][]validate.Object{}}
	l := &loader{in: in, root: root, opts: opts, data: map[string]bool{}, checked: map[string]bool{}, scans: map[string]*kustScan{}}
	var fs []finding.Finding
	fs = append(fs, l.prescan()...)
	idx, unsafe := validate.IndexManifests(in.Dir, in.Files, l.data, l.checked)
	in.Sources = idx
	for _, e := range in.Sources.ParseErrors {
		fs = append(fs, finding.Finding{ID: "KW-DISCOVER-001", Severity: finding.Error, Stage: validate.StageDiscover, File: e.File, Line: e.Line,
			Message: "not valid YAML: " + e.Message, Hint: "fix the YAML syntax on that line"})
	}
	fs = append(fs, unsafe...)
	in.Roots = discoverRoots(in, func(file string) bool { s := l.scans[file]; return s != nil && s.component })

	results, err := l.buildAll(ctx)
	if err != nil {
		return nil, nil, err
	}
	// An object built by several roots (k8s/ and k8s/svc/) is checked once;
	// the same object written in two places (k8s/ and gitops/) is checked
	// in each, because either file may be the wrong one.
	seen := map[string]bool{}
	add := func(o validate.Object) {
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
		if results[i].skipped {
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
			if err := validate.FromUnstructured(o.U, &crd); err == nil {
				in.CRDs = append(in.CRDs, &crd)
			}
		}
	}
	return in, dedupe(fs), nil
}

// dedupe drops repeated findings (same ID, file and line): a base that
// references a URL is reported once, not once more per overlay.
func dedupe(fs []finding.Finding) []finding.Finding {
	seen := map[string]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := fmt.Sprintf("%s|%s|%d", f.ID, f.File, f.Line)
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// discoverRoots finds every directory with a kustomization file, and every
// directory a Flux Kustomization points at that has none. A kustomize
// Component is no root: kustomize cannot build one alone (its generators
// merge into, and its patches apply to, what the including kustomization
// brings), so it is checked as part of each kustomization that lists it.
func discoverRoots(in *validate.Input, component func(file string) bool) []validate.Root {
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
	var roots []validate.Root
	for d, file := range dirs {
		if component(file) {
			continue
		}
		roots = append(roots, validate.Root{Dir: d, File: file})
	}
	for _, d := range in.Sources.Docs() {
		if d.Kind != "Kustomization" || !strings.HasPrefix(d.APIVersion, "kustomize.toolkit.fluxcd.io/") {
			continue
		}
		p := path.Clean(strings.TrimPrefix(validate.MapScalar(validate.MapValue(d.Node, "spec"), "path"), "./"))
		if _, has := dirs[p]; p == "" || p == "." || strings.HasPrefix(p, "..") || has || !dirExists(in.Files, p) {
			continue
		}
		dirs[p] = ""
		roots = append(roots, validate.Root{Dir: p, Generated: true})
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

var kindLine = regexp.MustCompile(`(?m)^kind:\s*\S`)

func isManifest(b []byte) bool { return kindLine.Match(b) }

// looseObjects are the documents of YAML files under k8s/ and gitops/ that
// no root covers.
func looseObjects(in *validate.Input) []validate.Object {
	var out []validate.Object
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
		raw, err := d.YAML()
		if err != nil {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			continue
		}
		u, err := validate.NewUnstructured(m)
		if err != nil {
			continue
		}
		out = append(out, validate.Object{U: u, File: d.File, Line: d.Line})
	}
	return out
}
