#!/usr/bin/env bash
# CA benchmark: coeur's certificate authority against `openssl ca`, and against the physical
# limit of its own building blocks, in one run. Same key type (ECDSA P-256 CA key and P-256
# subject keys) and same profile (SSL_SERV) throughout.
#
#   (a) `openssl ca -batch -infiles` over N pre-generated CSRs, with a minimal CA config in a
#       temporary directory (P-256 CA key, SSL_SERV-like extensions) -> certificates/s
#       (median of BENCH_OPENSSL_RUNS runs);
#   (b) coeur's issuance through its HTTP API (POST /pki/api/v1/requests, approved at once in
#       the sandbox realm "edit", bearer token from client_credentials with scope ca:request),
#       driven by scripts/bench/ca-issue.mjs with concurrent keep-alive connections rotating
#       the same CSRs. The server commits each certificate with its audit record before it
#       answers; the run checks afterwards that the store holds every certificate answered and
#       that the audit chain verifies -> certificates/s, and the ratio to (a);
#   (c) the raw rates of the building blocks on one thread (`cargo bench --bench ca`:
#       CSR parse + verification, P-256 signature of a TBS-sized message, a whole certificate
#       built in memory, an OCSP answer signed in memory);
#   (d) OCSP responses/s with wrk (scripts/bench/ocsp.lua): a fixed request without nonce for
#       an issued certificate (answered from coeur's cache), then requests whose nonce changes
#       every time (signed on demand); one answer of each kind is first checked with
#       `openssl ocsp`. GET /healthz is measured the same way first, as the HTTP floor of the
#       same server;
#   (e) a full CRL with BENCH_CRL_ENTRIES revoked certificates (1,000,000 by default): rows
#       inserted straight into the SQLite `certificates` table of the TEST CA, then
#       `coeur ca crl` timed under /usr/bin/time -v (elapsed, peak RSS) and the CRL checked
#       with `openssl crl -CAfile`.
#
# coeur is built in release mode (cargo build --release --locked) and runs on SQLite in a
# temporary directory with the repository's realms/ and pki/ and the "modern" hierarchy
# (issuing CA MOD-EL-ORG-TEST: P-256). The server and `openssl ca` are pinned to one CPU
# (taskset) and the load generators to another, so figures are per core. Traffic goes to
# 127.0.0.1 only, every measurement is bounded, and every process and temporary file is
# removed on exit.
#
# On a shared machine, wall-clock rates move with other processes' load. Each server figure
# therefore also comes with the server's CPU use over the measured window, the rate per server
# CPU-second, and its run-queue wait: seconds per second its threads spent runnable but not
# running (from /proc/PID/task/*/schedstat; other processes on its CPU and its own threads
# competing for it both count); `openssl ca` likewise with its rate per CPU-second.
#
# Usage: scripts/bench-ca.sh [--no-build] [--no-rust-bench] [--no-crl] [--enforce-targets]
#   --no-build         use the existing target/release/coeur
#   --no-rust-bench    skip (c)
#   --no-crl           skip (e)
#   --enforce-targets  exit 1 when a coeur figure misses its target
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10]           seconds per measurement
#   BENCH_WARMUP [3]              seconds of warm-up before each measurement (not counted)
#   BENCH_CSRS [2000]             pre-generated P-256 CSRs
#   BENCH_OPENSSL_RUNS [3]        runs of `openssl ca` (the median is reported)
#   BENCH_CONNECTIONS [16]        concurrent issuance requests
#   BENCH_OCSP_CONNECTIONS [64]   wrk keep-alive connections for OCSP
#   BENCH_CRL_ENTRIES [1000000]   revoked certificates in the CRL
#   BENCH_CRL_DER [cert]          what the inserted rows hold in `der`: "cert" (an issued
#                                 certificate, so that rows have their real size) or "small"
#   BENCH_SECONDS [2]             seconds per case of (c)
#   BENCH_SERVER_CPU [0]          CPU of coeur and `openssl ca`
#   BENCH_LOAD_CPU [1]            CPU of wrk and the issuance driver
#
# Needs: cargo, node, curl, openssl, taskset (util-linux); wrk, /usr/bin/time and sqlite3 are
# installed from Debian's packages when missing (as root).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=true
rust_bench=true
crl=true
enforce=false
for arg in "$@"; do
  case "$arg" in
    --no-build) build=false ;;
    --no-rust-bench) rust_bench=false ;;
    --no-crl) crl=false ;;
    --enforce-targets) enforce=true ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'bench-ca.sh: unknown argument %s\n' "$arg" >&2
      exit 2
      ;;
  esac
done

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
NCSR="${BENCH_CSRS:-2000}"
OPENSSL_RUNS="${BENCH_OPENSSL_RUNS:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
OCSP_CONNECTIONS="${BENCH_OCSP_CONNECTIONS:-64}"
CRL_ENTRIES="${BENCH_CRL_ENTRIES:-1000000}"
CRL_DER="${BENCH_CRL_DER:-cert}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
LOAD_CPU="${BENCH_LOAD_CPU:-1}"
export BENCH_SECONDS="${BENCH_SECONDS:-2}"

