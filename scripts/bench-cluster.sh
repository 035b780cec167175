#!/usr/bin/env bash
# Cluster benchmark: 1, 2 and 3 coeur instances behind HAProxy (round robin) on one
# PostgreSQL, each instance in a network namespace of its own (the lab of tests/it/cluster,
# through the coeur-lab command), measuring through the balancer:
#   (a) client_credentials grants/s (wrk, scripts/bench/client_credentials.lua: keep-alive,
#       client_secret_basic; a non-200 answer fails the run);
#   (b) full sandbox code-flow logins/s (coeur-load codeflow, crates/loadgen: authorize, wallet
#       post, token with PKCE; fresh browser per login; a failed login fails the run);
# and the per-instance efficiency: the figure with N instances over N times the figure with
# one. The instances are pinned to BENCH_INSTANCE_CPUS and the load tools, HAProxy and
# PostgreSQL share the other CPUs; on a two-core machine every instance shares one core, so
# the efficiency shows what spreading the work costs, not added capacity (docs/capacity.md
# carries the projection to more cores).
#
# Usage: scripts/bench-cluster.sh [--no-build]
# Environment: BENCH_DURATION [10] seconds per measurement, BENCH_WARMUP [3],
#   BENCH_CONNECTIONS [128] wrk connections, BENCH_VUS [32] code-flow users,
#   BENCH_INSTANCE_CPUS [1] the instances' CPUs (taskset list), BENCH_LOAD_CPU [0].
# Needs root (network namespaces), iproute2, haproxy, wrk, PostgreSQL server binaries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=true
for arg in "$@"; do
  case "$arg" in
    --no-build) build=false ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'bench-cluster.sh: unknown argument %s\n' "$arg" >&2
      exit 2
      ;;
  esac
done

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-128}"
VUS="${BENCH_VUS:-32}"
INSTANCE_CPUS="${BENCH_INSTANCE_CPUS:-1}"
LOAD_CPU="${BENCH_LOAD_CPU:-0}"
CLIENT_ID=bench-client
REDIRECT_URI=https://rp.example/cb
SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

say() { printf '== %s\n' "$*" >&2; }
fail() {
  printf 'bench-cluster.sh: %s\n' "$*" >&2
  exit 1
}
((EUID == 0)) || fail "network namespaces need root"
for tool in wrk haproxy taskset; do
  command -v "$tool" >/dev/null || [[ -x "/usr/sbin/$tool" ]] || fail "$tool is missing"
done

tmp="$(mktemp -d)"
lab_pid=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  [[ -n "$lab_pid" ]] && wait "$lab_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if $build; then
  say "building coeur, coeur-lab and coeur-load (release)"
  cargo build --release --locked -p coeur --bin coeur -p coeur-testkit --bin coeur-lab \
    -p coeur-load >&2
fi
on_load=(taskset -c "$LOAD_CPU")

# up N: starts the lab with N instances; sets $public and $pids.
up() {
  mkfifo "$tmp/ctl"
  target/release/coeur-lab --coeur "$PWD/target/release/coeur" --instances "$1" \
    --pin "$INSTANCE_CPUS" --client-id "$CLIENT_ID" --secret "$SECRET" \
    --redirect-uri "$REDIRECT_URI" <"$tmp/ctl" >"$tmp/lab.out" 2>"$tmp/lab.err" &
  lab_pid=$!
  exec 3>"$tmp/ctl"
  for _ in $(seq 1 600); do
    grep -q '^ready$' "$tmp/lab.out" 2>/dev/null && break
    kill -0 "$lab_pid" 2>/dev/null || { cat "$tmp/lab.err" >&2; fail "the lab did not start"; }
    sleep 0.2
  done
  grep -q '^ready$' "$tmp/lab.out" || fail "the lab did not get ready"
  public="$(sed -n 's/^public=//p' "$tmp/lab.out")"
  pids="$(sed -n 's/^pids=//p' "$tmp/lab.out")"
}

down() {
  exec 3>&-
  wait "$lab_pid" || true
  lab_pid=""
  rm -f "$tmp/ctl"
}

# instances' CPU seconds (user + system) so far.
cpu_of() {
  local total=0 p
  for p in ${pids//,/ }; do
    total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
  done
  echo "$total"
}
CLK_TCK="$(getconf CLK_TCK)"

grants() {
  export BENCH_TOKEN_PATH=/auth/realms/edit/protocol/openid-connect/token
  export BENCH_CLIENT_ID="$CLIENT_ID" BENCH_SECRET="$SECRET" BENCH_SCOPE=scope_all
  local cmd=("${on_load[@]}" wrk -t1 -c"$CONNECTIONS" -s scripts/bench/client_credentials.lua)
  "${cmd[@]}" -d"${WARMUP}s" "$public" >/dev/null
  local c0 c1
  c0="$(cpu_of)"
  "${cmd[@]}" -d"${DURATION}s" --latency "$public" >"$tmp/wrk.txt"
  c1="$(cpu_of)"
  local bad rps p99
  bad="$(sed -n 's/^bench: non-200 responses: \([0-9]*\)$/\1/p' "$tmp/wrk.txt")"
  rps="$(sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' "$tmp/wrk.txt")"
  p99="$(sed -n 's/^bench: p50_ms=[0-9.]* p99_ms=\([0-9.]*\)$/\1/p' "$tmp/wrk.txt")"
  [[ -n "$rps" && "$bad" == 0 ]] || { cat "$tmp/wrk.txt" >&2; fail "grants: non-200 answers"; }
  awk -v r="$rps" -v p="$p99" -v c=$((c1 - c0)) -v h="$CLK_TCK" -v d="$DURATION" \
    'BEGIN { printf "%.0f %s %.0f\n", r, p, (c > 0 ? r * d / (c / h) : 0) }'
}

logins() {
  "${on_load[@]}" target/release/coeur-load codeflow --base "$public" --realm edit \
    --client-id "$CLIENT_ID" --secret "$SECRET" --redirect-uri "$REDIRECT_URI" \
    --vus "$VUS" --duration "$DURATION" --warmup "$WARMUP" >"$tmp/codeflow.txt" 2>&1 ||
    { cat "$tmp/codeflow.txt" >&2; fail "code-flow driver failed"; }
  local line
  line="$(grep '^RESULT' "$tmp/codeflow.txt")"
  printf '%s %s\n' "$(sed -n 's/.*logins_per_s=\([0-9.]*\).*/\1/p' <<<"$line")" \
    "$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
}

say "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs; instances on CPU(s) $INSTANCE_CPUS, load on CPU $LOAD_CPU"
declare -A G L
for n in 1 2 3; do
  say "$n instance(s) behind HAProxy"
  up "$n"
  read -r g gp99 gcpu <<<"$(grants)"
  read -r l lp99 <<<"$(logins)"
  down
  G[$n]="$g" L[$n]="$l"
  printf 'instances=%d grants_per_s=%s grants_p99_ms=%s grants_per_instance_cpu_s=%s logins_per_s=%s logins_p99_ms=%s\n' \
    "$n" "$g" "$gp99" "$gcpu" "$l" "$lp99"
done
printf '\nper-instance efficiency (figure with N instances / (N x figure with 1)):\n'
for n in 2 3; do
  awk -v n="$n" -v g="${G[$n]}" -v g1="${G[1]}" -v l="${L[$n]}" -v l1="${L[1]}" \
    'BEGIN { printf "  %d instances: grants %.2f, logins %.2f\n", n, g / (n * g1), l / (n * l1) }'
done
