package flux

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

const fluxTestSource = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: shop
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/acme/shop
  ref:
    branch: main
`

// fluxTestKs is a Flux Kustomization named name with the given spec lines
// (indented by four spaces).
func fluxTestKs(name, spec string) string {
	return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ` + name + `
  namespace: flux-system
spec:
  interval: 10m
  prune: true
` + spec
}

const fluxTestRef = `  sourceRef:
    kind: GitRepository
    name: shop
`

const fluxTestImage = `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: web
  namespace: flux-system
spec:
  image: ghcr.io/acme/web
  interval: 5m
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: web
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: web
  policy:
    semver:
      range: '>=1.0.0'
`

const fluxTestAutomation = `apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: shop
  namespace: flux-system
spec:
  interval: 10m
  sourceRef:
    kind: GitRepository
    name: shop
  git:
    commit:
      author:
        name: flux
        email: flux@example.com
  update:
    path: ./apps
    strategy: Setters
`

// fluxTestDeploy is a Deployment whose image line (line 9) carries comment.
func fluxTestDeploy(comment string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/acme/web:1.0.0 ` + comment + `
        name: web
`
}

const fluxTestHelm = `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  interval: 1h
  url: https://charts.example.com
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: apps
spec:
  interval: 30m
  chart:
    spec:
      chart: %s
      sourceRef:
        kind: %s
        name: %s
        namespace: flux-system
`

func TestFluxCheck(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		cfg   []string // AllowedSources
		want  []string // "ID file:line Object"
	}{
		{
			name: "path exists",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestSource + "---\n" + fluxTestKs("apps", "  path: ./apps\n"+fluxTestRef),
				"apps/cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
			},
		},
		{
			name: "path missing",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestSource + "---\n" + fluxTestKs("apps", "  path: ./apps/nope\n"+fluxTestRef),
				"apps/cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
			},
			want: []string{"KW-FLUX-001 clusters/flux.yaml:20 Kustomization/flux-system/apps"},
		},
		{
			name: "path leaves the root",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestSource + "---\n" + fluxTestKs("apps", "  path: ../other\n"+fluxTestRef),
			},
			want: []string{"KW-FLUX-001 clusters/flux.yaml:20 Kustomization/flux-system/apps"},
		},
		{
			name: "path not checked for OCI sources",
			files: map[string]string{
				"clusters/flux.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: shop\n  namespace: flux-system\nspec:\n  interval: 5m\n  url: oci://ghcr.io/acme/manifests\n---\n" +
					fluxTestKs("apps", "  path: ./elsewhere\n  sourceRef:\n    kind: OCIRepository\n    name: shop\n"),
			},
		},
		{
			name: "source missing",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestKs("apps", "  path: ./\n  sourceRef:\n    kind: GitRepository\n    name: shopp\n"),
			},
			want: []string{"KW-FLUX-002 clusters/flux.yaml:12 Kustomization/flux-system/apps"},
		},
		{
			name: "bootstrap source and configured sources are external",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestKs("a", "  path: ./\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n") +
					"---\n" + fluxTestKs("b", "  path: ./\n  sourceRef:\n    kind: GitRepository\n    name: platform\n    namespace: infra\n"),
			},
			cfg: []string{"infra/platform"},
		},
		{
			name: "source in another namespace needs the namespace",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestSource + "---\n" +
					strings.Replace(fluxTestKs("apps", "  path: ./\n"+fluxTestRef), "namespace: flux-system", "namespace: apps", 1),
			},
			want: []string{"KW-FLUX-002 clusters/flux.yaml:23 Kustomization/apps/apps"},
		},
		{
			name: "source kind wrong for the referrer",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestKs("apps", "  path: ./\n  sourceRef:\n    kind: HelmRepository\n    name: shop\n"),
			},
			want: []string{"KW-FLUX-003 clusters/flux.yaml:11 Kustomization/flux-system/apps"},
		},
		{
			name: "dependsOn missing",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestSource + "---\n" +
					fluxTestKs("apps", "  path: ./\n  dependsOn:\n  - name: infra\n"+fluxTestRef),
			},
			want: []string{"KW-FLUX-004 clusters/flux.yaml:22 Kustomization/flux-system/apps"},
		},
		{
			name: "dependsOn cycle reported once on the first member",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestSource + "---\n" +
					fluxTestKs("b", "  path: ./\n  dependsOn:\n  - name: c\n"+fluxTestRef) + "---\n" +
					fluxTestKs("a", "  path: ./\n  dependsOn:\n  - name: b\n"+fluxTestRef) + "---\n" +
					fluxTestKs("c", "  path: ./\n  dependsOn:\n  - name: a\n"+fluxTestRef) + "---\n" +
					fluxTestKs("d", "  path: ./\n  dependsOn:\n  - name: a\n"+fluxTestRef),
			},
			want: []string{"KW-FLUX-005 clusters/flux.yaml:36 Kustomization/flux-system/a a -> b -> c -> a"},
		},
		{
			name: "dependsOn on itself",
			files: map[string]string{
				"clusters/flux.yaml": fluxTestSource + "---\n" +
					fluxTestKs("a", "  path: ./\n  dependsOn:\n  - name: a\n"+fluxTestRef),
			},
			want: []string{"KW-FLUX-005 clusters/flux.yaml:21 Kustomization/flux-system/a a -> a"},
		},
		{
			name: "setter names a missing policy",
			files: map[string]string{
				"flux/source.yaml":     fluxTestSource,
				"flux/image.yaml":      fluxTestImage,
				"flux/automation.yaml": fluxTestAutomation,
				"apps/deploy.yaml":     fluxTestDeploy(`# {"$imagepolicy": "flux-system:web-app"}`),
			},
			want: []string{"KW-FLUX-006 apps/deploy.yaml:10 Deployment/shop/web"},
		},
		{
			name: "setter suffixes and a whole-line comment",
			files: map[string]string{
				"flux/source.yaml":     fluxTestSource,
				"flux/image.yaml":      fluxTestImage,
				"flux/automation.yaml": fluxTestAutomation,
				"apps/deploy.yaml": fluxTestDeploy(`# {"$imagepolicy": "flux-system:web:tag"}`) +
					"# e.g. image: x # {\"$imagepolicy\": \"nope:nope\"}\n",
			},
		},
		{
			name: "setter malformed",
			files: map[string]string{
				"flux/source.yaml":     fluxTestSource,
				"flux/image.yaml":      fluxTestImage,
				"flux/automation.yaml": fluxTestAutomation,
				"apps/deploy.yaml":     fluxTestDeploy(`# {"$imagepolicy": "web"}`),
				"apps/other.yaml":      fluxTestDeploy(`# {$imagepolicy: flux-system:web}`),
			},
			want: []string{
				"KW-FLUX-007 apps/deploy.yaml:10 Deployment/shop/web",
				"KW-FLUX-007 apps/other.yaml:10 Deployment/shop/web",
			},
		},
		{
			name: "image repository missing",
			files: map[string]string{
				"flux/image.yaml": strings.Replace(fluxTestImage, "imageRepositoryRef:\n    name: web", "imageRepositoryRef:\n    name: webb", 1),
			},
			want: []string{"KW-FLUX-008 flux/image.yaml:17 ImagePolicy/flux-system/web"},
		},
		{
			name: "setter outside the automation path",
			files: map[string]string{
				"flux/source.yaml":     fluxTestSource,
				"flux/image.yaml":      fluxTestImage,
				"flux/automation.yaml": fluxTestAutomation,
				"legacy/deploy.yaml":   fluxTestDeploy(`# {"$imagepolicy": "flux-system:web"}`),
			},
			want: []string{"KW-FLUX-009 legacy/deploy.yaml:10 Deployment/shop/web"},
		},
		{
			name: "setters without an automation",
			files: map[string]string{
				"flux/image.yaml":  fluxTestImage,
				"apps/deploy.yaml": fluxTestDeploy(`# {"$imagepolicy": "flux-system:web"}`),
			},
			want: []string{"KW-FLUX-010 apps/deploy.yaml:10 Deployment/shop/web"},
		},
		{
			name: "automation source must resolve",
			files: map[string]string{
				"flux/image.yaml":      fluxTestImage,
				"flux/automation.yaml": fluxTestAutomation,
				"apps/deploy.yaml":     fluxTestDeploy(`# {"$imagepolicy": "flux-system:web"}`),
			},
			want: []string{"KW-FLUX-002 flux/automation.yaml:10 ImageUpdateAutomation/flux-system/shop"},
		},
		{
			name:  "helm release clean",
			files: map[string]string{"infra/helm.yaml": fmt.Sprintf(fluxTestHelm, "app", "HelmRepository", "charts")},
		},
		{
			name:  "helm release chart empty",
			files: map[string]string{"infra/helm.yaml": fmt.Sprintf(fluxTestHelm, `""`, "HelmRepository", "charts")},
			want:  []string{"KW-FLUX-011 infra/helm.yaml:19 HelmRelease/apps/app"},
		},
		{
			name:  "helm release repository missing",
			files: map[string]string{"infra/helm.yaml": fmt.Sprintf(fluxTestHelm, "app", "HelmRepository", "chart")},
			want:  []string{"KW-FLUX-002 infra/helm.yaml:22 HelmRelease/apps/app"},
		},
		{
			name:  "helm release source kind",
			files: map[string]string{"infra/helm.yaml": fmt.Sprintf(fluxTestHelm, "app", "OCIRepository", "charts")},
			want:  []string{"KW-FLUX-003 infra/helm.yaml:21 HelmRelease/apps/app"},
		},
		{
			name: "helm release chartRef and dependsOn",
			files: map[string]string{"infra/helm.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: apps
spec:
  interval: 30m
  chartRef:
    kind: OCIRepository
    name: app-chart
  dependsOn:
  - name: db
`},
			want: []string{
				"KW-FLUX-002 infra/helm.yaml:10 HelmRelease/apps/app",
				"KW-FLUX-004 infra/helm.yaml:12 HelmRelease/apps/app",
			},
		},
		{
			name: "bad interval",
			files: map[string]string{
				"clusters/flux.yaml": strings.Replace(fluxTestSource, "interval: 1m", `interval: "5 minutes"`, 1) + "---\n" +
					strings.Replace(fluxTestKs("apps", "  path: ./\n  timeout: -1m\n  retryInterval: 0s\n"+fluxTestRef), "interval: 10m", "interval: 1us", 1),
			},
			want: []string{
				"KW-FLUX-012 clusters/flux.yaml:7 GitRepository/flux-system/shop",
				"KW-FLUX-012 clusters/flux.yaml:18 Kustomization/flux-system/apps",
				"KW-FLUX-012 clusters/flux.yaml:21 Kustomization/flux-system/apps",
				"KW-FLUX-012 clusters/flux.yaml:22 Kustomization/flux-system/apps",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validatetest.NewInput(t, tt.files)
			in.Config.AllowedSources = tt.cfg
			got := fluxSummary(t, Check{}.Check(context.Background(), in))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n  got  %q\n  want %q", got, tt.want)
			}
		})
	}
}

// fluxSummary renders findings as "ID file:line Object", plus the cycle
// path for KW-FLUX-005, and checks the fields every finding must have.
func fluxSummary(t *testing.T, fs []finding.Finding) []string {
	t.Helper()
	var out []string
	for _, f := range fs {
		if f.Stage != validate.StageFlux || f.Message == "" || f.Hint == "" || f.Severity == "" {
			t.Errorf("incomplete finding %+v", f)
		}
		s := fmt.Sprintf("%s %s:%d %s", f.ID, f.File, f.Line, f.Object)
		if f.ID == "KW-FLUX-005" {
			s += " " + strings.TrimSuffix(strings.TrimPrefix(f.Message, "dependsOn cycle: "), "; Flux never reconciles any of them")
		}
		out = append(out, s)
	}
	return out
}

// TestFluxCheckAuthorOutputIsClean runs the check over the deterministic
// author's gitops tree, placed under gitops/ as the author writes it.
func TestFluxCheckAuthorOutputIsClean(t *testing.T) {
	src := filepath.Join("..", "..", "author", "rules", "testdata", "containerize", "polyglot-shop", "gitops")
	files := map[string]string{}
	validatetest.ReadTree(t, src, "gitops/", files, nil)
	in := validatetest.NewInput(t, files)
	for _, f := range (Check{}).Check(context.Background(), in) {
		t.Errorf("unexpected finding: %s (%s)", f, f.Hint)
	}
}

func TestFluxParseSetter(t *testing.T) {
	for v, ok := range map[string]bool{
		"flux-system:web":        true,
		"flux-system:web:tag":    true,
		"flux-system:web:name":   true,
		"flux-system:web:digest": true,
		"flux-system:web:other":  false,
		"web":                    false,
		":web":                   false,
		"a:b:tag:x":              false,
		"a: b":                   false,
	} {
		if _, _, got := fluxParseSetter(v); got != ok {
			t.Errorf("fluxParseSetter(%q) ok = %v, want %v", v, got, ok)
		}
	}
}
