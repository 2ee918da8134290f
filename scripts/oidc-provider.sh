#!/usr/bin/env bash
# Prints the directory holding panva's oidc-provider (node_modules/ inside),
# the OpenID Certified authorization server the end-to-end suite runs as a
# vendor (e2e/oidc/server.mjs), and playwright-core, which drives Debian's
# chromium through its consent pages (e2e/oidc/browser.mjs; it never
# downloads a browser). Order: $OIDC_PROVIDER_DIR, else the one installed
# with `npm ci` from the committed e2e/oidc/package-lock.json (every
# transitive version pinned, integrity-checked), cached per version and lock.
# Progress goes to stderr; stdout is the path alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/e2e/oidc"

if [ -n "${OIDC_PROVIDER_DIR:-}" ]; then
  for pkg in oidc-provider playwright-core; do
    [ -f "$OIDC_PROVIDER_DIR/node_modules/$pkg/package.json" ] ||
      { echo "OIDC_PROVIDER_DIR=$OIDC_PROVIDER_DIR has no node_modules/$pkg (unset it to install e2e/oidc's lock)" >&2; exit 1; }
  done
  echo "$OIDC_PROVIDER_DIR"; exit 0
fi

command -v node >/dev/null 2>&1 || { echo "oidc-provider needs Node.js (node not on PATH)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "oidc-provider needs npm (not on PATH)" >&2; exit 1; }

version="$(sed -n 's/^ *"oidc-provider": *"\([^"]*\)".*/\1/p' "$src/package.json" | head -n1)"
[ -n "$version" ] || { echo "no oidc-provider version pinned in $src/package.json" >&2; exit 1; }
# The lock's digest names the cache and marks a finished install: a changed
# lock (a transitive bump, a new package) installs beside the old one, so
# checkouts of different locks on one machine do not replace each other's
# tree under a running test, and an interrupted npm ci reinstalls instead of
# using a partial tree.
lock_sum="$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/oauthvendor/oidc-provider-$version-${lock_sum:0:12}"
stamp="$cache/.installed"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo ">> installing oidc-provider $version (npm ci, Node $(node --version)) into $cache" >&2
  start=$(date +%s)
  tmp="$cache.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  cp "$src/package.json" "$src/package-lock.json" "$tmp/"
  # --ignore-scripts: nothing in the tree needs an install script, and none
  # should run. oidc-provider 9 asks for a newer Node in "engines" and says so
  # (EBADENGINE); it runs on Node 20 all the same.
  (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  echo "$lock_sum" >"$tmp/.installed"
  rm -rf "$cache"
  mv "$tmp" "$cache"
  trap - EXIT
  echo ">> oidc-provider installed in $(( $(date +%s) - start ))s" >&2
fi
echo "$cache"
