#!/usr/bin/env bash
# e-CPS benchmark: coeur's per-core figures for the mobile authentication means.
#
#   (a) CIBA authentication requests/s (POST …/ext/ciba/auth, client_secret_basic, channel
#       MOBILE, a new national id each time), measured with wrk (scripts/bench/ciba.lua);
#   (b) CIBA polls/s of the token endpoint (scripts/bench/poll.lua), twice: in time, over
#       100,000 pending requests polled in turn (each about every 5 s, its interval: answered
#       authorization_pending after one read of the store), then too early, over 2,000 of them
#       (each polled many times a second: answered slow_down from memory, the store not read);
#   (c) full browserless e-CPS logins/s: CIBA request → the device lists its requests and signs
#       its approval with its P-256 key → the client redeems auth_req_id for its tokens
#       (scripts/bench/ecps.mjs logins; 4 HTTP requests a login);
#   (d) memory per idle connected authenticator: 10,000 device feeds (server-sent events) held
#       open, by scripts/bench-ecps-idle.sh.
#
# coeur is built in release mode and runs on SQLite in a temporary directory, with a copy of
# the repository's realms whose e-CPS rate limits ([limits]) are raised so that the load is
# not refused as push-bombing. The server is pinned to one CPU (taskset), the load tools to
# another. Besides the per-second figures, the server's own CPU time is read from /proc and
# the work per server CPU-second printed: on a machine busy with other work, that figure
# moves much less than the per-second one.
#
# Usage: scripts/bench-ecps.sh [--no-build] [--no-idle] [--enforce-targets]
# Environment: BENCH_DURATION [10], BENCH_WARMUP [3], BENCH_CONNECTIONS [128],
#   BENCH_VUS [32], BENCH_IDS [100000], BENCH_EARLY_IDS [2000], BENCH_IDLE_COUNT [10000],
#   BENCH_SERVER_CPU [0],
#   BENCH_LOAD_CPU [1].
# Needs: cargo, node, curl, taskset, wrk (installed from Debian's packages when missing, as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=true
idle=true
enforce=false
for arg in "$@"; do
  case "$arg" in
    --no-build) build=false ;;
    --no-idle) idle=false ;;
    --enforce-targets) enforce=true ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'bench-ecps.sh: unknown argument %s\n' "$arg" >&2
      exit 2
      ;;
  esac
done

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-128}"
VUS="${BENCH_VUS:-32}"
IDS="${BENCH_IDS:-100000}"
EARLY_IDS="${BENCH_EARLY_IDS:-2000}"
IDLE_COUNT="${BENCH_IDLE_COUNT:-10000}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"
TARGET_CIBA=2000
TARGET_POLLS=20000
TARGET_IDLE_KIB=20
REALM=edit
NATIONAL_ID=899700218896
CLIENT_ID=bench-ciba
SECRET="bench-secret-$(printf '%s' "$RANDOM$RANDOM$RANDOM" | sha256sum | cut -c1-40)"

say() { printf '==> %s\n' "$*"; }
fail() {
  printf 'bench-ecps.sh: %s\n' "$*" >&2
  exit 1
}

for t in cargo node curl taskset; do
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

if $build; then
  say "cargo build --release --locked"
  cargo build --release --locked
