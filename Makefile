# kubewright — make targets. Everything a target needs, it builds or fetches
# itself: a fresh machine needs only Go (and git for `make demo`).

GO       ?= go
export GOTOOLCHAIN := local
export GOFLAGS     := -buildvcs=false
BIN      := bin/kubewright
# kube-apiserver + etcd for the server-side dry-run, built from source.
ASSETS   := $(CURDIR)/.cache/kube-assets
# The shared CRD collection beside the repository (tests install them).
CRDS     ?= $(abspath $(CURDIR)/../shared/crds)
export KUBEBUILDER_ASSETS := $(ASSETS)
export KUBEWRIGHT_CRDS    := $(CRDS)
FUZZTIME ?= 15s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# kube-score, pinned: the rules tests and `make eval` score generated manifests with it.
KUBE_SCORE_VERSION := v1.20.0
KUBE_SCORE         := $(CURDIR)/.cache/bin/kube-score
export KUBE_SCORE
# Repositories to evaluate besides testdata/repos (each expected in testdata/eval/<name>.yaml).
EVAL_REPOS ?=

.PHONY: all build test vet demo bench fuzz golden clean testenv test-assets bubblewrap kube-score eval

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/kubewright

vet:
	$(GO) vet ./...

## testenv: build kube-apiserver and etcd into .cache/kube-assets (once; ~3 min).
testenv:
	./hack/kube-assets/build.sh $(ASSETS)

## test-assets: pinned npm packages the tests read (GitHub's OpenAPI
## description, real webhook payloads), from hack/npm/package-lock.json.
test-assets: hack/npm/node_modules/.package-lock.json

hack/npm/node_modules/.package-lock.json: hack/npm/package.json hack/npm/package-lock.json
	cd hack/npm && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

## bubblewrap: the sandbox generated code is built and tested in
## (internal/sandbox); installed with apt-get when missing (CI: root, Debian).
bubblewrap:
	@command -v bwrap >/dev/null || (apt-get update -qq && apt-get install -y -qq bubblewrap)

## kube-score: install the pinned kube-score into .cache/bin (once).
kube-score: $(KUBE_SCORE)

$(KUBE_SCORE):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/zegl/kube-score/cmd/kube-score@$(KUBE_SCORE_VERSION)

## test: vet and run every test, the server-side dry-runs included.
test: vet testenv test-assets bubblewrap kube-score
	$(GO) test -count=1 ./...

## eval: containerize and validate every fixture and every repository in
## EVAL_REPOS=DIR; print detection, ports, kube-score and findings per repository.
eval: testenv kube-score
	$(GO) run ./hack/eval -repos "$(EVAL_REPOS)" -expected testdata/eval

## demo: containerize the bundled polyglot shop into demo/polyglot-shop (a
## git repository that stays for you to look at) and validate it.
demo: build testenv
	./hack/demo.sh $(BIN)

## bench: speed and memory figures (analyze + author on the fixtures).
bench:
	WITH_KUBECTL=1 ./hack/kube-assets/build.sh $(ASSETS)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

## fuzz: a short run of every fuzz target.
fuzz:
	@for t in FuzzParseDotEnv FuzzScanEnv FuzzDotnetJSONC FuzzParseMSBuild FuzzPyScanEnvExtra FuzzSpringConfig FuzzMavenPOM FuzzCargoManifest FuzzGitConfig FuzzDatabaseOf FuzzAngularOutput; do \
	  $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./internal/analyze/ || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzParseRepo$$' -fuzztime $(FUZZTIME) ./internal/config/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/command/
	$(GO) test -run '^$$' -fuzz '^FuzzWebhook$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 200x ./internal/githubapp/
	@for t in FuzzParseProposal FuzzRedact FuzzSanitize FuzzFence; do \
	  $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/llm/ || exit 1; done
	@for t in FuzzGoParse FuzzGoReplaces; do \
	  $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/validate/ || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/yamlsafe/
	$(GO) test -run '^$$' -fuzz '^FuzzScanKustomization$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/validate/

## golden: rewrite golden files after an intended change (read the diff!).
golden: testenv kube-score
	$(GO) test ./... -update

clean:
	rm -rf bin
