package validate_test

import (
	"testing"

	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

func TestNewInputLocatesDocuments(t *testing.T) {
	in := validatetest.NewInput(t, map[string]string{
		"k8s/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n  namespace: x\nspec:\n  ports:\n  - port: 80\n",
	})
	if len(in.Objects) != 2 {
		t.Fatalf("objects = %d", len(in.Objects))
	}
	if o := in.Objects[1]; o.Line != 6 || o.Ref() != "Service/x/b" {
		t.Errorf("second object at line %d ref %s", o.Line, o.Ref())
	}
	d, ok := in.Sources.Find("k8s", "Service", "x", "b")
	if !ok || d.FieldLine("spec.ports[0].port") != 13 {
		t.Errorf("FieldLine = %d (ok=%v)", d.FieldLine("spec.ports[0].port"), ok)
	}
}

func TestFieldLineByKey(t *testing.T) {
	in := validatetest.NewInput(t, map[string]string{
		"k8s/d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: side\n        image: a:1\n      - name: web\n        image: b:1\n        imagePullPolicyy: Always\n",
	})
	d, _ := in.Sources.Find("k8s", "Deployment", "", "d")
	for path, want := range map[string]int{
		`spec.template.spec.containers[name="web"].imagePullPolicyy`: 13,
		`spec.template.spec.containers[1].image`:                     12,
		`spec.template.spec.containers[name="nope"].image`:           8,
	} {
		if got := d.FieldLine(path); got != want {
			t.Errorf("FieldLine(%s) = %d, want %d", path, got, want)
		}
	}
}
