package schema

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

const schemaSharedCRDs = "/work/shared/crds"

var schemaCRDCache struct {
	once sync.Once
	crds []*apiextensionsv1.CustomResourceDefinition
	err  error
}

// schemaTestCRDs loads every shared CRD once per test binary.
func schemaTestCRDs(t testing.TB) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	schemaCRDCache.once.Do(func() {
		schemaCRDCache.crds, schemaCRDCache.err = LoadCRDs(schemaSharedCRDs)
	})
	if schemaCRDCache.err != nil {
		t.Fatal(schemaCRDCache.err)
	}
	return schemaCRDCache.crds
}

// schemaFmt renders a finding as "ID file:line".
func schemaFmt(f finding.Finding) string { return fmt.Sprintf("%s %s:%d", f.ID, f.File, f.Line) }

const schemaDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: ghcr.io/acme/web:1.0.0
        imagePullPolicy: IfNotPresent
        ports:
        - containerPort: 8080
        resources:
          limits:
            memory: 256Mi
`

const schemaFluxKustomization = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`

func TestSchemaCheck(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		// want are "ID file:line", in finding.Sort order.
		want []string
		// msgs are substrings expected in the messages (and hints), in order.
		msgs []string
	}{
		{
			name:  "clean deployment",
			files: map[string]string{"k8s/d.yaml": schemaDeployment},
		},
		{
			name: "unknown field with exact line",
			files: map[string]string{"k8s/d.yaml": strings.Replace(schemaDeployment,
				"imagePullPolicy: IfNotPresent", "imagePullPolicyy: IfNotPresent", 1)},
			want: []string{"KW-SCHEMA-001 k8s/d.yaml:21"},
			msgs: []string{"unknown field spec.template.spec.containers[0].imagePullPolicyy", "did you mean imagePullPolicy?"},
		},
		{
			name:  "wrong type",
			files: map[string]string{"k8s/d.yaml": strings.Replace(schemaDeployment, "replicas: 2", `replicas: "two"`, 1)},
			want:  []string{"KW-SCHEMA-002 k8s/d.yaml:9"},
			msgs:  []string{`spec.replicas: expected an integer, got a string ("two")`},
		},
		{
			name: "every wrong type in one object",
			files: map[string]string{"k8s/d.yaml": strings.NewReplacer(
				"app: web\nspec:", "app: web\n    version: 1.0\nspec:",
				"containerPort: 8080", `containerPort: "8080"`,
				"memory: 256Mi", "memory: 256 megs",
			).Replace(schemaDeployment)},
			want: []string{"KW-SCHEMA-002 k8s/d.yaml:8", "KW-SCHEMA-002 k8s/d.yaml:24", "KW-SCHEMA-002 k8s/d.yaml:27"},
			msgs: []string{"metadata.labels.version: expected a string, got a number", "quote it",
				"containerPort: expected an integer", "invalid Quantity", "250m"},
		},
		{
			name:  "missing image",
			files: map[string]string{"k8s/d.yaml": strings.Replace(schemaDeployment, "        image: ghcr.io/acme/web:1.0.0\n", "", 1)},
			want:  []string{"KW-SCHEMA-003 k8s/d.yaml:19"},
			msgs:  []string{"spec.template.spec.containers[0].image is required"},
		},
		{
			name: "missing selector and container name",
			files: map[string]string{"k8s/d.yaml": strings.NewReplacer(
				"  selector:\n    matchLabels:\n      app: web\n", "",
				"- name: web\n        image:", "- image:",
			).Replace(schemaDeployment)},
			want: []string{"KW-SCHEMA-003 k8s/d.yaml:8", "KW-SCHEMA-003 k8s/d.yaml:16"},
			msgs: []string{"spec.selector is required", "spec.template.spec.containers[0].name is required"},
		},
		{
			name: "service port and ingress backend",
			files: map[string]string{
				"k8s/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - name: http\n    targetPort: 8080\n",
				"k8s/ing.yaml": `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        backend:
          service:
            name: web
`,
			},
			want: []string{"KW-SCHEMA-003 k8s/ing.yaml:10", "KW-SCHEMA-003 k8s/ing.yaml:12", "KW-SCHEMA-003 k8s/svc.yaml:7"},
			msgs: []string{"spec.rules[0].http.paths[0].pathType is required", "backend.service.port is required", "spec.ports[0].port is required"},
		},
		{
			name: "removed apiVersion",
			files: map[string]string{
				"k8s/ing.yaml": "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: web\nspec: {}\n",
				"k8s/pdb.yaml": "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  minAvailable: 1\n",
				"k8s/d.yaml":   strings.Replace(schemaDeployment, "apps/v1", "apps/v1beta1", 1),
			},
			want: []string{"KW-SCHEMA-004 k8s/d.yaml:1", "KW-SCHEMA-004 k8s/ing.yaml:1", "KW-SCHEMA-004 k8s/pdb.yaml:1"},
			msgs: []string{"removed API version; use apps/v1", "removed API version; use networking.k8s.io/v1", "removed API version; use policy/v1"},
		},
		{
			name:  "kind in the wrong group",
			files: map[string]string{"k8s/d.yaml": strings.Replace(schemaDeployment, "apps/v1", "v1", 1)},
			want:  []string{"KW-SCHEMA-004 k8s/d.yaml:1"},
			msgs:  []string{"v1 does not serve Deployment; use apps/v1"},
		},
		{
			name: "names",
			files: map[string]string{
				"k8s/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Web_Config\n  namespace: Shop\n",
				"k8s/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  labels: {app: web}\nspec:\n  ports:\n  - port: 80\n",
				"k8s/cr.yaml":  "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: system:shop-reader\nrules: []\n",
			},
			want: []string{"KW-SCHEMA-005 k8s/cm.yaml:4", "KW-SCHEMA-005 k8s/cm.yaml:5", "KW-SCHEMA-005 k8s/svc.yaml:3"},
			msgs: []string{`metadata.name "Web_Config" is not a valid ConfigMap name`, `metadata.namespace "Shop"`, "Service has no metadata.name"},
		},
		{
			name:  "duplicate field",
			files: map[string]string{"k8s/d.yaml": strings.Replace(schemaDeployment, "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", 1)},
			want:  []string{"KW-SCHEMA-006 k8s/d.yaml:10"},
			msgs:  []string{"duplicate field spec.replicas (first on line 9)"},
		},
		{
			name:  "kustomize files are not objects",
			files: map[string]string{"k8s/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- d.yaml\n", "k8s/d.yaml": schemaDeployment},
		},
		{
			name:  "flux kustomization clean",
			files: map[string]string{"gitops/apps.yaml": schemaFluxKustomization},
		},
		{
			name: "flux kustomization missing sourceRef and prune",
			files: map[string]string{"gitops/apps.yaml": strings.Replace(schemaFluxKustomization,
				"  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n", "", 1)},
			want: []string{"KW-SCHEMA-012 gitops/apps.yaml:6", "KW-SCHEMA-012 gitops/apps.yaml:6"},
			msgs: []string{"spec.prune is required", "spec.sourceRef is required"},
		},
		{
			name: "flux kustomization wrong enum",
			files: map[string]string{"gitops/apps.yaml": strings.Replace(schemaFluxKustomization,
				"    kind: GitRepository", "    kind: GitRepo", 1)},
			want: []string{"KW-SCHEMA-012 gitops/apps.yaml:11"},
			msgs: []string{`spec.sourceRef.kind: Unsupported value: "GitRepo"`, `"OCIRepository"`},
		},
		{
			name: "flux kustomization unknown field",
			files: map[string]string{"gitops/apps.yaml": strings.Replace(schemaFluxKustomization,
				"  prune: true", "  prune: true\n  prunne: true", 1)},
			want: []string{"KW-SCHEMA-013 gitops/apps.yaml:10"},
			msgs: []string{"unknown field spec.prunne", "did you mean prune?"},
		},
		{
			name: "flux kustomization CEL rule",
			files: map[string]string{"gitops/apps.yaml": strings.Replace(schemaFluxKustomization,
				"  prune: true", "  prune: true\n  kubeConfig: {}", 1)},
			want: []string{"KW-SCHEMA-012 gitops/apps.yaml:10"},
			msgs: []string{"exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"},
		},
		{
			name: "unserved version",
			files: map[string]string{"gitops/apps.yaml": strings.Replace(schemaFluxKustomization,
				"kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v3", 1)},
			want: []string{"KW-SCHEMA-011 gitops/apps.yaml:1"},
			msgs: []string{"kustomize.toolkit.fluxcd.io/v3 is not served by CRD kustomizations.kustomize.toolkit.fluxcd.io; served versions: ", "v1"},
		},
		{
			name:  "version the CRD no longer serves",
			files: map[string]string{"k8s/es.yaml": "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata:\n  name: db\nspec: {}\n"},
			want:  []string{"KW-SCHEMA-011 k8s/es.yaml:1"},
			msgs:  []string{"served versions: v1", "set apiVersion: external-secrets.io/v1"},
		},
		{
			name: "no CRD, reported once per kind",
			files: map[string]string{"k8s/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: a\n---\n" +
				"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: b\n"},
			want: []string{"KW-SCHEMA-010 k8s/w.yaml:1"},
			msgs: []string{"no CRD known for example.com/Widget; pass --crds DIR"},
		},
		{
			name: "cnpg wrong type",
			files: map[string]string{"k8s/db.yaml": "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: db\nspec:\n" +
				"  instances: \"three\"\n  storage:\n    size: 1Gi\n"},
			want: []string{"KW-SCHEMA-012 k8s/db.yaml:6"},
			msgs: []string{`spec.instances must be of type integer, got a string ("three")`, "without quotes"},
		},
		{
			name: "custom resource metadata",
			files: map[string]string{"k8s/db.yaml": "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: db\n  labels:\n    version: 1.0\n  lables: {}\nspec:\n" +
				"  instances: 3\n  storage:\n    size: 1Gi\n"},
			want: []string{"KW-SCHEMA-002 k8s/db.yaml:6", "KW-SCHEMA-001 k8s/db.yaml:7"},
			msgs: []string{"metadata.labels.version: expected a string", "unknown field metadata.lables", "did you mean labels?"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validatetest.NewInput(t, tc.files)
			in.CRDs = schemaTestCRDs(t)
			got := (Check{}).Check(context.Background(), in)
			finding.Sort(got)
			var ids []string
			var text strings.Builder
			for _, f := range got {
				ids = append(ids, schemaFmt(f))
				fmt.Fprintf(&text, "%s\n  hint: %s\n", f, f.Hint)
				if f.Stage != validate.StageSchema || f.Object == "" || f.Message == "" || f.Hint == "" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("findings = %q, want %q\n%s", ids, tc.want, text.String())
			}
			rest := text.String()
			for _, m := range tc.msgs {
				i := strings.Index(rest, m)
				if i < 0 {
					t.Fatalf("missing %q (in order) in\n%s", m, text.String())
				}
				rest = rest[i+len(m):]
			}
		})
	}
}

