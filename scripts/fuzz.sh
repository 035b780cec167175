#!/usr/bin/env bash
# Builds coeur's fuzz targets (fuzz/) and runs each for a set time, keeping its corpus.
#
#   scripts/fuzz.sh [--build-only] [SECONDS] [TARGET...]
#   scripts/fuzz.sh --smoke RUNS [TARGET...]
#
# SECONDS (default 300) is each target's run time; with no TARGET every target runs, one
# after the other. --smoke (what scripts/test.sh runs) gives each target RUNS inputs with a
# fixed random seed, from a fresh corpus of the seeds only, in a temporary directory: the same
# inputs on every machine, so that a failure there is a failure here. The corpus of a target is fuzz/corpus/<target>/ (kept between runs, not
# committed); it is seeded on first use from the repository (realm and PKI files) and from
# openssl (CSRs, CRLs, OCSP requests and responses, certificates). A crash, leak or timeout
# leaves its input in fuzz/artifacts/<target>/ and makes the script fail; replay it with
#   fuzz/target/<host>/release/<target> fuzz/artifacts/<target>/<file>
#
# Runs on the stable toolchain without cargo-fuzz: the targets are built with the
# SanitizerCoverage instrumentation libFuzzer reads (the flags cargo-fuzz passes), without
# AddressSanitizer, which coeur does not need (no unsafe code) and stable cannot link.
# `cargo fuzz run <target>` on a nightly toolchain works too.
#
# Prints, per target: executions, executions per second, coverage (edges), features, corpus
# size, and crashes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
  printf 'scripts/fuzz.sh: %s\n' "$*" >&2
  exit 1
}

build_only=false
smoke_runs=""
if [[ "${1:-}" == "--build-only" ]]; then
  build_only=true
  shift
elif [[ "${1:-}" == "--smoke" ]]; then
  [[ "${2:-}" =~ ^[0-9]+$ ]] || fail "--smoke takes a number of runs"
  smoke_runs="$2"
  shift 2
