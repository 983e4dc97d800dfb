#!/usr/bin/env bash
# Proves a third party can build a plugin against the SDK with no replace
# directive: copies examples/brightness out of the repository (so no go.work
# applies), then builds, vets and tests it with an empty module cache and
# var/goproxy (make sdk-dist) as the only module source. Fails when the copy
# needs anything the directory lacks, when its go.mod does not require
# github.com/lsie-mlf/lsie/sdk at sdk/VERSION, or when its module graph
# names gorgonia.org/cu (a CPU plugin never sees CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
version=v$(cat sdk/VERSION)
proxy=$PWD/var/goproxy
[ -f "$proxy/github.com/lsie-mlf/lsie/sdk/@v/$version.zip" ] || { echo "sdk-proxy-check: no $version in $proxy (run make sdk-dist)"; exit 1; }
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
cp -r examples/brightness "$tmp/brightness"
cd "$tmp/brightness"
grep -q "^require github.com/lsie-mlf/lsie/sdk $version\$" go.mod || { echo "sdk-proxy-check: examples/brightness/go.mod does not require github.com/lsie-mlf/lsie/sdk $version"; exit 1; }
if grep -q '^replace\|^\s*replace' go.mod; then echo "sdk-proxy-check: go.mod has a replace directive"; exit 1; fi
export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY="file://$proxy" GONOSUMDB=github.com/lsie-mlf/lsie \
  GOMODCACHE="$tmp/modcache"
go build -o "$tmp/brightness.bin" .
go vet ./...
go test -count=1 ./...
if grep -q gorgonia go.sum || [ -e "$GOMODCACHE/cache/download/gorgonia.org" ]; then
  echo "sdk-proxy-check: a CPU plugin's build fetched gorgonia.org/cu"; exit 1
fi
echo "sdk-proxy-check: examples/brightness built and tested from $proxy alone ($(go list -m github.com/lsie-mlf/lsie/sdk))"