TARGET_RATIO=3
TARGET_OCSP_CACHED=50000
TARGET_CRL_SECONDS=3
TARGET_CRL_MIB=256

CA_ID=MOD-EL-ORG-TEST
ROOT_ID=MOD-R-EL-TEST
PROFILE=SSL_SERV
REALM=edit
CLIENT_ID=bench
SECRET="bench-secret-$(printf '%s' "$RANDOM$RANDOM$RANDOM$$" | sha256sum | cut -c1-40)"
STRUCTURE_ID=318751275100020
ORGANIZATION="Bench"
STATE="Paris (75)"

say() { printf '==> %s\n' "$*"; }
fail() {
  printf 'bench-ca.sh: %s\n' "$*" >&2
  exit 1
}

# --- tools -------------------------------------------------------------------

for t in cargo node curl openssl taskset; do
  command -v "$t" >/dev/null || fail "$t is required"
done
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if ((${#missing[@]})); then
  say "installing ${missing[*]} (Debian packages)"
  ((EUID == 0)) || fail "missing ${missing[*]}; install with: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; } ||
    fail "could not install ${missing[*]}"
fi

ncpu="$(nproc)"
if ((ncpu < 2)) || [[ "$SERVER_CPU" == "$LOAD_CPU" ]]; then
  printf 'bench-ca.sh: warning: server and load generator share a CPU; figures are not per-core\n' >&2
fi

# --- build -------------------------------------------------------------------

if $build; then
  say "cargo build --release --locked"
  cargo build --release --locked
fi
COEUR="$PWD/target/release/coeur"
[[ -x "$COEUR" ]] || fail "$COEUR is missing (run without --no-build)"

# --- lifecycle ---------------------------------------------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/coeur-bench-ca.XXXXXX")"
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

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_http() { # wait_http URL SECONDS LOG
  local url="$1" secs="$2" log="$3"
  for _ in $(seq $((secs * 10))); do
    curl -fs -o /dev/null "$url" && return 0
    sleep 0.1
  done
  cat "$log" >&2
  fail "no answer from $url after ${secs}s"
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# runq_ns PID: time the process's threads spent runnable but waiting for a CPU, in ns.
runq_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.0f", s }'; }
CLK_TCK="$(getconf CLK_TCK)"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
fmt0() { printf '%.0f' "$1"; }
per_cpu() { awk -v r="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.0f", r / c; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { # verdict VALUE TARGET [max]
  if [[ "${3:-min}" == max ]]; then
    awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "met" : "NOT met") }'
  else
    awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t ? "met" : "NOT met") }'
  fi
}

say "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) ($ncpu CPUs)"
say "server and openssl on CPU $SERVER_CPU, load generators on CPU $LOAD_CPU; ${WARMUP}s warm-up + ${DURATION}s per measurement"

# --- CSRs --------------------------------------------------------------------

say "generating $NCSR P-256 CSRs"
mkdir -p "$tmp/csr"
export BENCH_CSR_DIR="$tmp/csr" BENCH_SUBJECT_BASE="/C=FR/ST=$STATE/O=$ORGANIZATION/OU=$STRUCTURE_ID"
seq 1 "$NCSR" | xargs -P "$ncpu" -n 50 sh -c '
  for i in "$@"; do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
      -subj "$BENCH_SUBJECT_BASE/CN=h$i.bench.example" \
      -addext "subjectAltName=DNS:h$i.bench.example" \
      -out "$BENCH_CSR_DIR/$i.pem" 2>/dev/null || exit 255
  done' sh || fail "CSR generation failed"
csr_files=()
for i in $(seq 1 "$NCSR"); do csr_files+=("$tmp/csr/$i.pem"); done
# The driver's input: "<dns name>\t<PEM with newlines escaped>" per line.
for i in $(seq 1 "$NCSR"); do
  printf 'h%s.bench.example\t%s\n' "$i" "$(awk '{ printf "%s\\n", $0 }' "$tmp/csr/$i.pem")"
done >"$tmp/csrs.tsv"

# --- (a) openssl ca ----------------------------------------------------------

say "(a) openssl ca -batch -infiles: $NCSR CSRs, P-256 CA key, $OPENSSL_RUNS runs"
oca="$tmp/openssl-ca"
mkdir -p "$oca"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
  -keyout "$oca/ca.key" -out "$oca/ca.pem" \
  -subj "/C=FR/O=COEUR/OU=0002 000000000/OU=IGC-SANTE TEST/CN=TEST AC MODERNE ELEMENTAIRE ORGANISATIONS" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null
# SSL_SERV as coeur issues it: same key usages, EKUs, CRL distribution points, freshest CRL,
# AIA, policy with CPS; the SAN comes from the CSR (copy_extensions). OpenSSL's config splits
# values on commas, so the LDAP URLs' commas are written %2C (same length give or take).
pub="http://127.0.0.1:8080/pki"
ldap="ldap://annuaire-igc.example/cn=TEST%20AC%20MODERNE%20ELEMENTAIRE%20ORGANISATIONS%2Cou=TEST%20AC%20RACINE%20MODERNE%20ELEMENTAIRE%2Cou=IGC-SANTE%20TEST%2Cou=0002%20000000000%2Co=COEUR%2Cc=FR"
cat >"$oca/openssl.cnf" <<EOF
[ ca ]
default_ca = bench

[ bench ]
dir = $oca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
serial = \$dir/serial
rand_serial = yes
default_md = sha256
default_days = 1095
policy = policy_any
unique_subject = no
preserve = yes
email_in_dn = no
copy_extensions = copy
x509_extensions = ssl_serv

[ policy_any ]
countryName = optional
stateOrProvinceName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[ ssl_serv ]
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
crlDistributionPoints = URI:$pub/crl/$CA_ID.crl, URI:$ldap?certificateRevocationList;binary?base?objectClass=pkiCA
freshestCRL = URI:$pub/crl/$CA_ID-delta.crl, URI:$ldap?deltaRevocationList;binary?base?objectClass=pkiCA
certificatePolicies = @policy
authorityInfoAccess = OCSP;URI:$pub/ocsp, caIssuers;URI:$pub/ca/$CA_ID.cer

[ policy ]
policyIdentifier = 1.2.250.1.213.1.7.2.1.1.1.1
CPS.1 = $pub/PC
EOF
openssl_rates=()
openssl_cpu_rates=()
for run in $(seq 1 "$OPENSSL_RUNS"); do
  rm -rf "$oca/newcerts" "$oca/index.txt"* "$oca/certs.pem" "$oca/serial"*
  mkdir -p "$oca/newcerts"
  : >"$oca/index.txt"
  t0="$EPOCHREALTIME"
  # Certificates to standard output (OpenSSL 3.0's -out keeps only one of a batch); each is
  # also written to newcerts/ and the index is written at the end, as usual.
  /usr/bin/time -f '%U %S' -o "$tmp/openssl-ca.time" taskset -c "$SERVER_CPU" \
    openssl ca -batch -notext -config "$oca/openssl.cnf" \
    -infiles "${csr_files[@]}" >"$oca/certs.pem" 2>"$tmp/openssl-ca.log" ||
    { tail -20 "$tmp/openssl-ca.log" >&2; fail "openssl ca failed"; }
  t1="$EPOCHREALTIME"
  cpu="$(awk '{ print $1 + $2 }' "$tmp/openssl-ca.time")"
  n="$(grep -c 'BEGIN CERTIFICATE' "$oca/certs.pem")"
  ((n == NCSR)) || fail "openssl ca issued $n certificates instead of $NCSR"
  n="$(find "$oca/newcerts" -name '*.pem' | wc -l)"
  ((n == NCSR)) || fail "openssl ca stored $n certificates instead of $NCSR"
  n="$(wc -l <"$oca/index.txt")"
  ((n == NCSR)) || fail "openssl ca's index lists $n certificates instead of $NCSR"
  rate="$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')"
  openssl_rates+=("$rate")
  openssl_cpu_rates+=("$(awk -v n="$n" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.1f", n / c; else print 0 }')")
  printf '    run %s: %s certificates in %.3f s (%s s CPU): %s/s\n' "$run" "$n" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$cpu" "$rate"
done
openssl_rate="$(printf '%s\n' "${openssl_rates[@]}" | median)"
openssl_cpu_rate="$(printf '%s\n' "${openssl_cpu_rates[@]}" | median)"
# One certificate checked, and its size next to coeur's.
awk '/BEGIN CERTIFICATE/ { p = 1 } p { print } /END CERTIFICATE/ { exit }' "$oca/certs.pem" >"$oca/first.pem"
openssl verify -CAfile "$oca/ca.pem" "$oca/first.pem" >/dev/null || fail "openssl ca issued an unverifiable certificate"
openssl_cert_bytes="$(openssl x509 -in "$oca/first.pem" -outform DER | wc -c)"

# --- coeur server ------------------------------------------------------------

port="$(free_port)"
base="http://127.0.0.1:$port"
coeur_args=(--database-url "sqlite://$tmp/coeur.db" --keys-dir "$tmp/keys" --crl-dir "$tmp/crl"
  --pki-hierarchy modern --realms-dir realms --pki-dir pki)
mkdir -p "$tmp/keys"
"$COEUR" "${coeur_args[@]}" client add --realm "$REALM" --client-id "$CLIENT_ID" \
  --secret "$SECRET" --grant-type client_credentials --scope ca:request \
  --ca-structure "$STRUCTURE_ID" --ca-dns-suffix bench.example \
  --redirect-uri https://x.example/cb >/dev/null 2>"$tmp/client-add.log" ||
  { cat "$tmp/client-add.log" >&2; fail "coeur client add failed"; }

serve_args=(--listen "127.0.0.1:$port" --public-url "$base")
# Servers that also open a mutual-TLS listener get a free port for it too.
if "$COEUR" serve --help 2>/dev/null | grep -q -- '--card-listen'; then
  serve_args+=(--card-listen "127.0.0.1:$(free_port)")
fi
say "starting coeur on $base (SQLite in a temporary directory, hierarchy modern)"
COEUR_LOG=warn taskset -c "$SERVER_CPU" "$COEUR" "${coeur_args[@]}" serve "${serve_args[@]}" \
  >"$tmp/coeur.log" 2>&1 &
coeur_pid=$!
pids+=("$coeur_pid")
wait_http "$base/healthz" 120 "$tmp/coeur.log"

"$COEUR" "${coeur_args[@]}" --public-url "$base" ca export --ca "$CA_ID" >"$tmp/ca.pem" 2>/dev/null
"$COEUR" "${coeur_args[@]}" --public-url "$base" ca export --ca "$ROOT_ID" >"$tmp/root.pem" 2>/dev/null
cat "$tmp/ca.pem" "$tmp/root.pem" >"$tmp/chain.pem"
openssl x509 -in "$tmp/ca.pem" -noout -text | grep -q 'ASN1 OID: prime256v1' ||
  fail "$CA_ID does not have a P-256 key"

# One issuance by hand: the answer must be a certificate that verifies up to the root.
token="$(curl -fs -u "$CLIENT_ID:$SECRET" -d grant_type=client_credentials -d scope=ca:request \
  "$base/auth/realms/$REALM/protocol/openid-connect/token" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).access_token))')" ||
  fail "no access token with scope ca:request"
node -e '
  const [csr, ca, profile, sid, org, st] = process.argv.slice(1);
  const pem = require("fs").readFileSync(csr, "utf8");
  console.log(JSON.stringify({ ca, profile, csr: pem,
    subject: { structure_id: sid, organization: org, state: st, dns_names: ["h1.bench.example"] } }));
' "$tmp/csr/1.pem" "$CA_ID" "$PROFILE" "$STRUCTURE_ID" "$ORGANIZATION" "$STATE" >"$tmp/submit.json"
status="$(curl -s -o "$tmp/submit-answer.json" -w '%{http_code}' -H "authorization: Bearer $token" \
  -H 'content-type: application/json' --data-binary "@$tmp/submit.json" "$base/pki/api/v1/requests")"
[[ "$status" == 201 ]] || fail "issuance answered $status: $(head -c 300 "$tmp/submit-answer.json")"
node -e '
  const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (o.status !== "issued") { console.error(`status ${o.status}`); process.exit(1); }
  process.stdout.write(o.certificate);
' "$tmp/submit-answer.json" >"$tmp/leaf.pem"
openssl verify -CAfile "$tmp/root.pem" -untrusted "$tmp/ca.pem" "$tmp/leaf.pem" >/dev/null ||
  fail "the issued certificate does not verify"
coeur_cert_bytes="$(openssl x509 -in "$tmp/leaf.pem" -outform DER | wc -c)"
say "    check: one SSL_SERV certificate issued and verified ($coeur_cert_bytes bytes DER; openssl ca's: $openssl_cert_bytes bytes)"

# --- (b) coeur issuance ------------------------------------------------------

say "(b) coeur issuance over HTTP: $CONNECTIONS concurrent requests, $NCSR CSRs rotated"
taskset -c "$LOAD_CPU" node scripts/bench/ca-issue.mjs --base "$base" --realm "$REALM" \
  --client-id "$CLIENT_ID" --secret "$SECRET" --csrs "$tmp/csrs.tsv" --ca "$CA_ID" \
  --profile "$PROFILE" --structure-id "$STRUCTURE_ID" --organization "$ORGANIZATION" \
  --state "$STATE" --connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP" \
  --server-pid "$coeur_pid" >"$tmp/issue.txt" 2>&1 ||
  { cat "$tmp/issue.txt" >&2; fail "issuance driver failed"; }
sed 's/^/    /' "$tmp/issue.txt"
result="$(grep '^RESULT ' "$tmp/issue.txt")" || fail "issuance driver printed no result"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $result"; }
coeur_rate="$(field certs_per_s)"
issue_p50="$(field p50_ms)"
issue_p99="$(field p99_ms)"
issue_cpu="$(field server_cpu)"
issue_wait="$(field server_runq_wait)"
issued_total="$(field issued_total)"

# Everything answered is in the store, with its audit record, and the chain verifies. (The
# server may issue certificates of its own, e.g. for a TLS listener: only this client's count.)
stored="$(sqlite3 "$tmp/coeur.db" "SELECT count(*) FROM certificates c JOIN cert_requests r ON r.id = c.request_id AND r.serial = c.serial WHERE c.ca_id = '$CA_ID' AND r.requester LIKE '$CLIENT_ID:%'")"
audited="$(sqlite3 "$tmp/coeur.db" "SELECT count(*) FROM audit_log WHERE action = 'issue' AND subject LIKE '$CA_ID/%' AND actor LIKE '$CLIENT_ID:%'")"
((stored == issued_total + 1)) || fail "the store holds $stored certificates, $((issued_total + 1)) were answered"
((audited == stored)) || fail "$audited issue audit records for $stored certificates"
"$COEUR" "${coeur_args[@]}" audit verify >"$tmp/audit.txt" 2>&1 ||
  { cat "$tmp/audit.txt" >&2; fail "the audit chain does not verify"; }
say "    check: $stored certificates stored with $audited audit records; $(cat "$tmp/audit.txt")"

# --- (d) OCSP ----------------------------------------------------------------

say "(d) OCSP: checking one answer without and one with a nonce (openssl ocsp)"
for mode in -no_nonce -nonce; do
  openssl ocsp -issuer "$tmp/ca.pem" -cert "$tmp/leaf.pem" "$mode" -url "$base/pki/ocsp" \
    -CAfile "$tmp/chain.pem" >"$tmp/ocsp-check.txt" 2>&1 ||
    { cat "$tmp/ocsp-check.txt" >&2; fail "openssl ocsp $mode failed"; }
  grep -q 'Response verify OK' "$tmp/ocsp-check.txt" && grep -q ': good' "$tmp/ocsp-check.txt" ||
    { cat "$tmp/ocsp-check.txt" >&2; fail "OCSP answer ($mode) not verified as good"; }
done
openssl ocsp -issuer "$tmp/ca.pem" -cert "$tmp/leaf.pem" -no_nonce -reqout "$tmp/ocsp-req.der" >/dev/null 2>&1
openssl ocsp -issuer "$tmp/ca.pem" -cert "$tmp/leaf.pem" -nonce -reqout "$tmp/ocsp-req-nonce.der" >/dev/null 2>&1

# run_wrk LABEL NONCE(0|1) REQUEST_FILE: a warm-up run that checks every answer (status 200,
# successful OCSPResponse), then a measured run without per-answer Lua (which would slow wrk
# down) whose answers must average the size of a good answer (a refusal is a few bytes).
# Sets wrk_rps, wrk_p50, wrk_p99, wrk_cpu (server cores busy), wrk_wait (server run-queue wait
# per second: how much other processes got in the way). Fails on any bad answer, non-2xx
# status or socket error.
run_wrk() {
  local label="$1" log="$tmp/wrk-$1.txt" c0 c1 w0 w1 t0 t1 expected
  local -a cmd=(taskset -c "$LOAD_CPU" wrk -t1 -c"$OCSP_CONNECTIONS" -s scripts/bench/ocsp.lua)
  export BENCH_OCSP_NONCE="$2" BENCH_OCSP_REQUEST="$3" BENCH_OCSP_PATH=/pki/ocsp
  expected="$(curl -s -o /dev/null -w '%{size_header} %{size_download}' -H 'content-type: application/ocsp-request' \
    --data-binary "@$3" "$base/pki/ocsp" | awk '{ print $1 + $2 }')"
  BENCH_OCSP_CHECK=each "${cmd[@]}" -d"${WARMUP}s" "$base" >"$log"
  grep -q '^bench: bad responses: 0$' "$log" || { cat "$log" >&2; fail "$label: bad OCSP answers"; }
  c0="$(cpu_ticks "$coeur_pid")"
  w0="$(runq_ns "$coeur_pid")"
  t0="$EPOCHREALTIME"
  BENCH_OCSP_CHECK=size "${cmd[@]}" -d"${DURATION}s" --latency "$base" >"$log"
  t1="$EPOCHREALTIME"
  c1="$(cpu_ticks "$coeur_pid")"
  w1="$(runq_ns "$coeur_pid")"
  sed 's/^/    /' "$log"
  local non2xx sock size
  non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: \([0-9]*\)$/\1/p' "$log")"
  sock="$(grep -c '^ *Socket errors' "$log" || true)"
  size="$(sed -n 's/^bench: bytes_per_response=\([0-9.]*\)$/\1/p' "$log")"
  wrk_rps="$(sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' "$log")"
  [[ -n "$wrk_rps" && -n "$size" ]] || fail "$label: could not read wrk's output"
  ((${non2xx:-0} == 0)) || fail "$label: $non2xx non-2xx answers"
  ((sock == 0)) || fail "$label: socket errors ($(grep 'Socket errors' "$log"))"
  awk -v s="$size" -v e="$expected" 'BEGIN { d = s - e; exit !(d <= 4 && d >= -4) }' ||
    fail "$label: answers average $size bytes, a good answer is $expected bytes"
  wrk_p50="$(sed -n 's/^bench: p50_ms=\([0-9.]*\) .*/\1/p' "$log")"
  wrk_p99="$(sed -n 's/.* p99_ms=\([0-9.]*\)$/\1/p' "$log")"
  wrk_cpu="$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", c / hz / (b - a) }')"
  wrk_wait="$(awk -v w="$((w1 - w0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", w / 1e9 / (b - a) }')"
}

# The HTTP floor: what the same server, router and middleware answer per second for the
# cheapest route, measured the same way.
say "(d0) HTTP floor: wrk GET /healthz, $OCSP_CONNECTIONS connections"
taskset -c "$LOAD_CPU" wrk -t1 -c"$OCSP_CONNECTIONS" -d"${WARMUP}s" "$base/healthz" >/dev/null
c0="$(cpu_ticks "$coeur_pid")"
t0="$EPOCHREALTIME"
taskset -c "$LOAD_CPU" wrk -t1 -c"$OCSP_CONNECTIONS" -d"${DURATION}s" "$base/healthz" >"$tmp/wrk-healthz.txt"
t1="$EPOCHREALTIME"
c1="$(cpu_ticks "$coeur_pid")"
! grep -qE 'Non-2xx|Socket errors' "$tmp/wrk-healthz.txt" ||
  { cat "$tmp/wrk-healthz.txt" >&2; fail "GET /healthz: errors"; }
healthz="$(sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' "$tmp/wrk-healthz.txt")"
healthz_cpu="$(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", c / hz / (b - a) }')"
printf '    %s requests/s, server CPU %s cores\n' "$(fmt0 "$healthz")" "$healthz_cpu"

say "(d1) OCSP from cache: wrk, $OCSP_CONNECTIONS connections, fixed request without nonce"
run_wrk ocsp-cached 0 "$tmp/ocsp-req.der"
ocsp_cached="$wrk_rps" ocsp_cached_p50="$wrk_p50" ocsp_cached_p99="$wrk_p99" ocsp_cached_cpu="$wrk_cpu" ocsp_cached_wait="$wrk_wait"
say "(d2) OCSP signed on demand: wrk, $OCSP_CONNECTIONS connections, a new nonce per request"
run_wrk ocsp-nonce 1 "$tmp/ocsp-req-nonce.der"
ocsp_signed="$wrk_rps" ocsp_signed_p50="$wrk_p50" ocsp_signed_p99="$wrk_p99" ocsp_signed_cpu="$wrk_cpu" ocsp_signed_wait="$wrk_wait"

coeur_rss_kb="$(awk '/^VmHWM/ { print $2 }' "/proc/$coeur_pid/status" 2>/dev/null || echo '?')"
stop_pid "$coeur_pid"

# --- (c) building blocks -----------------------------------------------------

if $rust_bench; then
  say "(c) building blocks on one thread: cargo bench --bench ca (pinned to CPU $SERVER_CPU)"
  cargo bench --locked --bench ca --no-run >"$tmp/cargo-bench-build.log" 2>&1 ||
    { tail -30 "$tmp/cargo-bench-build.log" >&2; fail "cargo bench --bench ca does not build"; }
  taskset -c "$SERVER_CPU" cargo bench --locked --bench ca 2>/dev/null >"$tmp/rust-bench.txt" ||
    { cat "$tmp/rust-bench.txt" >&2; fail "cargo bench --bench ca failed"; }
  grep '^bench ca:' "$tmp/rust-bench.txt" | sed 's/^/    /'
  rb() { sed -n "s/^bench ca: $1: \([0-9]*\)\/s.*/\1/p" "$tmp/rust-bench.txt"; }
  rb_parse="$(rb csr_parse)" rb_verify="$(rb ecdsa_p256_verify)" rb_sign="$(rb ecdsa_p256_sign)"
  rb_issue="$(rb issue_in_memory)" rb_ocsp="$(rb ocsp_sign_on_demand)"
fi

# --- (e) CRL -----------------------------------------------------------------

if $crl; then
  say "(e) CRL: inserting $CRL_ENTRIES revoked certificates of $CA_ID (sqlite3, one transaction)"
  case "$CRL_DER" in
    cert) der_b64="$(openssl x509 -in "$tmp/leaf.pem" -outform DER | base64 -w0)" ;;
    small) der_b64="MA==" ;;
    *) fail "BENCH_CRL_DER is cert or small" ;;
  esac
  now="$(date +%s)"
  t0="$EPOCHREALTIME"
  # Serials as coeur writes them: 128 random bits, positive, lowercase hex without leading
  # zeros. Revocation times spread over 20 days; reasons unspecified, keyCompromise,
  # superseded, cessationOfOperation.
  sqlite3 "$tmp/coeur.db" >/dev/null <<EOF || fail "inserting the revoked rows failed"
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $CRL_ENTRIES)
INSERT INTO certificates (ca_id, serial, profile, subject, not_before, not_after, der,
                          request_id, issued_at, revoked_at, reason)
