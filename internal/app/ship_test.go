package app

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/config"
)

// The repository ships itself: the top-level Dockerfile and deploy/ (a
// kustomize base, the single and ha overlays, a Flux example) must pass
// every stage of kubewright's own validation, the server-side dry-run on a
// real kube-apiserver included, with no finding at all: no error, no
// warning, no info.

// shipRepo is the repository root.
func shipRepo(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// shipValidation wires validation as `kubewright validate --crds
// $KUBEWRIGHT_CRDS --ephemeral --require dry-run` does.
func shipValidation(t *testing.T) *Validation {
	t.Helper()
	crds := os.Getenv("KUBEWRIGHT_CRDS")
	if crds == "" {
		t.Fatal("KUBEWRIGHT_CRDS is not set: deploy/ holds ExternalSecrets, a ServiceMonitor and Flux objects (run `make test`, or set it to ../shared/crds)")
	}
	v, err := NewValidation(context.Background(), ValidationSettings{CRDs: []string{crds}, Ephemeral: true, RequireDryRun: true})
	if err != nil {
		t.Fatalf("%v (make test builds kube-apiserver and etcd and sets KUBEBUILDER_ASSETS)", err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Error(err)
		}
	})
	return v
}

// shipStages are the stages a clean validation must have run (none
// skipped).
var shipStages = []string{"build", "flux", "schema", "dockerfile", "policy", "dryrun"}

// requireClean validates dir and fails on any finding or skipped stage.
func requireClean(t *testing.T, v *Validation, dir string) (roots, objects, dockerfiles int) {
	t.Helper()
	rep, err := v.Validate(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		t.Errorf("%s:%d: %s %s %s [%s]\n\thint: %s", f.File, f.Line, f.Severity, f.ID, f.Message, f.Object, f.Hint)
	}
	ran := map[string]bool{}
	for _, st := range rep.Stages {
		if st.Skipped != "" {
			t.Errorf("stage %s skipped: %s", st.Name, st.Skipped)
			continue
		}
		ran[st.Name] = true
	}
	for _, name := range shipStages {
		if !ran[name] {
			t.Errorf("stage %s did not run (stages: %+v)", name, rep.Stages)
		}
	}
	return rep.Roots, rep.Objects, rep.Dockerfiles
}

// TestShipValidates: deploy/ and the Dockerfile, in a directory laid out
// as a clone of the repository (named kubewright, so the Dockerfile check
// matches the image ghcr.io/kubewright/kubewright to the Deployment that
// runs it and compares EXPOSE with its containerPorts), with the build
// context the Dockerfile copies from. The Flux Kustomization's path is
// repository-relative, so deploy/ keeps its place.
func TestShipValidates(t *testing.T) {
	v := shipValidation(t)
	repo := shipRepo(t)
	tree := filepath.Join(t.TempDir(), "kubewright")
	for _, f := range []string{"Dockerfile", ".dockerignore", "go.mod", "go.sum"} {
		copyShipFile(t, filepath.Join(repo, f), filepath.Join(tree, f))
	}
	for _, d := range []string{"deploy", "cmd", "internal", "prompts", "hack/kube-assets"} {
		copyBuildContext(t, filepath.Join(repo, d), filepath.Join(tree, d))
	}
	roots, objects, dockerfiles := requireClean(t, v, tree)
	// base, overlays/single, overlays/ha, flux (components/cluster-read is a
	// kustomize Component: built only inside an overlay, TestShipClusterRead).
	if roots != 4 || dockerfiles != 1 || objects < 15 {
		t.Errorf("validated %d kustomization roots, %d objects, %d Dockerfiles; want 4 roots, at least 15 objects and the one Dockerfile", roots, objects, dockerfiles)
	}
}

