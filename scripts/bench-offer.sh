#!/usr/bin/env bash
# The offer service's (ROR) throughput on one core: 50,000 generated Locations in a fresh
# SQLite store (or the PostgreSQL database given), then audited capacity updates per second
# and searches per second (by capacity type and status; near 20 km), each with its p99.
#
# Targets: >= 2,000 audited updates/s, >= 5,000 searches/s, p99 <= 25 ms.
#
# Usage: scripts/bench-offer.sh [--debug] [DATABASE_URL] [LOCATIONS] [SECONDS] [CONCURRENCY]
#   --debug      an unoptimised build (quick to build, figures not representative)
#   CONCURRENCY  operations in flight at once, as concurrent requests (default 1; on
#                PostgreSQL, 8 lets the round trips to the server overlap)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
if [[ "${1:-}" == "--debug" ]]; then profile=(); shift; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
url=${1:-"sqlite://$tmp/offre.db"}
locations=${2:-50000}
seconds=${3:-5}
concurrency=${4:-1}
cargo build --locked -q "${profile[@]}" -p coeur-offer --example bench
dir=target/$([[ ${#profile[@]} -gt 0 ]] && echo release || echo debug)
# One core: the process is pinned to CPU 0, its runtime single-threaded.
taskset -c 0 "$dir/examples/bench" "$url" "$locations" "$seconds" "$concurrency"
