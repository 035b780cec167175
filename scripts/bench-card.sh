#!/usr/bin/env bash
# Benchmark: full CPS card logins per second, each with a new TLS handshake presenting the
# virtual card's certificate, against coeur on its default store (SQLite) with the sandbox realm.
# The server runs on one CPU (taskset), the load driver on the other. Traffic stays on loopback.
#
# Usage: scripts/bench-card.sh [--no-build] [--vus N] [--duration S]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD=1
VUS=16
DURATION=10
while (($#)); do
  case "$1" in
    --no-build) BUILD=0 ;;
    --vus) VUS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    *) echo "usage: $0 [--no-build] [--vus N] [--duration S]" >&2; exit 2 ;;
  esac
  shift
done
SERVER_CPU=0
LOAD_CPU=$(($(nproc) > 1 ? 1 : 0))

if ((BUILD)); then
  cargo build --release --locked
fi
COEUR="$PWD/target/release/coeur"
tmp="$(mktemp -d /tmp/coeur-bench-card.XXXXXX)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port="$(free_port)"
card_port="$(free_port)"
args=(--database-url "sqlite://$tmp/coeur.db" --keys-dir "$tmp/keys" --crl-dir "$tmp/crl"
  --pki-hierarchy modern --public-url "http://127.0.0.1:$port")
"$COEUR" "${args[@]}" client add --realm edit --client-id bench-card --public \
  --redirect-uri http://127.0.0.1:9/cb >/dev/null
"$COEUR" "${args[@]}" card issue --national-id 899700218896 --pin 1234 --out "$tmp/card.p12" >/dev/null
taskset -c "$SERVER_CPU" "$COEUR" "${args[@]}" serve --listen "127.0.0.1:$port" \
  --card-listen "127.0.0.1:$card_port" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && [[ -f "$tmp/crl/coeur-root.pem" ]] && break
  sleep 0.2
done
result="$(taskset -c "$LOAD_CPU" node scripts/bench/cardlogin.mjs --base "http://127.0.0.1:$port" \
  --card-ca "$tmp/crl/coeur-root.pem" --pfx "$tmp/card.p12" --pin 1234 --client-id bench-card \
  --redirect-uri http://127.0.0.1:9/cb --vus "$VUS" --duration "$DURATION" | tail -n 1)"
echo "$result"
rate="$(sed -n 's/.*logins_per_s=\([0-9.]*\).*/\1/p' <<<"$result")"
echo "card logins/s (coeur, 1 core, new TLS handshake with client certificate each time): $rate"
echo "(compare: code-flow logins/s from scripts/bench-provider.sh)"