fi
COEUR="$PWD/target/release/coeur"
[[ -x "$COEUR" ]] || fail "$COEUR is missing (run without --no-build)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/coeur-bench-ecps.XXXXXX")"
pid=""
cleanup() {
  local status=$?
  trap - EXIT
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT

on_server_cpu=(taskset -c "$SERVER_CPU")
on_load_cpu=(taskset -c "$LOAD_CPU")
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
CLK_TCK="$(getconf CLK_TCK)"
per_cpu() { awk -v n="$1" -v t="$2" -v h="$CLK_TCK" 'BEGIN { if (t > 0) printf "%.0f", n * h / t; else print "n/a" }'; }
verdict() { if (($(printf '%.0f' "$1") >= $2)); then echo met; else echo "NOT met"; fi; }

# The realms, with the e-CPS limits raised for the load.
cp -r realms "$tmp/realms"
sed -i -E 's/^(ecps_per_national_id|ecps_per_address) = .*/\1 = 100000000/' "$tmp"/realms/*.toml

port="$(free_port)"
card_port="$(free_port)"
base="http://127.0.0.1:$port"
args=(--database-url "sqlite://$tmp/coeur.db" --keys-dir "$tmp/keys" --crl-dir "$tmp/crl"
  --realms-dir "$tmp/realms" --pki-hierarchy modern --public-url "$base")
"$COEUR" "${args[@]}" card issue --national-id "$NATIONAL_ID" --pin 1234 --out "$tmp/card.p12" \
  >/dev/null 2>"$tmp/card.log" || { cat "$tmp/card.log" >&2; fail "coeur card issue failed"; }
"$COEUR" "${args[@]}" client add --realm "$REALM" --client-id "$CLIENT_ID" --secret "$SECRET" \
  --grant-type urn:openid:params:grant-type:ciba --grant-type refresh_token \
  --scope openid --ciba-delivery-mode poll >/dev/null 2>"$tmp/client-add.log" ||
  { cat "$tmp/client-add.log" >&2; fail "coeur client add failed"; }
say "starting coeur on $base (release, SQLite, server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
"${on_server_cpu[@]}" "$COEUR" "${args[@]}" serve --listen "127.0.0.1:$port" \
  --card-listen "127.0.0.1:$card_port" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && [[ -f "$tmp/crl/coeur-root.pem" ]] && break
  sleep 0.2
done
curl -fs "$base/healthz" >/dev/null || { cat "$tmp/server.log" >&2; fail "coeur did not start"; }

say "enrolling a device with the virtual card's activation code"
node scripts/bench/ecps.mjs enrol --base "$base" --card-base "https://127.0.0.1:$card_port" \
  --card-ca "$tmp/crl/coeur-root.pem" --pfx "$tmp/card.p12" --pin 1234 --out "$tmp/device.json" \
  >/dev/null || { tail -n 20 "$tmp/server.log" >&2; fail "enrolment failed"; }

export BENCH_AUTHORIZATION="Basic $(printf '%s:%s' "$CLIENT_ID" "$SECRET" | base64 -w0)"
export BENCH_CIBA_PATH="/auth/realms/$REALM/protocol/openid-connect/ext/ciba/auth"
export BENCH_TOKEN_PATH="/auth/realms/$REALM/protocol/openid-connect/token"

# wrk_run LABEL SCRIPT BAD_PATTERN: warm-up, then a measured run; prints "req/s requests cpu_ticks".
wrk_run() {
  local label="$1" script="$2" bad="$3" log="$tmp/wrk-$1.txt"
  local -a cmd=("${on_load_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -s "$script")
  "${cmd[@]}" -d"${WARMUP}s" "$base" >/dev/null
  local t0 t1
  t0="$(cpu_ticks "$pid")"
  "${cmd[@]}" -d"${DURATION}s" --latency "$base" >"$log"
  t1="$(cpu_ticks "$pid")"
  sed 's/^/    /' "$log" >&2
  local n rps total sock
  n="$(sed -n "s/^bench: $bad: \([0-9]*\)$/\1/p" "$log")"
  rps="$(sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' "$log")"
  total="$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$log")"
  sock="$(grep -c '^ *Socket errors' "$log" || true)"
  [[ -n "$rps" && -n "$n" && -n "$total" ]] || fail "$label: could not read wrk's output"
  ((n == 0)) || fail "$label: $n unexpected responses"
  ((sock == 0)) || fail "$label: $(grep 'Socket errors' "$log")"
  printf '%.0f %s %s\n' "$rps" "$total" "$((t1 - t0))"
  sed -n 's/^bench: answers: /    answers: /p' "$log" >&2
}

say "(a) CIBA authentication requests: wrk, $CONNECTIONS connections"
read -r ciba_rps ciba_n ciba_t <<<"$(wrk_run ciba scripts/bench/ciba.lua 'non-200 responses')"

say "(b) CIBA polls: $IDS pending requests made first"
"${on_load_cpu[@]}" node scripts/bench/ecps.mjs ids --base "$base" --client-id "$CLIENT_ID" \
  --secret "$SECRET" --count "$IDS" --vus "$VUS" --out "$tmp/ids.txt" >/dev/null ||
  fail "could not make the pending requests"
export BENCH_IDS_FILE="$tmp/ids.txt"
say "(b1) polls in time: $IDS requests in turn"
read -r poll_rps poll_n poll_t <<<"$(wrk_run poll scripts/bench/poll.lua 'unexpected responses')"
say "(b2) early polls: $EARLY_IDS requests in turn"
read -r early_rps early_n early_t <<<"$(BENCH_IDS_LIMIT="$EARLY_IDS" wrk_run early scripts/bench/poll.lua 'unexpected responses')"

say "(c) full e-CPS logins (CIBA, device approval, token): $VUS virtual users"
"${on_load_cpu[@]}" node scripts/bench/ecps.mjs logins --base "$base" --client-id "$CLIENT_ID" \
  --secret "$SECRET" --device "$tmp/device.json" --vus "$VUS" --duration "$DURATION" \
  --warmup "$WARMUP" >"$tmp/logins.txt" 2>&1 || { cat "$tmp/logins.txt" >&2; fail "login driver failed"; }
result="$(grep '^RESULT ' "$tmp/logins.txt")" || fail "login driver printed no result"
logins_per_s="$(sed -n 's/.* logins_per_s=\([0-9.]*\).*/\1/p' <<<"$result")"
rss_kib="$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")"
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""

