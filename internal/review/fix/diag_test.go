package fix

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kubewright/kubewright/internal/finding"
)

// diagDeployment is a Deployment whose container web has the ports and
// readinessProbe given (each a block at the container's indentation).
func diagDeployment(ports, probe string) string {
	return `apiVersion: apps/v1
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
      containers:
      - name: web
        image: ghcr.io/acme/web:3.1.0 # {"$imagepolicy": "flux-system:web"}
` + ports + probe
}

const (
	diagHTTPProbe = `        readinessProbe:
          httpGet:
            path: /healthz
            port: 8081
`
	diagOnePort = `        ports:
        - containerPort: 8080
`
	diagService = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector:
    app: webb
  ports:
  - port: 80
    targetPort: 8081
`
)

const (
	probeMsg    = "container web is not ready: readiness probe on port 8081, but container web listens on 8080"
	targetMsg   = "Service web port 80 sends to targetPort 8081, but the Pods of Deployment/shop/web listen on 8080"
	selectorMsg = "Service web selects app=webb, and no Pod in namespace shop has those labels; the Pods of Deployment/shop/web are labelled app=web,tier=front"
)

// The diagnosis fixers refuse what they cannot fix deterministically, and
// say why.
func TestDiagUnfixable(t *testing.T) {
	for _, tc := range []struct {
		name, id, file, msg string
		want                string // in the reason
	}{
		{"probe: several ports", "KW-DIAG-010", diagDeployment("        ports:\n        - containerPort: 8080\n        - name: metrics\n          containerPort: 9090\n", diagHTTPProbe),
			probeMsg, "declares several ports in k8s/web.yaml (8080, 9090)"},
		{"probe: no ports", "KW-DIAG-010", diagDeployment("", diagHTTPProbe),
			probeMsg, "declares no port"},
		{"probe: empty ports", "KW-DIAG-010", diagDeployment("        ports: []\n", diagHTTPProbe),
			probeMsg, "declares no port"},
		{"probe: only a UDP port", "KW-DIAG-010", diagDeployment("        ports:\n        - containerPort: 8080\n          protocol: UDP\n", diagHTTPProbe),
			probeMsg, "is UDP"},
		{"probe: path answers 404", "KW-DIAG-010", diagDeployment(diagOnePort, diagHTTPProbe),
			"container web is not ready: readiness probe GET /healthz on port 8080 answers 404", "no deterministic fix for this probe failure"},
		{"probe: times out", "KW-DIAG-010", diagDeployment(diagOnePort, diagHTTPProbe),
			"container web is not ready: readiness probe times out after 1s", "no deterministic fix for this probe failure"},
		{"probe: another container's port", "KW-DIAG-010", diagDeployment(diagOnePort, diagHTTPProbe),
			"container web is not ready: readiness probe on port 8081, but container proxy listens on 8080", "no deterministic fix for this probe failure"},
		{"probe: message does not parse", "KW-DIAG-010", diagDeployment(diagOnePort, diagHTTPProbe),
			"web is unwell", "not the one this fixer reads"},
		{"probe: container not in the file", "KW-DIAG-010", diagDeployment(diagOnePort, diagHTTPProbe),
			strings.ReplaceAll(probeMsg, "web", "api"), `does not define container "api" itself`},
		{"probe: not in the file", "KW-DIAG-010", diagDeployment(diagOnePort, ""),
			probeMsg, "sets no readinessProbe"},
		{"probe: exec", "KW-DIAG-010", diagDeployment(diagOnePort, "        readinessProbe:\n          exec:\n            command: [true]\n"),
			probeMsg, "has no httpGet, tcpSocket or grpc port"},
		{"probe: file differs from the cluster", "KW-DIAG-010", diagDeployment(diagOnePort, strings.Replace(diagHTTPProbe, "8081", "8082", 1)),
			probeMsg, "is on port 8082, not on 8081"},
		{"probe: name differs from the cluster", "KW-DIAG-010", diagDeployment(diagOnePort, diagHTTPProbe),
			`container web is not ready: readiness probe on port "health", a name container web does not give any port`, `is on port 8081, not on health`},

		{"targetPort: several ports", "KW-DIAG-013", diagService,
			"Service web port 80 sends to targetPort 8081, but the Pods of Deployment/shop/web listen on 8080, 9090 (metrics)", "declare several ports (8080, 9090 (metrics))"},
		{"targetPort: several names", "KW-DIAG-013", diagService,
			`Service web port 80 sends to targetPort "http", a name no container port of Deployment/shop/web, Deployment/shop/admin has (they declare 8080 (web), 8081 (admin))`, "declare several ports"},
		{"targetPort: declared ports unreadable", "KW-DIAG-013", diagService,
			"Service web port 80 sends to targetPort 8081, but the Pods of Deployment/shop/web listen on eighty", "cannot be read from the finding"},
		{"targetPort: message does not parse", "KW-DIAG-013", diagService,
			"Service web has no ready endpoint: none of the 2 Pods it selects is ready", "not the one this fixer reads"},
		{"targetPort: no such Service port", "KW-DIAG-013", diagService,
			strings.Replace(targetMsg, "port 80", "port 81", 1), "has no Service port 81"},
		{"targetPort: file differs from the cluster", "KW-DIAG-013", strings.Replace(diagService, "8081", "8082", 1),
			targetMsg, "sends to targetPort 8082, not to 8081"},
		{"targetPort: no ports in the file", "KW-DIAG-013", strings.Split(diagService, "  ports:")[0],
			targetMsg, "sets no spec.ports"},

		{"selector: no labels part", "KW-DIAG-012", diagService,
			"Service web selects app=webb, and no Pod in namespace shop has those labels", "found no workload the Service is meant for"},
		{"selector: key not in the pod labels", "KW-DIAG-012", diagService,
			"Service web selects app=webb, and no Pod in namespace shop has those labels; the Pods of Deployment/shop/web are labelled app.kubernetes.io/name=web", "selector key app is not a pod label of Deployment/shop/web"},
		{"selector: key from a transformer", "KW-DIAG-012", diagService,
			"Service web selects app=webb,team=a, and no Pod in namespace shop has those labels; the Pods of Deployment/shop/web are labelled app=web,team=b", "added by a transformer"},
		{"selector: pods without labels", "KW-DIAG-012", diagService,
			"Service web selects app=webb, and no Pod in namespace shop has those labels; the Pods of Deployment/shop/web are labelled ", "has no pod labels to select"},
		{"selector: message does not parse", "KW-DIAG-012", diagService,
			"Service web selects nothing", "not the one this fixer reads"},
		{"selector: labels unreadable", "KW-DIAG-012", diagService,
			"Service web selects app=webb, and no Pod in namespace shop has those labels; the Pods of Deployment/shop/web are labelled app", "labels cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx, err := For(diagCase(tc.id, tc.msg, tc.file))
			reason, ok := IsUnfixable(err)
			if !ok {
				t.Fatalf("For = %+v, %v; want unfixable", fx, err)
			}
			if !strings.Contains(reason, tc.want) {
				t.Fatalf("reason %q does not say %q", reason, tc.want)
			}
		})
	}
}

// diagCase is a repository holding file as k8s/web.yaml and the finding
// id with msg on it, about the Deployment (KW-DIAG-010) or the Service.
func diagCase(id, msg, file string) (fstest.MapFS, finding.Finding) {
	f := finding.Finding{ID: id, File: "k8s/web.yaml", Line: 1, Object: "Deployment/shop/web", Message: msg}
	if id != "KW-DIAG-010" {
		f.Object = "Service/shop/web"
	}
	return fstest.MapFS{"k8s/web.yaml": {Data: []byte(file), Mode: 0o644}}, f
}

// The same inputs with one thing changed are fixed: the refusals above
// are about that thing.
func TestDiagFixes(t *testing.T) {
	for _, tc := range []struct {
		name, id, file, msg string
		want                string // in the fixed file
	}{
		{"probe by number", "KW-DIAG-010", diagDeployment(diagOnePort, diagHTTPProbe), probeMsg, "            port: 8080\n"},
		{"probe by name to a named port", "KW-DIAG-010",
			diagDeployment("        ports:\n        - name: http\n          containerPort: 8080\n", strings.Replace(diagHTTPProbe, "8081", "health", 1)),
			`container web is not ready: readiness probe on port "health", a name container web does not give any port`, "            port: http\n"},
		{"probe by name to an unnamed port", "KW-DIAG-010",
			diagDeployment(diagOnePort, strings.Replace(diagHTTPProbe, "8081", "health", 1)),
			`container web is not ready: readiness probe on port "health", a name container web does not give any port`, "            port: 8080\n"},
		{"grpc probe", "KW-DIAG-010",
			diagDeployment("        ports:\n        - name: grpc\n          containerPort: 9000\n", "        readinessProbe:\n          grpc:\n            port: 8081\n"),
			"container web is not ready: readiness probe on port 8081, but container web listens on 9000", "            port: 9000\n"},
		{"targetPort", "KW-DIAG-013", diagService, targetMsg, "    targetPort: 8080\n"},
		{"selector", "KW-DIAG-012", diagService, selectorMsg, "    app: web\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx, err := For(diagCase(tc.id, tc.msg, tc.file))
			if err != nil {
				t.Fatalf("For: %v", err)
			}
			after, err := fx.Apply([]byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(after), tc.want) {
				t.Fatalf("the fixed file has no %q:\n%s", tc.want, after)
			}
		})
	}
}
