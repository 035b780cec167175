#!/usr/bin/env bash
# Provider benchmark: coeur's per-core throughput against its targets, and against panva's
# oidc-provider (npm) measured the same way in the same run.
#
#   (a) client_credentials grants/s on keep-alive connections, measured with wrk
#       (scripts/bench/client_credentials.lua: POST with client_secret_basic; any non-200
#       response or socket error fails the run);
#   (b) full sandbox code-flow logins/s, measured with coeur-load codeflow (crates/loadgen; one
#       login = authorize GET + wallet POST + token POST with PKCE, 3 HTTP requests on the
#       virtual user's keep-alive connection, fresh browser; any failed login fails the run);
#   (d) token introspection/s (RFC 7662) of one access token by its client, measured with wrk
#       (scripts/bench/introspect.lua: any answer other than 200 with "active":true fails the
#       run); each answer checks the token's signature (cached per key generation), expiry
#       and revocation (the jti and the grant, answered from memory);
#   (c) the same wrk run as (a) against oidc-provider set up equivalently
#       (scripts/bench/oidc-provider-server.mjs: client_secret_basic, clientCredentials
#       feature, ES256 JWT access tokens through a default resource indicator), and the
#       ratio coeur/oidc-provider.
#
# coeur and coeur-load are built in release mode (cargo build --release --locked -p coeur
# -p coeur-load); coeur runs on its default store, SQLite, in a temporary directory, with the
# repository's realms (sandbox realm "edit"). Each server is pinned to one CPU (taskset) and
# the load tool to another, so the figures are per core. Traffic goes to 127.0.0.1 only; every
# measurement is bounded; all processes and temporary files are removed on exit.
#
# Besides the per-second figures, the script reads from /proc how much CPU the server got
# during each measurement and prints the work done per server CPU-second, with the share of
# the server's core that other processes took. On a shared machine (builds running beside the
# benchmark) the per-second figures drop while the per-CPU-second ones move much less; note
# that on a contended core the scheduler shares time per thread, so a server with more
# threads gets more of it. Rerun on a quiet machine for per-second figures that count.
#
# Usage: scripts/bench-provider.sh [--no-build] [--no-peer] [--enforce-targets]
#   --no-build         use the existing target/release/coeur and target/release/coeur-load
#   --no-peer          skip oidc-provider (c)
#   --enforce-targets  exit 1 when a coeur figure is below its target
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10]     seconds per measurement
#   BENCH_WARMUP [3]        seconds of warm-up before each measurement (not counted)
#   BENCH_CONNECTIONS [256] wrk keep-alive connections (a deep queue keeps the server fed
#                           when the load tool's CPU is shared with other work)
#   BENCH_VUS [64]          concurrent virtual users of the code-flow driver
#   BENCH_SERVER_CPU [0]    CPU the servers are pinned to
#   BENCH_LOAD_CPU [1]      CPU wrk and the code-flow driver are pinned to
#   BENCH_NICE [0]          niceness of the servers and the load tool (as root). With the
#                           kernel's autogroup scheduling on, niceness only ranks processes
#                           of the same session, so it does not win CPU from other sessions.
#
# Needs: cargo, node and npm, curl, taskset (util-linux), wrk (installed from Debian's
# packages when missing, as root).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=true
peer=true
enforce=false
for arg in "$@"; do
  case "$arg" in
    --no-build) build=false ;;
    --no-peer) peer=false ;;
    --enforce-targets) enforce=true ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'bench-provider.sh: unknown argument %s\n' "$arg" >&2
      exit 2
      ;;
  esac
done

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-256}"
VUS="${BENCH_VUS:-64}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"
NICE="${BENCH_NICE:-0}"
TARGET_GRANTS=10000
TARGET_LOGINS=1000
TARGET_INTROSPECTIONS=30000

CLIENT_ID=bench-client
# A random secret per run (coeur requires at least 32 characters); it lives only in the
# temporary database and the peer's memory.
SECRET="bench-secret-$(printf '%s' "$RANDOM$RANDOM$RANDOM" | sha256sum | cut -c1-40)"
REDIRECT_URI="http://127.0.0.1/bench/callback"
REALM=edit
TOKEN_PATH="/auth/realms/$REALM/protocol/openid-connect/token"
INTROSPECT_PATH="$TOKEN_PATH/introspect"

