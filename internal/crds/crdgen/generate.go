// Package crdgen makes the CRD set internal/crds embeds from a CRD
// collection (../shared/crds): it keeps the CRDs of Groups(), reduces
// each to what schema checks and the dry-run install need, and writes
// them as gzipped JSON. `make crds` runs it through internal/crds/gen; the
// up-to-date test of internal/crds runs it in memory. It does not import
// internal/crds, so the set can be made when the embedded file is missing.
package crdgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// groups are the API groups whose CRDs the embedded set carries (Groups).
var groups = []string{
	// Flux
	"source.toolkit.fluxcd.io",
	"kustomize.toolkit.fluxcd.io",
	"helm.toolkit.fluxcd.io",
	"image.toolkit.fluxcd.io",
	"notification.toolkit.fluxcd.io",
	// Istio
	"networking.istio.io",
	"security.istio.io",
	"telemetry.istio.io",
	"extensions.istio.io",
	// Operators of the backing services containerize sets up
	"postgresql.cnpg.io",
	"k8s.mariadb.com",
	"mongodbcommunity.mongodb.com",
	"rabbitmq.com",
	// Secrets, certificates, monitoring, autoscaling
	"external-secrets.io",
	"cert-manager.io",
	"monitoring.coreos.com",
	"keda.sh",
}

// Groups are the API groups whose CRDs the embedded set carries: the
// custom resources kubewright writes or reads. Generate takes every CRD
// of these groups from the source directory, fails when one of them has
// none, and leaves the CRDs of any other group out.
func Groups() []string { return slices.Clone(groups) }

// Generated is what Generate made from a source directory.
type Generated struct {
	// JSON is the embedded set, uncompressed: a JSON array of reduced
	// CRDs sorted by name, one per line.
	JSON []byte
	// Count is how many CRDs the set holds.
	Count int
	// Skipped names the CRDs of the source left out (not in Groups()).
	Skipped []string
}

// Digest is the hex SHA-256 of the uncompressed set, the figure the
// up-to-date test compares.
func (g Generated) Digest() string {
	sum := sha256.Sum256(g.JSON)
	return hex.EncodeToString(sum[:])
}

// Generate reads every CustomResourceDefinition under src (walked
// recursively; .yaml, .yml and .json files; hidden directories skipped),
// keeps those of Groups(), reduces each to what schema checks and the
// dry-run install need (Reduce) and returns them as the embedded set. The
// source is kubewright's own CRD collection (../shared/crds): every
// document must be an apiextensions.k8s.io/v1 CRD, and each name must
// appear once.
func Generate(src string) (Generated, error) {
	var all []*apiextensionsv1.CustomResourceDefinition
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			if path != src && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		crds, err := decodeFile(path, data)
		all = append(all, crds...)
		return err
	})
	if err != nil {
		return Generated{}, fmt.Errorf("CRD source %s: %w", src, err)
	}
	var g Generated
	var kept []*apiextensionsv1.CustomResourceDefinition
	names := map[string]bool{}
	found := map[string]bool{}
	for _, crd := range all {
		if names[crd.Name] {
			return Generated{}, fmt.Errorf("CRD source %s: CustomResourceDefinition %s appears twice (keep one file per CRD)", src, crd.Name)
		}
		names[crd.Name] = true
		if !slices.Contains(groups, crd.Spec.Group) {
			g.Skipped = append(g.Skipped, crd.Name)
			continue
		}
		found[crd.Spec.Group] = true
		kept = append(kept, Reduce(crd))
	}
	for _, gr := range groups {
		if !found[gr] {
			return Generated{}, fmt.Errorf("CRD source %s: no CustomResourceDefinition of group %s (add its CRDs there, or drop the group from internal/crds/crdgen/generate.go)", src, gr)
		}
	}
	slices.SortFunc(kept, func(a, b *apiextensionsv1.CustomResourceDefinition) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(g.Skipped)
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, crd := range kept {
		line, err := json.Marshal(crd)
		if err != nil {
			return Generated{}, fmt.Errorf("encode CRD %s: %w", crd.Name, err)
		}
		buf.Write(line)
		if i < len(kept)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	g.JSON, g.Count = buf.Bytes(), len(kept)
	return g, nil
}

// decodeFile decodes every document of one source file; anything but a
// v1 CRD is an error naming the document, and so is a field the
// apiextensions types do not know (the CRD is newer than kubewright's
// client libraries, and decoding would drop it silently).
func decodeFile(path string, data []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, n, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, n, err)
		}
		if head.Kind == "" && head.APIVersion == "" {
			continue // comments only
		}
		if head.Kind != "CustomResourceDefinition" || head.APIVersion != "apiextensions.k8s.io/v1" {
			return nil, fmt.Errorf("%s: document %d is %s %s, not an apiextensions.k8s.io/v1 CustomResourceDefinition (keep only CRDs in the CRD source)", path, n, head.APIVersion, head.Kind)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(doc, crd); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w (update k8s.io/apiextensions-apiserver, or fix the CRD)", path, n, err)
		}
		out = append(out, crd)
	}
}

// Reduce returns a copy of crd with only what schema checks and the
// dry-run install need: the name (no labels, annotations or status) and
// the spec with every description dropped, the schemas' and the printer
// columns'. Validation keywords, defaults, CEL rules and their messages
// stay.
func Reduce(crd *apiextensionsv1.CustomResourceDefinition) *apiextensionsv1.CustomResourceDefinition {
	out := &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: crd.Name},
		Spec:       *crd.Spec.DeepCopy(),
	}
	for i := range out.Spec.Versions {
		v := &out.Spec.Versions[i]
		if v.Schema != nil {
			stripDescriptions(v.Schema.OpenAPIV3Schema)
		}
		for j := range v.AdditionalPrinterColumns {
			v.AdditionalPrinterColumns[j].Description = ""
		}
	}
	return out
}

// stripDescriptions clears the description of s and of every schema
// inside it. It works on the typed schema, so a property that happens to
// be called "description" stays.
func stripDescriptions(s *apiextensionsv1.JSONSchemaProps) {
	if s == nil {
		return
	}
	s.Description = ""
	for k, p := range s.Properties {
		stripDescriptions(&p)
		s.Properties[k] = p
	}
	for k, p := range s.PatternProperties {
		stripDescriptions(&p)
		s.PatternProperties[k] = p
	}
	for k, p := range s.Definitions {
		stripDescriptions(&p)
		s.Definitions[k] = p
	}
	for k, d := range s.Dependencies {
		stripDescriptions(d.Schema)
		s.Dependencies[k] = d
	}
	for _, list := range [][]apiextensionsv1.JSONSchemaProps{s.AllOf, s.OneOf, s.AnyOf} {
		for i := range list {
			stripDescriptions(&list[i])
		}
	}
	stripDescriptions(s.Not)
	if s.Items != nil {
		stripDescriptions(s.Items.Schema)
		for i := range s.Items.JSONSchemas {
			stripDescriptions(&s.Items.JSONSchemas[i])
		}
	}
	if s.AdditionalProperties != nil {
		stripDescriptions(s.AdditionalProperties.Schema)
	}
	if s.AdditionalItems != nil {
		stripDescriptions(s.AdditionalItems.Schema)
	}
}

// Compress gzips the uncompressed set as it is committed: best
// compression, no name or time in the header, so the same set gives the
// same bytes with the same Go release.
func Compress(set []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(set); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
