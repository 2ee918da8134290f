#!/usr/bin/env bash
# Builds the release binaries of the plugin into $DIST (default dist/):
# one per $TARGETS entry (default linux, darwin, windows x amd64, arm64),
# then SHA256SUMS and REGISTER.txt (the `vault plugin register` line of
# each) over every binary in $DIST. `make release` runs it on an empty
# dist/; scripts/release-check.sh runs it twice and compares.
#
# Reproducible: the same source and Go toolchain give the same bytes
# wherever and whenever they are built: no cgo, -trimpath (no build
# paths), -buildvcs=false (no commit or dirty flag: a clean clone and a
# working tree agree), the architecture levels pinned (a GOAMD64=v3 in
# the environment would change the code), the version from VERSION.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
plugin=vault-plugin-secrets-oauthvendor
module="$(sed -n 's/^module //p' go.mod)"
version="$(tr -d '[:space:]' < VERSION)"
[[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || {
  echo "release: VERSION holds \"$version\"; it must be a semver with a leading v (e.g. v0.1.0), as vault plugin register -version wants" >&2; exit 1; }
dist="${DIST:-$root/dist}"
targets="${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}"

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

mkdir -p "$dist"
n=$(wc -w <<<"$targets"); i=0
echo ">> building $plugin $version for $n target(s) into $dist with $(go env GOVERSION) (GOCACHE=$(go env GOCACHE))"
for target in $targets; do
  i=$((i + 1))
  os="${target%/*}" arch="${target#*/}"
  out="${plugin}_${version}_${os}_${arch}"
  [ "$os" = windows ] && out="$out.exe"
  start=$(date +%s)
  printf '>> [%d/%d] %-14s ' "$i" "$n" "$target"
  # -ldflags: the Makefile's LDFLAGS (the version Vault reports).
  if ! CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" GOAMD64=v1 GOARM64=v8.0 \
      go build -trimpath -buildvcs=false -ldflags "-X '$module.Version=$version'" \
      -o "$dist/$out" "./cmd/$plugin"; then
    echo "FAILED" >&2
    echo "release: go build for $target failed (output above); fix the build, then run make release again" >&2
    exit 1
  fi
  echo "$out ($(( $(date +%s) - start ))s)"
done

# Checksums and register lines over every binary in dist (sorted), so that
# builds of some targets at a time add up to the same files.
(
  cd "$dist"
  shopt -s nullglob
  bins=("${plugin}_"*)
  sha256 "${bins[@]}" > SHA256SUMS
  {
    echo "# Copy the binary for the Vault server's platform into its plugin_directory, then:"
    while read -r sum file; do
      echo "vault plugin register -sha256=$sum -command=$file -version=$version secret $plugin"
    done < SHA256SUMS
  } > REGISTER.txt
)
echo ">> $dist/SHA256SUMS:"
cat "$dist/SHA256SUMS"
echo ">> $dist/REGISTER.txt:"
cat "$dist/REGISTER.txt"
