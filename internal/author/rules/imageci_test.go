package rules

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
	"github.com/kubewright/kubewright/internal/draft"
)

// imageCIFixtures have their image workflow golden under
// testdata/imageci/<fixture>/: services in their own directories
// (polyglot-shop), sharing one build context (go-monorepo), built from a
// wider context (dotnet-solution) and with a Dockerfile of their own
// (existing-dockerfile). hack/actiontest lints these goldens with
// actionlint and GitHub's workflow parser.
var imageCIFixtures = []string{"polyglot-shop", "go-monorepo", "dotnet-solution", "existing-dockerfile"}

func withImageCI(o author.Options) author.Options {
	o.ImageCI = true
	return o
}

// TestImageWorkflowGoldens: with containerize.ci the draft gains exactly
// the image workflow, golden per fixture, and every other file keeps its
// bytes (the goldens of testdata/containerize hold without it).
func TestImageWorkflowGoldens(t *testing.T) {
	for _, fx := range imageCIFixtures {
		t.Run(fx, func(t *testing.T) {
			_, off := draftFor(t, fx, fixtureOptions)
			_, on := draftFor(t, fx, withImageCI(fixtureOptions))
			var wf *draft.File
			rest := map[string][]byte{}
			for i, f := range on.Files {
				if f.Path == draft.ImageWorkflowPath {
					wf = &on.Files[i]
					continue
				}
				rest[f.Path] = f.Content
			}
			if wf == nil {
				t.Fatalf("no %s in the draft", draft.ImageWorkflowPath)
			}
			if len(rest) != len(off.Files) {
				t.Errorf("%d other files with ci, %d without", len(rest), len(off.Files))
			}
			for _, f := range off.Files {
				if b, ok := rest[f.Path]; !ok || !bytes.Equal(b, f.Content) {
					t.Errorf("%s changes when ci is on", f.Path)
				}
			}
			if err := (draft.Policy{ImageWorkflow: true}).Check(wf.Path); err != nil {
				t.Errorf("the write policy with containerize.ci refuses the workflow: %v", err)
			}
			if err := (draft.Policy{}).Check(wf.Path); err == nil {
				t.Error("the write policy without containerize.ci allows the workflow")
			}
			checkImageWorkflow(t, fx, wf.Content, on)
			checkGolden(t, "testdata/imageci/"+fx+"/kubewright-images.yml", wf.Content)
		})
	}
}

var (
	usesLine = regexp.MustCompile(`(?m)^\s*(?:- )?uses: (\S+)(.*)$`)
	pinned   = regexp.MustCompile(`^[a-z0-9-]+/[a-z0-9-]+@[0-9a-f]{40}$`)
	pinNote  = regexp.MustCompile(`^ # v\d+\.\d+\.\d+$`)
)

