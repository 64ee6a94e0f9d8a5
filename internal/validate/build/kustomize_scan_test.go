package build

import (
	"testing"

	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

func TestRemoteReason(t *testing.T) {
	tests := []struct {
		ref    string
		remote bool
	}{
		{"deployment.yaml", false},
		{"../base", false},
		{"overlays/prod", false},
		{"name=config/app.properties", false},
		{"C:/x", false}, // not remote; refused as absolute by checkRef
		{"http://127.0.0.1:8080/slow", true},
		{"HTTPS://example.com/x.yaml", true},
		{"file:///etc/passwd", true},
		{"ssh://git@example.com/org/repo", true},
		{"git::https://example.com/org/repo", true},
		{"GIT::example.com/org/repo", true},
		{"gh:org/repo", true},
		{"git@github.com:org/repo.git", true},
		{"deploy@internal.example:infra", true},
		{"github.com/org/repo//deploy?ref=v1", true},
		{"GitHub.com:org/repo", true},
		{"//169.254.169.254/latest", true},
		{`\\server\share`, true},
		{"base?ref=main", true},
		{"http:/127.0.0.1/x", true},
		{"s3:bucket/key", true},
		{" http://x", true},
	}
	for _, tt := range tests {
		if got := remoteReason(tt.ref) != ""; got != tt.remote {
			t.Errorf("remoteReason(%q) remote = %v, want %v", tt.ref, got, tt.remote)
		}
	}
}

// TestScanKustomization checks every field that names something to load,
// the decoder quirks kustomize inherits (case-folded keys, merge keys,
// !!binary) and plugin configurations, without a repository.
func TestScanKustomization(t *testing.T) {
	type want struct {
		id   string
		line int
	}
	tests := []struct {
		name string
		body string
		want []want
	}{
		{name: "clean", body: kustHead + "resources:\n  - a.yaml\n  - ../base\npatches:\n  - path: p.yaml\n  - patch: |\n      - op: add\n        path: /metadata/annotations/docs\n        value: https://example.com\ncommonAnnotations:\n  docs: https://example.com\nconfigMapGenerator:\n  - name: c\n    literals:\n      - URL=https://example.com\n    files:\n      - key=data/x.txt\n"},
		{name: "resources URL", body: kustHead + "resources:\n  - https://example.com/x.yaml\n", want: []want{{idRemote, 4}}},
		{name: "bases git", body: kustHead + "bases:\n  - git@github.com:org/repo.git\n", want: []want{{idRemote, 4}}},
		{name: "components", body: kustHead + "components:\n  - github.com/org/repo/comp?ref=v1\n", want: []want{{idRemote, 4}}},
		{name: "crds", body: kustHead + "crds:\n  - http://x/crd.yaml\n", want: []want{{idRemote, 4}}},
		{name: "configurations", body: kustHead + "configurations:\n  - http://x/c.yaml\n", want: []want{{idRemote, 4}}},
		{name: "openapi", body: kustHead + "openapi:\n  path: https://x/schema.json\n", want: []want{{idRemote, 4}}},
		{name: "patchesStrategicMerge", body: kustHead + "patchesStrategicMerge:\n  - https://x/p.yaml\n", want: []want{{idRemote, 4}}},
		{name: "patchesJson6902", body: kustHead + "patchesJson6902:\n  - path: file:///etc/passwd\n", want: []want{{idRemote, 4}}},
		{name: "replacements", body: kustHead + "replacements:\n  - path: http://x/r.yaml\n", want: []want{{idRemote, 4}}},
		{name: "secret envs", body: kustHead + "secretGenerator:\n  - name: s\n    envs:\n      - http://x/.env\n", want: []want{{idRemote, 6}}},
		{name: "configmap env", body: kustHead + "configMapGenerator:\n  - name: s\n    env: http://x/.env\n", want: []want{{idRemote, 5}}},
		{name: "case-folded key", body: kustHead + "Resources:\n  - http://x/a.yaml\n", want: []want{{idRemote, 4}}},
		{name: "long s folds like encoding/json", body: kustHead + "re\u017fources:\n  - http://x/a.yaml\n", want: []want{{idRemote, 4}}},
		{name: "merge key", body: kustHead + "x: &x\n  resources:\n    - http://x/a.yaml\n<<: *x\n", want: []want{{idRemote, 5}}},
		{name: "alias", body: kustHead + "metadata:\n  annotations:\n    r: &r http://x/a.yaml\nresources:\n  - *r\n", want: []want{{idRemote, 5}}},
		{name: "binary scalar", body: kustHead + "resources:\n  - !!binary aHR0cDovLzEyNy4wLjAuMS9zbG93\n", want: []want{{idRemote, 4}}},
		{name: "absolute", body: kustHead + "resources:\n  - /etc/passwd\n", want: []want{{idAbsolute, 4}}},
		{name: "drive letter", body: kustHead + "resources:\n  - C:\\Windows\\win.ini\n", want: []want{{idAbsolute, 4}}},
		{name: "escape", body: kustHead + "resources:\n  - ../../../x\n", want: []want{{idEscape, 4}}},
		{name: "escape in generator file", body: kustHead + "configMapGenerator:\n  - name: c\n    files:\n      - k=../../../../etc/passwd\n", want: []want{{idEscape, 6}}},
		{name: "git dir", body: kustHead + "resources:\n  - ../.git/config\n", want: []want{{idEscape, 4}}},
		{name: "helmCharts", body: kustHead + "helmCharts:\n  - name: redis\n", want: []want{{idHelm, 3}}},
		{name: "helmGlobals", body: kustHead + "helmGlobals:\n  chartHome: charts\n", want: []want{{idHelm, 3}}},
		{name: "helmChartInflationGenerator", body: kustHead + "helmChartInflationGenerator:\n  - chartName: x\n", want: []want{{idHelm, 3}}},
		{name: "inline builtin transformer", body: kustHead + "transformers:\n  - |\n    apiVersion: builtin\n    kind: PrefixSuffixTransformer\n    metadata:\n      name: p\n    prefix: a-\n    fieldSpecs:\n      - path: metadata/name\n"},
		{name: "inline builtin generator fetching", body: kustHead + "generators:\n  - |\n    apiVersion: builtin\n    kind: ConfigMapGenerator\n    metadata:\n      name: g\n    files:\n      - http://x/data\n", want: []want{{idRemote, 10}}},
		{name: "inline exec plugin", body: kustHead + "generators:\n  - |\n    apiVersion: acme/v1\n    kind: Gen\n    metadata:\n      name: g\n", want: []want{{idPlugin, 5}}},
		{name: "inline KRM function", body: kustHead + "validators:\n  - |\n    apiVersion: builtin\n    kind: V\n    metadata:\n      name: v\n      annotations:\n        config.kubernetes.io/function: |\n          container:\n            image: evil\n", want: []want{{idPlugin, 5}}},
		{name: "inline helm generator", body: kustHead + "generators:\n  - |\n    apiVersion: builtin\n    kind: HelmChartInflationGenerator\n    metadata:\n      name: h\n", want: []want{{idHelm, 5}}},
		{name: "transformer URL", body: kustHead + "transformers:\n  - https://x/t.yaml\n", want: []want{{idRemote, 4}}},
		{name: "unknown field with URL", body: kustHead + "remoteResources:\n  - https://x/a.yaml\n", want: []want{{idRemote, 4}}},
		{name: "anchor bomb in the kustomization", body: kustHead + validatetest.AliasBomb, want: []want{{idUnsafe, 0}}},
		{name: "not YAML", body: kustHead + "resources: [\n", want: []want{{"KW-BUILD-001", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scanKustomization("k8s/kustomization.yaml", []byte(tt.body), nil)
			if len(s.findings) != len(tt.want) {
				t.Fatalf("findings = %v, want %v", s.findings, tt.want)
			}
			for i, w := range tt.want {
				f := s.findings[i]
				if f.ID != w.id || (w.line != 0 && f.Line != w.line) || f.File != "k8s/kustomization.yaml" || f.Hint == "" {
					t.Errorf("finding %d = %s, want %s at line %d with a hint", i, f, w.id, w.line)
				}
			}
		})
	}
}

// FuzzScanKustomization: any kustomization text yields findings or none,
// never a panic, and every finding is on the file with a hint.
func FuzzScanKustomization(f *testing.F) {
	for _, s := range []string{
		kustHead + "resources:\n  - a.yaml\n  - https://x/y\n",
		kustHead + "x: &x {resources: [http://x]}\n<<: *x\n",
		kustHead + "configMapGenerator:\n- name: c\n  files: [k=../../x]\n",
		kustHead + "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  files: [gh:o/r]\n",
		kustHead + "Resources: !!binary aHR0cDovL3g=\n",
		validatetest.AliasBomb,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := scanKustomization("k/kustomization.yaml", data, nil)
		for _, fd := range s.findings {
			if fd.File != "k/kustomization.yaml" || fd.Hint == "" || fd.ID == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
		}
	})
}