// A field set by a patch document points at the patch, not at the base.
func TestSchemaLocatesPatches(t *testing.T) {
	in := validatetest.NewInput(t, map[string]string{
		"base/d.yaml": schemaDeployment,
		"overlay/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n" +
			"  template:\n    spec:\n      containers:\n      - name: web\n        imagePullPolicyy: Always\n",
	})
	// As kustomize would render it: the base object with the patch applied.
	in.Objects = in.Objects[:1]
	c := in.Objects[0].U.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	c["imagePullPolicyy"] = "Always"
	got := (Check{}).Check(context.Background(), in)
	if len(got) != 1 || schemaFmt(got[0]) != "KW-SCHEMA-001 overlay/patch.yaml:10" {
		t.Fatalf("got %v", got)
	}
}

// The deterministic author's output for polyglot-shop must pass.
func TestSchemaCleanPolyglotShop(t *testing.T) {
	root := filepath.Join("..", "..", "author", "rules", "testdata", "containerize", "polyglot-shop")
	files := map[string]string{}
	for _, top := range []string{"k8s", "gitops"} {
		validatetest.ReadTree(t, filepath.Join(root, top), top+"/", files, validatetest.ManifestsOnly)
	}
	in := validatetest.NewInput(t, files)
	in.CRDs = schemaTestCRDs(t)
	if len(in.Objects) < 50 {
		t.Fatalf("only %d objects read from %s", len(in.Objects), root)
	}
	for _, f := range (Check{}).Check(context.Background(), in) {
		t.Errorf("%s (hint: %s)", f, f.Hint)
	}
}

