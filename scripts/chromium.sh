#!/usr/bin/env bash
# Prints the path of the Chromium the end-to-end suite's consent tests drive
# headless (through playwright-core, e2e/oidc/browser.mjs): $CHROMIUM_BIN,
# else Debian's chromium package, installed with apt-get (package chromium
# alone, no recommends) when /usr/bin/chromium is missing. Quick and silent
# when it is there. Never downloads a browser build of its own: a test
# tool's browser download fails on a machine that reaches only package
# registries. Progress goes to stderr; stdout is the path alone.
set -euo pipefail
bin=/usr/bin/chromium

if [ -n "${CHROMIUM_BIN:-}" ]; then
  [ -x "$CHROMIUM_BIN" ] || { echo "CHROMIUM_BIN=$CHROMIUM_BIN is not executable; unset it to use Debian's chromium" >&2; exit 1; }
  echo "$CHROMIUM_BIN"; exit 0
fi

if [ ! -x "$bin" ]; then
  command -v apt-get >/dev/null 2>&1 ||
    { echo "chromium.sh: apt-get not found; on a non-Debian machine set CHROMIUM_BIN to a Chromium or Chrome binary" >&2; exit 1; }
  if [ "$(id -u)" != 0 ]; then
    echo "chromium.sh: $bin is missing and installing Debian's chromium needs root (sudo apt-get install chromium), or set CHROMIUM_BIN" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Another apt-get (a parallel CI step) holds the lock for a while: wait.
  install_chromium() { apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 chromium >&2; }
  echo ">> installing Debian's chromium (first time only)" >&2
  start=$(date +%s)
  # A new machine's package lists may be empty or stale: update them once
  # and try again.
  if ! install_chromium; then
    echo ">> apt-get install failed; running apt-get update and trying again" >&2
    apt-get update -qq >&2 || { echo "chromium.sh: apt-get update failed" >&2; exit 1; }
    install_chromium || { echo "chromium.sh: apt-get install chromium failed (apt-cache policy chromium shows what the sources hold)" >&2; exit 1; }
  fi
  [ -x "$bin" ] || { echo "chromium.sh: the chromium package installed no $bin" >&2; exit 1; }
  echo ">> $("$bin" --version 2>/dev/null | head -n1) installed in $(( $(date +%s) - start ))s" >&2
fi
echo "$bin"
