#!/usr/bin/env bash
# check-cuda-nodriver.sh BINARY: a binary built with -tags cuda, run where
# there is no NVIDIA driver (here: the toolkit's link stub stands in for
# libcuda.so.1), must exit 1 with "lsie: no CUDA driver", not crash or hang.
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/.." && pwd)
stub=$root/var/cuda/stub
mkdir -p "$stub"
ln -sf ../lib/libcuda.so "$stub/libcuda.so.1"
set +e
out=$(LD_LIBRARY_PATH=$stub:$root/var/cuda/lib timeout 20 "$bin" --version 2>&1)
rc=$?
set -e
case "$out" in
*"lsie: no CUDA driver: cuInit: CUDA_ERROR_STUB_LIBRARY"*)
	if [ "$rc" = 1 ]; then
		echo "cuda build without a driver exits 1: $out"
		exit 0
	fi ;;
esac
echo "cuda build without a driver: want exit 1 and 'lsie: no CUDA driver: cuInit: CUDA_ERROR_STUB_LIBRARY', got exit $rc: $out" >&2
exit 1
