package ops

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
)

// TreeAt returns the repository's tree at a revision (a commit SHA or a
// tag). The job implements it with git; rollback reads only YAML files
// from it.
type TreeAt func(ctx context.Context, rev string) (fs.FS, error)

// Rollback restores a service's manifests and image as they were at a
// revision, GitOps-style (a pull request, not a rollout undo), and
// changes nothing of other services, even when the revision's commit
// changed them too:
//   - a directory only the service's workloads live in (k8s/order-service,
//     gitops/apps/base/order-service) is restored whole: its YAML files
//     changed, added or removed since;
//   - in files shared with other services, the service's own documents are
//     restored one by one;
//   - in shared kustomizations, the service's images: and replicas:
//     entries and the patches that target it are restored.
//
// When Flux image automation would move the restored image forward again,
// its ImagePolicy is pinned as Image pins it.
type Rollback struct {
	Service string
	// To is the commit or tag to restore.
	To string
}

// Name implements Operation.
func (Rollback) Name() string { return "rollback" }

func (b Rollback) String() string { return fmt.Sprintf("rollback %s --to %s", b.Service, b.To) }

func (b Rollback) service() string { return b.Service }

var revRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/~^-]{0,127}$`)

func (b Rollback) validate() error {
	if b.To == "" {
		return fmt.Errorf("rollback %s: name the commit or tag to restore with --to", b.Service)
	}
	if !revRE.MatchString(b.To) || strings.Contains(b.To, "..") {
		return fmt.Errorf("rollback %s: %q is not a commit or tag name", b.Service, clip(b.To))
	}
	return nil
}

func (b Rollback) plan(ctx context.Context, e *editor, ws []*workload, opts Options) error {
	if opts.TreeAt == nil {
		return fmt.Errorf("rollback %s: no repository history is available to read %s from", b.Service, b.To)
	}
	fsys, err := opts.TreeAt(ctx, b.To)
	if err != nil {
		return fmt.Errorf("rollback %s: read the repository at %s: %w", b.Service, b.To, err)
	}
	old, err := LoadFS(fsys)
	if err != nil {
		return fmt.Errorf("rollback %s: at %s: %w", b.Service, b.To, err)
	}
	oldWs, err := old.find(b.Service)
	if err != nil {
		return fmt.Errorf("rollback %s: the service did not exist at %s; pick a later commit", b.Service, b.To)
	}
	r := e.repo
	dirs := serviceDirs(r, old, ws, oldWs)
	files := 0
	for _, p := range unionPaths(r, old) {
		if !under(p, dirs) {
			continue
		}
		now, then := r.file(p), old.file(p)
		c := Change{File: p, Object: "(file)", Field: "(whole file)", From: "now", To: "as at " + b.To, Why: "in the service's own directory"}
		switch {
		case now != nil && then != nil && !bytes.Equal(now.data, then.data):
			e.replaced[p] = then.data
		case now == nil && then != nil:
			e.created[p] = then.data
			c.From, c.Why = "", "removed after "+b.To
		case now != nil && then == nil:
			e.deleted[p] = true
			c.To, c.Why = "", "added after "+b.To
		default:
			continue
		}
		files++
		e.change(c)
	}
	if err := b.sharedDocs(e, old, dirs, ws, oldWs); err != nil {
		return err
	}
	if err := b.sharedOverlays(e, old, dirs, ws, oldWs); err != nil {
		return err
	}
	if err := b.pin(e, ws, oldWs); err != nil {
		return err
	}
	cur, _ := ws[0].container("")
	was, _ := oldWs[0].container("")
	var what []string
	if cur != nil && was != nil && cur.image != nil && was.image != nil && cur.image.Value != was.image.Value {
		what = append(what, fmt.Sprintf("image %s → %s", cur.image.Value, was.image.Value))
	}
	if a, z := orDefault(scalarAt(ws[0].obj.root, "spec", "replicas"), "1"), orDefault(scalarAt(oldWs[0].obj.root, "spec", "replicas"), "1"); a != z {
		what = append(what, fmt.Sprintf("replicas %s → %s", a, z))
	}
	what = append(what, fmt.Sprintf("%d file(s) of its own directories restored", files))
	e.plan.Summary = fmt.Sprintf("Roll %s back to %s: %s.", e.plan.Service, b.To, strings.Join(what, ", "))
	e.plan.Undo = "Revert this pull request: the service's manifests return to what they are now."
	e.note("Only YAML files are restored; other services' files are left as they are, even where %s changed them.", b.To)
	return nil
}

// serviceDirs are the service's own directories: those holding its
// workloads (now or then) that are named after it, or that hold no
// workload of another service (its datastores, named SERVICE-..., count
// as its own).
func serviceDirs(r, old *Repo, ws, oldWs []*workload) []string {
	var all []*workload
	all = append(append(all, r.workloads()...), old.workloads()...)
	svc := ws[0].service
	seen := map[string]bool{}
	var out []string
	for _, w := range append(append([]*workload(nil), ws...), oldWs...) {
		d := dirOf(w.obj.file.path)
		if d == "." || seen[d] {
			continue
		}
		seen[d] = true
		ok := path.Base(d) == svc
		if !ok {
			ok = true
			for _, x := range all {
				if strings.HasPrefix(x.obj.file.path, d+"/") && x.service != svc && !strings.HasPrefix(x.service, svc+"-") {
					ok = false
				}
			}
		}
		if ok {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// under reports whether p is below one of dirs.
func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// unionPaths lists the YAML files of both trees.
func unionPaths(a, b *Repo) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range []*Repo{a, b} {
		for _, p := range r.paths {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// belongs reports whether object o is part of the service of ws.
func belongs(o *object, ws []*workload) bool {
	l := labelsAt(o.root, "metadata", "labels")
	for _, w := range ws {
		if l[nameLabel] == w.service || o.name == w.obj.name && sameNamespace(o.namespace, w.obj.namespace) {
			return true
		}
	}
	return false
}

// sharedDocs restores the service's documents in files outside its
// directories, one by one.
func (b Rollback) sharedDocs(e *editor, old *Repo, dirs []string, ws, oldWs []*workload) error {
	then := map[string]*object{}
	for _, o := range old.objects {
		if !under(o.file.path, dirs) && belongs(o, oldWs) {
			then[o.file.path+"|"+o.ref()] = o
		}
	}
	for _, o := range e.repo.objects {
		if under(o.file.path, dirs) || !belongs(o, ws) {
			continue
		}
		key := o.file.path + "|" + o.ref()
		was := then[key]
		delete(then, key)
		if was == nil {
			e.warn("%s in %s did not exist at %s: left as it is; remove it by hand if it should go.", o.ref(), o.file.path, b.To)
			continue
		}
		oldText := newText(was.file.path, was.file.data, was.file.docs).docText(was.index)
		t, err := e.doc(o)
		if err != nil {
			return err
		}
		if bytes.Equal(t.docText(o.index), oldText) {
			continue
		}
		if err := t.replaceDoc(o.index, oldText, was.file.docs[was.index]); err != nil {
			return err
		}
		e.change(Change{File: o.file.path, Line: o.root.Line, Object: o.ref(), Field: "(document)", To: "as at " + b.To, Why: "the service's document in a shared file"})
	}
	for _, o := range then {
		e.warn("%s was in %s at %s and is not now: add it back by hand if it should return.", o.ref(), o.file.path, b.To)
	}
	return nil
}

// sharedOverlays restores the service's images: and replicas: entries and
// patches in kustomizations outside its directories.
func (b Rollback) sharedOverlays(e *editor, old *Repo, dirs []string, ws, oldWs []*workload) error {
	images := map[string]bool{}
	for _, set := range [][]*workload{ws, oldWs} {
		for _, w := range set {
			if c, err := w.container(""); err == nil && c.image != nil {
				images[parseImage(c.image.Value).name] = true
			}
		}
	}
	for _, k := range e.repo.kusts {
		if under(k.file.path, dirs) {
			continue
		}
		ok := oldKust(old, k)
		for img := range images {
			if err := b.entries(e, k, ok, imagesOf(k, img), entriesOf(ok, func(k *kust) []*imageEntry { return imagesOf(k, img) }), "images", []string{"newName", "newTag", "digest"}); err != nil {
				return err
			}
		}
		done := map[string]bool{}
		for _, w := range ws {
			name := w.obj.name
			if done[name] {
				continue
			}
			done[name] = true
			if err := b.entries(e, k, ok, replicasOf(k, name), entriesOf(ok, func(k *kust) []*imageEntry { return replicasOf(k, name) }), "replicas", []string{"count"}); err != nil {
				return err
			}
		}
	}
	return b.sharedPatches(e, old, dirs, ws, oldWs)
}

// oldKust is kustomization k as it was in old, or nil.
func oldKust(old *Repo, k *kust) *kust {
	for _, o := range old.kusts {
		if o.file.path == k.file.path && (o.flux == nil) == (k.flux == nil) && (k.flux == nil || o.flux.ref() == k.flux.ref()) {
			return o
		}
	}
	return nil
}

func entriesOf(k *kust, f func(*kust) []*imageEntry) []*imageEntry {
	if k == nil {
		return nil
	}
	return f(k)
}

// entries restores the fields of a kustomization's list entries.
func (b Rollback) entries(e *editor, k, ok *kust, now, then []*imageEntry, list string, fields []string) error {
	if len(now) == 0 {
		if len(then) > 0 {
			e.warn("%s had a %s entry for %s at %s that it no longer has: add it back by hand.", k.where(), list, scalarAt(then[0].node, "name"), b.To)
		}
		return nil
	}
	ent := now[0]
	obj := fmt.Sprintf("%s %s%s[%s]", k.where(), k.fieldPrefix(), list, scalarAt(ent.node, "name"))
	if len(then) == 0 {
		return removeEntry(e, k, ent.seq, ent.index, list, obj, "not there at "+b.To)
	}
	t, err := e.open(k.file.path)
	if err != nil {
		return err
	}
	for _, f := range fields {
		v := yamlnode.At(then[0].node, f)
		if v == nil {
			if err := e.removeField(t, obj, f, ent.node, []string{f}, "as at "+b.To); err != nil {
				return err
			}
			continue
		}
		val := scalar(v.Value, v.Tag)
		if err := e.setField(t, obj, f, ent.node, []string{f}, val, "as at "+b.To); err != nil {
			return err
		}
	}
	return nil
}

// sharedPatches restores the patches that target the service from
// kustomizations outside its directories.
func (b Rollback) sharedPatches(e *editor, old *Repo, dirs []string, ws, oldWs []*workload) error {
	var ovs []overlay
	for _, ov := range e.overlays(ws) {
		if !under(ov.k.file.path, dirs) {
			ovs = append(ovs, ov)
		}
	}
	for _, bp := range e.patchesFor(ovs) {
		ok := oldKust(old, bp.p.k)
		var was *patch
		if ok != nil {
			for _, p := range old.patchesOf(ok) {
				if p.list == bp.p.list && samePatchTarget(p, bp.p) && p.file == bp.p.file {
					was = p
					break
				}
			}
		}
		switch {
		case was == nil:
			e.warn("The patch %s did not exist at %s: left as it is; remove it by hand if it should go.", bp.p.where(), b.To)
		case bytes.Equal(was.text, bp.p.text):
		case bp.p.file != "":
			if under(bp.p.file, dirs) {
				continue
			}
			e.replaced[bp.p.file] = was.text
			e.change(Change{File: bp.p.file, Object: "(patch)", Field: "(whole file)", To: "as at " + b.To, Why: "a patch of the service"})
		default:
			t, err := e.open(bp.p.k.file.path)
			if err != nil {
				return err
			}
			if err := t.setBlock(bp.p.inline, string(was.text)); err != nil {
				return err
			}
			e.change(Change{File: bp.p.k.file.path, Line: bp.p.inline.Line, Object: bp.p.where(), Field: "patch", To: "as at " + b.To, Why: "a patch of the service"})
		}
	}
	return nil
}

// samePatchTarget compares what two patches select.
func samePatchTarget(a, b *patch) bool {
	key := func(p *patch) string {
		if p.target != nil {
			return scalarAt(p.target, "kind") + "/" + scalarAt(p.target, "namespace") + "/" + scalarAt(p.target, "name") + "/" + scalarAt(p.target, "labelSelector")
		}
		if r := smpRoot(p); r != nil {
			return scalarAt(r, "kind") + "/" + scalarAt(r, "metadata", "name")
		}
		return ""
	}
	return key(a) == key(b)
}

// pin renders the restored tree and pins the ImagePolicy that would move
// the restored image forward again.
func (b Rollback) pin(e *editor, ws, oldWs []*workload) error {
	files, err := e.render()
	if err != nil {
		return err
	}
	mid := &Repo{files: map[string]*yfile{}, patchFiles: map[string]bool{}}
	for _, p := range e.repo.paths {
		if data, ok := files[p]; !ok {
			mid.add(p, e.repo.files[p].data)
		} else if data != nil {
			mid.add(p, data)
		}
	}
	for p, data := range files {
		if e.repo.file(p) == nil && data != nil {
			mid.add(p, data)
		}
	}
	mid.index()
	midWs, err := mid.find(b.Service)
	if err != nil {
		return nil
	}
	e2 := &editor{repo: mid, plan: e.plan, texts: map[string]*ytext{}, inline: map[*yaml.Node]*inlineText{}, created: map[string][]byte{}, deleted: map[string]bool{}, replaced: map[string][]byte{}}
	curTag := map[string]imageRef{}
	for _, w := range ws {
		if c, err := w.container(""); err == nil && c.image != nil {
			curTag[w.obj.file.path] = parseImage(c.image.Value)
		}
	}
	done := map[string]bool{}
	for _, w := range midWs {
		c, err := w.container("")
		if err != nil || c.image == nil {
			continue
		}
		s, ok := parseSetter(c.image.LineComment)
		if !ok || done[s.namespace+":"+s.policy] {
			continue
		}
		done[s.namespace+":"+s.policy] = true
		cur, ok := curTag[w.obj.file.path]
		want := parseImage(c.image.Value)
		if !ok || cur == want {
			continue
		}
		if _, err := pinPolicy(e2, fieldSetter{s: s, file: w.obj.file.path, line: c.image.Line, cur: cur}, want, b.Service); err != nil {
			return err
		}
	}
	pinned, err := e2.render()
	if err != nil {
		return err
	}
	for p, data := range pinned {
		e.replaced[p] = data
	}
	return nil
}
