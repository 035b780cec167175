#!/usr/bin/env bash
# End-to-end test with openid-client: starts a coeur server on a free
# loopback port with a fresh database, registers a client, and runs
# tests/node/flow.test.mjs against it.
#
# Environment:
#   COEUR_BIN           server binary (default: target/debug/coeur, relative
#                       to the repository root)
#   COEUR_TEST_PG_URL   if set, also run against this PostgreSQL database
#                       (it must be fresh: the test registers its client there)
#   COEUR_NATIONAL_ID   passed through to the test (default 899700218896)
#
# Needs node >= 20 and npm; installs tests/node dependencies with `npm ci`
# when they are missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

COEUR_BIN="${COEUR_BIN:-target/debug/coeur}"
if [[ ! -x "$COEUR_BIN" ]]; then
  echo "run.sh: server binary '$COEUR_BIN' not found or not executable (build it with 'cargo build', or set COEUR_BIN)" >&2
  exit 2
fi

if [[ ! -d tests/node/node_modules/openid-client ]]; then
  (cd tests/node && npm ci --no-audit --no-fund)
fi

# On SQLite the server generates a development key when no master key is given.
unset COEUR_MASTER_KEY
# The database and keys directory are always passed as flags below.
unset COEUR_DATABASE_URL COEUR_KEYS_DIR
# The directory beside the provider is not part of this test (and would write its store in
# the working directory).
export COEUR_NO_DIRECTORY=true
export COEUR_NO_OFFER=true

REALM=edit
CLIENT_ID=node-rp
CLIENT_SECRET=node-rp-secret-0123456789abcdef0123456789
REDIRECT_URI=http://127.0.0.1:9/cb
POST_LOGOUT_REDIRECT_URI=http://127.0.0.1:9/bye

server_pid=""
tmp_dirs=()

cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
  if ((${#tmp_dirs[@]})); then
    rm -rf "${tmp_dirs[@]}"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Exit status 0 once the URL answers 200.
http_ok() {
  node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));' "$1"
}

# run_kind NAME DATABASE_URL TMPDIR
run_kind() {
  local kind="$1" db_url="$2" tmp="$3"
  local keys="$tmp/keys" log="$tmp/server.log"
  # Called from an `if`, so errexit is off in here: check each step.
  local port
  port="$(free_port)" || { echo "run.sh: $kind: no free port" >&2; return 1; }
  local base="http://127.0.0.1:$port"
  local issuer="$base/auth/realms/$REALM"

  # On PostgreSQL, a database instances may share, the master key must be given.
  if [[ "$db_url" == postgres* ]]; then
    COEUR_MASTER_KEY="$(head -c 32 /dev/urandom | base64)"
    export COEUR_MASTER_KEY
  else
    unset COEUR_MASTER_KEY
  fi

  echo "=== $kind: registering client $CLIENT_ID"
  "$COEUR_BIN" --database-url "$db_url" --keys-dir "$keys" \
    client add --realm "$REALM" --client-id "$CLIENT_ID" --secret "$CLIENT_SECRET" \
    --redirect-uri "$REDIRECT_URI" --post-logout-redirect-uri "$POST_LOGOUT_REDIRECT_URI" \
    --grant-type authorization_code --grant-type refresh_token --grant-type client_credentials \
    --scope openid --scope scope_all --scope offline_access --scope profile ||
    { echo "run.sh: $kind: 'client add' failed" >&2; return 1; }

  echo "=== $kind: starting server on $base"
  "$COEUR_BIN" --database-url "$db_url" --keys-dir "$keys" \
    serve --listen "127.0.0.1:$port" --public-url "$base" >"$log" 2>&1 &
  server_pid=$!

  local deadline=$((SECONDS + 60))
  until http_ok "$issuer/.well-known/openid-configuration"; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "run.sh: $kind: server exited before it was ready; its log:" >&2
      tail -n 200 "$log" >&2
      wait "$server_pid" 2>/dev/null || true
      server_pid=""
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "run.sh: $kind: server not ready after 60 s; its log:" >&2
      tail -n 200 "$log" >&2
      return 1
    fi
    sleep 0.5
  done

  echo "=== $kind: running tests/node/flow.test.mjs"
  local status=0
  COEUR_ISSUER="$issuer" \
    COEUR_CLIENT_ID="$CLIENT_ID" \
    COEUR_CLIENT_SECRET="$CLIENT_SECRET" \
    COEUR_REDIRECT_URI="$REDIRECT_URI" \
    COEUR_POST_LOGOUT_REDIRECT_URI="$POST_LOGOUT_REDIRECT_URI" \
    COEUR_NATIONAL_ID="${COEUR_NATIONAL_ID:-899700218896}" \
    node --test tests/node/flow.test.mjs || status=$?

  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""

  if ((status != 0)); then
    echo "run.sh: $kind: test failed (exit $status); end of the server log:" >&2
    tail -n 200 "$log" >&2
  fi
  return "$status"
}

kinds=(sqlite)
if [[ -n "${COEUR_TEST_PG_URL:-}" ]]; then
  kinds+=(postgres)
fi

failed=()
for kind in "${kinds[@]}"; do
  tmp="$(mktemp -d -t coeur-node-e2e.XXXXXX)"
  tmp_dirs+=("$tmp")
  case "$kind" in
    sqlite) db_url="sqlite://$tmp/coeur.db?mode=rwc" ;;
    postgres) db_url="$COEUR_TEST_PG_URL" ;;
  esac
  if run_kind "$kind" "$db_url" "$tmp"; then
    echo "=== $kind: passed"
  else
    echo "=== $kind: FAILED" >&2
    failed+=("$kind")
  fi
done

if ((${#failed[@]})); then
  echo "run.sh: openid-client end-to-end test failed for: ${failed[*]}" >&2
  exit 1
fi
echo "run.sh: openid-client end-to-end test passed for: ${kinds[*]}"
