package ops

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"

	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// Limits of one repository tree.
const (
	// MaxYAMLFiles caps the YAML files read from one tree.
	MaxYAMLFiles = 5000
	// maxDepth caps directory depth and kustomization nesting.
	maxDepth = 32
)

// skipDirs are directories that never hold a service's manifests.
var skipDirs = map[string]bool{
	"node_modules": true, "vendor": true, "target": true, "bin": true, "obj": true,
	"dist": true, "build": true, "testdata": true, "charts": true, "templates": true,
}

// Repo is a repository tree loaded for Day-2 operations: its YAML files
// and their documents, the kustomizations among them, and the services
// (Deployments and StatefulSets) they define. It is read-only: plans
// carry the edits, and Plan.Apply writes them.
type Repo struct {
	files   map[string]*yfile
	paths   []string // sorted
	objects []*object
	kusts   []*kust
	// patchFiles are files kustomizations use as patches: their documents
	// are partial objects, not definitions.
	patchFiles map[string]bool
	// Skipped are YAML files that were not read (unparsable, too large),
	// with the reason; operations never edit them.
	Skipped []string
}

// yfile is one YAML file of the tree.
type yfile struct {
	path string
	data []byte
	docs []*yaml.Node
}

// object is one document of a file that holds a Kubernetes object.
type object struct {
	file      *yfile
	index     int
	root      *yaml.Node // the document's mapping
	kind      string
	name      string
	namespace string
}

// ref spells the object as findings do: Kind/namespace/name.
func (o *object) ref() string {
	if o.namespace == "" {
		return o.kind + "/" + o.name
	}
	return o.kind + "/" + o.namespace + "/" + o.name
}

// Load reads the repository checked out at dir. Paths stay inside dir
// (symlinks are not followed), and every file passes yamlsafe's budgets.
func Load(dir string) (*Repo, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	defer root.Close()
	return LoadFS(root.FS())
}

// LoadFS reads a repository tree from fsys (a checkout, or the tree of a
// commit for rollback).
func LoadFS(fsys fs.FS) (*Repo, error) {
	r := &Repo{files: map[string]*yfile{}, patchFiles: map[string]bool{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			r.Skipped = append(r.Skipped, p+": "+err.Error())
			return nil
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || skipDirs[d.Name()] || strings.Count(p, "/") >= maxDepth) {
				return fs.SkipDir
			}
			return nil
		}
		ext := path.Ext(p)
		if ext != ".yaml" && ext != ".yml" || !d.Type().IsRegular() {
			return nil
		}
		if len(r.files) >= MaxYAMLFiles {
			return fmt.Errorf("the repository has more than %d YAML files; kubewright edits smaller trees", MaxYAMLFiles)
		}
		info, err := d.Info()
		if err != nil || info.Size() > yamlsafe.MaxFileBytes {
			r.Skipped = append(r.Skipped, p+": too large or unreadable")
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			r.Skipped = append(r.Skipped, p+": "+err.Error())
			return nil
		}
		r.add(p, data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read repository: %w", err)
	}
	r.index()
	return r, nil
}

// add parses one file into the tree; a file that does not parse is noted
// in Skipped.
func (r *Repo) add(p string, data []byte) {
	docs, err := decodeYAML(p, data)
	if err != nil {
		var ye *yamlsafe.Error
		if errors.As(err, &ye) {
			r.Skipped = append(r.Skipped, ye.Error())
		} else {
			r.Skipped = append(r.Skipped, p+": does not parse as YAML")
		}
		return
	}
	r.files[p] = &yfile{path: p, data: data, docs: docs}
	r.paths = append(r.paths, p)
}

