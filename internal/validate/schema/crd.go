package schema

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	schemacel "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/config"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// schemaCRs checks custom resources against their CRDs. Validators are
// built lazily, once per CRD version.
type schemaCRs struct {
	r *schemaRun
	// byGK maps "group/Kind" to the first CRD defining it.
	byGK       map[string]*apiextensionsv1.CustomResourceDefinition
	validators map[string]*schemaCRValidator
	reported   map[string]bool
}

// schemaCRValidator is one CRD version's compiled schema.
type schemaCRValidator struct {
	validator  apiservervalidation.SchemaValidator
	structural *structuralschema.Structural
	// cel runs the schema's x-kubernetes-validations rules; nil when it has none.
	cel *schemacel.Validator
	err error
}

func newSchemaCRs(r *schemaRun, crds []*apiextensionsv1.CustomResourceDefinition) *schemaCRs {
	c := &schemaCRs{r: r, byGK: map[string]*apiextensionsv1.CustomResourceDefinition{},
		validators: map[string]*schemaCRValidator{}, reported: map[string]bool{}}
	for _, crd := range crds {
		if crd == nil {
			continue
		}
		k := crd.Spec.Group + "/" + crd.Spec.Names.Kind
		if _, dup := c.byGK[k]; !dup {
			c.byGK[k] = crd
		}
	}
	return c
}

func (c *schemaCRs) check(ctx context.Context, o validate.Object) {
	gvk := o.U.GroupVersionKind()
	gk := gvk.Group + "/" + gvk.Kind
	crd, ok := c.byGK[gk]
	if !ok {
		if !c.reported[gk] {
			c.reported[gk] = true
			c.r.add(o, "KW-SCHEMA-010", finding.Warning, []string{"apiVersion"},
				fmt.Sprintf("no CRD known for %s; pass --crds DIR", gk),
				fmt.Sprintf("pass --crds DIR with the CRD that defines %s (or list its directory under validate.crds in .github/kubewright.yaml); %s objects are not schema-checked until then", gk, gvk.Kind))
		}
		return
	}
	var ver *apiextensionsv1.CustomResourceDefinitionVersion
	var served []string
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if v.Served {
			served = append(served, v.Name)
		}
		if v.Name == gvk.Version {
			ver = v
		}
	}
	if ver == nil || !ver.Served {
		use := ""
		for _, v := range crd.Spec.Versions {
			if v.Storage && v.Served {
				use = v.Name
			}
		}
		if use == "" && len(served) > 0 {
			use = served[0]
		}
		hint := fmt.Sprintf("the CRD %s serves no version at all; check the CRD", crd.Name)
		if use != "" {
			hint = fmt.Sprintf("set apiVersion: %s/%s and adjust fields that changed between versions", gvk.Group, use)
		}
		c.r.add(o, "KW-SCHEMA-011", finding.Error, []string{"apiVersion"},
			fmt.Sprintf("%s is not served by CRD %s; served versions: %s", o.U.GetAPIVersion(), crd.Name, strings.Join(served, ", ")),
			hint)
		return
	}
	if ver.Deprecated {
		msg := fmt.Sprintf("%s %s is deprecated", o.U.GetAPIVersion(), gvk.Kind)
		if ver.DeprecationWarning != nil {
			msg += ": " + *ver.DeprecationWarning
		}
		c.r.add(o, "KW-SCHEMA-014", finding.Warning, []string{"apiVersion"}, msg,
			"move to a newer served version of "+crd.Name+" before it is removed")
	}
	v := c.validator(crd, ver)
	if v == nil {
		return
	}
	if v.err != nil {
		key := "schema-err/" + crd.Name + "/" + ver.Name
		if !c.reported[key] {
			c.reported[key] = true
			c.r.add(o, "KW-SCHEMA-010", finding.Warning, []string{"apiVersion"},
				fmt.Sprintf("the schema of CRD %s version %s cannot be used: %v", crd.Name, ver.Name, v.err),
				"pass a valid CRD with --crds; objects of this version are not schema-checked")
		}
		return
	}
	c.validate(ctx, o, crd, ver.Name, v)
}

