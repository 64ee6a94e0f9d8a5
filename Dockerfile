# kubewright's own image: `kubewright serve` (the GitHub App) and every CLI
# command, with what the ephemeral dry-run and the Go check need at run time.
#
#   docker build -t kubewright \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(git log -1 --format=%cI) .
#
# Base images are pinned by their multi-arch index digests (amd64 and arm64);
# bump tag and digest together.
ARG GO_IMAGE=golang:1.26.8-trixie@sha256:eae2aaa6add2936cbf350dd0d2628b363461542f0c4b3c0b558957e0f2997379
ARG RUNTIME_IMAGE=debian:trixie-slim@sha256:a99cfc517144bc59b1978475ec53b46ecabec7e43635402ee5b77cc54cd1b20a

# ---- build: the kubewright binary, cross-compiled on the build platform ----
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY internal/ internal/
COPY prompts/ prompts/
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/kubewright ./cmd/kubewright

# ---- kube-assets: kube-apiserver and etcd from source, as `make testenv` builds them ----
# hack/kube-assets pins both (nested modules with their own go.sum); build.sh
# checks the pins, stamps the versions and builds static binaries.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS kube-assets
WORKDIR /src
COPY hack/kube-assets/ hack/kube-assets/
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} bash hack/kube-assets/build.sh /out/kube-assets

# ---- toolchain: the Go toolchain of the target platform ----
# The Go check builds, vets and tests Go code a model wrote (inside
# bubblewrap); it needs a go command at run time.
FROM ${GO_IMAGE} AS toolchain

# ---- runtime ----
# Debian slim rather than distroless: the sandbox for generated code needs
# bubblewrap (bwrap), prlimit (util-linux) and cat from the system, and the
# Go check a Go toolchain; distroless has none of them. git is not needed:
# clones and pushes use go-git, and the Go check runs with GOVCS=*:off.
FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 kubewright \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/kubewright --no-create-home \
      --shell /usr/sbin/nologin kubewright \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/kubewright
COPY --from=toolchain /usr/local/go /usr/local/go
# Where `validate` and `serve` look for them: KUBEBUILDER_ASSETS.
COPY --from=kube-assets /out/kube-assets/ /usr/local/kubebuilder/bin/
COPY --from=build /out/kubewright /usr/local/bin/kubewright
ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/var/lib/kubewright \
    GOTOOLCHAIN=local \
    KUBEBUILDER_ASSETS=/usr/local/kubebuilder/bin \
    KUBEWRIGHT_DATA_DIR=/var/lib/kubewright \
    KUBEWRIGHT_METRICS_LISTEN=:9090
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="kubewright" \
      org.opencontainers.image.source="https://github.com/kubewright/kubewright" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
USER 10001:10001
WORKDIR /var/lib/kubewright
# 8080: the webhook, /healthz and /readyz; 9090: /metrics.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/kubewright"]
CMD ["serve"]
