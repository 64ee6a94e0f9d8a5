package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/build"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

// policyBase is a compliant workload: a Deployment, its Service and a
// NetworkPolicy. Cases edit it with replacements.
const policyBase = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
      containers:
      - name: web
        image: ghcr.io/acme/web:1.0.0
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: LOG_LEVEL
          value: info
        readinessProbe:
          httpGet: {path: /healthz, port: http}
        livenessProbe:
          httpGet: {path: /healthz, port: http}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 256Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: [ALL]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
  - {}
`

// policyCompliantContainer is the body of a compliant container, for
// workloads other than the base Deployment (indent with policyIndent).
const policyCompliantContainer = `securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {memory: 256Mi}
`

func policyIndent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// policyWant is an expected finding: its rule and a substring of the line
// it points at (the first line of the file that contains it).
type policyWant struct {
	id, file, marker string
}

func TestPolicyRules(t *testing.T) {
	const app = "k8s/app.yaml"
	edit := func(pairs ...string) map[string]string {
		s := policyBase
		for i := 0; i+1 < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("base has no %q", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return map[string]string{app: s}
	}
	with := func(files map[string]string, name, content string) map[string]string {
		files[name] = content
		return files
	}
	cronJob := `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: shop
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata:
          labels:
            app: web
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: ghcr.io/acme/report:2.1.0
` + policyIndent(policyCompliantContainer, 12)

	cases := []struct {
		name  string
		files map[string]string
		want  []policyWant
	}{
		{name: "clean", files: edit()},

		// KW-POL-001
		{name: "001 pod runAsNonRoot false", files: edit("runAsNonRoot: true", "runAsNonRoot: false"),
			want: []policyWant{{"KW-POL-001", app, "runAsNonRoot: false"}}},
		{name: "001 container overrides a false pod setting", files: edit("runAsNonRoot: true", "runAsNonRoot: false",
			"allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n          runAsNonRoot: true")},
		{name: "001 container false overrides pod", files: edit("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n          runAsNonRoot: false # container"),
			want: []policyWant{{"KW-POL-001", app, "runAsNonRoot: false # container"}}},
		{name: "001 runAsUser 0", files: edit("runAsUser: 1000", "runAsUser: 0"),
			want: []policyWant{{"KW-POL-001", app, "runAsUser: 0"}}},
		{name: "001 unset", files: edit("      securityContext:\n        runAsNonRoot: true\n        runAsUser: 1000\n", ""),
			want: []policyWant{{"KW-POL-001", app, "        securityContext:"}}},

		// KW-POL-002 .. 007
		{name: "002 writable root", files: edit("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
			want: []policyWant{{"KW-POL-002", app, "readOnlyRootFilesystem: false"}}},
		{name: "003 privileged", files: edit("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: true\n          privileged: true"),
			want: []policyWant{{"KW-POL-003", app, "privileged: true"}}},
		{name: "004 allowPrivilegeEscalation true", files: edit("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"),
			want: []policyWant{{"KW-POL-004", app, "allowPrivilegeEscalation: true"}}},
		{name: "004 allowPrivilegeEscalation unset", files: edit("          allowPrivilegeEscalation: false\n", ""),
			want: []policyWant{{"KW-POL-004", app, "        securityContext:"}}},
		{name: "005 hostPath", files: edit("      containers:", "      volumes:\n      - name: docker\n        hostPath: {path: /var/run/docker.sock}\n      containers:"),
			want: []policyWant{{"KW-POL-005", app, "hostPath:"}}},
		{name: "006 host namespaces", files: edit("      containers:", "      hostNetwork: true\n      hostPID: true\n      hostIPC: false\n      containers:"),
			want: []policyWant{{"KW-POL-006", app, "hostNetwork: true"}, {"KW-POL-006", app, "hostPID: true"}}},
		{name: "007 capabilities", files: edit("drop: [ALL]", "drop: [NET_RAW]"),
			want: []policyWant{{"KW-POL-007", app, "drop: [NET_RAW]"}}},
		{name: "007 lowercase all is fine", files: edit("drop: [ALL]", "drop: [all]")},

		// KW-POL-010 .. 014
		{name: "010 no requests", files: edit("          requests: {cpu: 100m, memory: 128Mi}\n", ""),
			want: []policyWant{{"KW-POL-010", app, "        resources:"}}},
		{name: "010 limits stand in for requests", files: edit("          requests: {cpu: 100m, memory: 128Mi}\n          limits: {memory: 256Mi}", "          limits: {cpu: 500m, memory: 256Mi}")},
		{name: "011 no memory limit", files: edit("limits: {memory: 256Mi}", "limits: {cpu: 500m}"),
			want: []policyWant{{"KW-POL-011", app, "limits: {cpu: 500m}"}}},
		{name: "012 no readiness", files: edit("        readinessProbe:\n          httpGet: {path: /healthz, port: http}\n", ""),
			want: []policyWant{{"KW-POL-012", app, "        ports:"}}},
		{name: "013 no liveness", files: edit("        livenessProbe:\n          httpGet: {path: /healthz, port: http}\n", ""),
			want: []policyWant{{"KW-POL-013", app, "      - name: web"}}},
		{name: "013 not for a CronJob", files: with(edit(), "k8s/cron.yaml", cronJob)},
		{name: "014 latest", files: edit("web:1.0.0", "web:latest"),
			want: []policyWant{{"KW-POL-014", app, "web:latest"}}},
		{name: "014 no tag behind a registry port", files: edit("ghcr.io/acme/web:1.0.0", "localhost:5000/acme/web"),
			want: []policyWant{{"KW-POL-014", app, "localhost:5000/acme/web"}}},
		{name: "014 digest", files: edit("web:1.0.0", "web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")},
		{name: "014 CronJob latest", files: with(edit(), "k8s/cron.yaml", strings.Replace(cronJob, "report:2.1.0", "report:latest", 1)),
			want: []policyWant{{"KW-POL-014", "k8s/cron.yaml", "report:latest"}}},

		// init containers are containers, without probes
		// (runAsNonRoot comes from the pod securityContext)
		{name: "init container", files: edit("      containers:", "      initContainers:\n      - name: migrate\n        image: ghcr.io/acme/migrate:1.0.0\n        ports:\n        - containerPort: 9000\n      containers:"),
			want: []policyWant{
				{"KW-POL-002", app, "name: migrate"}, {"KW-POL-004", app, "name: migrate"},
				{"KW-POL-007", app, "name: migrate"}, {"KW-POL-010", app, "name: migrate"}, {"KW-POL-011", app, "name: migrate"},
			}},

		// KW-POL-020
		{name: "020 secret name", files: edit("- name: LOG_LEVEL\n          value: info", "- name: DB_PASSWORD\n          value: hunter2"),
			want: []policyWant{{"KW-POL-020", app, "value: hunter2"}}},
		{name: "020 camel case api key", files: edit("- name: LOG_LEVEL\n          value: info", "- name: stripeApiKey\n          value: sk_live_x"),
			want: []policyWant{{"KW-POL-020", app, "value: sk_live_x"}}},
		{name: "020 URL with password", files: edit("- name: LOG_LEVEL\n          value: info", "- name: CACHE\n          value: redis://:s3cret@redis:6379/0"),
			want: []policyWant{{"KW-POL-020", app, "value: redis://"}}},
		{name: "020 DSN by name", files: edit("- name: LOG_LEVEL\n          value: info", "- name: MYSQL_DSN\n          value: app:s3cret@tcp(db:3306)/app"),
			want: []policyWant{{"KW-POL-020", app, "value: app:"}}},
		{name: "020 AWS key", files: edit("- name: LOG_LEVEL\n          value: info", "- name: AWS_KEY_ID\n          value: AKIAABCDEFGHIJKLMNOP"),
			want: []policyWant{{"KW-POL-020", app, "value: AKIA"}}},
		{name: "020 composed from secret refs", files: edit("- name: LOG_LEVEL\n          value: info",
			"- name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef: {name: db, key: password}\n        - name: DATABASE_URL\n          value: postgres://app:$(DB_PASSWORD)@db:5432/app\n        - name: PASSWORD_FILE\n          value: /run/secrets/password\n        - name: TOKEN_URL\n          value: https://auth.example.com/oauth/token")},

		// KW-POL-021, 022
		{name: "021 configmap", files: with(edit(), "k8s/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: shop\ndata:\n  LOG_LEVEL: info\n  SMTP_PASSWORD: hunter2\n  app.properties: |\n    server.port=8080\n    spring.datasource.password=hunter2\n  EMPTY_TOKEN: \"\"\n  REF: ${DB_TOKEN}\n"),
			want: []policyWant{{"KW-POL-021", "k8s/cm.yaml", "SMTP_PASSWORD"}, {"KW-POL-021", "k8s/cm.yaml", "app.properties"}}},
		{name: "021 clean configmap", files: with(edit(), "k8s/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: shop\ndata:\n  DB_HOST: db.shop.svc.cluster.local\n  SECRET_NAME: web-credentials\n  app.properties: |\n    spring.datasource.password=${DB_PASSWORD}\n")},
		{name: "022 secret", files: with(edit(), "k8s/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\n  namespace: shop\nstringData:\n  password: hunter2\n"),
			want: []policyWant{{"KW-POL-022", "k8s/secret.yaml", "stringData:"}}},
		{name: "022 empty and SOPS secrets are fine", files: with(edit(), "k8s/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: empty\n  namespace: shop\ndata: {}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: enc\n  namespace: shop\ndata:\n  password: ENC[AES256_GCM,data:abc,type:str]\nsops:\n  version: 3.9.0\n")},

		// KW-POL-030
		{name: "030 no NetworkPolicy", files: edit("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy", "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass"),
			want: []policyWant{{"KW-POL-030", app, "apiVersion: apps/v1"}}},
		{name: "030 policy selects other pods", files: edit("    matchLabels:\n      app: web\n  ingress:", "    matchLabels:\n      app: api\n  ingress:"),
			want: []policyWant{{"KW-POL-030", app, "apiVersion: apps/v1"}}},

		// KW-POL-031, 032
		{name: "031 selector matches nothing", files: edit("  selector:\n    app: web", "  selector:\n    app: webb"),
			want: []policyWant{{"KW-POL-031", app, "  selector:\n    app: webb"}}},
		{name: "031 opaque namespace", files: with(edit("  selector:\n    app: web", "  selector:\n    cnpg.io/cluster: db"), "k8s/db.yaml",
			"apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: db\n  namespace: shop\nspec:\n  instances: 1\n")},
		{name: "031 ExternalName", files: with(edit(), "k8s/ext.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: ext\n  namespace: shop\nspec:\n  type: ExternalName\n  externalName: api.example.com\n  selector:\n    app: nothing\n")},
		{name: "032 target port name", files: edit("targetPort: http", "targetPort: web"),
			want: []policyWant{{"KW-POL-032", app, "targetPort: web"}}},
		{name: "032 target port number", files: edit("targetPort: http", "targetPort: 8080")},
		{name: "032 target port defaults to port", files: edit("    targetPort: http\n", ""),
			want: []policyWant{{"KW-POL-032", app, "  - name: http\n    port: 80"}}},

		// KW-POL-033
		{name: "033 ingress", files: with(edit(), "k8s/ingress.yaml", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {name: http}}
      - path: /n
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
      - path: /missing
        pathType: Prefix
        backend:
          service: {name: webb, port: {number: 80}}
      - path: /port
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 8080}}
`), want: []policyWant{{"KW-POL-033", "k8s/ingress.yaml", "name: webb"}, {"KW-POL-033", "k8s/ingress.yaml", "number: 8080"}}},

		// KW-POL-034
		{name: "034 virtual service", files: with(edit(), "k8s/vs.yaml", `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: web
  namespace: shop
spec:
  hosts: [web.example.com]
  http:
  - route:
    - destination: {host: web}
    - destination: {host: web.shop, port: {number: 80}}
    - destination: {host: web.shop.svc}
    - destination: {host: web.shop.svc.cluster.local, port: {number: 80}}
    - destination: {host: api.example.com}
    - destination: {host: httpbin.org}
    - destination: {host: webb.shop.svc.cluster.local}
    - destination: {host: web, port: {number: 8080}}
  tcp:
  - route:
    - destination: {host: gone}
`), want: []policyWant{
			{"KW-POL-034", "k8s/vs.yaml", "host: webb.shop"}, {"KW-POL-034", "k8s/vs.yaml", "number: 8080"}, {"KW-POL-034", "k8s/vs.yaml", "host: gone"},
		}},

		{name: "013 not for a run-to-completion Pod", files: with(edit(), "k8s/pod.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: once
  namespace: shop
  labels: {app: web}
spec:
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 1000}
  containers:
  - name: once
    image: ghcr.io/acme/once:1.0.0
`+policyIndent(policyCompliantContainer, 4))},
		{name: "030 another implementation's policy covers the namespace", files: edit("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy")},

		// custom resources are not pod specs
		{name: "operator workload ignored", files: with(edit(), "k8s/db.yaml", "apiVersion: example.com/v1\nkind: Deployment\nmetadata:\n  name: db\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: db\n        image: db\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validatetest.NewInput(t, tc.files)
			got := Check{}.Check(context.Background(), in)
			var gotS, wantS []string
			for _, f := range got {
				gotS = append(gotS, policyFmt(f.ID, f.File, f.Line))
				if f.Stage != validate.StagePolicy || f.Message == "" || f.Hint == "" || f.Object == "" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			for _, w := range tc.want {
				wantS = append(wantS, policyFmt(w.id, w.file, policyLineOf(t, tc.files[w.file], w.marker)))
			}
			sort.Strings(gotS)
			sort.Strings(wantS)
			if strings.Join(gotS, "\n") != strings.Join(wantS, "\n") {
				t.Errorf("findings:\n got  %v\n want %v\n%s", gotS, wantS, policyDump(got))
			}
		})
	}
}

func policyFmt(id, file string, line int) string { return fmt.Sprintf("%s %s:%d", id, file, line) }

// policyLineOf is the line where marker starts in content.
func policyLineOf(t *testing.T, content, marker string) int {
	t.Helper()
	i := strings.Index(content, marker)
	if i < 0 {
		t.Fatalf("marker %q not in the case", marker)
	}
	return strings.Count(content[:i], "\n") + 1
}

func policyDump(fs []finding.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + " — " + f.Hint + "\n")
	}
	return b.String()
}

func TestPolicySeverities(t *testing.T) {
	in := validatetest.NewInput(t, map[string]string{"k8s/app.yaml": strings.Replace(strings.Replace(policyBase,
		"allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", 1),
		"readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", 1)})
	sev := map[string]finding.Severity{}
	for _, f := range (Check{}).Check(context.Background(), in) {
		sev[f.ID] = f.Severity
	}
	if sev["KW-POL-004"] != finding.Error || sev["KW-POL-002"] != finding.Warning {
		t.Errorf("severities = %v", sev)
	}
}

func TestPolicyNeverEchoesSecrets(t *testing.T) {
	const secret = "hunter2-Zq9"
	base := strings.Replace(policyBase, "- name: LOG_LEVEL\n          value: info", "- name: DB_PASSWORD\n          value: "+secret+"\n        - name: URL\n          value: https://u:"+secret+"@x.example.com", 1)
	in := validatetest.NewInput(t, map[string]string{
		"k8s/app.yaml": base,
		"k8s/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: shop\ndata:\n  TOKEN: " + secret + "\n  cfg: |\n    password=" + secret + "\n",
		"k8s/s.yaml":   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: shop\nstringData:\n  password: " + secret + "\n",
	})
	fs := Check{}.Check(context.Background(), in)
	if len(fs) != 5 {
		t.Errorf("want 5 findings:\n%s", policyDump(fs))
	}
	for _, f := range fs {
		if strings.Contains(f.Message+f.Hint+f.Object, secret) {
			t.Errorf("finding echoes the secret: %s", f)
		}
	}
}

// TestPolicyAuthorOutputIsClean holds the deterministic author to its own
// policy: every k8s/ and gitops/ tree it writes in its golden tests passes
// without errors or warnings.
func TestPolicyAuthorOutputIsClean(t *testing.T) {
	cases, err := filepath.Glob("../../author/rules/testdata/containerize/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no author goldens: %v", err)
	}
	for _, c := range cases {
		for _, tree := range []string{"k8s", "gitops"} {
			root := filepath.Join(c, tree)
			if _, err := os.Stat(root); err != nil {
				continue
			}
			t.Run(filepath.Base(c)+"/"+tree, func(t *testing.T) {
				files := map[string]string{}
				validatetest.ReadTree(t, root, tree+"/", files, validatetest.ManifestsOnly)
				var bad []finding.Finding
				for _, f := range (Check{}).Check(context.Background(), validatetest.NewInput(t, files)) {
					if f.Severity.Rank() < finding.Warning.Rank() {
						continue
					}
					bad = append(bad, f)
				}
				if len(bad) > 0 {
					t.Errorf("%d findings at warning or above:\n%s", len(bad), policyDump(bad))
				}
			})
		}
	}
}

// TestPolicyFixtures runs the real Load and the policy stage over the
// policy fixtures of testdata/invalid/: each holds exactly one policy
// mistake.
func TestPolicyFixtures(t *testing.T) {
	for _, tc := range []struct {
		dir, id, file, marker string
	}{
		{"policy-plaintext-password", "KW-POL-020", "k8s/deployment.yaml", "value: hunter2"},
		{"policy-selector-mismatch", "KW-POL-031", "k8s/service.yaml", "  selector:"},
		{"policy-ingress-backend-missing", "KW-POL-033", "k8s/ingress.yaml", "name: web-frontend"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("..", "..", "..", "testdata", "invalid", tc.dir)
			in, loadFs, err := build.Load(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(loadFs) > 0 {
				t.Fatalf("load findings:\n%s", policyDump(loadFs))
			}
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			fs := Check{}.Check(context.Background(), in)
			want := policyFmt(tc.id, tc.file, policyLineOf(t, string(b), tc.marker))
			if len(fs) != 1 || policyFmt(fs[0].ID, fs[0].File, fs[0].Line) != want {
				t.Errorf("want exactly %s, got:\n%s", want, policyDump(fs))
			}
		})
	}
}
