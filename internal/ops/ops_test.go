package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/ops/metrics"
)

// hpaTree gives order-service's gitops base an autoscaler, as a team
// would have written it: listed in the kustomization, with comments,
// while the Deployment still sets replicas.
var hpaTree = map[string]string{
	"gitops/apps/base/order-service/hpa.yaml": `# Autoscaler for order-service (platform team, 2024-03).
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: order-service
  namespace: order-service
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: order-service
  minReplicas: 2 # never below two: the PDB needs one spare
  maxReplicas: 6
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 80
`,
	"gitops/apps/base/order-service/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- namespace.yaml
- configmap.yaml
- datastores.yaml
- deployment.yaml
- hpa.yaml
- external-secrets.yaml
- image-automation.yaml
- networkpolicy.yaml
- pdb.yaml
- service.yaml
- virtualservice.yaml
`,
}

// pdbTree makes user-service's PodDisruptionBudgets strict: an integer
// minAvailable of 3 under k8s/, 100% under gitops/.
var pdbTree = map[string]string{
	"k8s/user-service/pdb.yaml": `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: user-service
  namespace: user-service
spec:
  minAvailable: 3 # keep three up during drains
  selector:
    matchLabels:
      app.kubernetes.io/name: user-service
`,
	"gitops/apps/base/user-service/pdb.yaml": `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: user-service
  namespace: user-service
spec:
  minAvailable: 100%
  selector:
    matchLabels:
      app.kubernetes.io/name: user-service
`,
}

const digest = "sha256:5f0c2b2a8e8d1d7f3b6f4c1a9e2d7b3c4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d"

// TestOperations: each operation on the polyglot shop with k8s/ and
// gitops/ both present. The plan and every file it writes match their
// goldens (comments and setters kept), the edited tree validates with no
// new error, and planning the same operation again finds nothing to do.
func TestOperations(t *testing.T) {
	cases := []struct {
		name  string
		extra map[string]string
		op    Operation
		want  []string // in the plan's notes and warnings
	}{
		{"scale", nil, Scale{Service: "order-service", Replicas: 5}, nil},
		{"scale-pdb", pdbTree, Scale{Service: "user-service", Replicas: 3}, []string{"lowered to 2", "requires 100% of the 3 replicas available"}},
		{"scale-hpa-force", hpaTree, Scale{Service: "order-service", Replicas: 4, Force: true}, []string{"HorizontalPodAutoscaler/order-service/order-service (gitops/apps/base/order-service/hpa.yaml:2"}},
		{"image-older", nil, Image{Service: "order-service", Ref: "0.0.9"}, []string{"Pinned the Flux ImagePolicy/flux-system/order-service", `restore the range ">=0.1.0"`}},
		{"image-newer", nil, Image{Service: "product-service", Ref: "0.2.0"}, []string{"would select this tag too"}},
		{"image-semver-prerelease", nil, Image{Service: "user-service", Ref: "v0.3.0-rc.1"}, []string{"outside its semver range", "to =v0.3.0-rc.1"}},
		{"image-tag-digest", nil, Image{Service: "user-service", Ref: "main-3f2a1bc@" + digest}, []string{"not a semantic version", `filterTags.pattern "^main-3f2a1bc$"`}},
		{"autoscale", nil, Autoscale{Service: "order-service", Min: 2, Max: 8}, []string{"Removed the replica counts"}},
		{"autoscale-existing", hpaTree, Autoscale{Service: "order-service", Min: 3, Max: 12, CPUPercent: 60}, nil},
		{"resources", nil, Resources{Service: "order-service", CPU: Quantities{"100m", "1"}, Memory: Quantities{"128Mi", "512Mi"}}, nil},
		{"resources-from-metrics", nil, Resources{Service: "order-service", FromMetrics: true, Window: 7 * 24 * time.Hour}, []string{"From 4032 samples of 2 pods over 7d: CPU p95 115.0m, max 190.0m; memory p95 108.0Mi, max 150.0Mi."}},
	}
	baseline := map[string]map[string]finding.Finding{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := fixture(t, c.extra)
			key := "plain"
			if c.extra != nil {
				key = c.name
			}
			if baseline[key] == nil {
				baseline[key] = validateTree(t, dir)
			}
			usage := &fakeUsage{}
			p, err := planOn(t, dir, c.op, Options{Usage: usage})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.name, p)
			mustContain(t, strings.Join(append(p.Notes, p.Warnings...), "\n"), c.want...)
			applyAndValidate(t, dir, p, baseline[key])
			if again, err := planOn(t, dir, c.op, Options{Usage: usage}); err == nil || !strings.Contains(err.Error(), "nothing to change") {
				t.Errorf("planning %s again after applying it: %v, %+v", c.op, err, again)
			}
		})
	}
}

// fakeUsage answers resources --from-metrics with fixed numbers; package
// metrics is tested against a real Prometheus.
type fakeUsage struct{ asked []metrics.Target }

var _ UsageSource = (*fakeUsage)(nil)

func (f *fakeUsage) Recommend(_ context.Context, t metrics.Target) (*metrics.Recommendation, error) {
	f.asked = append(f.asked, t)
	if t != (metrics.Target{Namespace: "order-service", Workload: "order-service", Kind: "Deployment", Container: "order-service", Window: 7 * 24 * time.Hour}) {
		return nil, fmt.Errorf("unexpected target %+v", t)
	}
	return &metrics.Recommendation{Window: "7d", Step: "10m5s", Pods: 2, Samples: 4032,
		CPU:    metrics.Usage{P95Value: 0.115, MaxValue: 0.19, P95: "115.0m", Max: "190.0m", Request: "140m", Limit: "290m"},
		Memory: metrics.Usage{P95Value: 108 << 20, MaxValue: 150 << 20, P95: "108.0Mi", Max: "150.0Mi", Request: "144Mi", Limit: "240Mi"},
		Method: "Requests are the 95th percentile × 1.2, limits the maximum × 1.5.", Queries: []string{"cpu", "memory"}}, nil
}

// TestScaleRefusedByHPA: scale names the autoscaler's file and the way
// out, and writes nothing.
func TestScaleRefusedByHPA(t *testing.T) {
	dir := fixture(t, hpaTree)
	_, err := planOn(t, dir, Scale{Service: "order-service", Replicas: 4}, Options{})
	if err == nil {
		t.Fatal("scale with an autoscaler present was planned")
	}
	mustContain(t, err.Error(), "gitops/apps/base/order-service/hpa.yaml:2", "minReplicas 2, maxReplicas 6", "autoscale order-service MIN MAX", "--force")
}

// TestUnknownService: an operation on a service the repository lacks
// names the services it has.
func TestUnknownService(t *testing.T) {
	dir := fixture(t, nil)
	for _, c := range []struct {
		service, suggestion string
	}{{"payment-service", ""}, {"order-servce", "order-service"}} {
		_, err := planOn(t, dir, Scale{Service: c.service, Replicas: 2}, Options{})
		var u *UnknownServiceError
		if !errors.As(err, &u) {
			t.Fatalf("%s: %v, want an *UnknownServiceError", c.service, err)
		}
		if u.Suggestion != c.suggestion {
			t.Errorf("%s: suggestion %q, want %q", c.service, u.Suggestion, c.suggestion)
		}
		mustContain(t, err.Error(), c.service, "order-service, order-service-mongodb, product-service, product-service-postgresql, rabbitmq, user-service, user-service-mariadb")
	}
}

// TestImageDigestWithSetterRefused: a bare digest cannot be pinned
// through an ImagePolicy, which selects tags.
func TestResourcesWithoutPrometheus(t *testing.T) {
	dir := fixture(t, nil)
	_, err := planOn(t, dir, Resources{Service: "order-service", FromMetrics: true}, Options{})
	if err == nil || !strings.Contains(err.Error(), "no Prometheus is configured") {
		t.Fatalf("--from-metrics without a UsageSource: %v", err)
	}
	_, err = planOn(t, dir, Resources{Service: "order-service", CPU: Quantities{Request: "2"}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "the cpu request 2 would be above the limit 500m at gitops/apps/base/order-service/deployment.yaml:27") {
		t.Fatalf("a request above the kept limit: %v", err)
	}
}

func TestImageDigestWithSetterRefused(t *testing.T) {
	dir := fixture(t, nil)
	_, err := planOn(t, dir, Image{Service: "order-service", Ref: digest}, Options{})
	if err == nil {
		t.Fatal("a bare digest on a field with a Flux setter was planned")
	}
	mustContain(t, err.Error(), "gitops/apps/base/order-service/deployment.yaml:43", `flux-system:order-service`, "give a tag")
}

// TestApplyRefusesStaleTree: a plan is not applied over files that
// changed since it was made.
func TestApplyRefusesStaleTree(t *testing.T) {
	dir := fixture(t, nil)
	p, err := planOn(t, dir, Scale{Service: "order-service", Replicas: 3}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "k8s/order-service/deployment.yaml", "kind: Deployment\n")
	if err := p.Apply(dir); err == nil || !strings.Contains(err.Error(), "changed since the plan") {
		t.Fatalf("Apply over a changed file: %v", err)
	}
}

// TestEditTime reports how long loading and planning take on the
// polyglot shop (the figure the brief asks for).
func TestEditTime(t *testing.T) {
	dir := fixture(t, nil)
	start := time.Now()
	const n = 20
	for range n {
		r, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Plan(context.Background(), Image{Service: "order-service", Ref: "0.0.9"}, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("load + plan image on polyglot-shop (k8s/ and gitops/): %v per operation", time.Since(start)/n)
}

// TestDefinitions: every workload that defines a service, k8s/ and
// gitops/ alike, with its namespace; an unknown service is the same
// error Plan gives.
func TestDefinitions(t *testing.T) {
	r, err := Load(fixture(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defs, err := r.Definitions("order-service")
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) < 2 {
		t.Fatalf("definitions of order-service: %+v, want k8s/ and gitops/", defs)
	}
	var files []string
	for _, d := range defs {
		if d.Kind != "Deployment" || d.Name != "order-service" {
			t.Errorf("definition %+v", d)
		}
		files = append(files, d.File)
	}
	mustContain(t, strings.Join(files, " "), "gitops/apps/base/order-service/", "k8s/order-service/")
	var u *UnknownServiceError
	if _, err := r.Definitions("payment"); !errors.As(err, &u) {
		t.Fatalf("unknown service: %v", err)
	}
}