fi
seconds=300
if [[ -z "$smoke_runs" && "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds="$1"
  shift
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
# The target is named so that the instrumentation flags reach our crates only, not the
# build scripts and proc macros that run on the host.
export RUSTFLAGS="${RUSTFLAGS:-} -Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares \
  --cfg fuzzing"
printf '==> cargo build (fuzz targets, release, %s)\n' "$host"
cargo build --manifest-path fuzz/Cargo.toml --release --locked --target "$host" --bins -q

mapfile -t all < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^coeur-fuzz$')
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || fail "unknown target $t (targets: ${all[*]})"
done
$build_only && exit 0

bin_dir="fuzz/target/$host/release"

# --- seeds -----------------------------------------------------------------

# seed TARGET DIR: fills the corpus DIR of TARGET with valid inputs when it is empty.
seed() {
  local t="$1" dir="$2" tmp
  mkdir -p "$dir"
  [[ -z "$(ls -A "$dir")" ]] || return 0
  tmp="$(mktemp -d)"
  case "$t" in
  realm_toml) cp realms/*.toml "$dir/" ;;
  pki_toml) cp pki/*.toml "$dir/" ;;
  dn)
    printf '%s' 'CN=899700000001,O=CENTRE HOSPITALIER,C=FR' >"$dir/person"
    printf '%s' 'CN=a\,b+SN=c\2B,OU=x\0Ay,O=#0403414243' >"$dir/escapes"
    ;;
  authorize)
    printf '%s' 'response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid%20scope_all&state=s&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&acr_values=eidas1&prompt=login&max_age=0' >"$dir/public"
    printf '%s' 'response_type=code&client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcallback%3Fx%3D1&scope=openid&claims=%7B%22id_token%22%3A%7B%22acr%22%3A%7B%22essential%22%3Atrue%7D%7D%7D' >"$dir/confidential"
    ;;
  csr | ocsp_request | external_crl | external_ocsp | card_certificate)
    openssl_seeds "$t" "$tmp" "$dir"
    ;;
  access_token | client_assertion)
    # Mode byte 1: the rest is the claims the fixture key signs.
    printf '\001{"iss":"https://idp.example/realms/edit","sub":"899700000001","aud":"https://idp.example/realms/edit","exp":1750000300,"iat":1750000000,"jti":"j","client_id":"web","scope":"openid"}' >"$dir/signed"
    printf '\000eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.AAAA' >"$dir/raw"
    ;;
  upstream_token)
    # Signed claims as FranceConnect+ sends them; a compact JWE's shape (ECDH-ES, A256GCM).
    printf '\001{"iss":"https://fcp.example/api/v2","aud":"coeur","sub":"b6048e95v1","exp":1750000060,"iat":1750000000,"nonce":"nonce-of-at-least-thirty-two-characters","acr":"eidas2"}' >"$dir/signed"
    printf '\000eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSIsImtpZCI6ImZ1enotZW5jIiwiZXBrIjp7Imt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiQUFBQSIsInkiOiJBQUFBIn19..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA' >"$dir/jwe"
    ;;
  esac
  rm -rf "$tmp"
}

# openssl_seeds TARGET TMP DIR: a small PKI made with openssl, and the target's inputs from it.
openssl_seeds() {
  local t="$1" tmp="$2" dir="$3"
  (
    cd "$tmp"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
      -subj '/C=FR/O=FUZZ/CN=SEED CA' -days 30 -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ee.key \
      -subj '/C=FR/O=FUZZ/CN=899700000001' -addext subjectAltName=DNS:rp.example -out ee.csr
    openssl req -newkey rsa:2048 -nodes -keyout rsa.key -subj '/C=FR/CN=srv.example' -out rsa.csr
    openssl x509 -req -in ee.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 30 -out ee.pem \
      -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nauthorityInfoAccess=OCSP;URI:http://ocsp.example/\ncrlDistributionPoints=URI:http://crl.example/ca.crl\n')
    : >index.txt
    printf '1000\n' >crlnumber
    printf '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=7\n' >ca.cnf
    openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -revoke ee.pem -crl_reason keyCompromise
    openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out ca.crl
    openssl ocsp -issuer ca.pem -cert ee.pem -reqout req.der -no_nonce
    openssl ocsp -issuer ca.pem -sha256 -cert ee.pem -reqout req256.der
    openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin req.der \
      -respout resp.der -ndays 1
  ) >/dev/null 2>&1 || fail "openssl could not make the seeds of $t"
  case "$t" in
  csr)
    cp "$tmp/ee.csr" "$dir/ec.pem"
    cp "$tmp/rsa.csr" "$dir/rsa.pem"
    openssl req -in "$tmp/ee.csr" -outform DER -out "$dir/ec.der"
    ;;
  ocsp_request) cp "$tmp/req.der" "$tmp/req256.der" "$dir/" ;;
  external_crl) openssl crl -in "$tmp/ca.crl" -outform DER -out "$dir/crl.der" ;;
  external_ocsp) cp "$tmp/resp.der" "$dir/" ;;
  card_certificate) openssl x509 -in "$tmp/ee.pem" -outform DER -out "$dir/ee.der" ;;
  esac
}

# --- runs ------------------------------------------------------------------

# found TARGET: how many failing inputs fuzz/artifacts/TARGET holds.
found() {
  find "fuzz/artifacts/$1" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
    wc -l
}

printf '%-18s %12s %9s %8s %8s %7s %s\n' target executions exec/s cov ft corpus crashes
failed=()
smoke_dir=""
if [[ -n "$smoke_runs" ]]; then
  smoke_dir="$(mktemp -d)"
  trap 'rm -rf "$smoke_dir"' EXIT
fi
for t in "${targets[@]}"; do
  if [[ -n "$smoke_runs" ]]; then
    corpus_dir="$smoke_dir/$t"
    limit=(-runs="$smoke_runs" -seed=1)
  else
    corpus_dir="fuzz/corpus/$t"
    limit=(-max_total_time="$seconds")
  fi
  seed "$t" "$corpus_dir"
  mkdir -p "fuzz/artifacts/$t"
  log="fuzz/artifacts/$t/run-$(date +%Y%m%dT%H%M%S)-$$.log"
  found_before="$(found "$t")"
  status=0
  "$bin_dir/$t" "$corpus_dir" "${limit[@]}" -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1 ||
    status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corpus="$(ls -A "$corpus_dir" | wc -l)"
  crashes=$(($(found "$t") - found_before))
  printf '%-18s %12s %9s %8s %8s %7s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "$corpus" "$crashes"
  if ((status != 0)); then
    failed+=("$t")
    grep -E '^(==[0-9]+==|thread|SUMMARY|panicked)' "$log" | head -n 5 >&2 || true
  fi
done

((${#failed[@]} == 0)) || fail "failed: ${failed[*]} (inputs and run logs under fuzz/artifacts/)"
