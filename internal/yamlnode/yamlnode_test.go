package yamlnode

import (
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestAt(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("spec:\n  replicas: 3\n  template:\n    spec: [a]\nname: x\n"), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	tests := []struct {
		path []string
		want string // the scalar, "" for nil, "!seq" for a sequence
		line int
	}{
		{[]string{"spec", "replicas"}, "3", 2},
		{[]string{"name"}, "x", 5},
		{[]string{"spec", "template", "spec"}, "!seq", 4},
		{[]string{"spec", "missing"}, "", 0},
		{[]string{"spec", "template", "spec", "deeper"}, "", 0}, // through a sequence
		{[]string{"name", "deeper"}, "", 0},                     // through a scalar
	}
	for _, tt := range tests {
		got := At(root, tt.path...)
		switch {
		case tt.want == "" && got != nil:
			t.Errorf("%v: %v, want nil", tt.path, got.Value)
		case tt.want == "!seq" && (got == nil || got.Kind != yaml.SequenceNode):
			t.Errorf("%v: want the sequence", tt.path)
		case tt.want != "" && tt.want != "!seq" && (got == nil || got.Value != tt.want || got.Line != tt.line):
			t.Errorf("%v: %+v, want %s at line %d", tt.path, got, tt.want, tt.line)
		}
	}
	if k, v := Get(root, "name"); k == nil || k.Value != "name" || v.Value != "x" {
		t.Errorf("Get(name) = %v, %v", k, v)
	}
	if k, v := Get(nil, "name"); k != nil || v != nil {
		t.Error("Get(nil) found something")
	}
}
