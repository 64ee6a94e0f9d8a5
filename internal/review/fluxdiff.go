package review

import (
	"cmp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Root is one Flux Kustomization's path, or one plain kustomization
// root, built the same way at the base and at the head of a pull request.
// Nothing is applied anywhere: the objects are what the builds render.
type Root struct {
	// Name says which root it is, e.g. "gitops/apps/production
	// (Kustomization flux-system/apps)". It is shown as code.
	Name string
	// Base and Head are the rendered objects; Base is empty for a root
	// the change adds, Head for one it removes.
	Base, Head []*unstructured.Unstructured
}

// ObjectDiff is what merging a change does to the objects of its roots.
type ObjectDiff struct {
	Roots []RootDiff
}

// RootDiff is the diff of one root.
type RootDiff struct {
	Name           string
	Added, Removed []Object
	Changed        []Changed
	// Unchanged counts the objects that are the same on both sides.
	Unchanged int
}

// Empty reports whether the root's objects do not change.
func (r RootDiff) Empty() bool {
	return len(r.Added) == 0 && len(r.Removed) == 0 && len(r.Changed) == 0
}

// Object identifies an object: API group, kind, namespace and name (the
// version is not part of it, so moving to a new API version is a change).
type Object struct {
	Group, Kind, Namespace, Name string
}

// String is "Kind namespace/name", or "Kind name" when cluster-scoped.
func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

func (o Object) compare(p Object) int {
	return cmp.Or(cmp.Compare(o.Kind, p.Kind), cmp.Compare(o.Namespace, p.Namespace),
		cmp.Compare(o.Name, p.Name), cmp.Compare(o.Group, p.Group))
}

// Changed is an object present on both sides with different content.
type Changed struct {
	Object
	// Fields are the field-level changes, in path order.
	Fields []FieldChange
	// Images are the image references among them.
	Images []ImageChange
}

// Op is what happened to a field.
type Op string

// Field operations.
const (
	FieldAdded    Op = "added"
	FieldRemoved  Op = "removed"
	FieldModified Op = "changed"
)

// FieldChange is one field that differs.
type FieldChange struct {
	// Path is like spec.template.spec.containers[name=api].image; list
	// items with unique names are addressed by name, others by index.
	Path string
	Op   Op
	// Old and New are the values as shown (compact, cut to a length);
	// empty when absent or Hidden.
	Old, New string
	// Hidden is true for values never shown: a Secret's data and
	// stringData, and anything internal/redact takes for a secret.
	Hidden bool
}

// ImageChange is a container image (or a Helm values image) whose
// reference changed.
type ImageChange struct {
	Object
	// Container is the container's name, or the field path for images
	// that are not in a named container.
	Container string
	Old, New  string
}

// DiffRoots compares base and head objects root by root. Roots come back
// sorted by name, objects by kind, namespace and name. Status, managed
// fields and server-set metadata are ignored.
func DiffRoots(roots []Root) ObjectDiff {
	var d ObjectDiff
	for _, r := range roots {
		d.Roots = append(d.Roots, diffRoot(r))
	}
	slices.SortStableFunc(d.Roots, func(a, b RootDiff) int { return strings.Compare(a.Name, b.Name) })
	return d
}

func diffRoot(r Root) RootDiff {
	rd := RootDiff{Name: r.Name}
	base, baseOrder := index(r.Base)
	head, headOrder := index(r.Head)
	for _, id := range headOrder {
		h := head[id]
		b, ok := base[id]
		if !ok {
			rd.Added = append(rd.Added, id.Object)
			continue
		}
		c := Changed{Object: id.Object}
		w := &walker{secret: isSecret(h), img: &c.Images, obj: id.Object}
		w.diff("", prune(b.Object), prune(h.Object), &c.Fields)
		if len(c.Fields) == 0 {
			rd.Unchanged++
			continue
		}
		rd.Changed = append(rd.Changed, c)
	}
	for _, id := range baseOrder {
		if _, ok := head[id]; !ok {
			rd.Removed = append(rd.Removed, id.Object)
		}
	}
	slices.SortStableFunc(rd.Added, Object.compare)
	slices.SortStableFunc(rd.Removed, Object.compare)
	slices.SortStableFunc(rd.Changed, func(a, b Changed) int { return a.Object.compare(b.Object) })
	return rd
}

// objectID is an Object, told apart from a duplicate of it by n.
type objectID struct {
	Object
	n int
}

// index maps objects by identity; a second object with the same
// identity (a broken build) gets n = 1, and so on.
func index(objs []*unstructured.Unstructured) (map[objectID]*unstructured.Unstructured, []objectID) {
	m := map[objectID]*unstructured.Unstructured{}
	var order []objectID
	for _, u := range objs {
		if u == nil {
			continue
		}
		id := objectID{Object: Object{Group: u.GroupVersionKind().Group, Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}}
		for m[id] != nil {
			id.n++
		}
		m[id] = u
		order = append(order, id)
	}
	return m, order
}

// isSecret reports a core Secret, whose data and stringData are hidden.
func isSecret(u *unstructured.Unstructured) bool {
	gvk := u.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// prune drops what the server sets and what is not the object's intent:
// status, managed fields, resource version, UID, generation, creation
// time, and kubectl's last-applied copy (which would repeat everything,
// Secret data included).
func prune(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "status" {
			out[k] = v
		}
	}
	md, ok := obj["metadata"].(map[string]any)
	if !ok {
		return out
	}
	m := make(map[string]any, len(md))
	for k, v := range md {
		switch k {
		case "managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink":
		case "annotations":
			if a, ok := v.(map[string]any); ok {
				if _, has := a["kubectl.kubernetes.io/last-applied-configuration"]; has {
					c := make(map[string]any, len(a))
					for ak, av := range a {
						if ak != "kubectl.kubernetes.io/last-applied-configuration" {
							c[ak] = av
						}
					}
					if len(c) == 0 {
						continue
					}
					v = c
				}
			}
			m[k] = v
		default:
			m[k] = v
		}
	}
	out["metadata"] = m
	return out
}
