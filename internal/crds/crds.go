// Package crds carries the CustomResourceDefinitions of the custom
// resources kubewright writes or reads (Flux, Istio, CloudNativePG,
// MariaDB, MongoDB, RabbitMQ, External Secrets, cert-manager,
// prometheus-operator, KEDA), so schema checks and the ephemeral dry-run
// need no --crds flag.
//
// The set is crds.json.gz, embedded: `make crds` regenerates it from the
// shared CRD collection (../shared/crds, see its SOURCES.md) with
// crdgen, which keeps the CRDs of the groups crdgen.Groups() names and
// drops every description.
// The file is committed, so a released binary needs nothing beside it; a
// test checks it is up to date with the collection.
//
// It is a leaf: it imports only the Kubernetes API types.
package crds

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// File is the embedded set's path in this package, as `make crds` writes
// it.
const File = "crds.json.gz"

//go:embed crds.json.gz
var embedded []byte

// loaded decodes the embedded set once per process: every validation of
// the process shares the decoded CRDs, which are never changed.
var loaded = sync.OnceValues(func() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return Decode(embedded)
})

// Load returns the embedded CRDs, sorted by name. They are decoded on the
// first call and shared by every caller after it: treat them as read-only
// (DeepCopy one before changing it). The returned slice is the caller's.
func Load() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	crds, err := loaded()
	if err != nil {
		return nil, err
	}
	return slices.Clone(crds), nil
}

// Compressed is the embedded set as committed (gzip).
func Compressed() []byte { return slices.Clone(embedded) }

// Decode decodes a compressed set as crdgen.Compress writes it.
func Decode(compressed []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	set, err := gunzip(compressed)
	if err != nil {
		return nil, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	if err := json.Unmarshal(set, &crds); err != nil {
		return nil, fmt.Errorf("embedded CRDs (internal/crds/%s): %w (regenerate it with `make crds`)", File, err)
	}
	return crds, nil
}

// Digest is the hex SHA-256 of the embedded set, uncompressed.
func Digest() (string, error) {
	set, err := gunzip(embedded)
	if err != nil {
		return "", err
	}
	return digest(set), nil
}

func gunzip(compressed []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("embedded CRDs (internal/crds/%s): %w (regenerate it with `make crds`)", File, err)
	}
	set, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("embedded CRDs (internal/crds/%s): %w (regenerate it with `make crds`)", File, err)
	}
	return set, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Kinds are the group/kinds the embedded CRDs define, sorted by group,
// then kind.
func Kinds() ([]schema.GroupKind, error) {
	crds, err := loaded()
	if err != nil {
		return nil, err
	}
	out := make([]schema.GroupKind, 0, len(crds))
	for _, crd := range crds {
		out = append(out, groupKind(crd))
	}
	slices.SortFunc(out, func(a, b schema.GroupKind) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out, nil
}

// Except returns the embedded CRDs that others do not replace: a CRD of
// others replaces the embedded one of the same name, or of the same
// group and kind. This is how --crds overrides the embedded set.
func Except(others []*apiextensionsv1.CustomResourceDefinition) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	crds, err := loaded()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	kinds := map[schema.GroupKind]bool{}
	for _, o := range others {
		if o == nil {
			continue
		}
		names[o.Name] = true
		kinds[groupKind(o)] = true
	}
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(crds))
	for _, crd := range crds {
		if !names[crd.Name] && !kinds[groupKind(crd)] {
			out = append(out, crd)
		}
	}
	return out, nil
}

func groupKind(crd *apiextensionsv1.CustomResourceDefinition) schema.GroupKind {
	return schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
}
