#!/usr/bin/env bash
# Directory benchmark: the import of a national-size extract and FHIR searches per core,
# against their targets, on SQLite and on PostgreSQL.
#
#   (a) `coeur-annuaire generate --zip` writes BENCH_ROWS PS_LibreAcces_Personne_activite rows
#       (1.25 per professional: 2.1 M rows are 1.68 M professionals) and the FINESS extract of
#       their BENCH_STRUCTURES sites, as ZIP archives as published;
#   (b) for each database, `coeur-annuaire import` of both archives into an empty store, timed
#       under /usr/bin/time -v (elapsed, peak RSS), then imported again (nothing changes: the
#       idempotent re-import's time);
#   (c) `coeur-annuaire serve` (public reads, pinned to one CPU with taskset) answers wrk
#       (pinned to another CPU, scripts/bench/directory.lua): Practitioner searches by RPPS
#       identifier, then by family and given name, each cycling through BENCH_QUERIES
#       different professionals; requests/s and p50/p99 latency. Each path is asked once
#       first: the searches then find the practitioners' resources kept (docs/directory-fhir.md).
#
# coeur-annuaire is built in release mode. PostgreSQL is a throwaway cluster (initdb, pg_ctl
# from the newest /usr/lib/postgresql/*/bin, or COEUR_PG_BIN; fsync off, as the tests' ones).
# Traffic goes to 127.0.0.1 only; all processes and temporary files are removed on exit.
# On a shared machine (builds running beside the benchmark) the figures drop: the script
# prints the share of the server's CPU it got during each search measurement.
#
# Usage: scripts/bench-directory.sh [--no-build] [--no-sqlite] [--no-postgres]
#                                   [--no-search] [--enforce-targets]
#
# Environment (defaults in brackets):
#   BENCH_ROWS [2100000]       Personne_activite rows
#   BENCH_STRUCTURES [100000]  FINESS establishments
#   BENCH_QUERIES [2000]       distinct professionals the searches cycle through
#   BENCH_DURATION [10]        seconds per search measurement
#   BENCH_WARMUP [3]           seconds of checked warm-up before each (not counted)
#   BENCH_CONNECTIONS [32]     wrk keep-alive connections
#   BENCH_SERVER_CPU [0]       CPU the server is pinned to
#   BENCH_LOAD_CPU [1]         CPU wrk is pinned to
#   BENCH_DIR                  keep the generated extracts there (reused when present)
#
# Needs: cargo, curl, taskset (util-linux), wrk, /usr/bin/time, PostgreSQL's server binaries.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=true
sqlite=true
postgres=true
search=true
enforce=false
for arg in "$@"; do
  case "$arg" in
    --no-build) build=false ;;
    --no-sqlite) sqlite=false ;;
    --no-postgres) postgres=false ;;
    --no-search) search=false ;;
    --enforce-targets) enforce=true ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'bench-directory.sh: unknown argument %s\n' "$arg" >&2
      exit 2
      ;;
  esac
done

ROWS="${BENCH_ROWS:-2100000}"
STRUCTURES="${BENCH_STRUCTURES:-100000}"
QUERIES="${BENCH_QUERIES:-2000}"
DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"
PERSONS=$((ROWS * 4 / 5))
STAMP=202501010000

TARGET_IMPORT_SECONDS=60
TARGET_IMPORT_MIB=512
TARGET_IDENTIFIER=10000
TARGET_NAME=2000
TARGET_P99_MS=20

say() { printf '==> %s\n' "$*"; }
fail() {
  printf 'bench-directory.sh: %s\n' "$*" >&2
  exit 1
}

for t in cargo curl taskset wrk /usr/bin/time; do
  command -v "$t" >/dev/null || fail "$t is needed"
done

tmp="$(mktemp -d /tmp/coeur-bench-directory.XXXXXX)"
server_pid=""
pg_stop=""
pg_dir=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n "$pg_stop" ]] && eval "$pg_stop" >/dev/null 2>&1
  [[ -n "$pg_dir" ]] && rm -rf "$pg_dir"
  rm -rf "$tmp"
}
trap cleanup EXIT

if $build; then
  say "building coeur-annuaire (release)"
  cargo build --release --locked -p coeur-directory --bin coeur-annuaire >"$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log" >&2; fail "the build failed"; }
fi
BIN="$PWD/target/release/coeur-annuaire"
[[ -x "$BIN" ]] || fail "$BIN is missing (run without --no-build)"

data="${BENCH_DIR:-$tmp/extracts}"
pa="$data/PS_LibreAcces_Personne_activite_$STAMP.zip"
finess="$data/finess_etablissements_$STAMP.zip"
if [[ -f "$pa" && -f "$finess" ]]; then
  say "(a) reusing the extracts in $data"
