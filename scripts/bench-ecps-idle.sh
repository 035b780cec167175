#!/usr/bin/env bash
# Memory of idle connected e-CPS authenticators: COUNT (default 10,000) device feeds held open
# on coeur's server-sent events endpoint (`GET …/ecps/requests/events`), the server's resident
# memory read before and after; prints KiB per idle connection (target: ≤ 20 KiB). A device is
# enrolled first with the activation code a virtual card gets on the card listener, through
# `coeur ecps enrol`. SQLite store, sandbox realm, loopback.
#
# Usage: scripts/bench-ecps-idle.sh [--no-build] [--count N]
# Environment: COEUR_BIN, the coeur binary to run (default target/release/coeur, built here).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD=1
COUNT=10000
while (($#)); do
  case "$1" in
    --no-build) BUILD=0 ;;
    --count) COUNT="$2"; shift ;;
    *) echo "usage: $0 [--no-build] [--count N]" >&2; exit 2 ;;
  esac
  shift
done
if ((BUILD)) && [[ -z "${COEUR_BIN:-}" ]]; then
  cargo build --release --locked
fi
COEUR="${COEUR_BIN:-$PWD/target/release/coeur}"
# Each end (the server, the node driver) holds COUNT sockets, in its own process.
want=$((COUNT + 1024))
hard="$(ulimit -Hn)"
if [[ "$hard" != unlimited ]] && ((hard < want)); then
  echo "bench-ecps-idle.sh: the open-file limit ($hard) is below $want; use a smaller --count" >&2
  exit 1
fi
ulimit -n "$want"
tmp="$(mktemp -d /tmp/coeur-bench-ecps.XXXXXX)"
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
"$COEUR" "${args[@]}" card issue --national-id 899700218896 --pin 1234 --out "$tmp/card.p12" >/dev/null
"$COEUR" "${args[@]}" serve --listen "127.0.0.1:$port" --card-listen "127.0.0.1:$card_port" \
  --max-connections "$((COUNT + 64))" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && [[ -f "$tmp/crl/coeur-root.pem" ]] && break
  sleep 0.2
done
page="$(curl -fsS --cacert "$tmp/crl/coeur-root.pem" --cert-type P12 --cert "$tmp/card.p12:1234" \
  "https://127.0.0.1:$card_port/auth/realms/edit/ecps/enrol")"
code="$(sed -n 's/.*id="activation-code">\([^<]*\)<.*/\1/p' <<<"$page")"
[[ -n "$code" ]] || { cat "$tmp/server.log" >&2; echo "bench-ecps-idle.sh: no activation code" >&2; exit 1; }
"$COEUR" ecps --key-file "$tmp/device.json" enrol --server "http://127.0.0.1:$port" --realm edit \
  --code "$code" --name bench >/dev/null
credential="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).credential)' "$tmp/device.json")"
result="$(node scripts/bench/ecps-idle.mjs --base "http://127.0.0.1:$port" --realm edit \
  --credential "$credential" --pid "$pid" --count "$COUNT" | tail -n 1)"
echo "$result"
per="$(sed -n 's/.*kib_per_connection=\([0-9.]*\).*/\1/p' <<<"$result")"
[[ -n "$per" ]] || { cat "$tmp/server.log" >&2; echo "bench-ecps-idle.sh: no result" >&2; exit 1; }
echo "memory per idle e-CPS authenticator (server-sent events, $COUNT connections): $per KiB (target ≤ 20 KiB)"