// copyBuildContext copies a directory as `docker build` sends it: without
// the tests and fixtures .dockerignore excludes (checked below), so that
// the fixtures' own kustomizations and Dockerfiles stay out of the
// validation.
func copyBuildContext(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !d.Type().IsRegular() || strings.HasSuffix(d.Name(), "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		copyShipFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyShipFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestShipDockerfileWiring: what the validation cannot see. The build
// context leaves out what copyBuildContext leaves out; the image puts
// kube-apiserver and etcd where KUBEBUILDER_ASSETS says; its user is the
// one the Deployment runs as.
func TestShipDockerfileWiring(t *testing.T) {
	repo := shipRepo(t)
	ignore := readShip(t, filepath.Join(repo, ".dockerignore"))
	for _, want := range []string{"**/*_test.go", "**/testdata/", "!cmd/", "!internal/", "!prompts/", "!hack/kube-assets/"} {
		if !slices.Contains(strings.Split(ignore, "\n"), want) {
			t.Errorf(".dockerignore has no line %q", want)
		}
	}
	docker := readShip(t, filepath.Join(repo, "Dockerfile"))
	for _, want := range []string{
		"COPY --from=kube-assets /out/kube-assets/ /usr/local/kubebuilder/bin/",
		"KUBEBUILDER_ASSETS=/usr/local/kubebuilder/bin ",
		"USER 10001:10001",
		"EXPOSE 8080 9090",
		`-ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}"`,
		"GOOS=${TARGETOS} GOARCH=${TARGETARCH} bash hack/kube-assets/build.sh /out/kube-assets",
	} {
		if !strings.Contains(docker, want) {
			t.Errorf("Dockerfile has no line %q", want)
		}
	}
	objs := buildOverlay(t, filepath.Join(repo, "deploy", "base"))
	dep := shipObject(t, objs, "Deployment", "kubewright")
	for _, f := range [][]string{{"runAsUser"}, {"runAsGroup"}, {"fsGroup"}} {
		if got, _, _ := unstructured.NestedInt64(dep.Object, append([]string{"spec", "template", "spec", "securityContext"}, f...)...); got != 10001 {
			t.Errorf("Deployment securityContext.%s = %d, want 10001, the image's USER", f[0], got)
		}
	}
}

// TestShipOverlays: each overlay builds with kustomize into what its
// comments promise, its settings are ones `kubewright serve` reads, and
// the rendered objects (patches applied) pass every stage on their own.
func TestShipOverlays(t *testing.T) {
	v := shipValidation(t)
	repo := shipRepo(t)
	for _, tt := range []struct {
		name     string
		replicas int64
		strategy string
		kinds    []string // kinds the overlay adds to the base's
		check    func(t *testing.T, objs []*unstructured.Unstructured, cfg config.Server)
	}{
		{name: "single", replicas: 1, strategy: "Recreate", kinds: []string{"PersistentVolumeClaim"}, check: checkSingle},
		{name: "ha", replicas: 2, strategy: "RollingUpdate", kinds: []string{"ExternalSecret", "ExternalSecret", "PodDisruptionBudget", "ServiceMonitor"}, check: checkHA},
	} {
		t.Run(tt.name, func(t *testing.T) {
			objs := buildOverlay(t, filepath.Join(repo, "deploy", "overlays", tt.name))
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetKind())
				if o.GetKind() == "Secret" {
					t.Errorf("Secret/%s is in the tree: secrets come by reference only", o.GetName())
				}
				if o.GetNamespace() == "" && !slices.Contains([]string{"Namespace", "ClusterRole", "ClusterRoleBinding"}, o.GetKind()) {
					t.Errorf("%s/%s has no namespace", o.GetKind(), o.GetName())
				}
			}
			want := append([]string{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Namespace", "NetworkPolicy", "Service", "ServiceAccount"}, tt.kinds...)
			slices.Sort(kinds)
			slices.Sort(want)
			if !slices.Equal(kinds, want) {
				t.Errorf("kinds %v, want %v", kinds, want)
			}
			dep := shipObject(t, objs, "Deployment", "kubewright")
			if n, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); n != tt.replicas {
				t.Errorf("replicas %d, want %d", n, tt.replicas)
			}
			if s, _, _ := unstructured.NestedString(dep.Object, "spec", "strategy", "type"); s != tt.strategy {
				t.Errorf("strategy %q, want %q", s, tt.strategy)
			}
			cfg := checkServeSettings(t, objs)
			checkProbes(t, dep, cfg)
			tt.check(t, objs, cfg)

			// The rendered overlay as loose manifests: every object with
			// its patches applied goes through every stage.
			dir := filepath.Join(t.TempDir(), tt.name)
			var docs []string
			for _, o := range objs {
				b, err := yaml.Marshal(o.Object)
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, string(b))
			}
			if err := os.MkdirAll(filepath.Join(dir, "k8s"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "k8s", tt.name+".yaml"), []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, objects, _ := requireClean(t, v, dir); objects != len(objs) {
				t.Errorf("validated %d objects of the %d the overlay renders", objects, len(objs))
			}
		})
	}
}

// buildOverlay runs kustomize on dir, as Flux's kustomize-controller does.
func buildOverlay(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func shipObject(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

// container is the kubewright container of the Deployment.
func container(t *testing.T, dep *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0].(map[string]any)
}

// checkServeSettings reads the Deployment's settings the way `kubewright
// serve` does (config.ServerDefaults): the ConfigMap's values, and a
// stand-in for each variable taken from a Secret. Every variable must be
// one serve reads: a misspelt name would be ignored without a word.
func checkServeSettings(t *testing.T, objs []*unstructured.Unstructured) config.Server {
	t.Helper()
	env := map[string]string{}
	cm, _, _ := unstructured.NestedStringMap(shipObject(t, objs, "ConfigMap", "").Object, "data")
	for k, v := range cm {
		env[k] = v
	}
	c := container(t, shipObject(t, objs, "Deployment", "kubewright"))
	vars, _, _ := unstructured.NestedSlice(c, "env")
	for _, e := range vars {
		e := e.(map[string]any)
		name, _ := e["name"].(string)
		if _, literal := e["value"]; literal {
			t.Errorf("env %s has a literal value: settings go in the ConfigMap, secrets by secretKeyRef", name)
			continue
		}
		if _, _, err := unstructured.NestedString(e, "valueFrom", "secretKeyRef", "name"); err != nil {
			t.Errorf("env %s is not from a Secret", name)
		}
		env[name] = "stand-in-for-" + name
		if name == "KUBEWRIGHT_APP_ID" {
			env[name] = "12345"
		}
		if name == "KUBEWRIGHT_DATABASE_URL" {
			env[name] = "postgres://kubewright@postgres:5432/kubewright"
		}
	}
	none, err := config.ServerDefaults(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for k := range env {
		// "7" parses as every kind of setting and is no default.
		one, err := config.ServerDefaults(func(n string) string {
			if n == k {
				return "7"
			}
			return ""
		})
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
		if reflect.DeepEqual(one, none) {
			t.Errorf("%s is set but `kubewright serve` reads no such variable", k)
		}
	}
	cfg, err := config.ServerDefaults(func(n string) string { return env[n] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// checkProbes: /healthz and /readyz on the listener serve listens on, the
// metrics port on the metrics listener, the key file in the Secret's mount.
func checkProbes(t *testing.T, dep *unstructured.Unstructured, cfg config.Server) {
	t.Helper()
	c := container(t, dep)
	ports := map[string]int64{}
	list, _, _ := unstructured.NestedSlice(c, "ports")
	for _, p := range list {
		p := p.(map[string]any)
		ports[p["name"].(string)] = p["containerPort"].(int64)
	}
	if cfg.Listen != fmt.Sprintf(":%d", ports["http"]) || cfg.MetricsListen != fmt.Sprintf(":%d", ports["metrics"]) {
		t.Errorf("serve listens on %q and %q, the container declares http %d and metrics %d", cfg.Listen, cfg.MetricsListen, ports["http"], ports["metrics"])
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		got, _, _ := unstructured.NestedString(c, probe, "httpGet", "path")
		port, _, _ := unstructured.NestedFieldNoCopy(c, probe, "httpGet", "port")
		if got != path || port != "http" {
			t.Errorf("%s asks %v %q, want port http %q", probe, port, got, path)
		}
	}
	mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
	found := false
	for _, m := range mounts {
		m := m.(map[string]any)
		if m["name"] == "github-app" && filepath.Join(m["mountPath"].(string), "private-key.pem") == cfg.PrivateKeyFile {
			found = true
		}
		if m["name"] == "data" && m["mountPath"] != cfg.DataDir {
			t.Errorf("the data volume is at %v, serve's data directory %s", m["mountPath"], cfg.DataDir)
		}
	}
	if !found {
		t.Errorf("the private key %s is not in the github-app Secret's mount", cfg.PrivateKeyFile)
	}
	for k, want := range map[string]bool{"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true} {
		if got, ok, _ := unstructured.NestedBool(c, "securityContext", k); !ok || got != want {
			t.Errorf("securityContext.%s = %v, want %v", k, got, want)
		}
	}
}

func checkSingle(t *testing.T, objs []*unstructured.Unstructured, cfg config.Server) {
	dep := shipObject(t, objs, "Deployment", "kubewright")
	vols, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
	for _, v := range vols {
		v := v.(map[string]any)
		if v["name"] != "data" {
			continue
		}
		claim, _, _ := unstructured.NestedString(v, "persistentVolumeClaim", "claimName")
		if _, empty := v["emptyDir"]; empty || claim != shipObject(t, objs, "PersistentVolumeClaim", "").GetName() {
			t.Errorf("the data volume is %v, want only the overlay's PersistentVolumeClaim", v)
		}
	}
	if cfg.DatabaseURL != "" {
		t.Errorf("single sets a database URL: the queue is SQLite in the data directory")
	}
}

func checkHA(t *testing.T, objs []*unstructured.Unstructured, cfg config.Server) {
	if cfg.DatabaseURL == "" {
		t.Errorf("ha sets no KUBEWRIGHT_DATABASE_URL: its replicas need the shared PostgreSQL queue")
	}
	// Every Secret the pods read is made by an ExternalSecret, except
	// the optional model key.
	made := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "ExternalSecret" {
			name, _, _ := unstructured.NestedString(o.Object, "spec", "target", "name")
			made[name] = true
		}
	}
	c := container(t, shipObject(t, objs, "Deployment", "kubewright"))
	vars, _, _ := unstructured.NestedSlice(c, "env")
	for _, e := range vars {
		ref, _, _ := unstructured.NestedMap(e.(map[string]any), "valueFrom", "secretKeyRef")
		if name, _ := ref["name"].(string); !made[name] && ref["optional"] != true {
			t.Errorf("env %v reads Secret %s, which no ExternalSecret makes", e.(map[string]any)["name"], name)
		}
	}
	dep := shipObject(t, objs, "Deployment", "kubewright")
	vols, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
	for _, v := range vols {
		if name, ok, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName"); ok && !made[name] {
			t.Errorf("volume %v mounts Secret %s, which no ExternalSecret makes", v.(map[string]any)["name"], name)
		}
	}
	if _, ok, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution"); !ok {
		t.Error("no pod anti-affinity")
	}
	labels, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "labels")
	pdb, _, _ := unstructured.NestedStringMap(shipObject(t, objs, "PodDisruptionBudget", "kubewright").Object, "spec", "selector", "matchLabels")
	for k, v := range pdb {
		if labels[k] != v {
			t.Errorf("the PodDisruptionBudget selects %s=%s, which the pods do not carry", k, v)
		}
	}
	sm, _, _ := unstructured.NestedSlice(shipObject(t, objs, "ServiceMonitor", "kubewright").Object, "spec", "endpoints")
	if len(sm) != 1 || sm[0].(map[string]any)["port"] != "metrics" {
		t.Errorf("ServiceMonitor endpoints %v, want the Service's metrics port", sm)
	}
	egress, _, _ := unstructured.NestedSlice(shipObject(t, objs, "NetworkPolicy", "kubewright").Object, "spec", "egress")
	if !strings.Contains(fmt.Sprint(egress), "port:5432") {
		t.Errorf("the NetworkPolicy lets no traffic out to PostgreSQL (5432): %v", egress)
	}
}

func readShip(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShipClusterRead: components/cluster-read, added to either overlay,
// gives the pod the token of the read-only identity, the in-cluster
// setting `kubewright serve` reads, and egress to the API server, and
// changes nothing else the overlay promised.
func TestShipClusterRead(t *testing.T) {
	repo := shipRepo(t)
	for _, overlay := range []string{"single", "ha"} {
		t.Run(overlay, func(t *testing.T) {
			dir := t.TempDir()
			rel := func(p string) string {
				r, err := filepath.Rel(dir, p) // kustomize takes no absolute paths
				if err != nil {
					t.Fatal(err)
				}
				return filepath.ToSlash(r)
			}
			kust := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\ncomponents:\n  - %s\n",
				rel(filepath.Join(repo, "deploy", "overlays", overlay)), rel(filepath.Join(repo, "deploy", "components", "cluster-read")))
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
				t.Fatal(err)
			}
			before := buildOverlay(t, filepath.Join(repo, "deploy", "overlays", overlay))
			objs := buildOverlay(t, dir)
			if len(objs) != len(before) {
				t.Errorf("%d objects, the overlay alone has %d", len(objs), len(before))
			}
			sa := shipObject(t, objs, "ServiceAccount", "kubewright")
			dep := shipObject(t, objs, "Deployment", "kubewright")
			for what, o := range map[string][]string{"ServiceAccount": {"automountServiceAccountToken"}, "Deployment": {"spec", "template", "spec", "automountServiceAccountToken"}} {
				obj := sa
				if what == "Deployment" {
					obj = dep
				}
				if on, found, _ := unstructured.NestedBool(obj.Object, o...); !found || !on {
					t.Errorf("%s does not mount the token", what)
				}
			}
			cfg := checkServeSettings(t, objs)
			if cfg.Kubeconfig != "in-cluster" {
				t.Errorf("KUBEWRIGHT_KUBECONFIG = %q, want in-cluster", cfg.Kubeconfig)
			}
			checkProbes(t, dep, cfg)
			np := shipObject(t, objs, "NetworkPolicy", "kubewright")
			egress, _, _ := unstructured.NestedSlice(np.Object, "spec", "egress")
			var apiserver bool
			for _, e := range egress {
				ports, _, _ := unstructured.NestedSlice(e.(map[string]any), "ports")
				for _, p := range ports {
					if port, _, _ := unstructured.NestedInt64(p.(map[string]any), "port"); port == 6443 {
						apiserver = true
					}
				}
			}
			if !apiserver {
				t.Errorf("no egress to the API server on 6443: %v", egress)
			}
		})
	}
}
