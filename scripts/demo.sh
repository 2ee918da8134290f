#!/usr/bin/env bash
# The plugin in a real Vault, end to end, on loopback:
#   vendor simulator + `vault server -dev` with a plugin_directory,
#   the plugin registered and enabled the production way (sha256 + version),
#   five vendor connections configured against the simulator,
#   `vault read oauthvendor/creds/alphasense`, and the simulator's protected
#   API accepting that token.
# Usage: scripts/demo.sh          run, show, tear everything down
#        scripts/demo.sh --keep   leave Vault and the simulator running (make dev)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

keep=false
case "${1:-}" in
  "") ;;
  --keep) keep=true ;;
  *) die "usage: $0 [--keep]" ;;
esac

plugin=vault-plugin-secrets-oauthvendor
version="${PLUGIN_VERSION:-$(cat "$root/VERSION")}"

# make exports PLUGIN_DIR after building; run by hand, build here so the
# demo never shows a stale binary.
if [ -z "${PLUGIN_DIR:-}" ]; then
  step "Building the plugin and the vendor simulator"
  make -C "$root" --no-print-directory build vendorsim >/dev/null
  PLUGIN_DIR="$root/bin/plugins"
fi
# plugin_directory must be absolute.
PLUGIN_DIR="$(cd "$PLUGIN_DIR" && pwd)"
[ -x "$PLUGIN_DIR/$plugin" ] || die "$PLUGIN_DIR/$plugin missing: run make build"
simbin="$root/bin/vendorsim"
[ -x "$simbin" ] || die "$simbin missing: run make vendorsim"

step "Finding Vault (the first run builds Vault from source: about 10 minutes on 2 cores; later runs reuse the cache)"
vault_bin="$("$root/scripts/vault-bin.sh")"
vault() { "$vault_bin" "$@"; }
step "Using $("$vault_bin" version)"

work="$(mktemp -d "${TMPDIR:-/tmp}/oauthvendor-demo.XXXXXX")"
sim_pid="" vault_pid="" done=false

