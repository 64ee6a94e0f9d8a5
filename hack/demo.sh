#!/usr/bin/env bash
# Containerize the bundled polyglot shop in a git repository you keep, then
# validate what was written. Usage: hack/demo.sh [path/to/kubewright]
# DEMO_DIR (default ./demo/polyglot-shop) is where the repository goes; it
# is replaced on every run. The dry-run runs when kube-apiserver and etcd
# are in KUBEBUILDER_ASSETS (`make demo` builds them), and is skipped
# otherwise.
set -euo pipefail
bin=${1:-bin/kubewright}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")/.." && pwd)
repo=${DEMO_DIR:-$here/demo/polyglot-shop}
case "$repo" in /*) ;; *) repo=$PWD/$repo ;; esac
rm -rf "$repo"
mkdir -p "$(dirname "$repo")"
cp -R "$here/testdata/repos/polyglot-shop" "$repo"
cd "$repo"
git init -q -b main
git add -A
git -c user.name=demo -c user.email=demo@example.com commit -qm "shop before kubewright"

echo "\$ kubewright containerize polyglot-shop --registry ghcr.io/acme --ingress-host shop.example.com"
"$bin" containerize . --registry ghcr.io/acme --ingress-host shop.example.com
git add -A
echo
echo "Tree of the $(git diff --cached --name-only | wc -l | tr -d ' ') files written (git diff --cached):"
git diff --cached --name-only | awk -F/ '{
  path=""; for (i=1;i<NF;i++) { path=path $i "/"; if (!(path in seen)) { seen[path]=1; printf "%*s%s/\n", (i-1)*2, "", $i } }
  printf "%*s%s\n", (NF-1)*2, "", $NF }'

echo
# No --crds: kubewright carries the CRDs of everything it writes.
validate=("$bin" validate .)
shown="kubewright validate polyglot-shop"
echo "\$ $shown"
status=0
"${validate[@]}" || status=$?

echo
case $status in
0) echo "The shop is containerized and validated, in $repo." ;;
1) echo "Validation found the problems above, in $repo." ;;
*) echo "Validation did not run (exit $status), in $repo." ;;
esac
cat <<NEXT
Next:
  cd $repo && git diff --cached --stat       # read what kubewright wrote
  $bin validate --format sarif $repo > kubewright.sarif   # findings for GitHub code scanning
  $bin containerize --dry-run --env staging $repo         # what a staging overlay would add
NEXT
exit "$status"
