#!/usr/bin/env bash
# The real-Vault bench (issue 6): builds the bench driver (bench/) and its
# minimal yardstick plugin (bench/minimalplugin), puts both plugins in one
# plugin_directory, and runs the driver, which starts the vendor simulator
# and one `vault server -dev`, measures, stops everything it started and
# writes BENCHMARKS.md. About 5 minutes; `make bench` builds the plugin and
# the simulator first.
#
# Environment:
#   BENCH_DURATION     measured time per throughput cell (default 5s)
#   BENCH_WARMUP       warmup per cell (default 1s)
#   BENCH_CONCURRENCY  readers per cell (default 1,16,64)
#   BENCH_REFRESH=0    skip the refresh phase (about 3.5 min, mostly
#                      overlapped with the other phases)
#   BENCH_SCALE        config counts of the scale phase (default
#                      1,100,1000,10000; 0 skips it): the mount grown to
#                      10 000 configs, last, about 3 minutes
#   BENCH_OUT          report path (default BENCHMARKS.md at the repo root)
#   VAULT_BIN          Vault binary (else scripts/vault-bin.sh)
#   BENCH_KEEP=1       keep the work dir (logs) even on success
# Extra arguments go to the driver (see `go run ./bench -h`).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

plugin=vault-plugin-secrets-oauthvendor
minimal=vault-plugin-secrets-benchminimal
version="${PLUGIN_VERSION:-$(cat "$root/VERSION")}"
src_dir="${PLUGIN_DIR:-$root/bin/plugins}"
simbin="$root/bin/vendorsim"
[ -x "$src_dir/$plugin" ] || die "$src_dir/$plugin missing: run make build (or make bench)"
[ -x "$simbin" ] || die "$simbin missing: run make vendorsim (or make bench)"

# The command to quote in the report: make sets MAKELEVEL for its children.
command="scripts/bench.sh"
[ -n "${MAKELEVEL:-}" ] && command="make bench"
for v in BENCH_DURATION BENCH_WARMUP BENCH_CONCURRENCY BENCH_REFRESH BENCH_SCALE; do
  [ -n "${!v:-}" ] && command="$v=${!v} $command"
done
[ $# -gt 0 ] && command="$command $*"

work="$(mktemp -d "${TMPDIR:-/tmp}/oauthvendor-bench.XXXXXX")"
driver_pid="" ok=false
teardown() {
  local rc=$?
  # The driver stops Vault and the simulator itself on SIGTERM; stop_pid
  # SIGKILLs it after 10 s, and its children get SIGTERM (Pdeathsig).
  [ -n "$driver_pid" ] && stop_pid "$driver_pid"
  if $ok && [ "${BENCH_KEEP:-}" != 1 ]; then
    rm -rf "$work"
  else
    echo "bench: logs kept in $work (vault.log, sim.log)" >&2
  fi
  return "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
step "Finding Vault"
vault_bin="$("$root/scripts/vault-bin.sh")"

# One plugin_directory for both plugins, private to this run: another
# build replacing bin/plugins mid-run would break the registered sha256.
step "Building the bench driver and the minimal plugin into $work"
mkdir -p "$work/plugins"
cp "$src_dir/$plugin" "$work/plugins/$plugin"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$work/plugins/$minimal" ./bench/minimalplugin)
(cd "$root" && go build -o "$work/bench" ./bench)

step "Running the bench: about 5 minutes, a line per phase and per measured cell"
"$work/bench" -vault-bin "$vault_bin" -plugin-dir "$work/plugins" -sim-bin "$simbin" \
  -work "$work" -plugin-version "$version" -command "$command" \
  -out "${BENCH_OUT:-$root/BENCHMARKS.md}" "$@" &
driver_pid=$!
# wait returns early on a trapped signal; the EXIT trap then stops the driver.
wait "$driver_pid"
driver_pid=""
ok=true
step "Done in $(( $(date +%s) - start ))s"
