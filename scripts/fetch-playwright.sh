#!/usr/bin/env bash
# Fetches playwright-core, which drives Chromium in the web console's browser
# test (host/console/e2e/console.mjs, run by cmd/lsie-host's
# TestConsoleInChromium), from its pinned npm tarball:
#
#   var/node/node_modules/playwright-core   playwright-core 1.65.1 (no
#                                           dependencies; node >= 20)
#
# The browser itself is Debian's chromium (/usr/bin/chromium; scripts/setup.sh
# installs it): playwright-core's own browser download is never used, and no
# install script runs (scripts/fetch-npm.sh: npm pack, sha256-checked tarball
# cached in var/cache/npm/, extracted). Idempotent: with the package present
# from this exact tarball, npm is not called.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "fetch-playwright: $*" >&2; exit 1; }
source scripts/lib.sh

# --- pins --------------------------------------------------------------------
PLAYWRIGHT_SPEC=playwright-core@1.65.1
PLAYWRIGHT_TGZ_SHA256=6f5a60be62a4fddfbe7d10c448d8fbd54547da3358f2f8a04211440471ee863e
# -----------------------------------------------------------------------------

dest=var/node/node_modules/playwright-core
stamp_line="$PLAYWRIGHT_SPEC $PLAYWRIGHT_TGZ_SHA256"
if [[ -f $dest/.fetch-npm && $(<"$dest/.fetch-npm") == "$stamp_line" ]]; then
  exit 0
fi
# fetch-npm.sh replaces a copy from an older pin (its stamp differs) and
# refuses to touch a folder it did not make.
bash scripts/fetch-npm.sh "$PLAYWRIGHT_SPEC" "$PLAYWRIGHT_TGZ_SHA256" "$dest"
[[ -f $dest/index.mjs ]] || die "$dest/index.mjs is missing (pins out of step?)"
echo "fetch-playwright: $dest ($PLAYWRIGHT_SPEC)"
