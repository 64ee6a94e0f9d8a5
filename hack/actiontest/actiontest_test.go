package actiontest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	checkoutPin = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"
	metaPin     = "docker/metadata-action@dc802804100637a589fabce1cb79ff13a1411302"
	loginPin    = "docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121"
)

// workflow is a minimal valid workflow with steps spliced in.
func workflow(steps string) []byte {
	return []byte(`name: t
on: push
permissions: {}
jobs:
  j:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
` + steps)
}

// TestCheckerFinds: each check finds what it is for, and a clean workflow
// passes, so the repository tests cannot pass by checking nothing.
func TestCheckerFinds(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "action.yml"), []byte(`name: self
description: the action under test
inputs:
  mode:
    description: a mode
    required: true
outputs:
  count:
    description: a count
runs:
  using: docker
  image: docker://alpine:3.20
`), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Root: root, Self: "acme/self"}
	tests := []struct {
		name   string
		steps  string
		source string // "" for a clean workflow
		want   string
	}{
		{name: "clean", steps: `      - uses: ` + checkoutPin + ` # v7.0.1
        with:
          persist-credentials: false
      - id: meta
        uses: ` + metaPin + ` # v6.2.0
        with:
          images: ghcr.io/acme/api
      - run: echo "${{ steps.meta.outputs.version }}"
      - id: self
        uses: ./
        with:
          mode: fast
      - run: echo "${{ steps.self.outputs.count }}"
      - uses: acme/self@v1.2.3
        with:
          mode: slow
`},
		{name: "tag, not a SHA", steps: "      - uses: actions/checkout@v7\n", source: "pin", want: "actions/checkout@v7 is not pinned"},
		{name: "short SHA", steps: "      - uses: actions/checkout@3d3c42e # v7.0.1\n", source: "pin", want: "is not pinned"},
		{name: "SHA without its version", steps: "      - uses: " + checkoutPin + "\n", source: "pin", want: "line comment (# vX.Y.Z)"},
		{name: "wrong version", steps: "      - uses: " + checkoutPin + " # v6.0.0\n", source: "pin", want: "is v7.0.1, not v6.0.0"},
		{name: "SHA not vendored", steps: "      - uses: actions/checkout@0123456789012345678901234567890123456789 # v7.0.1\n", source: "pin", want: "has no vendored metadata"},
		{name: "container by tag", steps: "      - uses: docker://alpine:3.20\n", source: "pin", want: "pin the image by digest"},
		{name: "self at a branch", steps: "      - uses: acme/self@main\n        with:\n          mode: x\n", source: "pin", want: "use a release tag"},
		{name: "input the pinned version lacks", steps: "      - uses: " + loginPin + " # v4.1.0\n        with:\n          passwd: x\n", source: "actionlint", want: `input "passwd" is not defined`},
		{name: "output the pinned version lacks", steps: "      - id: meta\n        uses: " + metaPin + " # v6.2.0\n      - run: echo \"${{ steps.meta.outputs.nope }}\"\n", source: "actionlint", want: `"nope" is not defined`},
		{name: "input action.yml lacks", steps: "      - uses: ./\n        with:\n          mode: x\n          speed: y\n", source: "actionlint", want: `input "speed" is not defined`},
		{name: "input action.yml requires", steps: "      - uses: ./\n", source: "actionlint", want: `missing input "mode"`},
		{name: "released self is checked as ./", steps: "      - uses: acme/self@v1.0.0\n", source: "actionlint", want: `missing input "mode"`},
		{name: "unknown context property", steps: "      - run: echo\n    env:\n      A: ${{ github.nope }}\n", source: "actionlint", want: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probs, err := Actionlint([]File{{Name: "w.yml", Content: workflow(tt.steps)}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if tt.source == "" {
				for _, p := range probs {
					t.Errorf("%s", p)
				}
				return
			}
			for _, p := range probs {
				if p.Source == tt.source && strings.Contains(p.Message, tt.want) && p.File == "w.yml" && p.Line > 0 {
					return
				}
			}
			t.Errorf("no %s problem saying %q; got %v", tt.source, tt.want, probs)
		})
	}
}

// TestParserFinds: GitHub's parser refuses what GitHub would, in
// workflows and in action metadata, and accepts valid ones.
func TestParserFinds(t *testing.T) {
	npm, err := FindNPMDir()
	if err != nil {
		t.Fatal(err)
	}
	good := File{Name: "good.yml", Content: workflow("      - run: echo ok\n")}
	badKey := File{Name: "bad-key.yml", Content: workflow("      - run: echo ok\n        timeout: 3\n")}
	badExpr := File{Name: "bad-expr.yml", Content: workflow("      - run: echo ${{ nope.x }}\n")}
	goodAction := File{Name: "action.yml", Content: []byte("name: a\ndescription: b\nruns:\n  using: docker\n  image: docker://alpine:3.20\n")}
	badAction := File{Name: "bad-action.yml", Content: []byte("name: a\ndescription: b\nruns:\n  using: docker\n  image: docker://alpine:3.20\n  entrypoints: [x]\n")}
	probs, err := Parse(context.Background(), npm, []File{good, badKey, badExpr}, []File{goodAction, badAction})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range probs {
		if p.Source != "workflow-parser" || p.Line == 0 {
			t.Errorf("problem without a source or line: %s", p)
		}
		got[p.File] += p.Message + "\n"
	}
	for file, want := range map[string]string{"bad-key.yml": "timeout", "bad-expr.yml": "nope", "bad-action.yml": "entrypoints"} {
		if !strings.Contains(got[file], want) {
			t.Errorf("%s: problems %q, want one naming %q", file, got[file], want)
		}
	}
	for _, file := range []string{"good.yml", "action.yml"} {
		if got[file] != "" {
			t.Errorf("%s is valid, parser says %q", file, got[file])
		}
	}
}

// TestPins: the vendored metadata is well-formed and each SHA is a full
// one.
func TestPins(t *testing.T) {
	pins, err := Pins()
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) == 0 {
		t.Fatal("no vendored actions")
	}
	for _, p := range pins {
		if !fullSHA.MatchString(p.SHA) || !releaseTagRe.MatchString(p.Version) {
			t.Errorf("%s: SHA %q, version %q", p.Action, p.SHA, p.Version)
		}
	}
}
