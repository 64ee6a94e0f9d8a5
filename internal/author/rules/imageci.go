package rules

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/draft"
)

// pinnedAction is a GitHub Action at the full commit SHA of a release.
// hack/actiontest vendors each one's action.yml at that commit and checks
// the image workflow's inputs against it: bump SHA and version together,
// with the vendored file.
type pinnedAction struct{ repo, sha, version string }

func (a pinnedAction) String() string { return a.repo + "@" + a.sha + " # " + a.version }

// The actions the image workflow uses.
var (
	actionCheckout  = pinnedAction{"actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"}
	actionBuildx    = pinnedAction{"docker/setup-buildx-action", "37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"}
	actionLogin     = pinnedAction{"docker/login-action", "4907a6ddec9925e35a0a9e82d7399ccc52663121", "v4.1.0"}
	actionMetadata  = pinnedAction{"docker/metadata-action", "dc802804100637a589fabce1cb79ff13a1411302", "v6.2.0"}
	actionBuildPush = pinnedAction{"docker/build-push-action", "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7.3.0"}
)

// What the workflow may carry from the repository: values from analysis
// and settings end up in YAML and in `with:` inputs, so they are held to
// characters that can neither break the YAML nor form an expression.
var (
	safeRepoPath  = regexp.MustCompile(`^[A-Za-z0-9_.+@][A-Za-z0-9_.+@/-]*$`)
	safeImageName = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*$`)
	safeRegistry  = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
	safeBranch    = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_./-]*$`)
)

// imageBuild is one service's image build in the workflow's matrix.
type imageBuild struct{ Service, Context, Dockerfile string }

// imageWorkflowData is what the template lays out.
type imageWorkflowData struct {
	Registry, Host, Branch string
	// GHCR logs in with the workflow's own token (packages: write);
	// other registries with the REGISTRY_USERNAME and REGISTRY_PASSWORD
	// secrets.
	GHCR                                     bool
	Builds                                   []imageBuild
	Checkout, Buildx, Login, Metadata, Build pinnedAction
}

