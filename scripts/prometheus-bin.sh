#!/usr/bin/env bash
# Prints the path of a Prometheus server binary for the end-to-end tests:
# $PROMETHEUS_BIN, else Debian's package at a pinned version, unpacked (not
# installed: no service, no user, no postinst) into the user's cache on
# first use. Needs apt-get and dpkg-deb (Debian, Ubuntu).
set -euo pipefail
version="2.42.0+ds-5+b6"

if [ -n "${PROMETHEUS_BIN:-}" ]; then
  [ -x "$PROMETHEUS_BIN" ] || { echo "PROMETHEUS_BIN=$PROMETHEUS_BIN is not executable; unset it to use Debian's prometheus $version" >&2; exit 1; }
  echo "$PROMETHEUS_BIN"; exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/oauthvendor/prometheus-$version"
bin="$cache/usr/bin/prometheus"
if [ ! -x "$bin" ]; then
  for tool in apt-get dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || { echo "prometheus-bin.sh: $tool not found; on a non-Debian machine set PROMETHEUS_BIN to a Prometheus 2.x server binary" >&2; exit 1; }
  done
  echo ">> fetching Debian's prometheus $version into $cache (first time only)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # A new machine's package lists may not know the version yet: update
  # them once and try again.
  if ! (cd "$work" && apt-get download "prometheus=$version") >&2 2>"$work/err"; then
    echo ">> apt-get download failed ($(tail -n1 "$work/err")); running apt-get update and trying again" >&2
    apt-get update -qq >&2 || { echo "prometheus-bin.sh: apt-get update failed (run it as root, or set PROMETHEUS_BIN)" >&2; exit 1; }
    (cd "$work" && apt-get download "prometheus=$version") >&2 || {
      echo "prometheus-bin.sh: prometheus=$version is not in this machine's apt sources (apt-cache policy prometheus shows what is); set PROMETHEUS_BIN or change the pin in $0" >&2; exit 1; }
  fi
  rm -rf "$cache.tmp"
  dpkg-deb -x "$work"/prometheus_*.deb "$cache.tmp"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
  echo ">> prometheus unpacked: $("$bin" --version 2>&1 | head -n1)" >&2
fi
echo "$bin"
