#!/usr/bin/env bash
# Runs every check and test of the project: the single command for
# developers and CI. Works from any directory.
#
# On a fresh Debian machine with the Rust toolchain it first installs what the
# tests need (PostgreSQL for the throwaway test clusters, Node.js and npm for
# the openid-client end-to-end test and the browser test's driver, Debian's
# Chromium for the browser tests (tests/it/cors_browser.rs, tests/it/pages_a11y.rs), Prometheus
# (tests/it/prometheus.rs), openssl,
# CA certificates, Python's venv,
# the pkilint certificate linter from PyPI in a virtualenv under target/, and the
# Python test peer's packages (tests/python/requirements.txt: Authlib, aiosmtpd) in another),
# then:
#   1. cargo fmt --check
#   2. cargo clippy (all targets, warnings are errors)
#   3. guard: the `ring` crate must not be in the normal/build dependency tree
#   4. guard: crate boundaries (scripts/check-boundaries.py, from cargo metadata)
#   5. cargo test (every crate of the workspace)
#   6. tests/node/run.sh, the openid-client end-to-end test, when present
#   7. scripts/fuzz.sh --smoke: the fuzz targets built, each given the same inputs on every
#      machine from its seeds (COEUR_FUZZ_RUNS per target, default 50000; 0 only builds)
#
# Environment: COEUR_PG_BIN (PostgreSQL server binaries for the Rust tests,
# default: the newest /usr/lib/postgresql/*/bin). COEUR_PKILINT_BIN is set to
# the pkilint virtualenv's bin directory for the CA tests; COEUR_REQUIRE_PEERS is set
# so that the peer tests (Python Authlib, the browser tests) fail, not skip, when their
# peers are missing. COEUR_SCREENSHOTS (default target/screenshots): where the pages' browser
# test (tests/it/pages_a11y.rs) leaves its screenshots, the run's artefacts; printed at the end.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }
fail() {
  printf 'scripts/test.sh: %s\n' "$*" >&2
  exit 1
}

# in_dir DIR COMMAND...: runs COMMAND inside DIR.
in_dir() { (cd "$1" && shift && "$@"); }

# Runs a command with its output kept aside; shows it only if it fails.
quietly() {
  local out status=0
  out="$(mktemp)"
  "$@" >"$out" 2>&1 || status=$?
  if ((status != 0)); then
    cat "$out" >&2
    rm -f "$out"
    fail "failed (exit $status): $*"
  fi
  rm -f "$out"
}

# --- system packages -------------------------------------------------------

have_node_tests=false
[[ -f tests/node/package.json ]] && have_node_tests=true

missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ! command -v node >/dev/null; then
  missing+=(nodejs npm)
elif $have_node_tests && ! command -v npm >/dev/null; then
  missing+=(npm)
