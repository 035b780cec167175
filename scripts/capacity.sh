#!/usr/bin/env bash
# What one operation costs PostgreSQL and the instance: per login (full code flow), per
# client-credentials grant and per certificate issuance through the CA API, the statements
# run, the rows they touched, the WAL bytes written (pg_stat_statements, pg_current_wal_lsn)
# and the CPU time of the coeur instance and of PostgreSQL. docs/capacity.md takes its
# figures from this script's output.
#
# One coeur instance behind HAProxy on a PostgreSQL of its own (the lab of tests/it/cluster,
# through coeur-lab --pg-stats). Each operation runs for BENCH_DURATION seconds at a moderate
# concurrency; the counters are read before and after, so warm-up effects are included and
# the figures are averages over many operations.
#
# Usage: scripts/capacity.sh [--no-build]
# Environment: BENCH_DURATION [10], BENCH_INSTANCE_CPUS [1], BENCH_LOAD_CPU [0].
# Needs root (network namespaces), iproute2, haproxy, wrk, node, openssl, psql, PostgreSQL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=true
[[ "${1:-}" == --no-build ]] && build=false
DURATION="${BENCH_DURATION:-10}"
INSTANCE_CPUS="${BENCH_INSTANCE_CPUS:-1}"
LOAD_CPU="${BENCH_LOAD_CPU:-0}"
CLIENT_ID=capacity
REDIRECT_URI=https://rp.example/cb
SECRET="capacity-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CA_ID=MOD-EL-ORG-TEST
STRUCTURE_ID=318751275100020

say() { printf '== %s\n' "$*" >&2; }
fail() {
  printf 'capacity.sh: %s\n' "$*" >&2
  exit 1
}
((EUID == 0)) || fail "network namespaces need root"

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

mkfifo "$tmp/ctl"
target/release/coeur-lab --coeur "$PWD/target/release/coeur" --instances 1 --pin "$INSTANCE_CPUS" \
  --pg-stats --client-id "$CLIENT_ID" --secret "$SECRET" --redirect-uri "$REDIRECT_URI" \
  <"$tmp/ctl" >"$tmp/lab.out" 2>"$tmp/lab.err" &
lab_pid=$!
exec 3>"$tmp/ctl"
for _ in $(seq 1 600); do
  grep -q '^ready$' "$tmp/lab.out" 2>/dev/null && break
  kill -0 "$lab_pid" 2>/dev/null || { cat "$tmp/lab.err" >&2; fail "the lab did not start"; }
  sleep 0.2
done
grep -q '^ready$' "$tmp/lab.out" || fail "the lab did not get ready"
public="$(sed -n 's/^public=//p' "$tmp/lab.out")"
database="$(sed -n 's/^database=//p' "$tmp/lab.out")"
pid="$(sed -n 's/^pids=//p' "$tmp/lab.out")"
pg_pid="$(sed -n 's/^pg_pid=//p' "$tmp/lab.out")"
env_file="$(sed -n 's/^env_file=//p' "$tmp/lab.out")"
coeur() { (set -a && . "$env_file" && exec target/release/coeur "$@"); }
psql_q() { psql -X -q -At "$database" -c "$1"; }
psql_q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

CLK_TCK="$(getconf CLK_TCK)"
ticks() { # CPU ticks of the processes given
  local total=0 p
  for p in "$@"; do
    [[ -r "/proc/$p/stat" ]] &&
      total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
  done
  echo "$total"
}
pg_procs() { echo "$pg_pid $(ps -o pid= --ppid "$pg_pid" | tr '\n' ' ')"; }

