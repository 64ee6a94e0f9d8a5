package review

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
)

func fd(id, file string, line int, object, msg string) finding.Finding {
	return finding.Finding{ID: id, Severity: finding.Error, File: file, Line: line, Object: object, Message: msg}
}

// short renders findings as "ID file:line message" for comparison.
func short(fs []finding.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s:%d %s", f.ID, f.File, f.Line, f.Message))
	}
	return strings.Join(out, "; ")
}

func TestCompare(t *testing.T) {
	priv := func(file string, line int, ctr string) finding.Finding {
		return fd("KW-POL-003", file, line, "Deployment/shop/api", fmt.Sprintf("container %q is privileged", ctr))
	}
	latest := func(line int) finding.Finding {
		return fd("KW-POL-014", "k8s/api.yaml", line, "Deployment/shop/api", `container "api" image nginx:latest uses the :latest tag`)
	}
	for _, tc := range []struct {
		name                    string
		base, head              []finding.Finding
		introduced, fixed, kept string
	}{
		{
			name:       "a new finding is introduced",
			base:       []finding.Finding{latest(10)},
			head:       []finding.Finding{latest(10), priv("k8s/api.yaml", 12, "api")},
			introduced: "KW-POL-003 k8s/api.yaml:12 container \"api\" is privileged",
			kept:       "KW-POL-014 k8s/api.yaml:10 container \"api\" image nginx:latest uses the :latest tag",
		},
		{
			name: "moved code is not new",
			base: []finding.Finding{latest(10)},
			head: []finding.Finding{latest(42)},
			kept: "KW-POL-014 k8s/api.yaml:42 container \"api\" image nginx:latest uses the :latest tag",
		},
		{
			name: "an object moved to another file is not new",
			base: []finding.Finding{priv("k8s/api.yaml", 12, "api")},
			head: []finding.Finding{priv("k8s/apps/api.yaml", 3, "api")},
			kept: "KW-POL-003 k8s/apps/api.yaml:3 container \"api\" is privileged",
		},
		{
			name:  "a finding gone from the head is fixed",
			base:  []finding.Finding{latest(10), priv("k8s/api.yaml", 12, "api")},
			head:  []finding.Finding{latest(10)},
			fixed: "KW-POL-003 k8s/api.yaml:12 container \"api\" is privileged",
			kept:  "KW-POL-014 k8s/api.yaml:10 container \"api\" image nginx:latest uses the :latest tag",
		},
		{
			name:       "the field tells findings of one object apart",
			base:       []finding.Finding{priv("k8s/api.yaml", 12, "api")},
			head:       []finding.Finding{priv("k8s/api.yaml", 12, "api"), priv("k8s/api.yaml", 30, "sidecar")},
			introduced: "KW-POL-003 k8s/api.yaml:30 container \"sidecar\" is privileged",
			kept:       "KW-POL-003 k8s/api.yaml:12 container \"api\" is privileged",
		},
		{
			name:       "twice in the head, once in the base: one is new, the one that is not where the base had it",
			base:       []finding.Finding{priv("k8s/api.yaml", 30, "api")},
			head:       []finding.Finding{priv("k8s/api.yaml", 12, "api"), priv("k8s/api.yaml", 30, "api")},
			introduced: "KW-POL-003 k8s/api.yaml:12 container \"api\" is privileged",
			kept:       "KW-POL-003 k8s/api.yaml:30 container \"api\" is privileged",
		},
		{
			name:  "twice in the base, once in the head: one is fixed",
			base:  []finding.Finding{priv("a.yaml", 1, "api"), priv("a.yaml", 9, "api")},
			head:  []finding.Finding{priv("a.yaml", 5, "api")},
			fixed: "KW-POL-003 a.yaml:9 container \"api\" is privileged",
			kept:  "KW-POL-003 a.yaml:5 container \"api\" is privileged",
		},
		{
			name: "line numbers inside a message do not make it new",
			base: []finding.Finding{fd("KW-DOCKER-014", "Dockerfile", 3, "", `COPY source "config" is excluded from the build context by .dockerignore:2, so the build cannot find it`)},
			head: []finding.Finding{fd("KW-DOCKER-014", "Dockerfile", 4, "", `COPY source "config" is excluded from the build context by .dockerignore:5, so the build cannot find it`)},
			kept: `KW-DOCKER-014 Dockerfile:4 COPY source "config" is excluded from the build context by .dockerignore:5, so the build cannot find it`,
		},
		{
			name:       "findings without an object are told apart by file",
			base:       []finding.Finding{fd("KW-DOCKER-011", "a/Dockerfile", 7, "", "the final stage sets no USER")},
			head:       []finding.Finding{fd("KW-DOCKER-011", "a/Dockerfile", 7, "", "the final stage sets no USER"), fd("KW-DOCKER-011", "b/Dockerfile", 7, "", "the final stage sets no USER")},
			introduced: "KW-DOCKER-011 b/Dockerfile:7 the final stage sets no USER",
			kept:       "KW-DOCKER-011 a/Dockerfile:7 the final stage sets no USER",
		},
		{
			name:       "an image tag in a message is part of the finding",
			base:       []finding.Finding{fd("KW-DOCKER-013", "Dockerfile", 1, "", "base image redis:latest uses the :latest tag")},
			head:       []finding.Finding{fd("KW-DOCKER-013", "Dockerfile", 1, "", "base image postgres:latest uses the :latest tag")},
			introduced: "KW-DOCKER-013 Dockerfile:1 base image postgres:latest uses the :latest tag",
			fixed:      "KW-DOCKER-013 Dockerfile:1 base image redis:latest uses the :latest tag",
		},
		{
			name:       "everything is new against an empty base",
			head:       []finding.Finding{latest(3)},
			introduced: "KW-POL-014 k8s/api.yaml:3 container \"api\" image nginx:latest uses the :latest tag",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Compare(tc.base, tc.head)
			if got := short(d.Introduced); got != tc.introduced {
				t.Errorf("introduced:\n got %s\nwant %s", got, tc.introduced)
			}
			if got := short(d.Fixed); got != tc.fixed {
				t.Errorf("fixed:\n got %s\nwant %s", got, tc.fixed)
			}
			if got := short(d.Kept); got != tc.kept {
				t.Errorf("kept:\n got %s\nwant %s", got, tc.kept)
			}
		})
	}
}