// validator compiles (once) the schema of one CRD version; nil when the
// version has no schema.
func (c *schemaCRs) validator(crd *apiextensionsv1.CustomResourceDefinition, ver *apiextensionsv1.CustomResourceDefinitionVersion) *schemaCRValidator {
	key := crd.Name + "/" + ver.Name
	if v, ok := c.validators[key]; ok {
		return v
	}
	var v *schemaCRValidator
	if ver.Schema != nil && ver.Schema.OpenAPIV3Schema != nil {
		v = &schemaCRValidator{}
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			v.err = err
		} else if sv, _, err := apiservervalidation.NewSchemaValidator(internal); err != nil {
			v.err = err
		} else {
			v.validator = sv
			// A schema that is not structural still validates; it only
			// cannot prune, so unknown fields go unreported.
			if s, err := structuralschema.NewStructural(internal); err == nil {
				v.structural = s
				v.cel = schemacel.NewValidator(s, true, celconfig.PerCallLimit)
			}
		}
	}
	c.validators[key] = v
	return v
}

func (c *schemaCRs) validate(ctx context.Context, o validate.Object, crd *apiextensionsv1.CustomResourceDefinition, version string, v *schemaCRValidator) {
	// Work on a JSON copy, with numbers as the API server decodes them.
	data, err := json.Marshal(o.U.Object)
	if err != nil {
		return
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		return
	}
	if v.structural != nil {
		unknown := structuralpruning.PruneWithOptions(obj, v.structural, true,
			structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
		for _, p := range unknown {
			segs := schemaParsePath(p)
			hint := "remove it, or fix the spelling; the API server drops unknown fields silently"
			if len(segs) > 0 {
				if s := schemaSuggest(segs[len(segs)-1], schemaStructuralKeys(v.structural, segs[:len(segs)-1])); s != "" {
					hint = fmt.Sprintf("did you mean %s? The API server drops unknown fields silently", s)
				}
			}
			c.r.add(o, "KW-SCHEMA-013", finding.Error, segs,
				fmt.Sprintf("unknown field %s (not in the schema of %s %s)", p, crd.Name, version), hint)
		}
		structuraldefaulting.Default(obj, v.structural)
	}
	errs := apiservervalidation.ValidateCustomResource(nil, obj, v.validator)
	if v.structural != nil {
		errs = append(errs, listtype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	}
	if v.cel != nil && len(errs) == 0 {
		// Rules assume the schema holds (the API server runs them on valid
		// objects only); transition rules need an old object and are skipped.
		celErrs, _ := v.cel.Validate(ctx, nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	for _, e := range errs {
		segs := schemaParsePath(e.Field)
		c.r.add(o, "KW-SCHEMA-012", finding.Error, segs,
			schemaCRMessage(e, obj, segs), schemaCRHint(e, crd.Name, version))
	}
}

// schemaCRMessage words a validation error; obj and segs give the
// offending value, which the validator reports only by type.
func schemaCRMessage(e *field.Error, obj map[string]any, segs []string) string {
	switch e.Type {
	case field.ErrorTypeRequired:
		return fmt.Sprintf("%s is required", e.Field)
	case field.ErrorTypeNotSupported, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeDuplicate:
		return fmt.Sprintf("%s: %s", e.Field, e.ErrorBody())
	case field.ErrorTypeTypeInvalid:
		// Detail: "spec.x in body must be of type integer: \"string\"".
		want, _, _ := strings.Cut(strings.TrimPrefix(e.Detail, e.Field+" in body "), ":")
		v, _ := schemaIndex(obj, segs)
		got, shown := schemaJSONType(v)
		return fmt.Sprintf("%s %s, got %s%s", e.Field, want, got, shown)
	}
	// The validator repeats the path and value in its detail; keep the
	// detail, which says what is wrong.
	if e.Detail != "" {
		d := strings.TrimPrefix(e.Detail, e.Field+" in body ")
		return fmt.Sprintf("%s: %s", e.Field, d)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.ErrorBody())
}

func schemaCRHint(e *field.Error, crd, version string) string {
	switch e.Type {
	case field.ErrorTypeRequired:
		return fmt.Sprintf("add %s (required by the CRD %s, version %s)", e.Field, crd, version)
	case field.ErrorTypeNotSupported:
		return "use one of the values listed"
	case field.ErrorTypeDuplicate:
		return "remove the duplicate list entry"
	case field.ErrorTypeTypeInvalid:
		want, _, _ := strings.Cut(strings.TrimPrefix(e.Detail, e.Field+" in body must be of type "), ":")
		hint := fmt.Sprintf("change the value to type %s, as the CRD %s declares", want, crd)
		if e.BadValue == "string" && want != "string" {
			hint += " (write numbers and booleans without quotes)"
		} else if want == "string" {
			hint += " (quote it: YAML reads unquoted 1.0, true, yes and on as numbers and booleans)"
		}
		return hint
	}
	return fmt.Sprintf("change the value to satisfy the CRD %s schema (version %s)", crd, version)
}

// schemaIndex returns the value at segs, indexing lists by number.
func schemaIndex(v any, segs []string) (any, bool) {
	for _, s := range segs {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[s]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// schemaStructuralKeys lists the properties at segs in a structural
// schema, for spelling suggestions.
func schemaStructuralKeys(s *structuralschema.Structural, segs []string) []string {
	for _, seg := range segs {
		if s == nil {
			return nil
		}
		if p, ok := s.Properties[seg]; ok {
			s = &p
			continue
		}
		if s.Items != nil {
			s = s.Items
			continue
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
			s = s.AdditionalProperties.Structural
			continue
		}
		return nil
	}
	if s == nil {
		return nil
	}
	keys := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Caps of CRD loading. Operator-supplied paths (--crds, the server's CRD
// directories) are trusted more than a repository, but still bounded so a
// wrong path (a device, a huge dump) fails with a message instead of
// taking the process down: the largest CRD files in use (Istio's
// crd-all.gen.yaml) are under 1 MiB.
const (
	operatorCRDFileBytes int64 = 32 << 20
	operatorCRDNodes     int64 = 16_000_000
	// repoCRDFiles and repoCRDBytes bound what validate.crds in a
	// repository's configuration may make the bot read.
	repoCRDFiles       = 1000
	repoCRDBytes int64 = 64 << 20
)

// LoadCRDs reads CustomResourceDefinitions from operator-supplied files and
// directories (walked recursively; only .yaml, .yml and .json files).
// Documents that are not CRDs are skipped; apiextensions.k8s.io/v1beta1
// CRDs are converted to v1. Errors name the file. Each file must be a
// regular file of at most 32 MiB and pass yamlsafe's alias budget. For
// paths a repository names, use LoadRepoCRDs.
func LoadCRDs(paths ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("CRDs %s: %w (pass a CRD file or a directory of them)", p, err)
		}
		if !st.IsDir() {
			crds, err := schemaLoadCRDFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, crds...)
			continue
		}
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if f != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !isCRDFileName(f) {
				return nil
			}
			crds, err := schemaLoadCRDFile(f)
			if err != nil {
				return err
			}
			out = append(out, crds...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isCRDFileName(f string) bool {
	switch strings.ToLower(filepath.Ext(f)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// schemaLoadCRDFile reads an operator-supplied CRD file: regular, capped.
func schemaLoadCRDFile(name string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("read CRDs: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read CRDs: %s is not a regular file (pass CRD files or directories of them)", name)
	}
	if st.Size() > operatorCRDFileBytes {
		return nil, fmt.Errorf("read CRDs: %s is %s, over the %s cap (split the file)", name, validate.HumanBytes(st.Size()), validate.HumanBytes(operatorCRDFileBytes))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read CRDs: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, operatorCRDFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read CRDs: %w", err)
	}
	if int64(len(data)) > operatorCRDFileBytes {
		return nil, fmt.Errorf("read CRDs: %s is over the %s cap (split the file)", name, validate.HumanBytes(operatorCRDFileBytes))
	}
	if err := yamlsafe.Check(name, data, yamlsafe.Limits{MaxBytes: operatorCRDFileBytes, MaxNodes: operatorCRDNodes}); err != nil {
		return nil, fmt.Errorf("read CRDs: %w", err)
	}
	return schemaDecodeCRDFile(name, data)
}

// LoadRepoCRDs reads the CRDs at paths a repository names (validate.crds
// in .github/kubewright.yaml), relative to its root dir: through
// yamlsafe (no absolute paths, no "..", no symlinks out, regular files of
// at most yamlsafe.MaxFileBytes, the alias budget), at most 1000 files and
// 64 MiB in all. What it cannot read becomes a KW-DISCOVER-005 finding
// (error) naming the file; the rest still loads.
func LoadRepoCRDs(dir string, paths ...string) ([]*apiextensionsv1.CustomResourceDefinition, []finding.Finding) {
	if len(paths) == 0 {
		return nil, nil
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	var found []finding.Finding
	fail := func(file string, line int, msg, hint string) {
		found = append(found, finding.Finding{ID: "KW-DISCOVER-005", Severity: finding.Error, Stage: validate.StageDiscover, File: file, Line: line,
			Message: "validate.crds: " + msg, Hint: hint})
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		fail(config.RepoConfigPath, 0, "cannot open the repository", "report this: the checkout is unreadable")
		return nil, found
	}
	defer root.Close()
	files, total := 0, int64(0)
	load := func(rel string) bool {
		if files++; files > repoCRDFiles {
			fail(rel, 0, fmt.Sprintf("more than %d CRD files", repoCRDFiles), "list fewer directories under validate.crds")
			return false
		}
		data, err := yamlsafe.ReadRoot(root, rel, yamlsafe.MaxFileBytes)
		if err == nil {
			if total += int64(len(data)); total > repoCRDBytes {
				fail(rel, 0, fmt.Sprintf("the CRDs add up to more than %s", validate.HumanBytes(repoCRDBytes)), "list fewer files under validate.crds")
				return false
			}
			err = yamlsafe.Check(rel, data, yamlsafe.Limits{})
		}
		if err != nil {
			fail(rel, validate.LineOf(err), validate.DetailOf(err), validate.HintOf(err))
			return true
		}
		crds, err := schemaDecodeCRDFile(rel, data)
		if err != nil {
			fail(rel, 0, err.Error(), "fix the file or remove it from validate.crds")
			return true
		}
		out = append(out, crds...)
		return true
	}
	for _, p := range paths {
		rel, err := yamlsafe.CleanRel(p)
		if err != nil {
			fail(config.RepoConfigPath, 0, fmt.Sprintf("%s: %s", validate.QuoteRef(p), validate.DetailOf(err)), validate.HintOf(err))
			continue
		}
		st, err := root.Stat(rel)
		if err != nil {
			msg := fmt.Sprintf("%s cannot be read", validate.QuoteRef(p))
			if errors.Is(err, fs.ErrNotExist) {
				msg = fmt.Sprintf("%s does not exist", validate.QuoteRef(p))
			} else if strings.Contains(err.Error(), "escapes") {
				msg = fmt.Sprintf("%s goes through a symlink that leaves the repository", validate.QuoteRef(p))
			}
			fail(config.RepoConfigPath, 0, msg, "list directories or files of the repository that hold CRDs")
			continue
		}
		if !st.IsDir() {
			if !load(rel) {
				break
			}
			continue
		}
		stop := false
		_ = fs.WalkDir(root.FS(), rel, func(f string, d fs.DirEntry, err error) error {
			switch {
			case err != nil || stop:
				return fs.SkipDir
			case d.IsDir():
				if f != rel && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			case !isCRDFileName(f):
				return nil
			}
			if !load(f) {
				stop = true
				return fs.SkipAll
			}
			return nil
		})
		if stop {
			break
		}
	}
	return out, found
}

// schemaDecodeCRDFile decodes every CRD among the documents of data.
func schemaDecodeCRDFile(name string, data []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w (fix the YAML or move the file out of the CRD directory)", name, n, err)
		}
		crds, err := schemaDecodeCRDs(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w (fix the YAML or move the file out of the CRD directory)", name, n, err)
		}
		out = append(out, crds...)
	}
	return out, nil
}

// schemaDecodeCRDs decodes one document: a CRD, a list of them, or
// anything else (nothing).
func schemaDecodeCRDs(doc []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return nil, err
	}
	switch {
	case head.Kind == "CustomResourceDefinition" && head.APIVersion == "apiextensions.k8s.io/v1":
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(doc, crd); err != nil {
			return nil, err
		}
		return []*apiextensionsv1.CustomResourceDefinition{crd}, nil
	case head.Kind == "CustomResourceDefinition" && head.APIVersion == "apiextensions.k8s.io/v1beta1":
		old := &apiextensionsv1beta1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(doc, old); err != nil {
			return nil, err
		}
		internal := &apiextensions.CustomResourceDefinition{}
		if err := apiextensionsv1beta1.Convert_v1beta1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(old, internal, nil); err != nil {
			return nil, fmt.Errorf("convert v1beta1 CRD %s: %w", old.Name, err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := apiextensionsv1.Convert_apiextensions_CustomResourceDefinition_To_v1_CustomResourceDefinition(internal, crd, nil); err != nil {
			return nil, fmt.Errorf("convert v1beta1 CRD %s: %w", old.Name, err)
		}
		return []*apiextensionsv1.CustomResourceDefinition{crd}, nil
	case strings.HasSuffix(head.Kind, "List"):
		var out []*apiextensionsv1.CustomResourceDefinition
		for _, item := range head.Items {
			crds, err := schemaDecodeCRDs(item)
			if err != nil {
				return nil, err
			}
			out = append(out, crds...)
		}
		return out, nil
	}
	return nil, nil
}