fi
# OpenLDAP's slapd for the LDAP publication tests (throwaway servers) and ldap-utils for
# their ldapsearch checks.
[[ -x /usr/sbin/slapd && -f /etc/ldap/schema/core.schema ]] || missing+=(slapd)
command -v ldapsearch >/dev/null || missing+=(ldap-utils)
# Apache httpd and mod_auth_openidc for the relying-party test of back-channel logout
# (throwaway servers).
[[ -x /usr/sbin/apache2 ]] || missing+=(apache2)
[[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ]] || missing+=(libapache2-mod-auth-openidc)
command -v openssl >/dev/null || missing+=(openssl)
# Headless Chromium for the single-page application test (driven by playwright-core from
# tests/node, which downloads no browser of its own).
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
# Prometheus and promtool: the alert rules and the Grafana dashboard's expressions are
# evaluated against a running coeur (tests/it/prometheus.rs).
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
# Three instances behind a balancer on one PostgreSQL (tests/it/cluster): network namespaces
# (iproute2), HAProxy in front, wrk for the load.
[[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
command -v ip >/dev/null || [[ -x /usr/sbin/ip || -x /sbin/ip ]] || missing+=(iproute2)
if ! command -v python3 >/dev/null; then
  missing+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=(python3-venv)
fi

if ((${#missing[@]})); then
  step "installing system packages: ${missing[*]}"
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null ||
      fail "missing packages (${missing[*]}): run as root or install them: apt-get install ${missing[*]}"
    sudo=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  quietly "${sudo[@]}" apt-get update
  if [[ " ${missing[*]} " == *" slapd "* ]]; then
    # Binaries and schemas only: no directory configured, no system server needed.
    echo "slapd slapd/no_configuration boolean true" | quietly "${sudo[@]}" debconf-set-selections
  fi
  quietly "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  if [[ " ${missing[*]} " == *" slapd "* ]]; then
    # Where the package started a system slapd anyway, stop it and keep it off: the tests run
    # their own servers on free loopback ports.
    if command -v systemctl >/dev/null && systemctl is-active --quiet slapd 2>/dev/null; then
      "${sudo[@]}" systemctl disable --now slapd >/dev/null 2>&1 || true
    fi
    if [[ -f /run/slapd/slapd.pid ]]; then
      "${sudo[@]}" kill "$(cat /run/slapd/slapd.pid)" 2>/dev/null || true
    fi
  fi
  if [[ " ${missing[*]} " == *" haproxy "* ]]; then
    # The tests run their own balancers; a system one the package started is not needed.
    if command -v systemctl >/dev/null && systemctl is-active --quiet haproxy 2>/dev/null; then
      "${sudo[@]}" systemctl disable --now haproxy >/dev/null 2>&1 || true
    fi
  fi
  if [[ " ${missing[*]} " == *" apache2 "* ]]; then
    # Likewise for a system Apache the package may have started.
    if command -v systemctl >/dev/null && systemctl is-active --quiet apache2 2>/dev/null; then
      "${sudo[@]}" systemctl disable --now apache2 >/dev/null 2>&1 || true
    fi
    if [[ -f /run/apache2/apache2.pid ]]; then
      "${sudo[@]}" kill "$(cat /run/apache2/apache2.pid)" 2>/dev/null || true
    fi
  fi
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ||
    fail "PostgreSQL server binaries still missing after installing postgresql"
fi

command -v cargo >/dev/null || fail "cargo not found: install the Rust toolchain"

# --- pkilint (certificate, CRL and OCSP linter for the CA tests) ------------

# A virtualenv under target/ with the pinned version, made again only when it is
# missing or holds another version.
pkilint_version=0.13.3
pkilint_venv="$PWD/target/pkilint-venv"
installed="$("$pkilint_venv/bin/python" -c \
  'import importlib.metadata as m; print(m.version("pkilint"))' 2>/dev/null || true)"
if [[ "$installed" != "$pkilint_version" || ! -x "$pkilint_venv/bin/lint_pkix_cert" ]]; then
  step "pip install pkilint==$pkilint_version (target/pkilint-venv)"
  rm -rf "$pkilint_venv"
  quietly python3 -m venv "$pkilint_venv"
  quietly "$pkilint_venv/bin/pip" install --quiet --disable-pip-version-check \
    "pkilint==$pkilint_version"
fi
export COEUR_PKILINT_BIN="$pkilint_venv/bin"

# --- Python test peers (Authlib for tests/it/compat_authlib.rs, aiosmtpd for tests/it/ecps/contact) ---

# A virtualenv under target/ with tests/python/requirements.txt, made again when the
# requirements change. COEUR_REQUIRE_PEERS makes the peer tests fail rather than skip
# when a peer is missing.
peer_venv="$PWD/target/python-peer-venv"
peer_stamp="$peer_venv/.coeur-requirements"
peer_wanted="$(sha256sum <tests/python/requirements.txt)"
if [[ "$(cat "$peer_stamp" 2>/dev/null)" != "$peer_wanted" || ! -x "$peer_venv/bin/python" ]]; then
  step "pip install -r tests/python/requirements.txt (target/python-peer-venv)"
  rm -rf "$peer_venv"
  quietly python3 -m venv "$peer_venv"
  quietly "$peer_venv/bin/pip" install --quiet --disable-pip-version-check \
    -r tests/python/requirements.txt
  printf '%s\n' "$peer_wanted" >"$peer_stamp"
fi
export COEUR_REQUIRE_PEERS=1

# The pages' screenshots (every page, both languages, desktop and phone widths), for reviewers.
COEUR_SCREENSHOTS="${COEUR_SCREENSHOTS:-$PWD/target/screenshots}"
mkdir -p "$COEUR_SCREENSHOTS"
COEUR_SCREENSHOTS="$(cd "$COEUR_SCREENSHOTS" && pwd)"
export COEUR_SCREENSHOTS

# --- Node test peers -------------------------------------------------------

if $have_node_tests; then
  command -v npm >/dev/null || fail "npm not found: install nodejs and npm"
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  ((node_major >= 20)) ||
    echo "scripts/test.sh: warning: node $(node --version) is older than the v20 that tests/node needs" >&2
  # Reinstall only when package.json or the lockfile changed since the last
  # install (a fresh clone always installs).
  stamp=tests/node/node_modules/.coeur-install-stamp
  wanted="$(cat tests/node/package.json tests/node/package-lock.json 2>/dev/null | sha256sum || true)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    if [[ -f tests/node/package-lock.json ]]; then
      step "npm ci (tests/node)"
      quietly in_dir tests/node npm ci --no-audit --no-fund
    else
      step "npm install (tests/node)"
      quietly in_dir tests/node npm install --no-audit --no-fund
    fi
    printf '%s\n' "$wanted" >"$stamp"
  fi
fi

# --- a throwaway PostgreSQL cluster (for the end-to-end test) -----------------

# start_pg_cluster: initdb + start on a free loopback port in a temp dir (as the
# postgres user when run as root, since PostgreSQL refuses to run as root), create
# one database, set $pg_url; the cluster is stopped and removed on exit.
start_pg_cluster() {
  local bin dir port as=()
  bin="${COEUR_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
  [[ -x "$bin/initdb" ]] || fail "PostgreSQL binaries not found (set COEUR_PG_BIN)"
  dir="$(mktemp -d /tmp/coeur-pg.XXXXXX)"
  if ((EUID == 0)); then
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  quietly in_dir "$dir" "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres --locale=C -E UTF8
  quietly in_dir "$dir" "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start
  trap "in_dir '$dir' ${as[*]} '$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
  quietly psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE coeur_e2e"
  pg_url="postgres://postgres@127.0.0.1:$port/coeur_e2e"
}

# --- checks and tests ------------------------------------------------------

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -q -- -D warnings

step "guard: no ring crate in the normal/build dependency tree"
tree_err="$(mktemp)"
tree_status=0
tree_out="$(cargo tree --workspace -i ring --edges normal,build --locked 2>"$tree_err")" || tree_status=$?
tree_msg="$(cat "$tree_err")"
rm -f "$tree_err"
if grep -q '^ring v' <<<"$tree_out" || grep -q 'multiple .ring. packages' <<<"$tree_msg"; then
  printf '%s\n%s\n' "$tree_out" "$tree_msg" >&2
  fail "the ring crate is in the dependency tree (above); the project uses aws-lc-rs only"
fi
# An absent package is an error ("did not match any packages") or a
# "nothing to print" warning: both mean the guard passed.
if ((tree_status != 0)) && ! grep -q 'did not match any packages' <<<"$tree_msg"; then
  printf '%s\n' "$tree_msg" >&2
  fail "cargo tree failed"
fi

step "guard: crate boundaries (scripts/check-boundaries.py)"
python3 scripts/check-boundaries.py

step "cargo test"
test_status=0
cargo test --workspace --locked || test_status=$?
# Said whether or not the tests passed: the screenshots show what failed too.
echo "scripts/test.sh: screenshots of the pages (artefacts): $COEUR_SCREENSHOTS"
((test_status == 0)) || fail "cargo test failed (exit $test_status)"

node_summary=""
if [[ -f tests/node/run.sh ]]; then
  step "cargo build (server binary for the end-to-end test)"
  cargo build --locked -q
  export COEUR_BIN="$PWD/target/debug/coeur"
  step "throwaway PostgreSQL cluster for the end-to-end test"
  start_pg_cluster
  export COEUR_TEST_PG_URL="$pg_url"
  step "tests/node/run.sh (SQLite and PostgreSQL)"
  bash tests/node/run.sh
  node_summary=", node end-to-end on SQLite and PostgreSQL"
fi

fuzz_runs="${COEUR_FUZZ_RUNS:-50000}"
if ((fuzz_runs > 0)); then
  step "scripts/fuzz.sh --smoke $fuzz_runs (every fuzz target, a fixed sequence of inputs)"
  scripts/fuzz.sh --smoke "$fuzz_runs"
else
  step "scripts/fuzz.sh --build-only"
  scripts/fuzz.sh --build-only
fi

echo "scripts/test.sh: screenshots of the pages (artefacts): $COEUR_SCREENSHOTS"
echo "scripts/test.sh: all checks passed (fmt, clippy, ring guard, boundaries, cargo test${node_summary}, fuzz targets)"