else
  say "(a) generating $ROWS Personne_activite rows ($PERSONS professionals), $STRUCTURES FINESS sites"
  mkdir -p "$data"
  t0="$EPOCHREALTIME"
  "$BIN" generate --persons "$PERSONS" --structures "$STRUCTURES" --out "$data" --stamp "$STAMP" --zip >/dev/null
  printf '    %.0f s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
fi
rows="$(($(wc -l <"$data/PS_LibreAcces_Personne_activite_$STAMP.txt") - 1))"
printf '    Personne_activite: %s rows, %s MiB zipped; FINESS: %s MiB zipped\n' "$rows" \
  "$(($(stat -c %s "$pa") / 1048576))" "$(($(stat -c %s "$finess") / 1048576))"

# Request paths: RPPS numbers and names of BENCH_QUERIES professionals spread over the file.
awk -F'|' -v n="$QUERIES" -v total="$rows" '
  NR > 1 && (NR - 2) % int(total / n > 1 ? total / n : 1) == 0 && !seen[$3]++ {
    printf "/Practitioner?identifier=https://rpps.esante.gouv.fr%%7C%s\n", $2 > "'"$tmp"'/identifier.paths"
    fam = $8; gsub(/ /, "%20", fam); giv = $9; gsub(/ /, "%20", giv)
    printf "/Practitioner?family=%s&given=%s\n", fam, giv > "'"$tmp"'/name.paths"
  }' "$data/PS_LibreAcces_Personne_activite_$STAMP.txt"
# Accented names: percent-encoded as UTF-8 (the file is UTF-8, or Latin-1 as some extracts).
python3 - "$tmp/name.paths" <<'EOF'
import sys, urllib.parse
p = sys.argv[1]
data = open(p, 'rb').read()
try:
    raw = data.decode('utf-8')
except UnicodeDecodeError:
    raw = data.decode('latin-1')
open(p, 'w').write(''.join(urllib.parse.quote(l, safe='/?=&%|') + '\n' for l in raw.splitlines()))
EOF

start_postgres() {
  local bin dir port as=()
  bin="${COEUR_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
  [[ -x "$bin/initdb" ]] || fail "PostgreSQL binaries not found (set COEUR_PG_BIN)"
  # Its own directory: PostgreSQL runs as the postgres user when the script runs as root, and
  # cannot enter the script's private temporary directory.
  dir="$(mktemp -d /tmp/coeur-bench-pg.XXXXXX)"
  pg_dir="$dir"
  if ((EUID == 0)); then
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  (cd "$dir" && "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres --locale=C -E UTF8 >/dev/null)
  (cd "$dir" && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=256MB" start >/dev/null)
  pg_stop="(cd '$dir' && ${as[*]} '$bin/pg_ctl' -D '$dir/data' -m immediate stop)"
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE annuaire" >/dev/null
  db_url="postgres://postgres@127.0.0.1:$port/annuaire"
}

# import LABEL: imports both archives, sets imp_s (elapsed seconds) and imp_mib (peak RSS).
import() {
  local log="$tmp/import-$1.log"
  /usr/bin/time -v "$BIN" import --database "$db_url" "$pa" "$finess" >"$log" 2>&1 ||
    { tail -30 "$log" >&2; fail "$1: the import failed"; }
  grep -E '^read ' "$log" | sed 's/^/    /'
  imp_s="$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$log")"
  imp_mib="$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$log")"
  imp_cpu="$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$log")"
  printf '    %s s, peak RSS %s MiB, importer CPU %s s (load average %s)\n' "$imp_s" "$imp_mib" \
    "$imp_cpu" "$(load)"
}

load() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK="$(getconf CLK_TCK)"

# every_path_once LABEL: each request path of LABEL asked once, 8 at a time, so that the
# measurement finds every practitioner's resource kept (a search maps and keeps those it finds
# without one); prints how long that first pass took.
every_path_once() {
  python3 - "$base" "$tmp/$1.paths" <<'EOF'
import sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, paths = sys.argv[1], [l.strip() for l in open(sys.argv[2]) if l.strip()]
def ask(p):
    with urllib.request.urlopen(base + p) as r:
        r.read()
t = time.time()
with ThreadPoolExecutor(8) as pool:
    list(pool.map(ask, paths))
print("    first pass over the %d paths (resources mapped and kept): %.1f s" % (len(paths), time.time() - t))
EOF
}