// checkImageWorkflow checks what golden files alone would not: every
// action pinned by SHA with its version, least privilege, a build per
// service at the context and Dockerfile the draft writes, and tags the
// generated ImagePolicies select.
func checkImageWorkflow(t *testing.T, fx string, content []byte, d *draft.Draft) {
	t.Helper()
	for _, m := range usesLine.FindAllStringSubmatch(string(content), -1) {
		if !pinned.MatchString(m[1]) || !pinNote.MatchString(m[2]) {
			t.Errorf("%s: uses: %s%s is not pinned by commit SHA with a # vX.Y.Z note", fx, m[1], m[2])
		}
	}
	var wf struct {
		Permissions map[string]string `json:"permissions"`
		Jobs        map[string]struct {
			Permissions map[string]string `json:"permissions"`
			Strategy    struct {
				Matrix struct {
					Include []struct{ Service, Context, Dockerfile string } `json:"include"`
				} `json:"matrix"`
			} `json:"strategy"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(content, &wf); err != nil {
		t.Fatalf("%s: the workflow is not YAML: %v", fx, err)
	}
	if len(wf.Permissions) != 0 {
		t.Errorf("%s: workflow-level permissions %v, want none ({})", fx, wf.Permissions)
	}
	job, ok := wf.Jobs["image"]
	if !ok || len(wf.Jobs) != 1 {
		t.Fatalf("%s: jobs %v, want one job named image", fx, wf.Jobs)
	}
	want := map[string]string{"contents": "read", "packages": "write"} // fixtureOptions push to ghcr.io
	if len(job.Permissions) != len(want) {
		t.Errorf("%s: job permissions %v, want %v", fx, job.Permissions, want)
	}
	for k, v := range want {
		if job.Permissions[k] != v {
			t.Errorf("%s: job permission %s = %q, want %q", fx, k, job.Permissions[k], v)
		}
	}
	files := map[string]bool{}
	services := map[string]bool{}
	for _, f := range d.Files {
		files[f.Path] = true
		if f.Service != "" {
			services[f.Service] = true
		}
	}
	if n := len(job.Strategy.Matrix.Include); n != len(services) {
		t.Errorf("%s: %d builds for %d services", fx, n, len(services))
	}
	for _, b := range job.Strategy.Matrix.Include {
		if !services[b.Service] {
			t.Errorf("%s: builds %q, not a service of the draft", fx, b.Service)
		}
		if !files[b.Dockerfile] && fx != "existing-dockerfile" {
			t.Errorf("%s: %s builds %s, which the draft does not write", fx, b.Service, b.Dockerfile)
		}
		if b.Context != "." && !strings.HasPrefix(b.Dockerfile, b.Context+"/") && !strings.HasPrefix(b.Context, "../") {
			t.Errorf("%s: %s's Dockerfile %s is outside its context %s", fx, b.Service, b.Dockerfile, b.Context)
		}
	}
	// The ImagePolicies select semver from firstTag: the tags pushed on a
	// release are the git tag's plain semver.
	for _, needle := range []string{"type=semver,pattern={{version}}", "type=sha,format=long", "flavor: latest=false", `tags: ["v*"]`,
		"images: " + fixtureOptions.Registry + "/${{ matrix.service }}", "cache-from: type=gha,scope=${{ matrix.service }}"} {
		if !bytes.Contains(content, []byte(needle)) {
			t.Errorf("%s: the workflow lacks %q", fx, needle)
		}
	}
	for _, f := range d.Files {
		if strings.HasSuffix(f.Path, "image-automation.yaml") && !bytes.Contains(f.Content, []byte("range: '>="+firstTag+"'")) && !bytes.Contains(f.Content, []byte("range: \">="+firstTag+"\"")) {
			t.Errorf("%s: %s does not select semver >=%s; the workflow's tags were chosen for that", fx, f.Path, firstTag)
		}
	}
}

// TestImageWorkflowOptions: which registries log in how, which parts
// carry the workflow, and what is refused.
func TestImageWorkflowOptions(t *testing.T) {
	tests := []struct {
		name     string
		opts     author.Options
		want     []string // in the workflow
		wantNot  []string
		none     bool   // no workflow
		wantErr  string // authoring fails
		wantNote string // an assumption
	}{
		{name: "ghcr", opts: author.Options{Registry: "ghcr.io/acme"},
			want:     []string{"packages: write", "registry: ghcr.io", "password: ${{ secrets.GITHUB_TOKEN }}", "images: ghcr.io/acme/${{ matrix.service }}"},
			wantNot:  []string{"REGISTRY_PASSWORD"},
			wantNote: "pushes to ghcr.io/acme with the workflow's GITHUB_TOKEN"},
		{name: "docker hub", opts: author.Options{Registry: "acme"},
			want:     []string{"registry: docker.io", "password: ${{ secrets.REGISTRY_PASSWORD }}", "images: acme/${{ matrix.service }}"},
			wantNot:  []string{"packages: write", "GITHUB_TOKEN"},
			wantNote: "REGISTRY_USERNAME and REGISTRY_PASSWORD"},
		{name: "private registry with a port", opts: author.Options{Registry: "registry.example.com:5000/team/"},
			want:    []string{"registry: registry.example.com:5000", "images: registry.example.com:5000/team/${{ matrix.service }}"},
			wantNot: []string{"packages: write"}},
		{name: "branch", opts: author.Options{Registry: "ghcr.io/acme", Branch: "release/2.x"}, want: []string{`branches: ["release/2.x"]`}},
		{name: "only gitops", opts: author.Options{Registry: "ghcr.io/acme", Only: []string{draft.PartGitops}}, want: []string{"packages: write"}},
		{name: "only dockerfiles", opts: author.Options{Registry: "ghcr.io/acme", Only: []string{draft.PartDockerfile}}, want: []string{"packages: write"}},
		{name: "only k8s", opts: author.Options{Registry: "ghcr.io/acme", Only: []string{draft.PartK8s}}, none: true},
		{name: "one service", opts: author.Options{Registry: "ghcr.io/acme", Services: []string{"user-service"}},
			want: []string{`service: "user-service"`}, wantNot: []string{"order-service", "product-service"}},
		{name: "upper-case registry", opts: author.Options{Registry: "ghcr.io/Acme"}, wantErr: `the registry "ghcr.io/Acme" is not an image repository prefix`},
		{name: "expression in the registry", opts: author.Options{Registry: "ghcr.io/${{ secrets.X }}"}, wantErr: "is not an image repository prefix"},
		{name: "newline in the branch", opts: author.Options{Registry: "ghcr.io/acme", Branch: "main\non: [push]"}, wantErr: "cannot be written into a workflow's branch filter"},
		{name: "glob in the branch", opts: author.Options{Registry: "ghcr.io/acme", Branch: "*"}, wantErr: "branch filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.ImageCI = true
			m, err := analyze.New().Analyze(context.Background(), fixturesDir+"/polyglot-shop")
			if err != nil {
				t.Fatal(err)
			}
			d, err := New().Author(context.Background(), m, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "containerize.ci") {
					t.Fatalf("Author() error = %v, want %q naming containerize.ci", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wf := fileOf(d, draft.ImageWorkflowPath)
			if tt.none {
				if wf != nil {
					t.Fatalf("workflow written with only %v", tt.opts.Only)
				}
				return
			}
			if wf == nil {
				t.Fatal("no workflow")
			}
			for _, s := range tt.want {
				if !bytes.Contains(wf.Content, []byte(s)) {
					t.Errorf("workflow lacks %q:\n%s", s, wf.Content)
				}
			}
			for _, s := range tt.wantNot {
				if bytes.Contains(wf.Content, []byte(s)) {
					t.Errorf("workflow has %q", s)
				}
			}
			if tt.wantNote != "" && !strings.Contains(strings.Join(d.Assumptions, "\n"), tt.wantNote) {
				t.Errorf("assumptions %q lack %q", d.Assumptions, tt.wantNote)
			}
		})
	}
}

// TestImageWorkflowUntrustedNames: a service whose name or paths could
// break the YAML or form an expression is left out, with a note; when
// none is left, authoring fails and says so.
func TestImageWorkflowUntrustedNames(t *testing.T) {
	m, err := analyze.New().Analyze(context.Background(), fixturesDir+"/polyglot-shop")
	if err != nil {
		t.Fatal(err)
	}
	sys := &system{m: m, opts: author.Options{Registry: "ghcr.io/acme", Branch: "main"}}
	base := m.Services[0]
	for _, tt := range []struct {
		name string
		edit func(s *analyze.Service)
	}{
		{"expression in the Dockerfile path", func(s *analyze.Service) { s.Dockerfile = s.Path + "/${{ secrets.TOKEN }}" }},
		{"newline in the Dockerfile path", func(s *analyze.Service) { s.Dockerfile = s.Path + "/Dockerfile\n  x: y" }},
		{"quote in the Dockerfile path", func(s *analyze.Service) { s.Dockerfile = s.Path + `/Docker"file` }},
		{"upper-case service name", func(s *analyze.Service) { s.Name = "Orders" }},
		{"dotdot Dockerfile", func(s *analyze.Service) { s.Dockerfile = s.Path + "/../../Dockerfile" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.edit(&s)
			sys.svcs, sys.assumptions = []analyze.Service{s}, nil
			_, err := sys.imageWorkflow()
			if err == nil || !strings.Contains(err.Error(), "no service can be built") {
				t.Fatalf("imageWorkflow() = %v, want a refusal", err)
			}
			if !strings.Contains(strings.Join(sys.assumptions, "\n"), "the image workflow leaves out") {
				t.Errorf("no note: %q", sys.assumptions)
			}
		})
	}
	sys.svcs, sys.assumptions = []analyze.Service{base}, nil
	if _, err := sys.imageWorkflow(); err != nil {
		t.Fatalf("the unedited service: %v", err)
	}
}

func fileOf(d *draft.Draft, p string) *draft.File {
	for i := range d.Files {
		if d.Files[i].Path == p {
			return &d.Files[i]
		}
	}
	return nil
}

// FuzzImageWorkflow: whatever names and paths analysis and settings
// bring, a rendered workflow is YAML whose matrix, branch filter and
// image carry exactly those values, with no expression but the
// template's own.
func FuzzImageWorkflow(f *testing.F) {
	m, err := analyze.New().Analyze(context.Background(), fixturesDir+"/polyglot-shop")
	if err != nil {
		f.Fatal(err)
	}
	base := m.Services[0]
	f.Add("api", "api", "api/Dockerfile", "ghcr.io/acme", "main")
	f.Add("api", ".", "Dockerfile", "registry.example.com:5000/team", "release/1.x")
	f.Add("a\"b", "x: y", "${{ secrets.T }}", "ghcr.io/${{ github.actor }}", "main\n- x")
	f.Add("api", "api", "api/Dockerfile\n      - run: curl evil", "acme", "'main'")
	f.Fuzz(func(t *testing.T, name, ctx, dockerfile, registry, branch string) {
		s := base
		s.Name, s.Path, s.Dockerfile = name, ctx, dockerfile
		sys := &system{m: m, opts: author.Options{Registry: registry, Branch: branch}, svcs: []analyze.Service{s}}
		file, err := sys.imageWorkflow()
		if err != nil {
			return
		}
		// YAML 1.2, as GitHub reads it: "on" is a key, not true.
		var wf struct {
			On struct {
				Push struct{ Branches []string }
			} `yaml:"on"`
			Jobs struct {
				Image struct {
					Strategy struct {
						Matrix struct {
							Include []struct{ Service, Context, Dockerfile string }
						}
					}
				}
			}
		}
		if err := yamlv3.Unmarshal(file.Content, &wf); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, file.Content)
		}
		inc := wf.Jobs.Image.Strategy.Matrix.Include
		wantCtx := ctx
		if wantCtx == "" {
			wantCtx = "."
		}
		if len(inc) != 1 || inc[0].Service != name || inc[0].Context != wantCtx || inc[0].Dockerfile != dockerfile {
			t.Fatalf("matrix %+v, want %q %q %q", inc, name, wantCtx, dockerfile)
		}
		if b := wf.On.Push.Branches; len(b) != 1 || b[0] != branch {
			t.Fatalf("branches %q, want %q", b, branch)
		}
		if !bytes.Contains(file.Content, []byte("images: "+registry+"/${{ matrix.service }}\n")) {
			t.Fatalf("registry %q not carried as is", registry)
		}
		// The template's login has two branches of two expressions each;
		// one is rendered.
		if got, want := strings.Count(string(file.Content), "${{"), strings.Count(imageWorkflowTemplate, "${{")-2; got != want {
			t.Fatalf("%d expressions, the template has %d:\n%s", got, want, file.Content)
		}
	})
}
