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
# build_vault compiles Vault with a progress line every 30 s: the packages
# compiled so far (go build -v names each one) of the packages Vault needs.
build_vault() {
  local log="$cache/build.log" pid total done_ elapsed next=30
  echo ">> building Vault v$version from the Go module proxy into $cache" >&2
  echo ">> first time only: about 10 minutes on 2 cores (set VAULT_BIN to use a Vault you have)" >&2
  mkdir -p "$cache"
  start=$(date +%s)
  echo ">> resolving Vault's packages (downloads its modules the first time)" >&2
  if ! total=$(cd "$root/tools/vault" && go list -deps github.com/hashicorp/vault 2>"$log" | wc -l); then
    total=0
  fi
  if [ "$total" -eq 0 ]; then
    tail -n 20 "$log" >&2
    echo "vault-bin.sh: could not list Vault's packages (above; full log $log): check that the Go module proxy is reachable (GOPROXY=$(go env GOPROXY)), then run again" >&2
    exit 1
  fi
  (cd "$root/tools/vault" && exec go build -v -o "$bin.tmp" github.com/hashicorp/vault) 2>"$log" &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true' EXIT
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    elapsed=$(( $(date +%s) - start ))
    if [ "$elapsed" -ge "$next" ]; then
      done_=$(wc -l < "$log")
      printf '>> %dm%02ds: %d of at most %d packages compiled\n' $((elapsed / 60)) $((elapsed % 60)) "$done_" "$total" >&2
      next=$((elapsed + 30))
    fi
  done
  if ! wait "$pid"; then
    tail -n 30 "$log" >&2
    echo "vault-bin.sh: building Vault failed (above; full log $log). A killed or interrupted build (out of memory, Ctrl-C) can be run again as is; a compile error usually means a Go older than tools/vault/go.mod asks for ($(go env GOVERSION) here)" >&2
    exit 1
  fi
  trap - EXIT
  mv "$bin.tmp" "$bin"
  echo ">> Vault built in $(( $(date +%s) - start ))s" >&2
}

if [ ! -x "$bin" ]; then
  build_vault
fi
echo "$bin"
