#!/usr/bin/env bash
# The reproducibility test of `make release` (part of `make test`): two
# builds of every target must give byte-identical binaries, so the
# SHA256SUMS anyone rebuilds match the published ones.
#
# The second build is made honest where it is cheap: from a copy of the
# source in another directory (-trimpath must hide where it was built),
# and linux/amd64 with an empty GOCACHE (every package compiled again,
# none taken from the first build). The other targets reuse the compiled
# packages and only link again: a full cold compile of six targets twice
# would add minutes to CI for little more certainty.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
all="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"
cold="linux/amd64"

echo "== release build 1 of 2 (this checkout, the usual build cache)"
DIST="$work/first" TARGETS="$all" "$root/scripts/release.sh"

echo "== release build 2 of 2 (a copy of the source elsewhere; $cold with an empty build cache, minutes the first time)"
mkdir -p "$work/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$work/src"
GOCACHE="$work/gocache" DIST="$work/second" TARGETS="$cold" "$work/src/scripts/release.sh"
DIST="$work/second" TARGETS="$(tr ' ' '\n' <<<"$all" | grep -vx "$cold" | tr '\n' ' ')" "$work/src/scripts/release.sh"

if ! diff -u "$work/first/SHA256SUMS" "$work/second/SHA256SUMS"; then
  echo "release-check: FAIL: the two builds differ (above). Something made the build depend on where, when or how it ran:" >&2
  echo "  look for a new -ldflags value, a go:embed of a generated file, or an environment variable scripts/release.sh does not pin" >&2
  exit 1
fi
cmp "$work/first/REGISTER.txt" "$work/second/REGISTER.txt"
# What the binaries say about how they were built (go version -m reads
# the build settings Go embeds): no cgo, no build paths, no VCS state.
# (With -trimpath Go records no -ldflags; the version Vault reports is
# checked by the e2e suite, built with the same -X.)
version="$(tr -d '[:space:]' < "$root/VERSION")"
settings="$(go version -m "$work/first/vault-plugin-secrets-oauthvendor_${version}_linux_amd64")"
for want in "CGO_ENABLED=0" "-trimpath=true"; do
  grep -qF -- "$want" <<<"$settings" || { echo "release-check: FAIL: the linux/amd64 binary was not built with $want:" >&2; echo "$settings" >&2; exit 1; }
done
if grep -q "vcs\." <<<"$settings"; then
  echo "release-check: FAIL: the binary embeds VCS state (-buildvcs=false missing):" >&2; echo "$settings" >&2; exit 1
fi
echo "release-check: ok, both builds give:"
cat "$work/first/SHA256SUMS"
