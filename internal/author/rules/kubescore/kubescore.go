// Package kubescore runs kube-score (github.com/zegl/kube-score, installed
// pinned by `make test` into .cache/bin) over generated manifests and
// reports its CRITICAL findings per object. The rules tests hold every
// fixture's output to zero of them, and hack/eval prints them per
// repository.
//
// One class of finding is kept apart rather than counted: kube-score
// checks that a NetworkPolicy selects pods among the objects it is given,
// and cannot see the pods an operator creates from a custom resource. A
// policy whose podSelector is exactly the selector such an operator puts on
// the pods of a custom resource in the same namespace and tree (the
// RabbitMQ cluster operator's app.kubernetes.io/name=<cluster>) selects
// real pods; Score marks those findings OperatorPods after checking that.
package kubescore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Version is the kube-score release `make test` installs.
const Version = "v1.20.0"

// KubernetesVersion is the cluster version the checks assume (API
// deprecations); the envtest kube-apiserver is 1.34.
const KubernetesVersion = "v1.34"

// timeout bounds one kube-score run.
const timeout = 2 * time.Minute

// maxOutput caps the JSON kube-score may print (a few KiB per object).
const maxOutput = 64 << 20

// Finding is one CRITICAL kube-score check on one object.
type Finding struct {
	// Tree is "k8s" or "gitops": each is scored on its own, as each is
	// applied on its own.
	Tree string
	// Object is "Kind namespace/name"; File the generated file holding it.
	Object string
	File   string
	Check  string // kube-score check ID ("pod-probes-identical")
	// Message joins the check's comments.
	Message string
	// OperatorPods is set for a NetworkPolicy that selects the pods an
	// operator creates from a custom resource in the same namespace: real
	// pods kube-score cannot see (see the package comment).
	OperatorPods bool
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s (%s): %s: %s", f.Tree, f.Object, f.File, f.Check, f.Message)
	if f.OperatorPods {
		s += " [operator-created pods]"
	}
	return s
}

// Binary finds kube-score: $KUBE_SCORE when set, else .cache/bin/kube-score
// under the module root at or above dir. The error says how to install it.
func Binary(dir string) (string, error) {
	if p := os.Getenv("KUBE_SCORE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("KUBE_SCORE=%s: %w", p, err)
		}
		return p, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			bin := filepath.Join(d, ".cache", "bin", "kube-score")
			if _, err := os.Stat(bin); err != nil {
				return "", fmt.Errorf("kube-score is not installed at %s: run `make test` (or `make kube-score`), which installs kube-score %s there", bin, Version)
			}
			return bin, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s to find .cache/bin/kube-score: set KUBE_SCORE to the kube-score binary", dir)
		}
	}
}

// Score runs kube-score over the generated files (path → content, paths
// relative to the repository root); only files under k8s/ and gitops/ that
// are not kustomization.yaml are scored, each tree on its own. It returns
// the CRITICAL findings, sorted.
func Score(ctx context.Context, bin string, files map[string][]byte) ([]Finding, error) {
	var out []Finding
	for _, tree := range []string{"k8s", "gitops"} {
		fs, err := scoreTree(ctx, bin, tree, files)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tree != out[j].Tree {
			return out[i].Tree < out[j].Tree
		}
		if out[i].Object != out[j].Object {
			return out[i].Object < out[j].Object
		}
		return out[i].Check < out[j].Check
	})
	return out, nil
}

