package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/draft"
)

var (
	envRef   = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	fromLine = regexp.MustCompile(`(?m)^FROM\s+(?:--platform=\S+\s+)?(\S+)`)
	userLine = regexp.MustCompile(`(?m)^USER\s+(\S+)`)
)

// TestOutputInvariants checks, on every fixture, the properties a platform
// team relies on regardless of golden files: multi-stage non-root images
// pinned to a tag, no Secret objects and no literal secret values, setters
// on every GitOps image, hardened pods.
func TestOutputInvariants(t *testing.T) {
	for _, fx := range fixtureNames(t) {
		m, d := draftFor(t, fx, fixtureOptions)
		secretNames := map[string]bool{}
		for _, s := range m.Services {
			for _, e := range s.Env {
				if e.Secret {
					secretNames[e.Name] = true
				}
			}
		}
		for _, f := range d.Files {
			switch {
			case f.Part == draft.PartDockerfile && strings.HasSuffix(f.Path, "Dockerfile"):
				checkDockerfile(t, fx+"/"+f.Path, string(f.Content))
			case strings.HasSuffix(f.Path, ".yaml") && !strings.HasSuffix(f.Path, "kustomization.yaml"):
				checkManifest(t, fx+"/"+f.Path, f, secretNames)
			}
		}
	}
}

func checkDockerfile(t *testing.T, name, df string) {
	froms := fromLine.FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Errorf("%s: %d stages, want multi-stage", name, len(froms))
	}
	for _, f := range froms {
		img := f[1]
		if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
			t.Errorf("%s: base image %q is not pinned to a tag", name, img)
		}
	}
	users := userLine.FindAllStringSubmatch(df, -1)
	if len(users) == 0 {
		t.Errorf("%s: no USER", name)
		return
	}
	last := strings.LastIndex(df, "\nFROM ")
	if idx := strings.LastIndex(df, "\nUSER "); idx < last {
		t.Errorf("%s: the final stage sets no USER", name)
	}
	uid, _, _ := strings.Cut(users[len(users)-1][1], ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("%s: final USER %q is not a numeric non-root user", name, uid)
	}
	if !regexp.MustCompile(`(?m)^ENTRYPOINT \[`).MatchString(df) {
		t.Errorf("%s: ENTRYPOINT is not exec form", name)
	}
}

// emptyField matches what API types emit without a value: "status:",
// "creationTimestamp: null", "resources: {}", "spec: {}".
var emptyField = regexp.MustCompile(`(?m)^\s*(?:- )?(?:[A-Za-z0-9_.-]+: (?:\{\}|null)|status:.*)$`)

func checkManifest(t *testing.T, name string, f draft.File, secretNames map[string]bool) {
	if m := emptyField.FindString(string(f.Content)); m != "" {
		t.Errorf("%s: generated YAML holds an empty or status field: %q", name, strings.TrimSpace(m))
	}
	for _, doc := range strings.Split(string(f.Content), "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		kind, _ := obj["kind"].(string)
		if kind == "Secret" {
			t.Errorf("%s: writes a Secret object; credentials must come from references", name)
		}
		if kind != "Deployment" && kind != "StatefulSet" {
			continue
		}
		if f.Part == draft.PartGitops && kind == "Deployment" && !strings.Contains(doc, `# {"$imagepolicy": "flux-system:`) {
			t.Errorf("%s: Deployment image has no Flux setter", name)
		}
		spec := dig(obj, "spec", "template", "spec")
		podSec, _ := spec["securityContext"].(map[string]any)
		if podSec["runAsNonRoot"] != true || dig(podSec, "seccompProfile")["type"] != "RuntimeDefault" {
			t.Errorf("%s: pod securityContext %v", name, podSec)
		}
		for _, id := range []string{"runAsUser", "runAsGroup"} {
			if n, _ := podSec[id].(float64); n < 10000 {
				t.Errorf("%s: %s %v, want at least 10000", name, id, podSec[id])
			}
		}
		for _, c := range spec["containers"].([]any) {
			ctr := c.(map[string]any)
			sec, _ := ctr["securityContext"].(map[string]any)
			if sec["readOnlyRootFilesystem"] != true || sec["allowPrivilegeEscalation"] != false {
				t.Errorf("%s: container securityContext %v", name, sec)
			}
			res, _ := ctr["resources"].(map[string]any)
			if res["requests"] == nil || res["limits"] == nil {
				t.Errorf("%s: container without requests and limits", name)
			}
			for _, k := range []string{"requests", "limits"} {
				if dig(res, k)["ephemeral-storage"] == nil {
					t.Errorf("%s: container without ephemeral-storage %s", name, k)
				}
			}
			if ctr["imagePullPolicy"] != "Always" {
				t.Errorf("%s: imagePullPolicy %v: tags move, so pods pull Always", name, ctr["imagePullPolicy"])
			}
			if r, l := dig(ctr, "readinessProbe"), dig(ctr, "livenessProbe"); r != nil && l != nil && fmt.Sprint(r["httpGet"], r["tcpSocket"], r["grpc"], r["exec"]) == fmt.Sprint(l["httpGet"], l["tcpSocket"], l["grpc"], l["exec"]) {
				t.Errorf("%s: liveness probe repeats the readiness check", name)
			}
			envs, _ := ctr["env"].([]any)
			fromSecret := map[string]bool{}
			for _, e := range envs {
				ev := e.(map[string]any)
				n, _ := ev["name"].(string)
				if ev["valueFrom"] != nil {
					fromSecret[n] = dig(ev, "valueFrom", "secretKeyRef") != nil
					continue
				}
				v, _ := ev["value"].(string)
				// A value may only compose earlier variables ($(VAR), which
				// Kubernetes expands in order); a secret's may compose
				// nothing but Secret references.
				refs := envRef.FindAllStringSubmatch(v, -1)
				for _, r := range refs {
					if _, ok := fromSecret[r[1]]; !ok {
						t.Errorf("%s: %s refers to $(%s), which no earlier env entry defines", name, n, r[1])
					}
				}
				if secretNames[n] {
					if len(refs) == 0 {
						t.Errorf("%s: secret %s has a literal value", name, n)
					}
					for _, r := range refs {
						if !fromSecret[r[1]] {
							t.Errorf("%s: secret %s composes $(%s), which is not a Secret reference", name, n, r[1])
						}
					}
				}
				if strings.Contains(strings.ToLower(v), "changeme") {
					t.Errorf("%s: literal credential in env", name)
				}
			}
		}
	}
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := m[k].(map[string]any)
		m = next
	}
	return m
}
