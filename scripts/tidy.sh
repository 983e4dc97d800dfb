#!/usr/bin/env bash
# Tidies every module of the workspace (go.work). `go mod tidy` ignores
# go.work, so while it runs the repository's SDK modules are replaced by
# their directories; afterwards the replaces are dropped and every module
# requires them at the version in sdk/VERSION, as a third party would. No
# lsie module gets a go.sum line: their hashes change with every edit, and
# inside the workspace none is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
version=v$(cat sdk/VERSION)
libs=(shm shm/cuda sdk sdk/cudaframe)
mods=(shm shm/cuda sdk sdk/cudaframe . examples/brightness examples/gpustat examples/minimal)
# Requirements take the host's versions where they share them, so that
# tidying never upgrades a dependency behind the host's back: a module is
# tidied, aligned to those versions, then tidied again.
pins=$(go mod edit -json go.mod | python3 -c 'import json,sys
for r in json.load(sys.stdin)["Require"]:
    if not r["Path"].startswith("github.com/lsie-mlf/lsie"): print(r["Path"]+"@"+r["Version"])')
for m in "${mods[@]}"; do
  (
    cd "$m"
    tidyflags=
    case $m in shm/cuda|sdk/cudaframe|.|examples/gpustat) tidyflags=-e ;; esac
    for l in "${libs[@]}"; do
      [ "$l" = "$m" ] && continue
      rel=$(realpath -m --relative-to=. "$OLDPWD/$l")
      case $rel in ../*) ;; *) rel=./$rel ;; esac
      go mod edit -replace="github.com/lsie-mlf/lsie/$l=$rel"
    done
    GOWORK=off GOFLAGS=-mod=mod go mod tidy $tidyflags
    if [ "$m" != . ]; then
      for r in $pins; do
        if grep -qE "[[:space:]]${r%@*} v" go.mod; then go mod edit -require="$r"; fi
      done
      GOWORK=off GOFLAGS=-mod=mod go mod tidy $tidyflags
    fi
    for l in "${libs[@]}"; do
      [ "$l" = "$m" ] && continue
      go mod edit -dropreplace="github.com/lsie-mlf/lsie/$l"
      if grep -q "github.com/lsie-mlf/lsie/$l " go.mod; then
        go mod edit -require="github.com/lsie-mlf/lsie/$l@$version"
      fi
    done
    sed -i '/github.com\/lsie-mlf\/lsie\//d' go.sum 2>/dev/null || true
    # gorgonia.org/cu (go 1.13, so its whole tree counts) reaches the 2020
    # monolithic google.golang.org/genproto through gorgonia and arrow; its
    # googleapis/rpc packages collide with grpc's. Tidy notices (hence -e);
    # a build does not load a module whose zip has no go.sum line, so none
    # is kept. docs/PLUGIN_SDK.md "CUDA plugins" says the same to plugin authors.
    sed -i '/^google.golang.org\/genproto v[^ ]* h1:/d' go.sum 2>/dev/null || true
  )
done
# A workspace module is a root of the module graph, not a stand-in for every
# version of it: the version the modules require is replaced by its
# directory here, or the go command would fetch its go.mod.
for l in "${libs[@]}"; do
  go work edit -dropreplace="github.com/lsie-mlf/lsie/$l"
  go work edit -replace="github.com/lsie-mlf/lsie/$l@$version=./$l"
done
