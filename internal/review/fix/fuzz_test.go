package fix

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kubewright/kubewright/internal/yamlnode"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/yamlsafe"
)

// yamlFindings are finding templates for the YAML fixers; %c is the
// container's name.
var yamlFindings = []finding.Finding{
	{ID: "KW-POL-001", Message: `container "%c" may run as root: neither it nor the pod sets runAsNonRoot: true`},
	{ID: "KW-POL-001", Message: `container "%c" may run as root: runAsNonRoot is false`},
	{ID: "KW-POL-002", Message: `container "%c" has a writable root filesystem: readOnlyRootFilesystem is not true`},
	{ID: "KW-POL-003", Message: `container "%c" is privileged: it has full access to the node`},
	{ID: "KW-POL-004", Message: `container "%c" allows privilege escalation (allowPrivilegeEscalation: true)`},
	{ID: "KW-POL-007", Message: `container "%c" keeps the default Linux capabilities: capabilities.drop does not include ALL`},
	{ID: "KW-POL-010", Message: `container "%c" has no resources.requests for cpu and memory`},
	{ID: "KW-POL-011", Message: `container "%c" has no resources.limits.memory`},
	{ID: "KW-POL-012", Message: `container "%c" serves ports but has no readinessProbe`},
	{ID: "KW-POL-013", Message: `container "%c" has no livenessProbe`},
	{ID: "KW-POL-014", Message: `container "%c" image x:latest uses the :latest tag`},
	{ID: "KW-POL-008", Message: `container "%c" does not set seccompProfile`},
	{ID: "KW-POL-031", Message: `Service selector app=a matches no workload's pod labels in namespace default, so the Service has no endpoints; workloads there: Deployment/x (app=b)`},
	{ID: "KW-DRYRUN-001", Message: "rejected by the API server: spec.template.metadata.labels: Invalid value: map[string]string{}: `selector` does not match template `labels`"},
	{ID: "KW-DIAG-010", Message: `container %c is not ready: readiness probe on port 8081, but container %c listens on 8080`},
	{ID: "KW-DIAG-010", Message: `container %c is not ready: readiness probe on port "health", a name container %c does not give any port`},
	{ID: "KW-DIAG-013", Message: `Service x port 80 sends to targetPort 8081, but the Pods of Deployment/x listen on 8080`},
	{ID: "KW-DIAG-013", Message: `Service x port 80 sends to targetPort "http", a name no container port of Deployment/x has (they declare 8080 (web))`},
	{ID: "KW-DIAG-012", Message: `Service x selects app=a, and no Pod in namespace default has those labels; the Pods of Deployment/x are labelled app=b`},
}

// FuzzYAMLFixers feeds arbitrary YAML to every YAML fixer, aimed at the
// first object and container of the input. A fixer never panics, and a
// fix it offers applies and leaves the file valid YAML with as many
// documents.
func FuzzYAMLFixers(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fix", "*", "k8s", "*.yaml"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		for i := range yamlFindings {
			f.Add(b, uint8(i))
		}
	}
	f.Add([]byte("kind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: c}\n"), uint8(2))
	f.Add([]byte("kind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: c\n    securityContext:\n    image: a\n"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		docs, err := yamlsafe.Decode("f.yaml", data, yamlsafe.Limits{MaxBytes: 1 << 16, MaxNodes: 1 << 14})
		if err != nil {
			return
		}
		kind, name, ctr := firstObject(docs)
		fd := yamlFindings[int(which)%len(yamlFindings)]
		fd.File, fd.Line, fd.Object = "k8s/f.yaml", 1, kind+"/"+name
		fd.Message = strings.ReplaceAll(fd.Message, "%c", ctr)
		repo := fstest.MapFS{"k8s/f.yaml": {Data: data, Mode: 0o644}}
		fx, err := For(repo, fd)
		if err != nil {
			if _, ok := IsUnfixable(err); !ok {
				t.Fatalf("For: %v", err)
			}
			return
		}
		after, err := fx.Apply(data)
		if err != nil {
			t.Fatalf("the fix does not apply to its own input: %v", err)
		}
		got, err := yamlsafe.Decode("f.yaml", after, yamlsafe.Limits{MaxBytes: 1 << 18})
		if err != nil || len(got) != len(docs) {
			t.Fatalf("the fix breaks the file (%v, %d documents, was %d):\n%s", err, len(got), len(docs), after)
		}
		if _, ok := fx.Suggestion(); !ok {
			t.Fatal("a fix of an existing file has no suggestion")
		}
	})
}

// firstObject is the kind and name of the first document and the name of
// its first container, wherever it is.
func firstObject(docs []*yaml.Node) (kind, name, ctr string) {
	ctr = "c"
	if len(docs) == 0 || len(docs[0].Content) == 0 {
		return "Deployment", "x", ctr
	}
	root := docs[0].Content[0]
	kind, name = scalarAt(root, "kind"), scalarAt(root, "metadata", "name")
	var find func(n *yaml.Node) bool
	find = func(n *yaml.Node) bool {
		if _, v := yamlnode.Get(n, "containers"); v != nil && v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
			if s := scalarAt(v.Content[0], "name"); s != "" {
				ctr = s
				return true
			}
		}
		for _, c := range n.Content {
			if find(c) {
				return true
			}
		}
		return false
	}
	find(root)
	return kind, name, ctr
}

// FuzzDockerfileFixers feeds arbitrary Dockerfiles to the USER and base
// image fixers, aimed at each USER and FROM line. They never panic, and
// a fix keeps the Dockerfile's instructions.
func FuzzDockerfileFixers(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fix", "docker-*", "*Dockerfile"))
	more, _ := filepath.Glob(filepath.Join("testdata", "fix", "docker-*", "*", "Dockerfile"))
	for _, s := range append(seeds, more...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("FROM a\nFROM a:1 AS b\nUSER x:y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseDockerfile("Dockerfile", data)
		if err != nil {
			return
		}
		repo := fstest.MapFS{"Dockerfile": {Data: data, Mode: 0o644}}
		for _, n := range d.nodes {
			id := map[string]string{"user": "KW-DOCKER-012", "from": "KW-DOCKER-013"}[strings.ToLower(n.Value)]
			if id == "" {
				continue
			}
			fx, err := For(repo, finding.Finding{ID: id, File: "Dockerfile", Line: n.StartLine, Message: "x"})
			if err != nil {
				if _, ok := IsUnfixable(err); !ok {
					t.Fatalf("For: %v", err)
				}
				continue
			}
			after, err := fx.Apply(data)
			if err != nil {
				t.Fatal(err)
			}
			nd, err := parseDockerfile("Dockerfile", after)
			if err != nil || len(nd.nodes) != len(d.nodes) {
				t.Fatalf("the fix changes the instructions:\n%s\n---\n%s", data, after)
			}
			if bytes.Equal(after, data) {
				t.Fatal("a fix that changes nothing")
			}
		}
	})
}
