package ops

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"
)

// Image sets a service's image tag or digest everywhere it is defined:
// the workload documents (keeping Flux setter comments), kustomize
// images: entries and overlay patches. When Flux image automation governs
// the field and its ImagePolicy would move the image straight back (an
// older tag, a tag outside the policy's range), the policy is pinned to
// the new tag, in the open, with how to resume updates: pinning keeps
// the automation and its setters in place, where removing a setter or
// suspending the ImageUpdateAutomation would silently stop updates of
// every image it manages.
type Image struct {
	Service string
	// Ref is a tag, a digest (sha256:...), tag@digest, or the image's
	// repository with either.
	Ref       string
	Container string
}

// Name implements Operation.
func (Image) Name() string { return "image" }

func (i Image) String() string {
	c := fmt.Sprintf("image %s %s", i.Service, i.Ref)
	if i.Container != "" {
		c += " --container " + i.Container
	}
	return c
}

func (i Image) service() string { return i.Service }

var (
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$`)
)

// ref splits Ref; name is empty unless Ref names the repository.
func (i Image) ref() (imageRef, error) {
	var r imageRef
	s := i.Ref
	before, dig, _ := strings.Cut(s, "@")
	switch {
	case strings.HasPrefix(s, "sha256:"):
		r.digest = s
	case !strings.ContainsAny(before, "/:"):
		r.tag, r.digest = before, dig
	default:
		r = parseImage(s)
		if strings.HasPrefix(r.tag, "sha256") && r.digest == "" {
			return r, fmt.Errorf("image: %q: write a digest as sha256:<64 hex digits>, or repository@sha256:...", clip(s))
		}
	}
	switch {
	case r.tag == "" && r.digest == "":
		return r, fmt.Errorf("image: %q has neither a tag nor a digest", clip(s))
	case r.tag != "" && !tagRE.MatchString(r.tag):
		return r, fmt.Errorf("image: %q is not a valid tag (letters, digits, '_', '.', '-', at most 128)", clip(r.tag))
	case r.digest != "" && !digestRE.MatchString(r.digest):
		return r, fmt.Errorf("image: %q is not a digest (sha256: and 64 lowercase hex digits)", clip(r.digest))
	case r.name != "" && !nameRE.MatchString(r.name):
		return r, fmt.Errorf("image: %q is not an image repository", clip(r.name))
	}
	return r, nil
}

func (i Image) validate() error {
	_, err := i.ref()
	return err
}

func (i Image) plan(_ context.Context, e *editor, ws []*workload, _ Options) error {
	want, _ := i.ref()
	var cur imageRef
	var setters []fieldSetter
	for _, w := range ws {
		c, err := w.container(i.Container)
		if err != nil {
			return err
		}
		if c.image == nil {
			return fmt.Errorf("%s:%d: container %s of %s has no image field", w.obj.file.path, c.node.Line, c.name, w.obj.ref())
		}
		cur = parseImage(c.image.Value)
		if want.name != "" && want.name != cur.name {
			return fmt.Errorf("image %s: %s is not the service's image repository %s (%s:%d); image changes the tag or digest only",
				i.Service, want.name, cur.name, w.obj.file.path, c.image.Line)
		}
		next := imageRef{name: cur.name, tag: want.tag, digest: want.digest}
		t, err := e.doc(w.obj)
		if err != nil {
			return err
		}
		if err := e.setField(t, w.obj.ref(), containerField(c, "image"), c.node, []string{"image"}, str(next.String()), "new image"); err != nil {
			return err
		}
		if s, ok := parseSetter(c.image.LineComment); ok {
			setters = append(setters, fieldSetter{s: s, file: w.obj.file.path, line: c.image.Line, cur: cur})
		}
		more, err := i.overlays(e, w, c, cur, want)
		if err != nil {
			return err
		}
		setters = append(setters, more...)
	}
	if err := i.pin(e, setters, want); err != nil {
		return err
	}
	e.plan.Summary = fmt.Sprintf("Set %s's image to %s (now %s).", e.plan.Service, imageRef{name: cur.name, tag: want.tag, digest: want.digest}, cur)
	if e.plan.Undo == "" {
		e.plan.Undo = fmt.Sprintf("Revert this pull request, or run `image %s %s`.", i.Service, strings.TrimPrefix(strings.TrimPrefix(cur.String(), cur.name), ":"))
	}
	return nil
}

// fieldSetter is a Flux setter met on an edited field.
type fieldSetter struct {
	s    setter
	file string
	line int
	cur  imageRef
}

// overlays edits the kustomize images: entries and patches that set the
// container's image for workload w.
func (i Image) overlays(e *editor, w *workload, c *container, cur, want imageRef) ([]fieldSetter, error) {
	var setters []fieldSetter
	ovs := e.overlays([]*workload{w})
	seen := map[*yaml.Node]bool{}
	for _, ov := range ovs {
		for _, ent := range imagesOf(ov.k, cur.name) {
			if seen[ent.node] {
				continue
			}
			seen[ent.node] = true
			t, err := e.open(ov.k.file.path)
			if err != nil {
				return nil, err
			}
			obj := fmt.Sprintf("%s %simages[%s]", ov.k.where(), ov.k.fieldPrefix(), cur.name)
			was := imageRef{name: cur.name, tag: scalarAt(ent.node, "newTag"), digest: scalarAt(ent.node, "digest")}
			for _, f := range []struct{ key, v string }{{"newTag", want.tag}, {"digest", want.digest}} {
				if f.v == "" {
					if err := e.removeField(t, obj, f.key, ent.node, []string{f.key}, "new image"); err != nil {
						return nil, err
					}
					continue
				}
				if err := e.setField(t, obj, f.key, ent.node, []string{f.key}, str(f.v), "new image"); err != nil {
					return nil, err
				}
				if v := yamlnode.At(ent.node, f.key); v != nil {
					if s, ok := parseSetter(v.LineComment); ok {
						setters = append(setters, fieldSetter{s: s, file: ov.k.file.path, line: v.Line, cur: was})
					}
				}
			}
			if n := scalarAt(ent.node, "newName"); n != "" {
				e.note("%s renames the image to %s; the new tag applies to it.", obj, n)
			}
		}
	}
	for _, bp := range e.patchesFor(ovs) {
		t, err := e.patchDoc(bp.p)
		if err != nil {
			return nil, err
		}
		if pc := smpContainer(smpRoot(bp.p), c.name); pc != nil && yamlnode.At(pc, "image") != nil {
			pcur := parseImage(scalarAt(pc, "image"))
			next := imageRef{name: pcur.name, tag: want.tag, digest: want.digest}
			if err := e.setField(t, bp.p.where(), containerField(c, "image"), pc, []string{"image"}, str(next.String()), "new image"); err != nil {
				return nil, err
			}
		}
		for _, op := range jsonOps(bp.p, func(p string) bool { return p == containerPath(c, "image") }) {
			pcur := parseImage(scalarAt(op, "value"))
			next := imageRef{name: pcur.name, tag: want.tag, digest: want.digest}
			if err := e.setField(t, bp.p.where(), containerPath(c, "image"), op, []string{"value"}, str(next.String()), "new image"); err != nil {
				return nil, err
			}
		}
	}
	return setters, nil
}

// pin decides, for each ImagePolicy a setter on an edited field names,
// whether Flux would move the image back, and pins the policy if so.
func (i Image) pin(e *editor, setters []fieldSetter, want imageRef) error {
	done := map[string]bool{}
	for _, fs := range setters {
		key := fs.s.namespace + ":" + fs.s.policy
		if done[key] {
			continue
		}
		done[key] = true
		pinned, err := pinPolicy(e, fs, want, i.Service)
		if err != nil {
			return err
		}
		if pinned != "" {
			e.plan.Undo = fmt.Sprintf("Revert this pull request; to keep this image but resume automatic updates, restore %s.", pinned)
		}
	}
	return nil
}

// pinPolicy pins the ImagePolicy of setter fs to want when its
// automation would otherwise move the image back; it returns what to
// restore to resume updates, "" when nothing was pinned.
func pinPolicy(e *editor, fs fieldSetter, want imageRef, service string) (string, error) {
	r := e.repo
	at := fmt.Sprintf("%s:%d", fs.file, fs.line)
	if r.automationFor(fs.file) == nil {
		e.note("%s carries the Flux setter %s, but no ImageUpdateAutomation in the repository updates that path, so nothing moves the image back.", at, fs.s)
		return "", nil
	}
	pol := r.imagePolicy(fs.s)
	if pol == nil {
		e.warn("%s carries the Flux setter %s, but the ImagePolicy %s/%s is not in the repository: if it exists in the cluster, its automation may move the image back.", at, fs.s, fs.s.namespace, fs.s.policy)
		return "", nil
	}
	where := fmt.Sprintf("%s (%s:%d)", pol.ref(), pol.file.path, pol.root.Line)
	spec := yamlnode.At(pol.root, "spec")
	back, why := movesBack(spec, fs.cur, want)
	if !back {
		e.note("The Flux %s would select this tag too (%s): the image automation keeps updating %s within its policy.", where, why, service)
		return "", nil
	}
	if want.tag == "" {
		return "", fmt.Errorf("image %s: %s carries the Flux setter %s, and its %s selects tags, so it would replace a bare digest with its newest tag; give a tag (TAG or TAG@sha256:...) so the policy can be pinned to it",
			service, at, fs.s, where)
	}
	t, err := e.doc(pol)
	if err != nil {
		return "", err
	}
	if rng := scalarAt(spec, "policy", "semver", "range"); rng != "" && isSemver(want.tag) {
		pinned := "=" + want.tag
		if err := e.setField(t, pol.ref(), "spec.policy.semver.range", spec, []string{"policy", "semver", "range"}, str(pinned), "pin: "+why); err != nil {
			return "", err
		}
		e.note("Pinned the Flux %s to %s (its range was %q): %s, so the image automation would move %s straight back. To resume automatic updates, restore the range %q.", where, pinned, rng, why, service, rng)
		return fmt.Sprintf("the range %q of %s", rng, pol.ref()), nil
	}
	pattern := "^" + regexp.QuoteMeta(want.tag) + "$"
	old := scalarAt(spec, "filterTags", "pattern")
	if err := e.setField(t, pol.ref(), "spec.filterTags.pattern", spec, []string{"filterTags", "pattern"}, str(pattern), "pin: "+why); err != nil {
		return "", err
	}
	if yamlnode.At(spec, "filterTags", "extract") != nil {
		if err := e.removeField(t, pol.ref(), "spec.filterTags.extract", spec, []string{"filterTags", "extract"}, "pin: the pattern selects one tag"); err != nil {
			return "", err
		}
	}
	if yamlnode.At(spec, "policy", "semver") != nil {
		if err := e.setField(t, pol.ref(), "spec.policy", spec, []string{"policy"}, mapping("alphabetical", mapping("order", "asc")), "pin: a semver range cannot select "+want.tag); err != nil {
			return "", err
		}
	}
	restore := "its spec.filterTags and spec.policy as they were"
	if old != "" {
		restore = fmt.Sprintf("the filterTags pattern %q", old)
	}
	e.note("Pinned the Flux %s to the tag %s with filterTags.pattern %q: %s, so the image automation would move %s straight back. To resume automatic updates, restore %s.", where, want.tag, pattern, why, service, restore)
	return restore + " of " + pol.ref(), nil
}

// movesBack predicts whether an ImagePolicy would replace want with
// another tag, and says why.
func movesBack(spec *yaml.Node, cur, want imageRef) (bool, string) {
	if want.tag == "" {
		return true, "a policy selects tags, not bare digests"
	}
	if p := scalarAt(spec, "filterTags", "pattern"); p != "" {
		if re, err := regexp.Compile(p); err == nil && !re.MatchString(want.tag) {
			return true, fmt.Sprintf("the tag does not match its filterTags pattern %q", p)
		}
		if scalarAt(spec, "filterTags", "extract") != "" {
			return true, "its filterTags extract rewrites tags before comparing them"
		}
	}
	switch {
	case yamlnode.At(spec, "policy", "semver") != nil:
		rng := scalarAt(spec, "policy", "semver", "range")
		c, err := semver.NewConstraint(rng)
		v, verr := semver.NewVersion(want.tag)
		switch {
		case err != nil:
			return true, fmt.Sprintf("its semver range %q does not parse", rng)
		case verr != nil:
			return true, fmt.Sprintf("%s is not a semantic version, which its semver range %q needs", want.tag, rng)
		case !c.Check(v):
			return true, fmt.Sprintf("%s is outside its semver range %q", want.tag, rng)
		}
		if cv, err := semver.NewVersion(cur.tag); err == nil && c.Check(cv) && v.LessThan(cv) {
			return true, fmt.Sprintf("%s is older than %s, which its range %q selects", want.tag, cur.tag, rng)
		}
		return false, fmt.Sprintf("%s is within the semver range %q and not older than %s", want.tag, rng, orDefault(cur.tag, "the current tag"))
	case yamlnode.At(spec, "policy", "numerical") != nil:
		desc := scalarAt(spec, "policy", "numerical", "order") == "desc"
		a, aerr := strconv.ParseFloat(want.tag, 64)
		b, berr := strconv.ParseFloat(cur.tag, 64)
		if aerr != nil {
			return true, fmt.Sprintf("%s is not a number, which its numerical policy needs", want.tag)
		}
		if berr == nil && (a < b) != desc && a != b {
			return true, fmt.Sprintf("its numerical policy prefers %s to %s", cur.tag, want.tag)
		}
		return false, "its numerical policy orders this tag first"
	default:
		desc := scalarAt(spec, "policy", "alphabetical", "order") == "desc"
		if cur.tag != "" && want.tag != cur.tag && (want.tag < cur.tag) != desc {
			return true, fmt.Sprintf("its alphabetical policy prefers %s to %s", cur.tag, want.tag)
		}
		return false, "its alphabetical policy orders this tag first"
	}
}

// isSemver reports a tag a semver range can select exactly.
func isSemver(tag string) bool {
	_, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	return err == nil
}