SELECT '$CA_ID',
       substr('1234567', abs(random()) % 7 + 1, 1) || substr(lower(hex(randomblob(16))), 2),
       '$PROFILE',
       'C=FR, ST=Paris (75), O=Bench, OU=$STRUCTURE_ID, CN=r' || i || '.bench.example',
       $now - 40 * 86400, $now + 1000 * 86400, '$der_b64', NULL, $now - 40 * 86400,
       $now - 86400 - abs(random()) % (20 * 86400),
       CASE i % 4 WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 4 ELSE 5 END
FROM n;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
  t1="$EPOCHREALTIME"
  revoked="$(sqlite3 "$tmp/coeur.db" "SELECT count(*) FROM certificates WHERE ca_id = '$CA_ID' AND revoked_at IS NOT NULL")"
  ((revoked == CRL_ENTRIES)) || fail "$revoked revoked rows instead of $CRL_ENTRIES"
  db_mib="$(($(stat -c %s "$tmp/coeur.db") / 1048576))"
  printf '    %s rows in %.1f s; database %s MiB (der column: %s)\n' "$revoked" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$db_mib" "$CRL_DER"
  plan="$(sqlite3 "$tmp/coeur.db" "EXPLAIN QUERY PLAN SELECT serial, revoked_at, reason FROM certificates WHERE ca_id = '$CA_ID' AND revoked_at IS NOT NULL AND revoked_at >= -9223372036854775808 ORDER BY serial" | tr '\n' ' ')"
  say "    SQLite plan of the CRL query: $plan"

  # The process's own start (configuration, realms, CA keys) is measured apart.
  timed() { # timed LOG COMMAND...: runs COMMAND under /usr/bin/time -v on the server CPU
    local log="$1"
    shift
    /usr/bin/time -v -o "$log" taskset -c "$SERVER_CPU" "$@"
  }
  elapsed_s() { # h:mm:ss or m:ss.cc
    sed -n 's/^\s*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
      awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }'
  }
  max_rss_kb() { sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$1"; }

  timed "$tmp/time-export.txt" "$COEUR" "${coeur_args[@]}" ca export --ca "$CA_ID" >/dev/null 2>&1 ||
    fail "coeur ca export failed"
  say "    coeur ca crl --ca $CA_ID (under /usr/bin/time -v)"
  COEUR_LOG_FORMAT=json timed "$tmp/time-crl.txt" "$COEUR" "${coeur_args[@]}" ca crl --ca "$CA_ID" \
    >"$tmp/crl-out.txt" 2>"$tmp/crl-err.txt" ||
    { cat "$tmp/crl-out.txt" "$tmp/crl-err.txt" "$tmp/time-crl.txt" >&2; fail "coeur ca crl failed"; }
  sed 's/^/    /' "$tmp/crl-out.txt"
  # sqlx logs statements slower than 1 s: how long each pass over the revoked rows took.
  sed -n 's/.*"rows_returned":\([0-9]*\).*"elapsed_secs":\([0-9.]*\).*/    sqlx slow-statement log: \1 rows read in \2 s/p' "$tmp/crl-err.txt"
  crl_s="$(elapsed_s "$tmp/time-crl.txt")"
  crl_rss_kb="$(max_rss_kb "$tmp/time-crl.txt")"
  crl_user="$(sed -n 's/^\s*User time (seconds): //p' "$tmp/time-crl.txt")"
  crl_sys="$(sed -n 's/^\s*System time (seconds): //p' "$tmp/time-crl.txt")"
  start_s="$(elapsed_s "$tmp/time-export.txt")"
  start_rss_kb="$(max_rss_kb "$tmp/time-export.txt")"
  crl_file="$tmp/crl/$CA_ID.crl"
  crl_entries="$(awk -F'\t' 'NR == 1 { print $2 + 0 }' "$tmp/crl-out.txt")"
  ((crl_entries == CRL_ENTRIES)) || fail "the CRL lists $crl_entries entries instead of $CRL_ENTRIES"
  crl_mib="$(awk -v b="$(stat -c %s "$crl_file")" 'BEGIN { printf "%.1f", b / 1048576 }')"
  if openssl crl -inform DER -in "$crl_file" -noout -CAfile "$tmp/chain.pem" >"$tmp/crl-verify.txt" 2>&1 &&
    grep -q 'verify OK' "$tmp/crl-verify.txt"; then
    crl_verify="verify OK"
  else
    cat "$tmp/crl-verify.txt" >&2
    fail "openssl crl does not verify the CRL"
  fi
  crl_rss_mib="$(awk -v k="$crl_rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
  say "    openssl crl -CAfile: $crl_verify ($crl_mib MiB, $crl_entries entries)"
fi

# --- summary -----------------------------------------------------------------

echo
say "results (load average now $(cut -d' ' -f1-3 /proc/loadavg); ${DURATION}s per measurement after ${WARMUP}s warm-up)"
printf 'RESULT openssl ca issuance (P-256, SSL_SERV, batch, 1 core): %s certs/s   (median of %s runs: %s; %s certs per CPU-second)\n' \
  "$(fmt0 "$openssl_rate")" "$OPENSSL_RUNS" "$(printf '%s ' "${openssl_rates[@]}" | sed 's/ $//')" "$(fmt0 "$openssl_cpu_rate")"
printf 'RESULT coeur issuance over HTTP (P-256, SSL_SERV, %s connections): %s certs/s   (p50 %s ms, p99 %s ms; server CPU %s cores, %s certs per server CPU-second, run-queue wait %s s/s)\n' \
  "$CONNECTIONS" "$(fmt0 "$coeur_rate")" "$issue_p50" "$issue_p99" "$issue_cpu" "$(per_cpu "$coeur_rate" "$issue_cpu")" "$issue_wait"
coeur_ratio="$(ratio "$coeur_rate" "$openssl_rate")"
printf 'RESULT ratio coeur/openssl issuance: %s   (target >= %s: %s; per CPU-second: %s)\n' \
  "$coeur_ratio" "$TARGET_RATIO" "$(verdict "$coeur_ratio" "$TARGET_RATIO")" \
  "$(ratio "$(per_cpu "$coeur_rate" "$issue_cpu")" "$openssl_cpu_rate")"
if $rust_bench; then
  printf 'RESULT raw P-256 CSR parse+verify (coeur::core::pki::csr::parse, 1 thread): %s/s   (bare ECDSA verify %s/s)\n' "$rb_parse" "$rb_verify"
  printf 'RESULT raw P-256 signature of a TBS-sized message (aws-lc-rs, 1 thread): %s/s\n' "$rb_sign"
  printf 'RESULT certificate built and signed in memory (no HTTP, no storage, 1 thread): %s/s   (coeur over HTTP reaches %s%% of it)\n' \
    "$rb_issue" "$(awk -v a="$coeur_rate" -v b="$rb_issue" 'BEGIN { printf "%.0f", 100 * a / b }')"
  printf 'RESULT OCSP answer signed in memory (1 thread): %s/s\n' "$rb_ocsp"
fi
printf 'RESULT OCSP from cache (no nonce, %s connections): %s responses/s   (target >= %s per core: %s; p50 %s ms, p99 %s ms; server CPU %s cores, %s per server CPU-second, run-queue wait %s s/s)\n' \
  "$OCSP_CONNECTIONS" "$(fmt0 "$ocsp_cached")" "$TARGET_OCSP_CACHED" "$(verdict "$ocsp_cached" "$TARGET_OCSP_CACHED")" \
  "$ocsp_cached_p50" "$ocsp_cached_p99" "$ocsp_cached_cpu" "$(per_cpu "$ocsp_cached" "$ocsp_cached_cpu")" "$ocsp_cached_wait"
printf 'RESULT OCSP signed on demand (new nonce each, %s connections): %s responses/s   (p50 %s ms, p99 %s ms; server CPU %s cores, %s per server CPU-second, run-queue wait %s s/s)\n' \
  "$OCSP_CONNECTIONS" "$(fmt0 "$ocsp_signed")" "$ocsp_signed_p50" "$ocsp_signed_p99" "$ocsp_signed_cpu" "$(per_cpu "$ocsp_signed" "$ocsp_signed_cpu")" "$ocsp_signed_wait"
printf 'RESULT HTTP floor (GET /healthz, same server, %s connections): %s requests/s   (server CPU %s cores, %s per server CPU-second)\n' \
  "$OCSP_CONNECTIONS" "$(fmt0 "$healthz")" "$healthz_cpu" "$(per_cpu "$healthz" "$healthz_cpu")"
printf 'RESULT coeur server peak RSS: %s kB\n' "$coeur_rss_kb"
if $crl; then
  printf 'RESULT CRL with %s entries (coeur ca crl): %s s elapsed, %s MiB peak RSS   (targets <= %s s: %s, <= %s MiB: %s; user %s s, sys %s s; CRL %s MiB, %s)\n' \
    "$CRL_ENTRIES" "$crl_s" "$crl_rss_mib" "$TARGET_CRL_SECONDS" "$(verdict "$crl_s" "$TARGET_CRL_SECONDS" max)" \
    "$TARGET_CRL_MIB" "$(verdict "$crl_rss_mib" "$TARGET_CRL_MIB" max)" "$crl_user" "$crl_sys" "$crl_mib" "$crl_verify"
  printf 'RESULT coeur CLI start alone (coeur ca export): %s s elapsed, %s MiB peak RSS\n' \
    "$start_s" "$(awk -v k="$start_rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')"
fi

if $enforce; then
  missed=()
  [[ "$(verdict "$coeur_ratio" "$TARGET_RATIO")" == met ]] || missed+=("issuance ratio")
  [[ "$(verdict "$ocsp_cached" "$TARGET_OCSP_CACHED")" == met ]] || missed+=("OCSP from cache")
  if $crl; then
    [[ "$(verdict "$crl_s" "$TARGET_CRL_SECONDS" max)" == met ]] || missed+=("CRL time")
    [[ "$(verdict "$crl_rss_mib" "$TARGET_CRL_MIB" max)" == met ]] || missed+=("CRL memory")
  fi
  ((${#missed[@]} == 0)) || fail "targets missed: ${missed[*]}"
fi