say() { printf '==> %s\n' "$*"; }
fail() {
  printf 'bench-provider.sh: %s\n' "$*" >&2
  exit 1
}

# --- tools -------------------------------------------------------------------

for t in cargo node npm curl taskset; do
  command -v "$t" >/dev/null || fail "$t is required"
done
if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian package)"
  ((EUID == 0)) || fail "wrk is missing; install it with: apt-get install wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q wrk >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; } ||
    fail "could not install wrk"
fi

ncpu="$(nproc)"
if ((ncpu < 2)) || [[ "$SERVER_CPU" == "$LOAD_CPU" ]]; then
  printf 'bench-provider.sh: warning: server and load tool share a CPU; figures are not per-core\n' >&2
fi
server_cores="$(tr ',' '\n' <<<"$SERVER_CPU" | wc -l)"
core_label="$server_cores core$( ((server_cores == 1)) || echo s)"

# --- build -------------------------------------------------------------------

if $build; then
  say "cargo build --release --locked -p coeur -p coeur-load"
  cargo build --release --locked -p coeur -p coeur-load
fi
COEUR="$PWD/target/release/coeur"
LOAD="$PWD/target/release/coeur-load"
for b in "$COEUR" "$LOAD"; do
  [[ -x "$b" ]] || fail "$b is missing (run without --no-build)"
done

