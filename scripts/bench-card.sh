#!/usr/bin/env bash
# Benchmark: full CPS card logins per second, each with a new TLS handshake presenting the
# virtual card's certificate, against coeur on its default store (SQLite) with the sandbox realm.
# The server runs on one CPU (taskset), the load driver on the other. Traffic stays on loopback.
#
# With --external the card comes from an authority coeur does not run (a root and a PERSONNES
# CA made by `openssl ca`, given with --card-trust-file, its CRLs served over HTTP by Python's
# http.server): each login then also validates the path with rustls-webpki and looks the card
# and its CA up in the cached CRLs.
#
# The load driver is coeur-load (crates/loadgen, `coeur-load card`): one login is the authorize
# GET, the wallet POST (method=card), the card listener's GET on a new TLS connection presenting
# the card (no session resumption) and the return to the main origin, which must redirect to
# the client with a code; any failed login fails the run. Besides logins/s and their latency,
# the script prints the CPU time coeur got during the measurement (from /proc), the logins per
# server CPU-second (a figure that holds on a busy machine), what other processes took of the
# server's core, and the driver's own CPU share of its core beside how busy that core was.
#
# Usage: scripts/bench-card.sh [--no-build] [--external] [--vus N] [--duration S]
#   --no-build  use the existing target/release/coeur and target/release/coeur-load
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD=1
EXTERNAL=0
VUS=16
DURATION=10
WARMUP=2
while (($#)); do
  case "$1" in
    --no-build) BUILD=0 ;;
    --external) EXTERNAL=1 ;;
    --vus) VUS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    *) echo "usage: $0 [--no-build] [--external] [--vus N] [--duration S]" >&2; exit 2 ;;
  esac
  shift
done
SERVER_CPU=0
LOAD_CPU=$(($(nproc) > 1 ? 1 : 0))

if ((BUILD)); then
  # coeur and its load driver, coeur-load.
  cargo build --release --locked -p coeur -p coeur-load
fi
COEUR="$PWD/target/release/coeur"
LOAD="$PWD/target/release/coeur-load"
for b in "$COEUR" "$LOAD"; do
  [[ -x "$b" ]] || { echo "bench-card.sh: $b is missing (run without --no-build)" >&2; exit 1; }
done
tmp="$(mktemp -d /tmp/coeur-bench-card.XXXXXX)"
pid=""
http_pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  [[ -n "$http_pid" ]] && kill "$http_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
card_port="$(free_port)"
args=(--database-url "sqlite://$tmp/coeur.db" --keys-dir "$tmp/keys" --crl-dir "$tmp/crl"
  --pki-hierarchy modern --public-url "http://127.0.0.1:$port")
"$COEUR" "${args[@]}" client add --realm edit --client-id bench-card --public \
  --redirect-uri http://127.0.0.1:9/cb >/dev/null
serve_args=()
kind="virtual card of coeur's own CA"
if ((EXTERNAL)); then
  kind="card of an external CA, status from its cached CRLs"
  ext="$tmp/ext"
  mkdir -p "$ext/root-certs" "$ext/int-certs"
  crl_port="$(free_port)"
  for ca in root int; do
    : >"$ext/$ca-index.txt"
    echo 1000 >"$ext/$ca-serial"
    echo 1000 >"$ext/$ca-crlnumber"
    cat >"$ext/$ca.cnf" <<EOF