// index finds the objects and kustomizations of the loaded files.
func (r *Repo) index() {
	sort.Strings(r.paths)
	for _, p := range r.paths {
		f := r.files[p]
		for i, d := range f.docs {
			if len(d.Content) == 0 || d.Content[0].Kind != yaml.MappingNode {
				continue
			}
			root := d.Content[0]
			o := &object{file: f, index: i, root: root, kind: scalarAt(root, "kind"),
				name: scalarAt(root, "metadata", "name"), namespace: scalarAt(root, "metadata", "namespace")}
			if isKustomizationFile(p) && (o.kind == "" || o.kind == "Kustomization" && strings.HasPrefix(scalarAt(root, "apiVersion"), "kustomize.config.k8s.io/")) {
				r.kusts = append(r.kusts, &kust{file: f, dir: path.Dir(p), root: root})
				continue
			}
			if o.kind == "Kustomization" && strings.HasPrefix(scalarAt(root, "apiVersion"), "kustomize.toolkit.fluxcd.io/") {
				if spec := yamlnode.At(root, "spec"); spec != nil && spec.Kind == yaml.MappingNode {
					r.kusts = append(r.kusts, &kust{file: f, dir: ".", root: spec, flux: o, fluxPath: cleanFluxPath(scalarAt(spec, "path"))})
				}
			}
			if o.kind != "" {
				r.objects = append(r.objects, o)
			}
		}
	}
	for _, k := range r.kusts {
		for _, p := range r.patchesOf(k) {
			if p.file != "" {
				r.patchFiles[p.file] = true
			}
		}
	}
}

// isKustomizationFile reports kustomize's file names.
func isKustomizationFile(p string) bool {
	switch path.Base(p) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// cleanFluxPath turns a Flux Kustomization's spec.path ("./gitops/apps")
// into a repository path ("gitops/apps"); "" when it leaves the tree.
func cleanFluxPath(p string) string {
	c := path.Clean("/" + strings.TrimPrefix(p, "./"))
	if c == "/" {
		return "."
	}
	return strings.TrimPrefix(c, "/")
}

// joinRel resolves a path a kustomization names, relative to its
// directory; ok is false for a URL or a path that leaves the tree.
func joinRel(dir, p string) (string, bool) {
	if p == "" || strings.Contains(p, "://") || strings.HasPrefix(p, "github.com/") || strings.HasPrefix(p, "git@") || path.IsAbs(p) {
		return "", false
	}
	j := path.Join(dir, p)
	if j == ".." || strings.HasPrefix(j, "../") {
		return "", false
	}
	return j, true
}

// file returns a loaded file, or nil.
func (r *Repo) file(p string) *yfile { return r.files[p] }

// isDir reports whether any loaded file is under p.
func (r *Repo) isDir(p string) bool {
	if p == "." {
		return len(r.paths) > 0
	}
	i := sort.SearchStrings(r.paths, p+"/")
	return i < len(r.paths) && strings.HasPrefix(r.paths[i], p+"/")
}

// kustomizationIn returns the kustomization file of directory dir, or nil.
func (r *Repo) kustomizationIn(dir string) *kust {
	for _, k := range r.kusts {
		if k.flux == nil && k.dir == dir {
			return k
		}
	}
	return nil
}

// reach is the set of files a kustomization renders, its bases' included.
func (r *Repo) reach(k *kust) map[string]bool {
	out := map[string]bool{}
	seen := map[string]bool{}
	if k.flux != nil {
		r.reachDir(k.fluxPath, out, seen, 0)
	} else {
		r.reachKust(k, out, seen, 0)
	}
	return out
}

func (r *Repo) reachKust(k *kust, out, seen map[string]bool, depth int) {
	if seen[k.file.path] || depth > maxDepth {
		return
	}
	seen[k.file.path] = true
	for _, list := range []string{"resources", "bases", "components"} {
		s := yamlnode.At(k.root, list)
		if s == nil || s.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range s.Content {
			p, ok := joinRel(k.dir, it.Value)
			if !ok || it.Kind != yaml.ScalarNode {
				continue
			}
			if r.files[p] != nil {
				out[p] = true
				continue
			}
			if sub := r.kustomizationIn(p); sub != nil {
				r.reachKust(sub, out, seen, depth+1)
			}
		}
	}
}

// reachDir is what Flux renders for a path: its kustomization, or every
// manifest below it when it has none.
func (r *Repo) reachDir(dir string, out, seen map[string]bool, depth int) {
	if k := r.kustomizationIn(dir); k != nil {
		r.reachKust(k, out, seen, depth+1)
		return
	}
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	for _, p := range r.paths {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		if sub := path.Dir(p); sub != dir && r.kustomizationIn(sub) != nil {
			r.reachKust(r.kustomizationIn(sub), out, seen, depth+1)
			continue
		}
		out[p] = true
	}
}