idle_kib="n/a"
if $idle; then
  say "(d) idle connected authenticators: $IDLE_COUNT server-sent event feeds"
  idle_out="$(COEUR_BIN="$COEUR" scripts/bench-ecps-idle.sh --count "$IDLE_COUNT")" ||
    fail "idle authenticators: $idle_out"
  idle_kib="$(sed -n 's/.*kib_per_connection=\([0-9.]*\).*/\1/p' <<<"$idle_out")"
fi

echo
say "results (${DURATION}s per measurement after ${WARMUP}s warm-up, 1 server core; load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf 'CIBA authentication requests/s: %s   (target >= %s per core: %s; %s per server CPU-second)\n' \
  "$ciba_rps" "$TARGET_CIBA" "$(verdict "$ciba_rps" "$TARGET_CIBA")" "$(per_cpu "$ciba_n" "$ciba_t")"
printf 'CIBA polls/s in time (authorization_pending, one store read each): %s   (target >= %s per core: %s; %s per server CPU-second)\n' \
  "$poll_rps" "$TARGET_POLLS" "$(verdict "$poll_rps" "$TARGET_POLLS")" "$(per_cpu "$poll_n" "$poll_t")"
printf 'CIBA polls/s too early (slow_down from memory): %s   (target >= %s per core: %s; %s per server CPU-second)\n' \
  "$early_rps" "$TARGET_POLLS" "$(verdict "$early_rps" "$TARGET_POLLS")" "$(per_cpu "$early_n" "$early_t")"
printf 'full e-CPS logins/s (request, device approval, token): %s   (server peak RSS %s KiB)\n' \
  "$logins_per_s" "$rss_kib"
printf 'memory per idle connected authenticator: %s KiB   (target <= %s KiB)\n' "$idle_kib" "$TARGET_IDLE_KIB"

if $enforce; then
  (($(printf '%.0f' "$ciba_rps") >= TARGET_CIBA)) || fail "CIBA requests below target"
  (($(printf '%.0f' "$poll_rps") >= TARGET_POLLS)) || fail "polls below target"
  [[ "$idle_kib" == n/a ]] || awk -v k="$idle_kib" -v t="$TARGET_IDLE_KIB" 'BEGIN { exit !(k <= t) }' ||
    fail "idle memory above target"
fi
