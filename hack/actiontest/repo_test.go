package actiontest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// repoRoot is kubewright's repository, two levels above this module.
var repoRoot = filepath.Join("..", "..")

// self is the action action.yml publishes.
const self = "kubewright/kubewright"

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lintClean runs both checks on workflows (and action metadata) and
// fails on any problem.
func lintClean(t *testing.T, workflows, actions []File) {
	t.Helper()
	probs, err := Actionlint(workflows, Options{Root: repoRoot, Self: self})
	if err != nil {
		t.Fatal(err)
	}
	npm, err := FindNPMDir()
	if err != nil {
		t.Fatal(err)
	}
	more, err := Parse(context.Background(), npm, workflows, actions)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(probs, more...) {
		t.Errorf("%s", p)
	}
}

// actionMeta is what the tests read of action.yml.
type actionMeta struct {
	Name        string
	Description string
	Branding    struct{ Icon, Color string }
	Inputs      map[string]struct {
		Description string
		Default     *string
	}
	Outputs map[string]struct{ Description, Value string }
	Runs    struct {
		Using string
		Steps []struct {
			ID, Shell, Run string
			Env            map[string]string
		}
	}
}

// TestActionMetadata: action.yml passes GitHub's parser, declares the
// inputs and outputs `kubewright action` works with, and hands every input
// to the container.
func TestActionMetadata(t *testing.T) {
	b := read(t, "action.yml")
	lintClean(t, nil, []File{{Name: "action.yml", Content: b}})
	var m actionMeta
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	wantIn := []string{"command", "crds", "fail-on", "llm-api-key", "llm-base-url", "llm-model", "path", "sarif-file", "token"}
	wantOut := []string{"errors", "pull-request-url", "sarif-file", "warnings"}
	if got := keys(m.Inputs); !slices.Equal(got, wantIn) {
		t.Errorf("inputs %v, want %v", got, wantIn)
	}
	if got := keys(m.Outputs); !slices.Equal(got, wantOut) {
		t.Errorf("outputs %v, want %v", got, wantOut)
	}
	if m.Runs.Using != "composite" || len(m.Runs.Steps) != 1 || m.Runs.Steps[0].ID != "kubewright" {
		t.Fatalf("runs: using %q with %d steps; want one composite step, id kubewright, that starts the image as the runner's user", m.Runs.Using, len(m.Runs.Steps))
	}
	step := m.Runs.Steps[0]
	for name, in := range m.Inputs {
		if in.Description == "" || in.Default == nil {
			t.Errorf("input %s: give it a description and a default (none is required)", name)
		}
		ref := "${{ inputs." + name + " }}"
		n := 0
		for _, v := range step.Env {
			if v == ref {
				n++
			}
		}
		if n != 1 {
			t.Errorf("input %s reaches the container %d times, want once through the step's env", name, n)
		}
	}
	if d := m.Inputs["token"].Default; d == nil || *d != "${{ github.token }}" {
		t.Errorf("token defaults to %v, want ${{ github.token }}", d)
	}
	for k := range step.Env {
		if !strings.HasPrefix(k, "KUBEWRIGHT_") && k != "GITHUB_TOKEN" {
			t.Errorf("the step's env %s: name it KUBEWRIGHT_*", k)
		}
	}
	if !regexp.MustCompile(`^ghcr\.io/kubewright/kubewright:v\d+\.\d+\.\d+$`).MatchString(step.Env["KUBEWRIGHT_IMAGE"]) {
		t.Errorf("KUBEWRIGHT_IMAGE %q; want ghcr.io/kubewright/kubewright:vX.Y.Z", step.Env["KUBEWRIGHT_IMAGE"])
	}
	for _, want := range []string{`--user "$(id -u):$(id -g)"`, `"$KUBEWRIGHT_IMAGE" action`, `-v "$RUNNER_TEMP:$RUNNER_TEMP"`} {
		if !strings.Contains(step.Run, want) {
			t.Errorf("the step's script lacks %s", want)
		}
	}
	for name := range m.Outputs {
		if want := "${{ steps.kubewright.outputs." + name + " }}"; m.Outputs[name].Value != want {
			t.Errorf("output %s: value %q, want %q", name, m.Outputs[name].Value, want)
		}
	}
	if m.Branding.Icon == "" || m.Branding.Color == "" {
		t.Error("branding needs an icon and a color")
	}
}