// The invalid fixtures hold exactly one schema mistake each.
func TestSchemaInvalidFixtures(t *testing.T) {
	for dir, want := range map[string]string{
		"schema-unknown-field": "KW-SCHEMA-001 k8s/deployment.yaml:24",
		"schema-crd-bad-field": "KW-SCHEMA-012 k8s/cluster.yaml:7",
	} {
		t.Run(dir, func(t *testing.T) {
			root := filepath.Join("..", "..", "..", "testdata", "invalid", dir)
			files := map[string]string{}
			validatetest.ReadTree(t, root, "", files, func(rel string) bool { return path.Base(rel) != "kustomization.yaml" })
			in := validatetest.NewInput(t, files)
			in.CRDs = schemaTestCRDs(t)
			var got []string
			for _, f := range (Check{}).Check(context.Background(), in) {
				got = append(got, schemaFmt(f))
			}
			if !slices.Equal(got, []string{want}) {
				t.Errorf("findings = %v, want [%s]", got, want)
			}
		})
	}
}

func TestSchemaLoadCRDs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/widgets.yaml", `# a CRD and a non-CRD document
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    deprecationWarning: example.com/v1beta1 Widget is deprecated; use example.com/v1
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-crd
`)
	write("b/nested/gadgets.yml", `apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  version: v1alpha1
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  validation:
    openAPIV3Schema:
      type: object
      properties:
        spec:
          type: object
          properties:
            color: {type: string, enum: [red, blue]}
