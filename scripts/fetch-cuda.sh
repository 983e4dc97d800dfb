#!/usr/bin/env bash
# Fetches what `go build -tags cuda` needs on a machine without the CUDA
# toolkit or a GPU (never committed):
#
#   var/cuda/include/cuda.h, nvrtc.h      CUDA 11.8 driver API and NVRTC headers;
#                                         they include only libc headers
#   var/cuda/lib/libcuda.so               the driver's link stub (SONAME libcuda.so.1):
#                                         links, never loads (the loader looks for
#                                         libcuda.so.1, which only the driver ships)
#   var/cuda/lib/libnvrtc.so.11.2         the real NVRTC 11.8 (54 MB), and
#   var/cuda/lib/libnvrtc-builtins.so.11.8  the builtins it dlopens: the GPU
#                                         machine needs both at run time
#                                         (LD_LIBRARY_PATH=lib/, docs/CUDA.md)
#   var/cuda/lib/libnvrtc.so -> libnvrtc.so.11.2   the name the linker finds
#
# The .debs come from Debian bookworm non-free through a private apt
# configuration under var/cache/cuda/apt (the system's sources are not
# touched), pinned by version and sha256, cached in var/cache/cuda/ (792 MB,
# almost all nvidia-cuda-dev). Every extracted file is checked against its own
# sha256. Idempotent: when the outputs are present with the pinned sha256s,
# nothing is downloaded (apt is not even called).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "fetch-cuda: $*" >&2; exit 1; }

# --- pins --------------------------------------------------------------------
VERSION='11.8.89~11.8.0-5~deb12u1'
DEBS=( # package              sha256 of the .deb
  nvidia-cuda-dev       dc63bf2fb94aaaf903e9bad0c35f631266077d016b34329ec7af456bd7fed5ec
  libnvrtc11.2          051b70a3d8737eae470b4158e234cf112c803f631b2c77ae60a24a1146309c22
  libnvrtc-builtins11.8 e446e112c304b86a35925bea6a3991a866a29736fac261adb218ec29efb49bb8
)
FILES=( # package  path in the package  output under var/cuda  sha256
  nvidia-cuda-dev       usr/include/cuda.h                                include/cuda.h                  55639151a971a10c28d627a98dcd406c6320a5b4e5b67dd9d229056ed5c8e045
  nvidia-cuda-dev       usr/include/nvrtc.h                               include/nvrtc.h                 db31915b517d8df60bc9ba9dc0ce51c49ec464fe5a67372004672caa56dbbcab
  nvidia-cuda-dev       usr/lib/x86_64-linux-gnu/stubs/libcuda.so         lib/libcuda.so                  94eb9349dc7b0c8200fa5717d5dde46465a066fd4586d0ae219ffc34251057a0
  libnvrtc11.2          usr/lib/x86_64-linux-gnu/libnvrtc.so.11.8.89      lib/libnvrtc.so.11.2            672ee68399b0aa98cf52d056302487da8cce72571034bb470c4cdabb406ca3e2
  libnvrtc-builtins11.8 usr/lib/x86_64-linux-gnu/libnvrtc-builtins.so.11.8.89 lib/libnvrtc-builtins.so.11.8 2dc4bf687034e89e117ef82fb300291e4833319a2d47722005d40eeafbafdaaf
)
SOURCE='deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm non-free'
# -----------------------------------------------------------------------------

out=var/cuda
cache=var/cache/cuda
sha() { sha256sum "$1" | cut -d' ' -f1; }
has() { [[ -f $1 && $(sha "$1") == "$2" ]]; }

[[ $(uname -m) == x86_64 ]] || die "pins are for amd64; this is $(uname -m)"

all_ok() {
  local i
  for ((i = 0; i < ${#FILES[@]}; i += 4)); do
    has "$out/${FILES[i+2]}" "${FILES[i+3]}" || return 1
  done
  [[ -L $out/lib/libnvrtc.so && $(readlink "$out/lib/libnvrtc.so") == libnvrtc.so.11.2 ]]
}
if all_ok; then
  exit 0
fi

# deb PACKAGE: sets DEB to the cached .deb's path, downloading it if needed
# (not a $(subshell), so apt-get update runs once per invocation).
deb() {
  local pkg=$1 want="" i f
  for ((i = 0; i < ${#DEBS[@]}; i += 2)); do
    [[ ${DEBS[i]} == "$pkg" ]] && want=${DEBS[i+1]}
  done
  [[ -n $want ]] || die "no pin for package $pkg"
  # apt names files with the epoch-less version, ~ kept as is.
  f="$cache/${pkg}_${VERSION}_amd64.deb"
  if ! has "$f" "$want"; then
    apt_update
    echo "fetch-cuda: downloading $pkg=$VERSION" >&2
    (cd "$cache" && apt-get "${APT[@]}" -q download "$pkg=$VERSION" >&2) ||
      die "apt-get download $pkg=$VERSION failed"
    [[ -f $f ]] || die "apt-get download did not produce $f"
    local got; got=$(sha "$f")
    [[ $got == "$want" ]] || { rm -f "$f"; die "sha256 mismatch for $f
  pinned: $want
  found:  $got"; }
  fi
  DEB=$f
}

APT=()
apt_update() {
  ((${#APT[@]})) && return
  command -v apt-get >/dev/null || die "apt-get is needed (Debian/Ubuntu build machine)"
  local apt=$PWD/$cache/apt
  mkdir -p "$apt/lists/partial" "$apt/archives/partial"
  echo "$SOURCE" >"$apt/sources.list"
  # Downloads land in a directory the _apt sandbox user cannot write to.
  APT=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o "APT::Sandbox::User=$(id -un)")
  echo "fetch-cuda: apt-get update (private list: bookworm non-free)" >&2
  apt-get "${APT[@]}" -q update >&2 || die "apt-get update failed"
}

mkdir -p "$cache" "$out/include" "$out/lib"
tmp=$(mktemp -d "$cache/extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# One tar pass per package: nvidia-cuda-dev is 774 MB of xz, about a minute.
for ((p = 0; p < ${#DEBS[@]}; p += 2)); do
  pkg=${DEBS[p]} paths=() need=0
  for ((i = 0; i < ${#FILES[@]}; i += 4)); do
    [[ ${FILES[i]} == "$pkg" ]] || continue
    paths+=("./${FILES[i+1]}")
    has "$out/${FILES[i+2]}" "${FILES[i+3]}" || need=1
  done
  ((need)) || continue
  deb "$pkg"; f=$DEB
  echo "fetch-cuda: extracting ${#paths[@]} files from $(basename "$f")" >&2
  dpkg-deb --fsys-tarfile "$f" | tar -x -C "$tmp" "${paths[@]}" || die "extracting from $f failed"
  for ((i = 0; i < ${#FILES[@]}; i += 4)); do
    [[ ${FILES[i]} == "$pkg" ]] || continue
    src="$tmp/${FILES[i+1]}" dest="$out/${FILES[i+2]}" want=${FILES[i+3]}
    got=$(sha "$src")
    [[ $got == "$want" ]] || die "sha256 mismatch for ${FILES[i+1]} in $pkg
  pinned: $want
  found:  $got"
    cp "$src" "$dest.tmp"
    mv -f "$dest.tmp" "$dest"
    echo "fetch-cuda: $dest" >&2
  done
done
ln -sfn libnvrtc.so.11.2 "$out/lib/libnvrtc.so"
all_ok || die "outputs do not match the pins after extraction"
echo "fetch-cuda: ready: CGO_CFLAGS=-I$PWD/$out/include CGO_LDFLAGS=-L$PWD/$out/lib" >&2