[ca]
default_ca = this
[this]
database = $ext/$ca-index.txt
new_certs_dir = $ext/$ca-certs
serial = $ext/$ca-serial
crlnumber = $ext/$ca-crlnumber
certificate = $ext/$ca.pem
private_key = $ext/$ca.key
default_md = sha256
default_days = 365
default_crl_days = 7
policy = any
unique_subject = no
[any]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[int_ext]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
crlDistributionPoints = URI:http://127.0.0.1:$crl_port/root.crl
[card_ext]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
crlDistributionPoints = URI:http://127.0.0.1:$crl_port/int.crl
EOF
  done
  subj="/C=FR/O=ASIP-SANTE/OU=0002 187512751/OU=IGC-SANTE TEST"
  q=(-batch -notext -startdate "$(date -u -d '1 hour ago' +%Y%m%d%H%M%SZ)")
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ext/root.key" -out "$ext/root.pem" \
    -days 3650 -subj "$subj/CN=TEST AC RACINE IGC-SANTE ELEMENTAIRE" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -new -newkey rsa:2048 -nodes -keyout "$ext/int.key" -out "$ext/int.csr" \
    -subj "$subj/CN=TEST AC IGC-SANTE ELEMENTAIRE PERSONNES" 2>/dev/null
  openssl ca -config "$ext/root.cnf" "${q[@]}" -extensions int_ext -in "$ext/int.csr" \
    -out "$ext/int.pem" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ext/card.key" \
    -out "$ext/card.csr" -subj "/C=FR/CN=899700218896" 2>/dev/null
  openssl ca -config "$ext/int.cnf" "${q[@]}" -extensions card_ext -in "$ext/card.csr" \
    -out "$ext/card.pem" 2>/dev/null
  for ca in root int; do
    openssl ca -config "$ext/$ca.cnf" -gencrl -out "$ext/$ca-crl.pem" 2>/dev/null
    openssl crl -in "$ext/$ca-crl.pem" -outform DER -out "$ext/$ca.crl"
  done
  cat "$ext/root.pem" "$ext/int.pem" >"$ext/bundle.pem"
  openssl pkcs12 -export -inkey "$ext/card.key" -in "$ext/card.pem" -certfile "$ext/int.pem" \
    -passout pass:1234 -out "$tmp/card.p12"
  python3 -m http.server "$crl_port" --bind 127.0.0.1 --directory "$ext" >/dev/null 2>&1 &
  http_pid=$!
  serve_args=(--card-trust-file "$ext/bundle.pem" --external-revocation crl)
else
  "$COEUR" "${args[@]}" card issue --national-id 899700218896 --pin 1234 --out "$tmp/card.p12" >/dev/null
fi
taskset -c "$SERVER_CPU" "$COEUR" "${args[@]}" serve --listen "127.0.0.1:$port" \
  --card-listen "127.0.0.1:$card_port" "${serve_args[@]}" >"$tmp/server.log" 2>&1 &

pid=$!
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && [[ -f "$tmp/crl/coeur-root.pem" ]] && break
  sleep 0.2
done
if ! taskset -c "$LOAD_CPU" "$LOAD" card --base "http://127.0.0.1:$port" \
  --card-ca "$tmp/crl/coeur-root.pem" --pfx "$tmp/card.p12" --pin 1234 --client-id bench-card \
  --redirect-uri http://127.0.0.1:9/cb --vus "$VUS" --duration "$DURATION" --warmup "$WARMUP" \
  --server-pid "$pid" --server-cpu "$SERVER_CPU" --load-cpu "$LOAD_CPU" >"$tmp/load.txt" 2>&1; then
  cat "$tmp/load.txt" "$tmp/server.log" >&2
  echo "bench-card.sh: the load driver failed (a failed login fails the run)" >&2
  exit 1
fi
result="$(grep '^RESULT ' "$tmp/load.txt")" || { cat "$tmp/load.txt" >&2; echo "bench-card.sh: no result" >&2; exit 1; }
echo "$result"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $result"; }
# share SECONDS: a share of one core over the measurement.
share() { awk -v c="$1" -v d="$(field seconds)" 'BEGIN { if (c == "n/a") print "n/a"; else printf "%.0f%%", 100 * c / d }'; }
server_cpu="$(field server_cpu_s)"
others="$(awk -v a="$(field core_busy_s)" -v b="$server_cpu" -v d="$(field seconds)" \
  'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else { x = 100 * (a - b) / d; printf "%.0f%%", (x < 0 ? 0 : x) } }')"
per_cpu="$(awk -v n="$(field logins)" -v c="$server_cpu" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "n/a" }')"
echo "card logins/s (coeur, 1 core, new TLS handshake with client certificate each time; $kind): $(field logins_per_s)   (p50 $(field p50_ms) ms, p99 $(field p99_ms) ms per login; ${WARMUP}s warm-up + ${DURATION}s, $VUS virtual users)"
echo "card logins per server CPU-second (coeur): $per_cpu   (server on CPU $(share "$server_cpu") of the run; other processes took $others of its core; load driver on CPU $(share "$(field driver_cpu_s)") of its core, which was busy $(share "$(field load_core_busy_s)"))"
echo "(compare: code-flow logins/s from scripts/bench-provider.sh)"