// TestActionFromCheckout: a workflow using the action from the checkout
// (`uses: ./`) with every input and reading every output lints clean;
// actionlint reads ./action.yml for it.
func TestActionFromCheckout(t *testing.T) {
	w := []byte(`name: use kubewright
on:
  pull_request:
  push:
    branches: [main]
permissions: {}
jobs:
  kubewright:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      pull-requests: write
      security-events: write
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - id: kw
        uses: ./
        with:
          command: validate
          path: deploy
          fail-on: warning
          sarif-file: out/kubewright.sarif
          crds: deploy/crds
          token: ${{ github.token }}
          llm-base-url: ${{ vars.LLM_BASE_URL }}
          llm-model: ${{ vars.LLM_MODEL }}
          llm-api-key: ${{ secrets.LLM_API_KEY }}
      - env:
          ERRORS: ${{ steps.kw.outputs.errors }}
          WARNINGS: ${{ steps.kw.outputs.warnings }}
          SARIF: ${{ steps.kw.outputs.sarif-file }}
          PR: ${{ steps.kw.outputs.pull-request-url }}
        run: echo "$ERRORS errors, $WARNINGS warnings, $SARIF, $PR"
`)
	lintClean(t, []File{{Name: "uses-checkout.yml", Content: w}}, nil)

	// The same workflow with a misspelt input and output must not pass:
	// the check reads action.yml.
	bad := bytes.Replace(w, []byte("fail-on: warning"), []byte("fail_on: warning"), 1)
	bad = bytes.Replace(bad, []byte("outputs.errors"), []byte("outputs.error"), 1)
	probs, err := Actionlint([]File{{Name: "bad.yml", Content: bad}}, Options{Root: repoRoot, Self: self})
	if err != nil {
		t.Fatal(err)
	}
	var msgs string
	for _, p := range probs {
		msgs += p.Message + "\n"
	}
	for _, want := range []string{`input "fail_on" is not defined`, `property "error" is not defined`} {
		if !strings.Contains(msgs, want) {
			t.Errorf("a misspelt use of action.yml passed: want %q in\n%s", want, msgs)
		}
	}
}

// readmeWorkflows are the ```yaml blocks of README.md's "GitHub Action"
// section, but for settings files (a first line "# .github/kubewright.yaml").
func readmeWorkflows(t *testing.T) []File {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(read(t, "README.md")))
	var out []File
	var cur *bytes.Buffer
	in, start, n := false, 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## GitHub Action"
		case !in:
		case cur == nil && line == "```yaml":
			cur, start = &bytes.Buffer{}, n+1
		case cur != nil && line == "```":
			if !strings.HasPrefix(cur.String(), "# .github/kubewright.yaml") {
				out = append(out, File{Name: "README.md block at line " + strconv.Itoa(start), Content: bytes.Clone(cur.Bytes())})
			}
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return out
}

// TestReadmeWorkflows: the README's example workflows lint clean, and
// there is one for each use of the action.
func TestReadmeWorkflows(t *testing.T) {
	ws := readmeWorkflows(t)
	var all string
	for _, w := range ws {
		all += string(w.Content)
	}
	for _, want := range []string{"pull_request:", "issue_comment:", "push:", "workflow_dispatch:", "github/codeql-action/upload-sarif@", "uses: kubewright/kubewright@"} {
		if !strings.Contains(all, want) {
			t.Errorf("the GitHub Action section has no workflow with %q (%d workflows found)", want, len(ws))
		}
	}
	lintClean(t, ws, nil)
}

// TestGeneratedWorkflows: the image workflows the deterministic author
// writes (its goldens, which its own tests hold it to) lint clean.
func TestGeneratedWorkflows(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "internal", "author", "rules", "testdata", "imageci", "*", "kubewright-images.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no generated workflows: run `go test ./internal/author/rules/ -run TestImageWorkflowGoldens -update` in the repository")
	}
	var ws []File
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, f)
		ws = append(ws, File{Name: filepath.ToSlash(rel), Content: b})
	}
	lintClean(t, ws, nil)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
