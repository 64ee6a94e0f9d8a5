package dockerfile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

const (
	dockerTestGoMod = "module example.com/svc\n\ngo 1.22\n"
	dockerTestMain  = "package main\n\nfunc main() {}\n"
	// dockerTestClean is clean for every rule: lines 1 (FROM build),
	// 3 (COPY go.mod), 4 (COPY . .), 7 (final FROM), 9 (USER), 10 (EXPOSE),
	// 11 (ENTRYPOINT).
	dockerTestClean = `FROM golang:1.22 AS build
WORKDIR /src
COPY go.mod ./
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/app"]
`
)

// dockerTestRepo is a small Go service with the given Dockerfile at the root.
func dockerTestRepo(dockerfile string, extra ...string) map[string]string {
	files := map[string]string{"go.mod": dockerTestGoMod, "main.go": dockerTestMain, "Dockerfile": dockerfile}
	for i := 0; i+1 < len(extra); i += 2 {
		files[extra[i]] = extra[i+1]
	}
	return files
}

// dockerTestEdit replaces old with new in the clean Dockerfile.
func dockerTestEdit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(dockerTestClean, old) {
		t.Fatalf("clean Dockerfile has no %q", old)
	}
	return strings.Replace(dockerTestClean, old, new, 1)
}

func dockerTestDeployment(image string, ports ...int) string {
	s := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: app
        image: ` + image + "\n"
	if len(ports) > 0 {
		s += "        ports:\n"
		for _, p := range ports {
			s += fmt.Sprintf("        - containerPort: %d\n", p)
		}
	}
	return s
}

// dockerTestGot runs the check and renders findings as "ID file:line [object]".
func dockerTestGot(t *testing.T, files map[string]string) ([]string, []finding.Finding) {
	t.Helper()
	in := validatetest.NewInput(t, files)
	fs := Check{}.Check(context.Background(), in)
	var got []string
	for _, f := range fs {
		if f.Stage != validate.StageDockerfile || f.Message == "" || f.Hint == "" {
			t.Errorf("incomplete finding: %+v", f)
		}
		s := fmt.Sprintf("%s %s:%d", f.ID, f.File, f.Line)
		if f.Object != "" {
			s += " " + f.Object
		}
		got = append(got, s)
	}
	return got, fs
}

func TestDockerfileCheckRules(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
		// in is a substring expected in the first finding's message or hint.
		in string
	}{
		{name: "clean", files: dockerTestRepo(dockerTestClean)},
		{
			name:  "parse error names the line",
			files: dockerTestRepo("FROM golang:1.22 AS build\nRUN true\nFORM alpine:3.20\n"),
			want:  []string{"KW-DOCKER-001 Dockerfile:3"},
			in:    "unknown instruction",
		},
		{
			name:  "no FROM",
			files: dockerTestRepo("ARG VERSION=1\n"),
			want:  []string{"KW-DOCKER-001 Dockerfile:1"},
		},
		{
			name:  "single stage",
			files: dockerTestRepo("FROM alpine:3.20\nUSER 10001:10001\nENTRYPOINT [\"/app\"]\n"),
			want:  []string{"KW-DOCKER-010 Dockerfile:1"},
		},
		{
			name:  "no USER in the final stage",
			files: dockerTestRepo(strings.Replace(dockerTestClean, "USER 65532:65532\n", "", 1)),
			want:  []string{"KW-DOCKER-011 Dockerfile:7"},
			in:    "USER 10001:10001",
		},
		{
			name:  "USER root",
			files: dockerTestRepo(dockerTestEdit(t, "USER 65532:65532", "USER root")),
			want:  []string{"KW-DOCKER-011 Dockerfile:9"},
		},
		{
			name:  "USER 0:0",
			files: dockerTestRepo(dockerTestEdit(t, "USER 65532:65532", "USER 0:0")),
			want:  []string{"KW-DOCKER-011 Dockerfile:9"},
		},
		{
			name:  "USER only in an earlier stage does not count",
			files: dockerTestRepo(strings.Replace(dockerTestEdit(t, "WORKDIR /src\n", "WORKDIR /src\nUSER 10001\n"), "USER 65532:65532\n", "", 1)),
			want:  []string{"KW-DOCKER-011 Dockerfile:8"},
		},
		{
			name:  "USER from an ARG default",
			files: dockerTestRepo(dockerTestEdit(t, "USER 65532:65532", "ARG UID=0\nUSER ${UID}")),
			want:  []string{"KW-DOCKER-011 Dockerfile:10"},
		},
		{
			name: "final stage inherits USER from its parent stage",
			files: dockerTestRepo(`FROM alpine:3.20 AS base
USER 10001:10001

FROM base
ENTRYPOINT ["/app"]
`),
		},
		{
			name:  "USER by name",
			files: dockerTestRepo(dockerTestEdit(t, "USER 65532:65532", "USER nonroot:nonroot")),
			want:  []string{"KW-DOCKER-012 Dockerfile:9"},
			in:    "runAsNonRoot",
		},
		{
			name:  "latest base",
			files: dockerTestRepo(dockerTestEdit(t, "golang:1.22", "golang:latest")),
			want:  []string{"KW-DOCKER-013 Dockerfile:1"},
		},
		{
			name:  "untagged base",
			files: dockerTestRepo(dockerTestEdit(t, "FROM gcr.io/distroless/static-debian12:nonroot", "FROM registry.local:5000/base")),
			want:  []string{"KW-DOCKER-013 Dockerfile:7"},
			in:    "registry.local:5000/base:<version>",
		},
		{
			name:  "digest-pinned base, scratch and stage names are fine",
			files: dockerTestRepo("FROM golang@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS build\nRUN true\nFROM build AS test\nRUN true\nFROM scratch\nCOPY --from=build /out/app /app\nUSER 10001\nENTRYPOINT [\"/app\"]\n"),
		},
		{
			name:  "ARG-pinned base",
			files: dockerTestRepo("ARG GO_VERSION=1.22\n" + dockerTestEdit(t, "golang:1.22", "golang:${GO_VERSION}-bookworm")),
		},
		{
			name:  "ARG default unpinned",
			files: dockerTestRepo("ARG BASE=golang\n" + dockerTestEdit(t, "golang:1.22", "${BASE}")),
			want:  []string{"KW-DOCKER-013 Dockerfile:2"},
			in:    "golang (from ${BASE})",
		},
		{
			name:  "ARG without default",
			files: dockerTestRepo("ARG BASE\n" + dockerTestEdit(t, "golang:1.22", "$BASE")),
			want:  []string{"KW-DOCKER-013 Dockerfile:2"},
			in:    "ARG BASE",
		},
		{
			name:  "COPY source missing",
			files: dockerTestRepo(dockerTestEdit(t, "COPY go.mod ./", "COPY go.mod go.sum ./")),
			want:  []string{"KW-DOCKER-014 Dockerfile:3"},
			in:    `"go.sum" does not exist`,
		},
		{
			name:  "COPY wildcard matching nothing is allowed",
			files: dockerTestRepo(dockerTestEdit(t, "COPY go.mod ./", "COPY go.mod go.su[m] *.lock ./")),
		},
		{
			name:  "COPY source outside the context",
			files: dockerTestRepo(dockerTestEdit(t, "COPY go.mod ./", "COPY ../shared/go.mod ./")),
			want:  []string{"KW-DOCKER-014 Dockerfile:3"},
			in:    "outside the build context",
		},
		{
			name:  "COPY source excluded by .dockerignore",
			files: dockerTestRepo(dockerTestEdit(t, "COPY go.mod ./", "COPY go.mod config/ ./"), "config/app.yaml", "a: 1\n", ".dockerignore", "# local\nconfig/\n"),
			want:  []string{"KW-DOCKER-014 Dockerfile:3"},
			in:    ".dockerignore:2",
		},
		{
			name:  "re-included by a ! pattern",
			files: dockerTestRepo(dockerTestEdit(t, "COPY go.mod ./", "COPY go.mod config/app.yaml ./"), "config/app.yaml", "a: 1\n", ".dockerignore", "config/\n!config/app.yaml\n"),
		},
		{
			name:  "a Dockerfile's own ignore file wins",
			files: dockerTestRepo(dockerTestClean, ".dockerignore", "go.mod\n", "Dockerfile.dockerignore", "*.md\n"),
		},
		{
			name: "monorepo Dockerfile built from the module root",
			files: map[string]string{
				"go.mod": dockerTestGoMod, "go.sum": "", "cmd/api/main.go": dockerTestMain, "cmd/worker/main.go": dockerTestMain,
				"cmd/api/Dockerfile": dockerTestEdit(t, "COPY go.mod ./", "COPY go.mod go.sum ./"),
			},
		},
		{
			name: "monorepo Dockerfile: the missing file is reported against the root",
			files: map[string]string{
				"go.mod": dockerTestGoMod, "cmd/api/main.go": dockerTestMain,
				"cmd/api/Dockerfile": dockerTestEdit(t, "COPY go.mod ./", "COPY go.mod go.sum ./"),
			},
			want: []string{"KW-DOCKER-014 cmd/api/Dockerfile:3"},
			in:   "the repository root",
		},
		{
			name:  "COPY of a secret by name",
			files: dockerTestRepo(dockerTestEdit(t, "COPY go.mod ./", "COPY go.mod .env ./"), ".env", "TOKEN=x\n"),
			// COPY . . takes it too.
			want: []string{"KW-DOCKER-015 Dockerfile:3", "KW-DOCKER-015 Dockerfile:4"},
		},
		{
			name:  "COPY . . with a key in the context",
			files: dockerTestRepo(dockerTestClean, "certs/server.key", "k\n", "credentials-prod.json", "{}\n"),
			want:  []string{"KW-DOCKER-015 Dockerfile:4"},
			in:    "certs/server.key, credentials-prod.json",
		},
		{
			name:  "COPY . . with the secrets excluded",
			files: dockerTestRepo(dockerTestClean, "certs/server.key", "k\n", ".env", "A=1\n", ".dockerignore", "**/*.key\n**/.env\n"),
		},
		{
			name:  "EXPOSE differs from containerPort",
			files: map[string]string{"svc/go.mod": dockerTestGoMod, "svc/main.go": dockerTestMain, "svc/Dockerfile": dockerTestClean, "k8s/deploy.yaml": dockerTestDeployment("ghcr.io/acme/svc:1.0.0", 9090)},
			want:  []string{"KW-DOCKER-016 svc/Dockerfile:10 Deployment/shop/svc"},
			in:    "k8s/deploy.yaml:12",
		},
		{
			name:  "EXPOSE missing while the container has ports",
			files: map[string]string{"svc/go.mod": dockerTestGoMod, "svc/main.go": dockerTestMain, "svc/Dockerfile": strings.Replace(dockerTestClean, "EXPOSE 8080\n", "", 1), "k8s/deploy.yaml": dockerTestDeployment("ghcr.io/acme/svc:1.0.0", 8080)},
			want:  []string{"KW-DOCKER-016 svc/Dockerfile:7 Deployment/shop/svc"},
		},
		{
			name:  "EXPOSE matches",
			files: map[string]string{"svc/go.mod": dockerTestGoMod, "svc/main.go": dockerTestMain, "svc/Dockerfile": dockerTestEdit(t, "EXPOSE 8080", "EXPOSE 8080/tcp 9090"), "k8s/deploy.yaml": dockerTestDeployment("ghcr.io/acme/svc:1.0.0", 9090, 8080)},
		},
		{
			name:  "other images are not compared",
			files: map[string]string{"svc/go.mod": dockerTestGoMod, "svc/main.go": dockerTestMain, "svc/Dockerfile": dockerTestClean, "k8s/deploy.yaml": dockerTestDeployment("redis:7.4", 6379)},
		},
		{
			name:  "shell-form ENTRYPOINT",
			files: dockerTestRepo(dockerTestEdit(t, `ENTRYPOINT ["/app"]`, "ENTRYPOINT /app --port 8080")),
			want:  []string{"KW-DOCKER-017 Dockerfile:11"},
			in:    `["/app", "--port", "8080"]`,
		},
		{
			name:  "shell-form CMD with exec is fine",
			files: dockerTestRepo(dockerTestEdit(t, `ENTRYPOINT ["/app"]`, "CMD exec /app")),
		},
		{
			name:  "BuildKit lint rule",
			files: dockerTestRepo(dockerTestEdit(t, "AS build", "as build")),
			want:  []string{"KW-DOCKER-100 Dockerfile:1"},
			in:    "FromAsCasing",
		},
		{
			name:  "BuildKit parser warning",
			files: dockerTestRepo(dockerTestEdit(t, "RUN CGO_ENABLED=0 go build", "RUN true && \\\n\n    CGO_ENABLED=0 go build")),
			want:  []string{"KW-DOCKER-100 Dockerfile:7"}, // BuildKit reports where the instruction ends
			in:    "NoEmptyContinuation",
		},
		{
			name:  "URLs, heredocs and --from are not context sources",
			files: dockerTestRepo(dockerTestEdit(t, "COPY go.mod ./", "COPY go.mod ./\nADD https://example.com/tool.tar.gz /tmp/\nCOPY <<EOF /etc/app.conf\nk=v\nEOF\nCOPY --from=alpine:3.20 /etc/passwd /tmp/")),
		},
		{
			name:  "BuildKit lint rule skipped by a check directive",
			files: dockerTestRepo("# check=skip=FromAsCasing\n" + dockerTestEdit(t, "AS build", "as build")),
		},
		{
			name: "Dockerfile names",
			files: map[string]string{
				"go.mod": dockerTestGoMod, "main.go": dockerTestMain,
				"Dockerfile.dev":          dockerTestEdit(t, "golang:1.22", "golang"),
				"build/api.Dockerfile":    dockerTestEdit(t, "COPY go.mod ./", "COPY main.go ./"),
				"Dockerfile.dockerignore": "*.md\n",
			},
			want: []string{"KW-DOCKER-013 Dockerfile.dev:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fs := dockerTestGot(t, tt.files)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("findings:\n%s\nwant:\n%s\nall: %v", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), fs)
			}
			if tt.in != "" && !strings.Contains(fs[0].Message+" "+fs[0].Hint, tt.in) {
				t.Errorf("want %q in %q / %q", tt.in, fs[0].Message, fs[0].Hint)
			}
		})
	}
}

func TestDockerfileSeverities(t *testing.T) {
	want := map[string]finding.Severity{
		"KW-DOCKER-001": finding.Error, "KW-DOCKER-010": finding.Warning, "KW-DOCKER-011": finding.Error,
		"KW-DOCKER-012": finding.Warning, "KW-DOCKER-013": finding.Error, "KW-DOCKER-014": finding.Error,
		"KW-DOCKER-015": finding.Error, "KW-DOCKER-016": finding.Warning, "KW-DOCKER-017": finding.Warning,
		"KW-DOCKER-100": finding.Warning,
	}
	// Every rule at once: one finding each.
	files := map[string]string{
		"svc/go.mod": dockerTestGoMod, "svc/main.go": dockerTestMain, "svc/.env": "A=1\n",
		"svc/Dockerfile":  "FROM golang as build\nCOPY go.sum .env ./\nUSER app\nEXPOSE 80\nCMD /app\n",
		"bad/Dockerfile":  "FORM x\n",
		"root/Dockerfile": "FROM alpine:3.20\nUSER 0\n",
		"k8s/deploy.yaml": dockerTestDeployment("ghcr.io/acme/svc:1.0.0", 8080),
	}
	_, fs := dockerTestGot(t, files)
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.ID] = true
		if want[f.ID] != f.Severity {
			t.Errorf("%s: severity %s, want %s (%s)", f.ID, f.Severity, want[f.ID], f.Message)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("%s not reported: %v", id, fs)
		}
	}
}

func TestDockerfileIgnoreMatcher(t *testing.T) {
	ig := dockerParseIgnore(".dockerignore", []byte(`# comment
/bin
**/.env
*.md
!README.md
docs/**/*.png
k8s/
src/[ab]?.txt
`))
	tests := []struct {
		path    string
		ignored bool
	}{
		{"bin/app", true},
		{"cmd/bin/app", false},
		{".env", true},
		{"svc/deep/.env", true},
		{".env.example", false},
		{"CHANGES.md", true},
		{"README.md", false},
		{"sub/CHANGES.md", false},
		{"docs/a/b/x.png", true},
		{"docs/x.png", true},
		{"docs/x.txt", false},
		{"k8s/deploy.yaml", true},
		{"k8s", true},
		{"src/a1.txt", true},
		{"src/c1.txt", false},
		{"main.go", false},
	}
	for _, tt := range tests {
		if got, _ := ig.Ignored(tt.path); got != tt.ignored {
			t.Errorf("Ignored(%q) = %v, want %v", tt.path, got, tt.ignored)
		}
	}
}

// TestDockerfileGeneratedFixturesClean runs the check over every fixture
// repository with the files `kubewright containerize` generates for it:
// the generated Dockerfiles must have no error.
func TestDockerfileGeneratedFixturesClean(t *testing.T) {
	const repos = "../../../testdata/repos"
	const generated = "../../author/rules/testdata/containerize"
	entries, err := os.ReadDir(generated)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			files := map[string]string{}
			validatetest.ReadTree(t, filepath.Join(repos, e.Name()), "", files, nil)
			validatetest.ReadTree(t, filepath.Join(generated, e.Name()), "", files, nil)
			delete(files, "PLAN.json")
			n := 0
			for f := range files {
				if IsDockerfile(f) {
					n++
				}
			}
			if n == 0 {
				t.Skip("no Dockerfile")
			}
			_, fs := dockerTestGot(t, files)
			for _, f := range fs {
				if f.Severity == finding.Error {
					t.Errorf("%s", f)
				} else {
					t.Logf("%s", f)
				}
			}

			// The generated Dockerfiles are tied to their workloads: a wrong
			// EXPOSE must show up against each of them.
			exposing := 0
			for f, content := range files {
				if IsDockerfile(f) && strings.Contains(content, "\nEXPOSE ") {
					files[f] = strings.Replace(content, "\nEXPOSE ", "\nEXPOSE 1 ", 1)
					exposing++
				}
			}
			if exposing == 0 || e.Name() == "existing-dockerfile" {
				return
			}
			_, fs = dockerTestGot(t, files)
			matched := 0
			for _, f := range fs {
				if f.ID == dockerIDExpose {
					matched++
				}
			}
			if matched < exposing {
				t.Errorf("%d Dockerfiles EXPOSE ports but only %d KW-DOCKER-016 after adding port 1: %v", exposing, matched, fs)
			}
		})
	}
}

// TestDockerfileInvalidFixtures checks that each Dockerfile fixture under
// testdata/invalid/ holds exactly its one mistake as far as this stage sees.
func TestDockerfileInvalidFixtures(t *testing.T) {
	tests := map[string]string{
		"dockerfile-no-user":      "KW-DOCKER-011 Dockerfile:8",
		"dockerfile-latest":       "KW-DOCKER-013 Dockerfile:1",
		"dockerfile-copy-missing": "KW-DOCKER-014 Dockerfile:3",
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{}
			validatetest.ReadTree(t, filepath.Join("../../../testdata/invalid", name), "", files, nil)
			got, fs := dockerTestGot(t, files)
			if strings.Join(got, "\n") != want {
				t.Errorf("findings %q, want %q: %v", got, want, fs)
			}
		})
	}
}
