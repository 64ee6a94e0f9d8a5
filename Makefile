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

.PHONY: all build test vet demo bench fuzz golden clean testenv test-assets bubblewrap prometheus chromium kube-score eval release

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/kubewright

vet:
	$(GO) vet ./...

## testenv: build kube-apiserver and etcd into .cache/kube-assets (once; ~3 min).
testenv:
	./hack/kube-assets/build.sh $(ASSETS)

## test-assets: pinned npm packages the tests read (GitHub's OpenAPI
## description and GraphQL schema, real webhook payloads), from
## hack/npm/package-lock.json.
test-assets: hack/npm/node_modules/.package-lock.json

hack/npm/node_modules/.package-lock.json: hack/npm/package.json hack/npm/package-lock.json
	cd hack/npm && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

## bubblewrap: the sandbox generated code is built and tested in
## (internal/sandbox); installed with apt-get when missing (CI: root, Debian).
bubblewrap:
	@command -v bwrap >/dev/null || (apt-get update -qq && apt-get install -y -qq bubblewrap)

## prometheus: the Prometheus server the right-sizing tests query
## (internal/ops/metrics starts it on 127.0.0.1); installed with apt-get
## when missing (CI: root, Debian), never started as a system service.
prometheus:
	@command -v prometheus >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus)

## chromium: Debian's headless browser the job page test draws the page in
## (internal/jobpage, Mermaid rendered, screenshot); installed with apt-get
## when missing (CI: root, Debian).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)

## kube-score: install the pinned kube-score into .cache/bin (once).
kube-score: $(KUBE_SCORE)

$(KUBE_SCORE):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/zegl/kube-score/cmd/kube-score@$(KUBE_SCORE_VERSION)

## test: vet and run every test, the server-side dry-runs included, and
## the workflow and action.yml checks (actionlint and GitHub's parser) of
## the nested module hack/actiontest.
test: vet testenv test-assets bubblewrap prometheus chromium kube-score
	$(GO) test -count=1 ./...
	cd hack/actiontest && $(GO) vet ./... && $(GO) test -count=1 ./...

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

## fuzz: a short run of every fuzz target of every package (each
## FUZZTIME long), found with `go test -list` so none is forgotten.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz: $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg; \
	  done; \
	done

## golden: rewrite golden files after an intended change (read the diff!).
golden: testenv kube-score
	$(GO) test ./... -update

## crds: regenerate internal/crds/crds.json.gz, the CRDs kubewright embeds
## (Flux, Istio, the database and messaging operators, External Secrets,
## cert-manager, prometheus-operator, KEDA; descriptions dropped) from
## $(CRDS). Commit the result: a test fails while it is out of date.
.PHONY: crds install uninstall
crds:
	$(GO) run ./internal/crds/gen -src $(CRDS) -out internal/crds/crds.json.gz

## install: kubewright into $(PREFIX)/bin, and kube-apiserver and etcd
## (testenv builds them) into $(PREFIX)/lib/kubewright/assets, where an
## installed kubewright looks for them: `kubewright validate` then runs the
## dry-run with no flags. PREFIX defaults to ~/.local (no root; put
## ~/.local/bin on PATH); `sudo make install PREFIX=/usr/local` installs
## for every user. DESTDIR stages the tree for packaging.
PREFIX ?= $(HOME)/.local
INSTALL_BIN    = $(DESTDIR)$(PREFIX)/bin
INSTALL_ASSETS = $(DESTDIR)$(PREFIX)/lib/kubewright/assets
install: testenv
	install -d $(INSTALL_BIN) $(INSTALL_ASSETS)
	$(GO) build -ldflags "$(RELEASE_LDFLAGS)" -o $(INSTALL_BIN)/kubewright ./cmd/kubewright
	install -m 0755 $(ASSETS)/kube-apiserver $(ASSETS)/etcd $(INSTALL_ASSETS)/
	install -m 0644 $(ASSETS)/VERSIONS $(INSTALL_ASSETS)/
	@echo "installed $(INSTALL_BIN)/kubewright, and kube-apiserver and etcd in $(INSTALL_ASSETS)"

## uninstall: remove what install put under $(PREFIX).
uninstall:
	rm -f $(INSTALL_BIN)/kubewright
	rm -rf $(DESTDIR)$(PREFIX)/lib/kubewright

## release: kubewright for linux and darwin, amd64 and arm64, into dist/
## (kubewright-<version>-<os>-<arch>), stamped with the version, the commit
## and its date (the commit's, so a rebuild of one commit gives the same
## bytes), and dist/SHA256SUMS. `kubewright version` prints the stamps.
RELEASE_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE   ?= $(shell git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
RELEASE_LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

release:
	rm -rf dist
	mkdir -p dist
	@set -e; for p in $(RELEASE_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=dist/kubewright-$(VERSION)-$$os-$$arch; \
	  echo "release: $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(RELEASE_LDFLAGS)" -o $$out ./cmd/kubewright; \
	done
	cd dist && if command -v sha256sum >/dev/null; then sha256sum kubewright-*; else shasum -a 256 kubewright-*; fi > SHA256SUMS
	@cat dist/SHA256SUMS

clean:
	rm -rf bin