// report is the part of kube-score's JSON (v2) output read here.
type report []struct {
	TypeMeta struct {
		Kind string `json:"kind"`
	} `json:"type_meta"`
	ObjectMeta struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"object_meta"`
	FileName string `json:"file_name"`
	Checks   []struct {
		Check struct {
			ID string `json:"id"`
		} `json:"check"`
		Grade    int  `json:"grade"`
		Skipped  bool `json:"skipped"`
		Comments []struct {
			Path    string `json:"path"`
			Summary string `json:"summary"`
		} `json:"comments"`
	} `json:"checks"`
}

// gradeCritical is kube-score's scorecard.GradeCritical.
const gradeCritical = 1

func scoreTree(ctx context.Context, bin, tree string, files map[string][]byte) ([]Finding, error) {
	dir, err := os.MkdirTemp("", "kubescore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var args []string
	var names []string
	for p := range files {
		if strings.HasPrefix(p, tree+"/") && strings.HasSuffix(p, ".yaml") && filepath.Base(p) != "kustomization.yaml" {
			names = append(names, p)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	sort.Strings(names)
	for _, p := range names {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return nil, err
		}
		args = append(args, full)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"score", "--output-format", "json", "--kubernetes-version", KubernetesVersion}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limited{buf: &stdout, max: maxOutput}, &limited{buf: &stderr, max: 1 << 20}
	err = cmd.Run()
	var exit *exec.ExitError
	// kube-score exits 1 when it found a CRITICAL: that is a result.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1 && stdout.Len() > 0) {
		return nil, fmt.Errorf("kube-score on %s/: %v: %s", tree, err, strings.TrimSpace(stderr.String()))
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("kube-score on %s/: read its JSON output: %w", tree, err)
	}
	pods := operatorPods(names, files)
	var out []Finding
	for _, o := range rep {
		rel, _ := filepath.Rel(dir, o.FileName)
		rel = filepath.ToSlash(rel)
		for _, c := range o.Checks {
			if c.Skipped || c.Grade != gradeCritical {
				continue
			}
			var msgs []string
			for _, cm := range c.Comments {
				m := cm.Summary
				if cm.Path != "" {
					m = "(" + cm.Path + ") " + m
				}
				msgs = append(msgs, m)
			}
			f := Finding{
				Tree: tree, Object: fmt.Sprintf("%s %s/%s", o.TypeMeta.Kind, o.ObjectMeta.Namespace, o.ObjectMeta.Name),
				File: rel, Check: c.Check.ID, Message: strings.Join(msgs, "; "),
			}
			if o.TypeMeta.Kind == "NetworkPolicy" && c.Check.ID == "networkpolicy-targets-pod" {
				f.OperatorPods = pods.selects(names, files, o.ObjectMeta.Namespace, o.ObjectMeta.Name)
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// limited is a writer that fails once more than max bytes arrive.
type limited struct {
	buf *bytes.Buffer
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > l.max {
		return 0, fmt.Errorf("kube-score printed more than %d bytes", l.max)
	}
	return l.buf.Write(p)
}

// operatorPodLabels are the labels operators give the pods of their custom
// resources, by kind: the RabbitMQ cluster operator labels every pod of a
// RabbitmqCluster with app.kubernetes.io/name=<cluster> (internal/metadata
// LabelSelector in rabbitmq/cluster-operator).
var operatorPodLabels = map[string]func(name string) map[string]string{
	"RabbitmqCluster": func(name string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/part-of": "rabbitmq"}
	},
}

type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		PodSelector struct {
			MatchLabels      map[string]string `json:"matchLabels"`
			MatchExpressions []any             `json:"matchExpressions"`
		} `json:"podSelector"`
	} `json:"spec"`
}

// podSets are the label sets of operator-created pods, by namespace.
type podSets map[string][]map[string]string

func operatorPods(names []string, files map[string][]byte) podSets {
	sets := podSets{}
	for _, o := range objects(names, files) {
		if labels, ok := operatorPodLabels[o.Kind]; ok {
			sets[o.Metadata.Namespace] = append(sets[o.Metadata.Namespace], labels(o.Metadata.Name))
		}
	}
	return sets
}

// selects reports whether NetworkPolicy ns/name selects, by matchLabels
// alone, pods of an operator custom resource in its namespace.
func (sets podSets) selects(names []string, files map[string][]byte, ns, name string) bool {
	for _, o := range objects(names, files) {
		if o.Kind != "NetworkPolicy" || o.Metadata.Namespace != ns || o.Metadata.Name != name {
			continue
		}
		sel := o.Spec.PodSelector
		if len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
			return false
		}
		for _, pod := range sets[ns] {
			match := true
			for k, v := range sel.MatchLabels {
				if pod[k] != v {
					match = false
				}
			}
			if match {
				return true
			}
		}
	}
	return false
}

func objects(names []string, files map[string][]byte) []object {
	var out []object
	for _, p := range names {
		for _, doc := range strings.Split(string(files[p]), "\n---\n") {
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err == nil && o.Kind != "" {
				out = append(out, o)
			}
		}
	}
	return out
}
