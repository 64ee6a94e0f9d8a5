# kubewright — make targets. Everything a target needs, it builds or fetches
# itself: a fresh machine needs only Go (and git for `make demo`).

GO       ?= go
export GOTOOLCHAIN := local
export GOFLAGS     := -buildvcs=false
BIN      := bin/kubewright
FUZZTIME ?= 15s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test vet demo bench fuzz golden clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/kubewright

vet:
	$(GO) vet ./...

## test: vet and run every test (goldens, krusty builds, fixtures).
test: vet
	$(GO) test -count=1 ./...

## demo: containerize the bundled polyglot shop in a throwaway git repo.
demo: build
	./hack/demo.sh $(BIN)

## bench: speed and memory figures (analyze + author on the fixtures).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

## fuzz: a short run of every fuzz target.
fuzz:
	@for t in FuzzParseDotEnv FuzzScanEnv FuzzDotnetJSONC FuzzParseMSBuild FuzzPyScanEnvExtra FuzzSpringConfig FuzzMavenPOM; do \
	  $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./internal/analyze/ || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzParseRepo$$' -fuzztime $(FUZZTIME) ./internal/config/

## golden: rewrite golden files after an intended change (read the diff!).
golden:
	$(GO) test ./... -update

clean:
	rm -rf bin
