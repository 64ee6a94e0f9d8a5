#!/usr/bin/env bash
# Containerize the bundled polyglot shop in a temporary git repository and
# show the plan and the files written. Usage: hack/demo.sh [path/to/kubewright]
set -euo pipefail
bin=${1:-bin/kubewright}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kubewright-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
repo="$work/polyglot-shop"
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
