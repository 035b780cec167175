#!/usr/bin/env bash
# LDAP publication benchmark (not a test): coeur's publisher writing into a throwaway
# OpenLDAP slapd (mdb, loopback, random port) started by the benchmark itself.
#
# Prints labelled figures:
#   sustained publication: entries_per_s   drain of a backlog of issued certificates
#                                          (target: at least 5,000 entries/s)
#   lag at paced rate: lag_p50_ms …        outbox rows written at BENCH_RATE rows/s while the
#                                          publisher runs; lag = row written -> delivered
#   lag under issuance load: lag_p50_ms …  certificates issued as fast as the CA can
#
# Needs slapd and ldap-utils (scripts/test.sh installs them). Environment: BENCH_DB (sqlite,
# the default, or postgres), BENCH_BACKLOG (20000), BENCH_PACED (15000), BENCH_RATE (5000),
# BENCH_LOAD (5000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x /usr/sbin/slapd ]] || { echo "scripts/bench-ldap.sh: slapd is missing (apt-get install slapd ldap-utils)" >&2; exit 1; }
cargo build --release --example bench_ldap -q
exec target/release/examples/bench_ldap