if $peer && [[ ! -d scripts/bench/node_modules/oidc-provider ]]; then
  say "npm ci (scripts/bench: oidc-provider)"
  (cd scripts/bench && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# --- lifecycle ---------------------------------------------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/coeur-bench.XXXXXX")"
pids=()

stop_pid() {
  local pid="$1"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Command prefixes that pin (and nice) a command; both exec, so $! is the command's own pid.
on_server_cpu=(nice -n "$NICE" taskset -c "$SERVER_CPU")
on_load_cpu=(nice -n "$NICE" taskset -c "$LOAD_CPU")

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_http URL SECONDS LOG: waits until URL answers.
wait_http() {
  local url="$1" secs="$2" log="$3"
  for _ in $(seq $((secs * 10))); do
    curl -fs -o /dev/null "$url" && return 0
    sleep 0.1
  done
  cat "$log" >&2
  fail "no answer from $url after ${secs}s"
}

# check_token BASE: one client_credentials grant must answer 200 with a JWT access token.
check_token() {
  local url="$1" out status
  out="$tmp/token.json"
  status="$(curl -s -o "$out" -w '%{http_code}' -u "$CLIENT_ID:$SECRET" \
    -d grant_type=client_credentials -d scope=scope_all "$url")"
  [[ "$status" == 200 ]] || fail "$url answered $status: $(head -c 300 "$out")"
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).access_token;
    const parts = (t ?? "").split(".");
    if (parts.length !== 3) { console.error("access token is not a JWS"); process.exit(1); }
    const h = JSON.parse(Buffer.from(parts[0], "base64url"));
    console.log(`    access token: ${h.typ} ${h.alg}, ${t.length} bytes`);
  ' "$out"
}

# cpu_ticks PID: user + system CPU time of a process (all its threads), in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
CLK_TCK="$(getconf CLK_TCK)"
# core_ticks CPU: busy time of one CPU (all but idle and iowait), in clock ticks.
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
secs() { awk -v d="$1" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", d / h }'; }

# run_wrk LABEL BASE PATH PID [SCRIPT]: warm-up, then a measured run (SCRIPT: the wrk script,
# scripts/bench/client_credentials.lua by default). Prints "grants/s grants
# server-CPU-seconds busy-seconds-of-the-server's-core busy-seconds-of-the-load-core".
# Fails on any non-200 response, or on a socket error of coeur's.
run_wrk() {
  local label="$1" base="$2" pid="$4" log="$tmp/wrk-$1.txt"
  local script="${5:-scripts/bench/client_credentials.lua}"
  local -a cmd=("${on_load_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -s "$script")
  export BENCH_TOKEN_PATH="$3" BENCH_CLIENT_ID="$CLIENT_ID" BENCH_SECRET="$SECRET" BENCH_SCOPE=scope_all
  "${cmd[@]}" -d"${WARMUP}s" "$base" >/dev/null
  local t0 t1 c0 c1 l0 l1
  t0="$(cpu_ticks "$pid")" c0="$(core_ticks "$SERVER_CPU")" l0="$(core_ticks "$LOAD_CPU")"
  "${cmd[@]}" -d"${DURATION}s" --latency "$base" >"$log"
  t1="$(cpu_ticks "$pid")" c1="$(core_ticks "$SERVER_CPU")" l1="$(core_ticks "$LOAD_CPU")"
  sed 's/^/    /' "$log" >&2
  local bad non2xx sock rps total
  bad="$(sed -n 's/^bench: non-200 responses: \([0-9]*\)$/\1/p' "$log")"
  non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: \([0-9]*\)$/\1/p' "$log")"
  sock="$(grep -c '^ *Socket errors' "$log" || true)"
  rps="$(sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' "$log")"
  total="$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$log")"
  [[ -n "$rps" && -n "$bad" && -n "$total" ]] || fail "$label: could not read wrk's output"
  ((bad == 0 && ${non2xx:-0} == 0)) || fail "$label: $bad non-200 responses"
  # coeur must not drop a request; the peer's timeouts (wrk gives up after 2 s) are reported
  # beside its figure instead of voiding the comparison.
  if ((sock != 0)); then
    [[ "$label" == oidc-provider ]] || fail "$label: socket errors ($(grep 'Socket errors' "$log"))"
    printf 'bench-provider.sh: warning: %s: %s; its figure counts completed requests only\n' \
      "$label" "$(grep 'Socket errors' "$log" | sed 's/^ *//')" >&2
  fi
  printf '%.0f %s %s %s %s\n' "$rps" "$total" "$(secs $((t1 - t0)))" "$(secs $((c1 - c0)))" "$(secs $((l1 - l0)))"
}

# per_cpu COUNT CPU_SECONDS: operations per server CPU-second.
per_cpu() { awk -v n="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "n/a" }'; }

verdict() { # verdict VALUE TARGET
  if (($(printf '%.0f' "$1") >= $2)); then echo "met"; else echo "NOT met"; fi
}

say "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) ($ncpu CPUs)"
say "server on CPU $SERVER_CPU, load tool on CPU $LOAD_CPU (niceness $NICE); ${WARMUP}s warm-up + ${DURATION}s per measurement"

# --- coeur -------------------------------------------------------------------

port="$(free_port)"
base="http://127.0.0.1:$port"
db="sqlite://$tmp/coeur.db"
coeur_args=(--database-url "$db" --keys-dir "$tmp/keys")
mkdir -p "$tmp/keys"

"$COEUR" "${coeur_args[@]}" client add --realm "$REALM" --client-id "$CLIENT_ID" \
  --secret "$SECRET" --redirect-uri "$REDIRECT_URI" \
  --grant-type client_credentials --grant-type authorization_code --grant-type refresh_token \
  --scope openid --scope scope_all >/dev/null 2>"$tmp/client-add.log" ||
  { cat "$tmp/client-add.log" >&2; fail "coeur client add failed"; }

say "starting coeur on $base (SQLite in a temporary directory)"
"${on_server_cpu[@]}" "$COEUR" "${coeur_args[@]}" serve --listen "127.0.0.1:$port" \
  --card-listen "127.0.0.1:$(free_port)" --public-url "$base" >"$tmp/coeur.log" 2>&1 &
coeur_pid=$!
pids+=("$coeur_pid")
wait_http "$base/healthz" 120 "$tmp/coeur.log"
check_token "$base$TOKEN_PATH"

say "(a) coeur client_credentials: wrk, $CONNECTIONS connections"
out="$(run_wrk coeur "$base" "$TOKEN_PATH" "$coeur_pid")"
read -r coeur_grants coeur_cc_n coeur_cc_cpu coeur_cc_core coeur_cc_load <<<"$out"

say "(d) coeur token introspection: wrk, $CONNECTIONS connections"
access_token="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).access_token' "$tmp/token.json")"
BENCH_PATH="$INTROSPECT_PATH" BENCH_TOKEN="$access_token" \
  BENCH_AUTHORIZATION="Basic $(printf '%s:%s' "$CLIENT_ID" "$SECRET" | base64 -w0)" \
  run_wrk coeur-introspection "$base" "$INTROSPECT_PATH" "$coeur_pid" scripts/bench/introspect.lua \
  >"$tmp/introspect.out"
read -r coeur_intro coeur_in_n coeur_in_cpu coeur_in_core coeur_in_load <"$tmp/introspect.out"

say "(b) coeur code-flow logins: $VUS virtual users"
"${on_load_cpu[@]}" "$LOAD" codeflow --base "$base" --realm "$REALM" \
  --client-id "$CLIENT_ID" --secret "$SECRET" --redirect-uri "$REDIRECT_URI" \
  --vus "$VUS" --duration "$DURATION" --warmup "$WARMUP" --server-pid "$coeur_pid" --server-cpu "$SERVER_CPU" \
  --load-cpu "$LOAD_CPU" \
  >"$tmp/codeflow.txt" 2>&1 ||
  { cat "$tmp/codeflow.txt" >&2; fail "code-flow driver failed"; }
sed 's/^/    /' "$tmp/codeflow.txt"
result="$(grep '^RESULT ' "$tmp/codeflow.txt")" || fail "code-flow driver printed no result"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $result"; }
cf_errors="$(field errors)"
((cf_errors == 0)) || fail "code-flow: $cf_errors failed logins"
coeur_logins="$(printf '%.0f' "$(field logins_per_s)")"
cf_p50="$(field p50_ms)"
cf_p99="$(field p99_ms)"
cf_n="$(field logins)"
cf_cpu="$(field server_cpu_s)"
cf_core="$(field core_busy_s)"
cf_driver="$(field driver_cpu_s)"
cf_load="$(field load_core_busy_s)"
coeur_rss_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$coeur_pid/status" 2>/dev/null || echo '?')"
stop_pid "$coeur_pid"

# --- oidc-provider -----------------------------------------------------------

if $peer; then
  pport="$(free_port)"
  pbase="http://127.0.0.1:$pport"
  op_version="$(node -p 'require("./scripts/bench/node_modules/oidc-provider/package.json").version')"
  say "starting oidc-provider $op_version on $pbase (node $(node --version))"
  NODE_ENV=production "${on_server_cpu[@]}" node scripts/bench/oidc-provider-server.mjs \
    --port "$pport" --client-id "$CLIENT_ID" --secret "$SECRET" >"$tmp/op.log" 2>&1 &
  op_pid=$!
  pids+=("$op_pid")
  wait_http "$pbase/.well-known/openid-configuration" 30 "$tmp/op.log"
  check_token "$pbase/token"
  say "(c) oidc-provider client_credentials: wrk, $CONNECTIONS connections"
  out="$(run_wrk oidc-provider "$pbase" /token "$op_pid")"
  read -r op_grants op_cc_n op_cc_cpu op_cc_core op_cc_load <<<"$out"
fi

# --- summary -----------------------------------------------------------------

# share SECONDS: a share of one core over a measurement.
share() { awk -v c="$1" -v d="$DURATION" 'BEGIN { if (c == "n/a" || c == "") print "n/a"; else printf "%.0f%%", 100 * c / d }'; }
# others CORE_SECONDS SERVER_SECONDS: what other processes took of the server's core.
others() { awk -v a="$1" -v b="$2" -v d="$DURATION" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else { x = 100 * (a - b) / d; printf "%.0f%%", (x < 0 ? 0 : x) } }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
say "results (${DURATION}s per measurement after ${WARMUP}s warm-up; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
printf 'client_credentials grants/s (coeur, %s): %s   (target >= %s per core: %s)\n' \
  "$core_label" "$coeur_grants" "$TARGET_GRANTS" "$(verdict "$coeur_grants" "$TARGET_GRANTS")"
printf 'code-flow logins/s (coeur, %s): %s   (target >= %s per core: %s; p50 %s ms, p99 %s ms per login)\n' \
  "$core_label" "$coeur_logins" "$TARGET_LOGINS" "$(verdict "$coeur_logins" "$TARGET_LOGINS")" "$cf_p50" "$cf_p99"
printf 'token introspections/s (coeur, %s): %s   (target >= %s per core: %s)\n' \
  "$core_label" "$coeur_intro" "$TARGET_INTROSPECTIONS" "$(verdict "$coeur_intro" "$TARGET_INTROSPECTIONS")"
if $peer; then
  printf 'client_credentials grants/s (oidc-provider, %s): %s   (ES256 JWT access tokens)\n' "$core_label" "$op_grants"
  printf 'ratio coeur/oidc-provider: %s\n' "$(ratio "$coeur_grants" "$op_grants")"
fi
echo
say "per server CPU-second: work done / CPU time the server got (holds on a busy machine)"
printf 'client_credentials grants per CPU-second (coeur): %s   (server on CPU %s of the run; other processes took %s of its core; load core busy %s)\n' \
  "$(per_cpu "$coeur_cc_n" "$coeur_cc_cpu")" "$(share "$coeur_cc_cpu")" \
  "$(others "$coeur_cc_core" "$coeur_cc_cpu")" "$(share "$coeur_cc_load")"
printf 'token introspections per CPU-second (coeur): %s   (server on CPU %s of the run; other processes took %s of its core; load core busy %s)\n' \
  "$(per_cpu "$coeur_in_n" "$coeur_in_cpu")" "$(share "$coeur_in_cpu")" \
  "$(others "$coeur_in_core" "$coeur_in_cpu")" "$(share "$coeur_in_load")"
printf 'code-flow logins per CPU-second (coeur): %s   (server on CPU %s of the run; other processes took %s of its core; load driver on CPU %s of its core, busy %s)\n' \
  "$(per_cpu "$cf_n" "$cf_cpu")" "$(share "$cf_cpu")" "$(others "$cf_core" "$cf_cpu")" "$(share "$cf_driver")" "$(share "$cf_load")"
if $peer; then
  printf 'client_credentials grants per CPU-second (oidc-provider): %s   (server on CPU %s of the run; other processes took %s of its core; load core busy %s)\n' \
    "$(per_cpu "$op_cc_n" "$op_cc_cpu")" "$(share "$op_cc_cpu")" \
    "$(others "$op_cc_core" "$op_cc_cpu")" "$(share "$op_cc_load")"
  printf 'ratio coeur/oidc-provider per CPU-second: %s\n' \
    "$(ratio "$(per_cpu "$coeur_cc_n" "$coeur_cc_cpu")" "$(per_cpu "$op_cc_n" "$op_cc_cpu")")"
fi
printf 'coeur peak RSS: %s kB\n' "$coeur_rss_kb"
noisy="$(awk -v a="$coeur_cc_core" -v b="$coeur_cc_cpu" -v c="$cf_core" -v e="$cf_cpu" -v d="$DURATION" \
  'BEGIN { print ((a - b) > 0.1 * d || (c != "n/a" && (c - e) > 0.1 * d)) ? 1 : 0 }')"
if ((noisy)); then
  printf 'note: other processes took over 10%% of the server core during coeur measurements: the\n'
  printf '      per-second figures understate it, the per-CPU-second ones hold better. Rerun when quieter.\n'
fi

if $enforce; then
  (($(verdict "$coeur_grants" "$TARGET_GRANTS" | grep -c NOT) == 0)) || fail "client_credentials below target"
  (($(verdict "$coeur_logins" "$TARGET_LOGINS" | grep -c NOT) == 0)) || fail "code-flow logins below target"
  (($(verdict "$coeur_intro" "$TARGET_INTROSPECTIONS" | grep -c NOT) == 0)) || fail "introspection below target"
fi