teardown() {
  local rc=$?
  if $keep && $done; then return; fi
  # Shown only when something failed: the logs say why.
  if ! $done && [ -s "$work/vault.log" ]; then
    echo "---- last lines of $work/vault.log" >&2
    tail -n 25 "$work/vault.log" >&2 || true
  fi
  step "Tearing down"
  [ -n "$vault_pid" ] && stop_pid "$vault_pid"
  [ -n "$sim_pid" ] && stop_pid "$sim_pid"
  rm -rf "$work"
  return "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# In --keep mode the servers outlive this script: nohup keeps a closing
# terminal's SIGHUP from taking them down.
launch() {
  if $keep; then nohup "$@" </dev/null & else "$@" </dev/null & fi
}

step "Starting the vendor simulator"
launch "$simbin" -addr-file "$work/sim.addr" >"$work/sim.log" 2>&1
sim_pid=$!
wait_for_file "$work/sim.addr" 20 "$sim_pid" || die "the simulator did not start; see $work/sim.log"
sim="$(head -n1 "$work/sim.addr")"
echo "    simulator at $sim"

step "Starting vault server -dev on loopback (plugin_directory=$PLUGIN_DIR)"
cat >"$work/vault.hcl" <<EOF
plugin_directory = "$PLUGIN_DIR"
disable_mlock    = true
EOF
root_token="demo-$(random_hex 12)"
# A port pair can be taken between the check and Vault's bind: try again.
for attempt in 1 2 3; do
  port="$(free_port_pair)"
  export VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN="$root_token"
  launch "$vault_bin" server -dev -dev-no-store-token \
    -dev-listen-address="127.0.0.1:$port" -dev-root-token-id="$root_token" \
    -config="$work/vault.hcl" >"$work/vault.log" 2>&1
  vault_pid=$!
  if wait_for_http "$VAULT_ADDR/v1/sys/health" 60 "$vault_pid"; then break; fi
  stop_pid "$vault_pid"; vault_pid=""
  [ "$attempt" = 3 ] && die "Vault did not start; see $work/vault.log"
done
echo "    Vault at $VAULT_ADDR"

step "Registering $plugin $version (sha256 + version, as in production)"
sha="$(sha256sum "$PLUGIN_DIR/$plugin" | cut -d' ' -f1)"
vault plugin register -sha256="$sha" -version="$version" secret "$plugin"
vault secrets enable -path=oauthvendor -plugin-version="$version" "$plugin"

# configure NAME VENDOR CRED_FIELDS... -- EXTRA_JSON_MEMBERS
# Writes config/NAME through `vault write -` with the vendor's credentials
# as the simulator hands them out (never printed), plus the given members.
configure() {
  local name=$1 vendor=$2 creds body="" f
  shift 2
  creds="$(curl -fsS "$sim/_sim/credentials/$vendor")"
  while [ "$1" != "--" ]; do
    f="$(json_member "$creds" "$1")"
    [ -n "$f" ] || die "the simulator gave no $1 for $vendor"
    body+="$f,"
    shift
  done
  shift
  printf '{%s%s}' "$body" "$1" | vault write "oauthvendor/config/$name" - >/dev/null
  echo "    config/$name"
}

step "Configuring the five seed vendors against the simulator"
configure alphasense alphasense client_id client_secret username password api_key -- \
  "\"preset\":\"alphasense\",\"token_url\":\"$sim/alphasense/auth\",\"api_key_in_creds\":true"
configure alertsite alertsite username password -- \
  "\"preset\":\"alertsite\",\"token_url\":\"$sim/alertsite/api/v3/access-tokens\""
configure alation alation client_id client_secret -- \
  "\"preset\":\"alation\",\"token_url\":\"$sim/alation\""
configure agentsync agentsync client_id client_secret -- \
  "\"preset\":\"agentsync\",\"token_url\":\"$sim/agentsync/oauth/token\""
# No preset: the generic engine, with the vendor's JSON body, versioned
# Accept header and camelCase response fields spelled out.
configure modelportfolio modelportfolio client_id client_secret -- \
  "\"token_url\":\"$sim/modelportfolio/oauth/token\",\"grant_type\":\"client_credentials\",\"body_format\":\"json\",\"headers\":{\"Accept\":\"application/json; version=1.0.0\"},\"token_field\":\"accessToken\",\"expires_in_field\":\"expiresIn\""
vault list oauthvendor/config

# api_call VENDOR PATH TOKEN [curl args...]: GET the vendor's protected
# endpoint with the token; prints the body, fails on a non-2xx.
api_call() {
  local vendor=$1 path=$2 token=$3
  shift 3
  curl -fsS -H "Authorization: Bearer $token" "$@" "$sim/$vendor$path"
}

step "Checking each vendor's token on its protected API"
for v in alertsite alation agentsync modelportfolio; do
  tok="$(vault read -field=access_token "oauthvendor/creds/$v")"
  case $v in
    alertsite) out="$(api_call "$v" /api/v3/devices "$tok")" ;;
    alation) out="$(api_call "$v" /integration/v2/table/ "$tok")" ;;
    agentsync) out="$(api_call "$v" /v1/resource "$tok")" ;;
    modelportfolio) out="$(api_call "$v" /model-portfolios "$tok" -H "Accept: application/json; version=1.0.0")" ;;
  esac
  printf '    %-15s %s\n' "$v" "$out"
done

step "vault read oauthvendor/creds/alphasense"
vault read oauthvendor/creds/alphasense

step "The simulator's AlphaSense API accepts that token (GET /alphasense/v1/search, Bearer + x-api-key)"
tok="$(vault read -field=access_token oauthvendor/creds/alphasense)"
key="$(vault read -field=api_key oauthvendor/creds/alphasense)"
api_call alphasense /v1/search "$tok" -H "x-api-key: $key"
echo
step "Simulator counters for alphasense (three reads, one shared token: one token request)"
curl -fsS "$sim/_sim/stats/alphasense"
echo

done=true
if $keep; then
  cat >"$work/stop.sh" <<EOF
#!/usr/bin/env bash
# Stops the demo's Vault and simulator and removes their files.
kill $vault_pid $sim_pid 2>/dev/null || true
rm -rf "$work"
EOF
  chmod +x "$work/stop.sh"
  step "Left running (logs in $work). Paste:"
  echo "export VAULT_ADDR=$VAULT_ADDR VAULT_TOKEN=$VAULT_TOKEN"
  echo "# simulator: $sim   (e.g. curl $sim/_sim/stats)"
  step "To stop: $work/stop.sh"
fi