# run_wrk LABEL: a pass over every path, a checked warm-up, then the measurement; sets rps,
# p50, p99, cpu.
run_wrk() {
  local label="$1" log="$tmp/wrk-$1-$db.txt" c0 c1 t0 t1
  local -a cmd=(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -s scripts/bench/directory.lua)
  export BENCH_PATHS="$tmp/$label.paths"
  every_path_once "$label"
  BENCH_CHECK=each "${cmd[@]}" -d"${WARMUP}s" "$base" >"$log"
  grep -q '^bench: bad responses: 0$' "$log" || { cat "$log" >&2; fail "$label: bad answers"; }
  c0="$(cpu_ticks "$server_pid")"
  t0="$EPOCHREALTIME"
  BENCH_CHECK= "${cmd[@]}" -d"${DURATION}s" "$base" >"$log"
  t1="$EPOCHREALTIME"
  c1="$(cpu_ticks "$server_pid")"
  if grep -qE 'Non-2xx|Socket errors' "$log"; then
    printf '    %s: %s\n' "$label" "$(grep -E 'Non-2xx|Socket errors' "$log" | tr -s ' ')"
    missed=true
  fi
  rps="$(sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' "$log")"
  p50="$(sed -n 's/^bench: p50_ms=\([0-9.]*\) .*/\1/p' "$log")"
  p99="$(sed -n 's/.* p99_ms=\([0-9.]*\)$/\1/p' "$log")"
  cpu="$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", c / hz / (b - a) }')"
  printf '    %s: %.0f searches/s, p50 %s ms, p99 %s ms (server CPU %s of its core; %.0f searches per CPU-second; load average %s)\n' \
    "$label" "$rps" "$p50" "$p99" "$cpu" "$(awk -v r="$rps" -v c="$cpu" 'BEGIN { print (c > 0 ? r / c : 0) }')" "$(load)"
}

results=()
verdict() { # NAME VALUE TARGET higher|lower UNIT
  local ok
  if [[ "$4" == higher ]]; then ok="$(awk -v v="$2" -v t="$3" 'BEGIN { print (v >= t) }')"; else ok="$(awk -v v="$2" -v t="$3" 'BEGIN { print (v <= t) }')"; fi
  results+=("$(printf '%-40s %10s %-6s target %s %s %s  %-6s (load average %s)' "$1" "$2" "$5" "$([[ $4 == higher ]] && echo '>=' || echo '<=')" "$3" "$5" "$([[ $ok == 1 ]] && echo ok || echo MISSED)" "$(load)")")
  [[ "$ok" == 1 ]] || missed=true
}
missed=false

bench_db() {
  db="$1"
  say "(b) $db: import into an empty store"
  import "$db-first"
  verdict "$db import time" "$imp_s" "$TARGET_IMPORT_SECONDS" lower s
  verdict "$db import peak RSS" "$imp_mib" "$TARGET_IMPORT_MIB" lower MiB
  say "(b) $db: the same extracts again (nothing changes)"
  import "$db-again"
  verdict "$db re-import time" "$imp_s" "$TARGET_IMPORT_SECONDS" lower s
  verdict "$db re-import peak RSS" "$imp_mib" "$TARGET_IMPORT_MIB" lower MiB
  $search || return 0
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:$port"
  say "(c) $db: FHIR searches, server on CPU $SERVER_CPU, wrk on CPU $LOAD_CPU, $CONNECTIONS connections"
  taskset -c "$SERVER_CPU" "$BIN" serve --listen "127.0.0.1:$port" --database "$db_url" \
    --issuer "http://127.0.0.1:9/unused" --jwks-url "http://127.0.0.1:9/unused/jwks" \
    --audience bench --public-reads --rate-burst 4000000000 --rate-per-second 4000000000 \
    >"$tmp/serve-$db.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do curl -sf "$base/metadata" >/dev/null && break; sleep 0.1; done
  curl -sf "$base/metadata" >/dev/null || { cat "$tmp/serve-$db.log" >&2; fail "the server did not start"; }
  run_wrk identifier
  verdict "$db search by identifier" "$(printf '%.0f' "$rps")" "$TARGET_IDENTIFIER" higher /s
  verdict "$db search by identifier p99" "$p99" "$TARGET_P99_MS" lower ms
  run_wrk name
  verdict "$db search by name" "$(printf '%.0f' "$rps")" "$TARGET_NAME" higher /s
  verdict "$db search by name p99" "$p99" "$TARGET_P99_MS" lower ms
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

if $sqlite; then
  db_url="sqlite:$tmp/annuaire.db"
  bench_db sqlite
  printf '    SQLite file: %s MiB\n' "$(($(du -sk "$tmp"/annuaire.db* | awk '{ s += $1 } END { print s }') / 1024))"
  rm -f "$tmp"/annuaire.db*
fi
if $postgres; then
  start_postgres
  bench_db postgres
  eval "$pg_stop" >/dev/null 2>&1 || true
  pg_stop=""
fi

say "results ($rows rows, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '    %s\n' "${results[@]}"
if $enforce && $missed; then
  fail "a target was missed"
fi
