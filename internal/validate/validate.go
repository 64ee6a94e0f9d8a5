// Package validate is the core of validation: the Input every stage reads
// (the repository's files, kustomize roots and rendered objects), the Check
// interface a stage implements, the Report and the runner that applies
// checks to a loaded Input, and the source mapping that points findings
// about rendered objects back at file and line.
//
// The stages are packages of their own, each importing this one and none
// importing another: build (discover and kustomize-build a directory into
// an Input), flux, schema, dockerfile, policy, dryrun (a staged server-side
// dry-run on a real kube-apiserver) and gocheck (the Go build of generated
// services, in the sandbox). Package suite assembles them: "validate this
// directory with the default stages". Validation never writes to the
// repository and never changes a cluster.
package validate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
)

// Stage names, used in Finding.Stage.
const (
	StageDiscover   = "discover"
	StageBuild      = "build"
	StageFlux       = "flux"
	StageSchema     = "schema"
	StageDryRun     = "dryrun"
	StageDockerfile = "dockerfile"
	StagePolicy     = "policy"
	StageGo         = "go"
)

// Object is one rendered Kubernetes object and the source it came from.
type Object struct {
	U *unstructured.Unstructured
	// Root is the kustomization root that rendered it (repository-relative
	// directory), or "" for a loose manifest.
	Root string
	// File and Line locate the object's document in the repository; when
	// the object cannot be traced to a document (a generator, a name
	// transformer) they point at the root's kustomization file.
	File string
	Line int
}

// Ref is the object as Finding.Object spells it.
func (o Object) Ref() string {
	return finding.ObjectRef(o.U.GetKind(), o.U.GetNamespace(), o.U.GetName())
}

// Key identifies the object in a cluster: group, kind, namespace, name.
func (o Object) Key() string {
	gvk := o.U.GroupVersionKind()
	return strings.Join([]string{gvk.Group, gvk.Kind, o.U.GetNamespace(), o.U.GetName()}, "/")
}

// Root is a directory that kustomize builds.
type Root struct {
	// Dir is repository-relative ("." for the repository root).
	Dir string
	// Generated is true when the directory has no kustomization file and a
	// Flux Kustomization points at it: Flux generates one listing every
	// manifest in the tree, and so does the validator.
	Generated bool
	// File is the kustomization file ("k8s/kustomization.yaml"), empty when generated.
	File string
}

// Input is what every check reads. Checks must not modify it.
type Input struct {
	// Dir is the absolute path of the repository being validated.
	Dir string
	// Files are the repository's files (slash-separated, relative, sorted),
	// without build outputs and vendored trees.
	Files []string
	Roots []Root
	// Objects are the rendered objects of every root plus loose manifests,
	// one per Key (the first root that renders it wins), in a stable order.
	Objects []Object
	// RootObjects are the objects each root rendered, by Root.Dir.
	RootObjects map[string][]Object
	// CRDs are the CustomResourceDefinitions given with --crds plus those
	// found in the tree.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// Sources locate documents and fields in the repository's YAML files.
	Sources *SourceIndex
	// Config is the validate section of .github/kubewright.yaml.
	Config config.Validate
}

// ReadFile reads a repository file by its relative path.
func (in *Input) ReadFile(rel string) ([]byte, error) { return readRepoFile(in.Dir, rel) }

// Check is one validation stage over the input.
type Check interface {
	// Name is the stage name (Stage* constants).
	Name() string
	Check(ctx context.Context, in *Input) []finding.Finding
}

// FromUnstructured decodes an object into a typed value (a
// CustomResourceDefinition, say) through its JSON form.
func FromUnstructured(u *unstructured.Unstructured, into any) error {
	b, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s: %w", u.GetName(), err)
	}
	return nil
}

// NewUnstructured normalizes a decoded object to the JSON value types the
// apimachinery code expects (int64/float64, no int), via a JSON round trip.
func NewUnstructured(m map[string]any) (*unstructured.Unstructured, error) {
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