// imageWorkflow renders draft.ImageWorkflowPath: one matrix job that
// builds every selected service's image with Buildx, cached per service
// in the GitHub Actions cache, and pushes it (not on pull requests) to
// <registry>/<service>, the repository Flux's ImageRepository scans.
// A git tag vX.Y.Z is pushed as X.Y.Z, the plain semver the generated
// ImagePolicies select (range >= firstTag); every build is also tagged
// sha-<full commit SHA>, which no semver range selects.
func (sys *system) imageWorkflow() (draft.File, error) {
	reg := sys.opts.Registry
	if !safeRegistry.MatchString(reg) {
		return draft.File{}, fmt.Errorf("containerize.ci: the registry %q is not an image repository prefix the workflow can push to: set a lower-case registry host and path, e.g. ghcr.io/acme (--registry or containerize.registry)", reg)
	}
	branch := sys.opts.Branch
	if !safeBranch.MatchString(branch) || strings.Contains(branch, "..") {
		return draft.File{}, fmt.Errorf("containerize.ci: the branch %q cannot be written into a workflow's branch filter: set a plain branch name (--branch or containerize.branch)", branch)
	}
	host, _, _ := strings.Cut(reg, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		host = "docker.io" // "acme/api" is Docker Hub's
	}
	d := imageWorkflowData{Registry: reg, Host: host, Branch: branch, GHCR: host == "ghcr.io",
		Checkout: actionCheckout, Buildx: actionBuildx, Login: actionLogin, Metadata: actionMetadata, Build: actionBuildPush}
	for _, s := range sys.svcs {
		b, ok := sys.imageBuildFor(s)
		if ok {
			d.Builds = append(d.Builds, b)
		}
	}
	if len(d.Builds) == 0 {
		return draft.File{}, fmt.Errorf("containerize.ci: no service can be built by the image workflow (see the assumptions): rename the service directories to plain names")
	}
	if d.GHCR {
		sys.assume("the image workflow pushes to %s with the workflow's GITHUB_TOKEN (packages: write): %s must be this repository's owner, or give this repository write access to the packages", reg, strings.TrimPrefix(reg, "ghcr.io/"))
	} else {
		sys.assume("the image workflow logs in to %s with the repository secrets REGISTRY_USERNAME and REGISTRY_PASSWORD: create them (Settings > Secrets and variables > Actions)", host)
	}
	sys.assume("release an image by pushing a git tag vX.Y.Z: the image workflow pushes it as X.Y.Z, which Flux's ImagePolicy selects; every build is also tagged sha-<commit>")
	t, err := template.New("images").Delims("[[", "]]").Option("missingkey=error").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(imageWorkflowTemplate)
	if err != nil {
		return draft.File{}, fmt.Errorf("image workflow template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return draft.File{}, fmt.Errorf("render %s: %w", draft.ImageWorkflowPath, err)
	}
	return draft.File{Path: draft.ImageWorkflowPath, Content: buf.Bytes()}, nil
}

// imageBuildFor is a service's build context and Dockerfile as the author
// writes them (or as the repository has them), or false, with a note,
// when they cannot be carried into the workflow safely.
func (sys *system) imageBuildFor(s analyze.Service) (imageBuild, bool) {
	res, err := DockerfileFor(s)
	if err != nil {
		sys.assume("the image workflow leaves out %s: %v", s.Name, err)
		return imageBuild{}, false
	}
	b := imageBuild{Service: s.Name, Context: res.Context}
	if s.Dockerfile != "" {
		b.Context, b.Dockerfile = s.Path, s.Dockerfile
		if b.Context == "" {
			b.Context = "."
		}
		sys.assume("the image workflow builds %s from its existing %s with the build context %s", s.Name, s.Dockerfile, b.Context)
	} else {
		b.Dockerfile, _ = dockerfilePath(s, sys.m, res.Context)
	}
	switch {
	case !safeImageName.MatchString(s.Name):
		sys.assume("the image workflow leaves out %s: %q is not an image name (lower-case letters, digits, '.', '_', '-')", s.Name, s.Name)
		return imageBuild{}, false
	case !safeRepoPath.MatchString(b.Context) || !safeRepoPath.MatchString(b.Dockerfile) || path.Clean(b.Dockerfile) != b.Dockerfile:
		sys.assume("the image workflow leaves out %s: its build context %q or Dockerfile %q has characters a workflow cannot carry safely; rename the directory to letters, digits and . _ - @ +", s.Name, b.Context, b.Dockerfile)
		return imageBuild{}, false
	}
	return b, true
}

// imageWorkflowTemplate is the image workflow. [[ ]] delimit the
// template's actions; ${{ }} are GitHub's expressions and {{version}}
// metadata-action's pattern, both written as they are. Values from the
// repository are quoted.
const imageWorkflowTemplate = `# Written by kubewright (containerize.ci: github-actions in
# .github/kubewright.yaml): builds each service's image and pushes it to
# [[ .Registry ]]/<service>, the repositories Flux's ImageRepositories scan.
# Push a git tag vX.Y.Z to release: the image is tagged X.Y.Z, the semver
# Flux's ImagePolicies select; every build is also tagged sha-<commit>.
# Pull requests build without pushing.
name: kubewright images

on:
  push:
    branches: [[ printf "[%s]" (q .Branch) ]]
    tags: ["v*"]
  pull_request:
    branches: [[ printf "[%s]" (q .Branch) ]]
  workflow_dispatch:

permissions: {}

concurrency:
  group: kubewright-images-${{ github.ref }}
  cancel-in-progress: ${{ github.event_name == 'pull_request' }}

jobs:
  image:
    name: image (${{ matrix.service }})
    runs-on: ubuntu-latest
    timeout-minutes: 60
    permissions:
      contents: read
[[- if .GHCR ]]
      packages: write
[[- end ]]
    strategy:
      fail-fast: false
      matrix:
        include:
[[- range .Builds ]]
          - service: [[ q .Service ]]
            context: [[ q .Context ]]
            dockerfile: [[ q .Dockerfile ]]
[[- end ]]
    steps:
      - uses: [[ .Checkout ]]
        with:
          persist-credentials: false
      - uses: [[ .Buildx ]]
      - name: Log in to [[ .Host ]]
        if: github.event_name != 'pull_request'
        uses: [[ .Login ]]
        with:
          registry: [[ .Host ]]
[[- if .GHCR ]]
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
[[- else ]]
          username: ${{ secrets.REGISTRY_USERNAME }}
          password: ${{ secrets.REGISTRY_PASSWORD }}
[[- end ]]
      - id: meta
        uses: [[ .Metadata ]]
        with:
          images: [[ .Registry ]]/${{ matrix.service }}
          flavor: latest=false
          tags: |
            type=semver,pattern={{version}}
            type=sha,format=long
      - uses: [[ .Build ]]
        with:
          context: ${{ matrix.context }}
          file: ${{ matrix.dockerfile }}
          push: ${{ github.event_name != 'pull_request' }}
          tags: ${{ steps.meta.outputs.tags }}
          labels: ${{ steps.meta.outputs.labels }}
          cache-from: type=gha,scope=${{ matrix.service }}
          cache-to: type=gha,mode=max,scope=${{ matrix.service }}
`