`)
	write("README.md", "not yaml: [")
	crds, err := LoadCRDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range crds {
		names = append(names, c.Name)
	}
	if want := []string{"widgets.example.com", "gadgets.example.com"}; !slices.Equal(names, want) {
		t.Fatalf("CRDs = %v, want %v", names, want)
	}
	if v := crds[1].Spec.Versions; len(v) != 1 || v[0].Name != "v1alpha1" || v[0].Schema == nil {
		t.Fatalf("v1beta1 CRD not converted: %+v", v)
	}

	// The loaded CRDs validate custom resources, old-style ones included.
	in := validatetest.NewInput(t, map[string]string{"k8s/x.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: big\n---\n" +
		"apiVersion: example.com/v1alpha1\nkind: Gadget\nmetadata:\n  name: g\nspec:\n  color: green\n---\n" +
		"apiVersion: example.com/v1beta1\nkind: Widget\nmetadata:\n  name: old\nspec:\n  anything: goes\n"})
	in.CRDs = crds
	var got []string
	for _, f := range (Check{}).Check(context.Background(), in) {
		got = append(got, schemaFmt(f))
	}
	if want := []string{"KW-SCHEMA-012 k8s/x.yaml:6", "KW-SCHEMA-012 k8s/x.yaml:13", "KW-SCHEMA-014 k8s/x.yaml:15"}; !slices.Equal(got, want) {
		t.Errorf("findings = %v, want %v", got, want)
	}

	write("bad/broken.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: [\n")
	if _, err := LoadCRDs(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bad", "broken.yaml")) {
		t.Errorf("error %v does not name the file", err)
	}
	if _, err := LoadCRDs(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("error %v does not name the path", err)
	}
}

func TestSchemaSharedCRDs(t *testing.T) {
	crds := schemaTestCRDs(t)
	seen := map[string]bool{}
	for _, c := range crds {
		seen[c.Spec.Group+"/"+c.Spec.Names.Kind] = true
	}
	for _, gk := range []string{"kustomize.toolkit.fluxcd.io/Kustomization", "postgresql.cnpg.io/Cluster", "networking.istio.io/VirtualService"} {
		if !seen[gk] {
			t.Errorf("%s not loaded from %s", gk, schemaSharedCRDs)
		}
	}
}

func TestSchemaParsePath(t *testing.T) {
	for in, want := range map[string][]string{
		"spec.a[0].b":            {"spec", "a", "0", "b"},
		`metadata.labels["a.b"]`: {"metadata", "labels", "a.b"},
		"spec.a.1":               {"spec", "a", "1"},
		"":                       nil,
	} {
		if got := schemaParsePath(in); !slices.Equal(got, want) {
			t.Errorf("schemaParsePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkSchemaCheck(b *testing.B) {
	in := validatetest.NewInput(b, map[string]string{
		"k8s/d.yaml":       schemaDeployment,
		"gitops/apps.yaml": schemaFluxKustomization,
		"k8s/db.yaml":      "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: db\nspec:\n  instances: 3\n  storage:\n    size: 1Gi\n",
	})
	in.CRDs = schemaTestCRDs(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if fs := (Check{}).Check(context.Background(), in); len(fs) != 0 {
			b.Fatal(fs)
		}
	}
}