# measure LABEL COMMAND…: runs the command (which prints the number of operations done on
# its last line) and prints the cost per operation.
measure() {
  local label="$1"
  shift
  psql_q "SELECT pg_stat_statements_reset()" >/dev/null
  local lsn0 c0 p0 procs
  procs="$(pg_procs)"
  lsn0="$(psql_q "SELECT pg_current_wal_lsn()")"
  c0="$(ticks "$pid")"
  # shellcheck disable=SC2086
  p0="$(ticks $procs)"
  local n
  n="$("$@" | tail -n 1)"
  local c1 p1 wal stats
  c1="$(ticks "$pid")"
  # shellcheck disable=SC2086
  p1="$(ticks $procs)"
  wal="$(psql_q "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0')")"
  stats="$(psql_q "SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(rows), 0),
      COALESCE(SUM(calls) FILTER (WHERE query ~* '^\\s*(insert|update|delete)'), 0)
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query !~* 'pg_stat_statements|pg_current_wal_lsn|pg_wal_lsn_diff'")"
  IFS='|' read -r calls rows writes <<<"$stats"
  awk -v l="$label" -v n="$n" -v calls="$calls" -v rows="$rows" -v w="$writes" -v wal="$wal" \
    -v c=$((c1 - c0)) -v p=$((p1 - p0)) -v h="$CLK_TCK" 'BEGIN {
      if (n <= 0) { print l ": no operation done" > "/dev/stderr"; exit 1 }
      printf "%s: operations=%d statements=%.1f writes=%.1f rows=%.1f wal_bytes=%.0f instance_cpu_ms=%.3f postgres_cpu_ms=%.3f\n",
        l, n, calls / n, w / n, rows / n, wal / n, c * 1000 / h / n, p * 1000 / h / n }'
  psql_q "SELECT calls, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query !~* 'pg_stat_statements|pg_current_wal_lsn|pg_wal_lsn_diff'
    ORDER BY calls DESC LIMIT 12" | sed 's/^/    /' >&2
}

logins() {
  taskset -c "$LOAD_CPU" target/release/coeur-load codeflow --base "$public" --realm edit \
    --client-id "$CLIENT_ID" --secret "$SECRET" --redirect-uri "$REDIRECT_URI" \
    --vus 8 --duration "$DURATION" --warmup 0 >"$tmp/codeflow.txt" 2>&1 ||
    { cat "$tmp/codeflow.txt" >&2; fail "code-flow driver failed"; }
  sed -n 's/^RESULT logins=\([0-9]*\).*/\1/p' "$tmp/codeflow.txt"
}

grants() {
  BENCH_TOKEN_PATH=/auth/realms/edit/protocol/openid-connect/token BENCH_CLIENT_ID="$CLIENT_ID" \
    BENCH_SECRET="$SECRET" BENCH_SCOPE=scope_all taskset -c "$LOAD_CPU" \
    wrk -t1 -c16 -d"${DURATION}s" -s scripts/bench/client_credentials.lua "$public" >"$tmp/wrk.txt"
  grep -q '^bench: non-200 responses: 0$' "$tmp/wrk.txt" || { cat "$tmp/wrk.txt" >&2; fail "grants failed"; }
  sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$tmp/wrk.txt"
}

issuances() {
  taskset -c "$LOAD_CPU" node scripts/bench/ca-issue.mjs --base "$public" --realm edit \
    --client-id ca-capacity --secret "$SECRET" --csrs "$tmp/csrs.tsv" --ca "$CA_ID" \
    --profile SSL_SERV --structure-id "$STRUCTURE_ID" --organization Capacity \
    --state "Paris (75)" --connections 8 --duration "$DURATION" --warmup 0 >"$tmp/issue.txt" 2>&1 ||
    { cat "$tmp/issue.txt" >&2; fail "issuance driver failed"; }
  sed -n 's/^RESULT certs=\([0-9]*\).*/\1/p' "$tmp/issue.txt"
}

say "CSRs and the CA client"
for i in $(seq 1 20); do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/C=FR/ST=Paris (75)/O=Capacity/OU=$STRUCTURE_ID/CN=h$i.capacity.example" \
    -addext "subjectAltName=DNS:h$i.capacity.example" -out "$tmp/$i.csr" 2>/dev/null
  printf 'h%s.capacity.example\t%s\n' "$i" "$(awk '{ printf "%s\\n", $0 }' "$tmp/$i.csr")"
done >"$tmp/csrs.tsv"
coeur client add --realm edit --client-id ca-capacity --secret "$SECRET" \
  --grant-type client_credentials --scope ca:request --ca-structure "$STRUCTURE_ID" \
  --ca-dns-suffix capacity.example >/dev/null

say "PostgreSQL $(psql_q 'SHOW server_version'); coeur on CPU(s) $INSTANCE_CPUS; ${DURATION}s per kind"
measure login logins
measure client_credentials grants
measure issuance issuances
