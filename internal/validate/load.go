package validate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/finding"
)

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Load discovers and builds everything under dir with the default
// LoadOptions. See LoadWith.
func Load(ctx context.Context, dir string) (*Input, []finding.Finding, error) {
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
func LoadWith(ctx context.Context, dir string, opts LoadOptions) (*Input, []finding.Finding, error) {
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
	in := &Input{Dir: repo.Root(), Files: repo.Files(), RootObjects: map[string][]Object{}}
	l := &loader{in: in, root: root, opts: opts, data: map[string]bool{}, checked: map[string]bool{}, scans: map[string]*kustScan{}}
	var fs []finding.Finding
	fs = append(fs, l.prescan()...)
	idx, unsafe := indexSources(in.Dir, in.Files, l.data, l.checked)
	in.Sources = idx
	for _, e := range in.Sources.ParseErrors {
		fs = append(fs, finding.Finding{ID: "KW-DISCOVER-001", Severity: finding.Error, Stage: StageDiscover, File: e.File, Line: e.Line,
			Message: "not valid YAML: " + e.Message, Hint: "fix the YAML syntax on that line"})
	}
	fs = append(fs, unsafe...)
	in.Roots = discoverRoots(in)

	results, err := l.buildAll(ctx)
	if err != nil {
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
			if err := fromUnstructured(o.U, &crd); err == nil {
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
