#!/usr/bin/env bash
# Build kube-apiserver and etcd from source (through the Go module proxy) for
# envtest: KUBEBUILDER_ASSETS=<out dir>. See README.md beside this file.
#
#   hack/kube-assets/build.sh [OUT_DIR]     # default: <repo>/.cache/kube-assets
#
# The build is skipped when OUT_DIR/VERSIONS matches the pinned versions and
# both binaries are there; FORCE=1 rebuilds anyway. Needs only Go and the
# module proxy; the versions come from apiserver/go.mod and etcd/go.mod.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/.cache/kube-assets}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

GO="${GO:-go}"
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
# Builds use the committed go.mod/go.sum as they are (-mod=readonly): a
# missing or wrong checksum fails the build instead of being rewritten.
export GOFLAGS="-mod=readonly -buildvcs=false"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
t0="$(now)"

modver() { (cd "$here/$1" && "$GO" list -m -f '{{.Version}}' "$2"); }
kube_ver="$(modver apiserver k8s.io/kubernetes)"   # e.g. v1.34.4
etcd_ver="$(modver etcd go.etcd.io/etcd/server/v3)" # e.g. v3.5.16

# Every k8s.io staging module must be replaced by v0.<minor>.<patch> of the
# kubernetes version; a half-bumped go.mod would build a mixed apiserver.
staging_ver="v0.${kube_ver#v1.}"
bad="$(awk -v want="$staging_ver" '
  $2 == "=>" && $1 ~ /^k8s\.io\// && $4 != want { print $1 " => " $3 " " $4 }
' "$here/apiserver/go.mod")"
if [[ -n "$bad" ]]; then
  echo "kube-assets: apiserver/go.mod: staging replaces not at $staging_ver (k8s.io/kubernetes $kube_ver):" >&2
  echo "$bad" >&2
  exit 1
fi

# Release dates from the module proxy's metadata (cached in the module cache
# after the first download), so buildDate is fixed and the build reproducible.
modtime() { (cd "$here/$1" && "$GO" list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$2"); }

# Version stamps for kube-apiserver and kubectl, as kubernetes sets them.
kube_minor="${kube_ver#v1.}"; kube_minor="${kube_minor%%.*}"
kube_date="$(modtime apiserver k8s.io/kubernetes)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_ver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
  [[ -n "$kube_date" ]] && ldflags+=" -X $pkg.buildDate=$kube_date"
done

# kubectl (optional, WITH_KUBECTL=1): only `make bench` uses it, to compare
# kubewright's dry-run throughput with kubectl's on the same server.
if [[ "${WITH_KUBECTL:-0}" == 1 ]] && ! "$out/kubectl" version --client 2>/dev/null | grep -q "$kube_ver"; then
  t="$(now)"
  (cd "$here/apiserver" && "$GO" build -trimpath -ldflags "$ldflags" -o "$out/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl)
  mv -f "$out/kubectl.tmp" "$out/kubectl"
  echo "kube-assets: kubectl $kube_ver built in $(since "$t")"
fi

stamp="kube-apiserver $kube_ver etcd $etcd_ver"
if [[ "${FORCE:-0}" != 1 && -x "$out/kube-apiserver" && -x "$out/etcd" \
      && -f "$out/VERSIONS" && "$(cat "$out/VERSIONS")" == "$stamp" ]]; then
  echo "kube-assets: up to date in $out ($stamp), $(since "$t0")"
  exit 0
fi
rm -f "$out/VERSIONS"

echo "kube-assets: building $stamp into $out with $("$GO" env GOVERSION)"

# kube-apiserver: same tags and version variables as kubernetes'
# hack/lib/golang.sh uses for its static, non-debug release builds.
t="$(now)"
(cd "$here/apiserver" && "$GO" build -trimpath -tags selinux,notest,grpcnotrace \
  -ldflags "$ldflags" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
mv -f "$out/kube-apiserver.tmp" "$out/kube-apiserver"
echo "kube-assets: kube-apiserver $kube_ver built in $(since "$t")"

# etcd: in v3.5 the module go.etcd.io/etcd/server/v3 is the etcd main package.
t="$(now)"
(cd "$here/etcd" && "$GO" build -trimpath -ldflags "-s -w" \
  -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
mv -f "$out/etcd.tmp" "$out/etcd"
echo "kube-assets: etcd $etcd_ver built in $(since "$t")"

echo "$stamp" > "$out/VERSIONS"
echo "kube-assets: done in $(since "$t0"): $out/{kube-apiserver,etcd}"