func TestKeyNormalizesLines(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"duplicate field spec.replicas (first on line 4)", "duplicate field spec.replicas (first on line 19)"},
		{"yaml: line 12: did not find expected key", "yaml: line 3: did not find expected key"},
		{"EXPOSE 8080 does not match k8s/api.yaml:14", "EXPOSE 8080 does not match k8s/api.yaml:20"},
	} {
		if Key(fd("X", "f", 1, "", tc.a)) != Key(fd("X", "f", 2, "", tc.b)) {
			t.Errorf("%q and %q have different keys", tc.a, tc.b)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"containerPort 8080", "containerPort 9090"},
		{"image nginx:1", "image nginx:2"},
		{"Service port 80 targets containerPort 8080", "Service port 80 targets containerPort 8081"},
	} {
		if Key(fd("X", "f", 1, "", tc.a)) == Key(fd("X", "f", 1, "", tc.b)) {
			t.Errorf("%q and %q share a key", tc.a, tc.b)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := fd("KW-POL-003", "a.yaml", 3, "Deployment/x", "container \"x\" is privileged")
	b := a
	b.Line, b.File, b.Severity = 40, "b.yaml", finding.Warning
	if Fingerprint(a) != Fingerprint(b) {
		t.Error("moving a finding changes its fingerprint")
	}
	c := a
	c.Message = "container \"y\" is privileged"
	if Fingerprint(a) == Fingerprint(c) || len(Fingerprint(a)) != 16 {
		t.Errorf("fingerprints %s and %s", Fingerprint(a), Fingerprint(c))
	}
}

// BenchmarkIntroduced compares 10,000 base findings with 10,000 head
// findings that moved, plus 100 new ones.
func BenchmarkIntroduced(b *testing.B) {
	base := make([]finding.Finding, 0, 10000)
	for i := range 10000 {
		base = append(base, fd(fmt.Sprintf("KW-POL-%03d", i%40), fmt.Sprintf("k8s/app%d/deployment.yaml", i%500), i%300+1,
			fmt.Sprintf("Deployment/ns%d/app%d", i%50, i%500), fmt.Sprintf(`container "c%d" has a problem at line %d`, i%7, i)))
	}
	head := make([]finding.Finding, 0, len(base)+100)
	for _, f := range base {
		f.Line += 3
		head = append(head, f)
	}
	for i := range 100 {
		head = append(head, fd("KW-POL-003", "k8s/new.yaml", i+1, "Deployment/new/x", fmt.Sprintf(`container "n%d" is privileged`, i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		d := Compare(base, head)
		if len(d.Introduced) != 100 {
			b.Fatalf("introduced %d", len(d.Introduced))
		}
	}
}
