# Shell helpers shared by the demo (and any later script that needs a live
# Vault + vendor simulator). Source it; it defines functions only.
# Dependencies: bash, curl, coreutils. No jq: JSON is cut with grep/sed,
# which is enough for the flat objects Vault and the simulator answer with.

# step prints a progress line.
step() { printf '==> %s\n' "$*"; }

# die prints an error and exits non-zero (the EXIT trap tears down).
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# port_free reports whether nothing listens on 127.0.0.1:$1 (a connect
# that fails means free; bash's /dev/tcp needs no extra tool).
port_free() { ! (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port_pair prints a random port P with P and P+1 free: `vault server
# -dev` listens on P and puts its cluster listener on P+1.
free_port_pair() {
  local p i
  for i in $(seq 1 50); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if port_free "$p" && port_free "$((p + 1))"; then
      echo "$p"; return 0
    fi
  done
  die "no free port pair found on 127.0.0.1"
}

# random_hex prints $1 random bytes as hex (a dev root token nobody can guess).
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# wait_for_file waits up to $2 seconds for file $1 to be non-empty, failing
# early when process $3 dies.
wait_for_file() {
  local file=$1 secs=$2 pid=$3 i
  for i in $(seq 1 $((secs * 10))); do
    [ -s "$file" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# wait_for_http waits up to $2 seconds for URL $1 to answer 200, failing
# early when process $3 dies.
wait_for_http() {
  local url=$1 secs=$2 pid=$3 i
  for i in $(seq 1 $((secs * 10))); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# json_member prints the member "$2":"..." of the flat JSON object $1
# verbatim, escapes and all, so it can be pasted into another JSON object
# without decoding (the simulator's secrets hold " & + / = %). Prints
# nothing when the member is absent or not a string.
json_member() {
  grep -oE "\"$2\":\"([^\"\\\\]|\\\\.)*\"" <<<"$1" | head -n1 || true
}

# stop_pid sends SIGTERM to $1, waits up to 10 s, then SIGKILLs it.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
