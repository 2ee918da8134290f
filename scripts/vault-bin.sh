#!/usr/bin/env bash
# Prints the path of a Vault binary for the demo, the end-to-end tests and
# the bench. Order: $VAULT_BIN, a `vault` on PATH, else the one built from
# the Go module proxy (tools/vault, its own module so Vault's dependency
# tree never enters the plugin's go.mod), cached per version.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/^require github.com\/hashicorp\/vault v//p' "$root/tools/vault/go.mod")"

if [ -n "${VAULT_BIN:-}" ]; then
  [ -x "$VAULT_BIN" ] || { echo "VAULT_BIN=$VAULT_BIN is not executable" >&2; exit 1; }
  echo "$VAULT_BIN"; exit 0
fi
if command -v vault >/dev/null 2>&1; then
  command -v vault; exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/oauthvendor/vault-$version"
bin="$cache/vault"
if [ ! -x "$bin" ]; then
  echo ">> building Vault v$version from the Go module proxy into $cache" >&2
  echo ">> first time only: this takes about 10 minutes on 2 cores" >&2
  mkdir -p "$cache"
  start=$(date +%s)
  (cd "$root/tools/vault" && go build -o "$bin.tmp" github.com/hashicorp/vault) >&2
  mv "$bin.tmp" "$bin"
  echo ">> Vault built in $(( $(date +%s) - start ))s" >&2
fi
echo "$bin"
