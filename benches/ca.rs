//! Raw rates of the CA's building blocks on one thread, without HTTP or storage, so that the
//! distance between coeur's end-to-end figures and the physical limit is visible:
//!
//! - `csr_parse`: `coeur::pki::csr::parse` on a P-256 CSR (DER decoding, proof of
//!   possession, key policy);
//! - `ecdsa_p256_verify`: the bare signature check inside it (aws-lc-rs);
//! - `ecdsa_p256_sign`: signing a message the size of an SSL_SERV certificate's TBS with the
//!   CA's P-256 key (aws-lc-rs `EcdsaKeyPair`, SHA-256 included);
//! - `issue_in_memory`: a whole certificate as the CA builds it (policy check, parameters from
//!   `pki/modern.toml` and `pki/profiles.toml`, rcgen encoding, signature), without storage;
//! - `ocsp_sign_on_demand`: an OCSP request parsed and a one-answer response signed, without
//!   the status lookup.
//!
//! Run with `cargo bench --bench ca`. Plain timing loops (no criterion): each case runs for
//! `BENCH_SECONDS` seconds (default 2) after a short warm-up and prints its rate as
//!
//!     bench ca: <case>: <ops>/s (<µs>/op, <n> ops in <s> s)

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use coeur::pki::csr::{self, SubjectRequest};
use coeur::pki::der;
use coeur::pki::hierarchy::{Hierarchy, parse_profiles};
use coeur::pki::{issue, ocsp};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `f` for the configured time and prints its rate.
fn run(name: &str, seconds: f64, mut f: impl FnMut()) {
    let warmup = Instant::now();
    while warmup.elapsed() < Duration::from_millis(200) {
        f();
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n: u64 = 0;
    // Check the clock every 64 operations so that reading it costs nothing measurable.
    while start.elapsed() < budget {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    let secs = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // Counts far below 2^52.
    let rate = n as f64 / secs;
    println!(
        "bench ca: {name}: {rate:.0}/s ({:.2} µs/op, {n} ops in {secs:.2} s)",
        1e6 / rate
    );
}

type Error = Box<dyn std::error::Error>;

/// What every case works on: the `modern` hierarchy's organisation TEST CA with a P-256 key,
/// the SSL_SERV profile, and a subject's P-256 CSR.
struct Fixture {
    hierarchy: Hierarchy,
    ca_def: coeur::pki::hierarchy::CaDef,
    profile: coeur::pki::hierarchy::Profile,
    subject_key: rcgen::KeyPair,
    csr_der: Vec<u8>,
    request: SubjectRequest,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA key, for aws-lc-rs directly.
    ca_ec: EcdsaKeyPair,
}

const SERIAL: [u8; 16] = [0x5a_u8; 16];
const NOW: i64 = 1_800_000_000;

fn fixture() -> Result<Fixture, Error> {
    let root = env!("CARGO_MANIFEST_DIR");
    let hierarchy = Hierarchy::parse(
        "modern.toml",
        &std::fs::read_to_string(format!("{root}/pki/modern.toml"))?,
        "http://127.0.0.1:8080",
    )?;
    let profiles = parse_profiles(
        "profiles.toml",
        &std::fs::read_to_string(format!("{root}/pki/profiles.toml"))?,
    )?;
    let ca_def = hierarchy
        .ca("MOD-EL-ORG-TEST")
        .ok_or("pki/modern.toml has no MOD-EL-ORG-TEST")?
        .clone();
    let profile = profiles
        .iter()
        .find(|p| p.id == "SSL_SERV")
        .ok_or("pki/profiles.toml has no SSL_SERV")?
        .clone();
    // A subject's P-256 CSR, as a structure would send it.
    let subject_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let csr_der = rcgen::CertificateParams::new(vec!["h1.bench.example".to_owned()])?
        .serialize_request(&subject_key)?
        .der()
        .to_vec();
    let request = SubjectRequest {
        structure_id: Some("318751275100020".into()),
        organization: Some("Bench".into()),
        state: Some("Paris (75)".into()),
        dns_names: vec!["h1.bench.example".into()],
        ..Default::default()
    };
    // The CA: a P-256 key, usable by rcgen and by aws-lc-rs directly.
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let ca_ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &ca_key.serialize_der())
        .map_err(|e| format!("CA key: {e}"))?;
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.distinguished_name = hierarchy.dn(&ca_def);
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    Ok(Fixture {
        issuer: rcgen::Issuer::new(ca_params, ca_key),
        hierarchy,
        ca_def,
        profile,
        subject_key,
        csr_der,
        request,
        ca_ec,
    })
}

impl Fixture {
    /// A whole certificate as the CA builds it, without storage.
    fn issue(&self, csr_der: &[u8]) -> Result<Vec<u8>, Error> {
        let approved = csr::check(csr_der, &self.request, &self.profile, &self.ca_def)?;
        let cert = issue::ee_params(
            &self.hierarchy,
            &self.ca_def,
            &self.profile,
            &approved,
            &SERIAL,
            NOW,
        )?
        .signed_by(&issue::subject_key(&approved)?, &self.issuer)?;
        Ok(cert.der().to_vec())
    }
}

fn main() -> Result<(), Error> {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let f = fixture()?;
    // One certificate, to size the TBS and to check that the path works.
    let cert_der = f.issue(&f.csr_der)?;
    let tbs_len = {
        use x509_parser::prelude::FromDer as _;
        let (_, c) = x509_parser::certificate::X509Certificate::from_der(&cert_der)?;
        c.tbs_certificate.as_ref().len()
    };
    println!(
        "bench ca: P-256 CSR {} bytes; SSL_SERV certificate {} bytes (TBS {tbs_len} bytes); {seconds} s per case",
        f.csr_der.len(),
        cert_der.len()
    );
    bench_signatures(&f, tbs_len, seconds)?;
    run("issue_in_memory", seconds, || {
        black_box(f.issue(black_box(&f.csr_der)).expect("issued"));
    });
    bench_ocsp(&f, cert_der, seconds)
}

/// `csr_parse`, and the bare signature operations: the CSR's own signature checked, a TBS of
/// the certificate's size signed.
fn bench_signatures(f: &Fixture, tbs_len: usize, seconds: f64) -> Result<(), Error> {
    run("csr_parse", seconds, || {
        black_box(csr::parse(black_box(&f.csr_der)).expect("CSR parses"));
    });
    let (info, sig) = {
        use x509_parser::prelude::FromDer as _;
        let (_, r) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&f.csr_der)?;
        (
            r.certification_request_info.raw.to_vec(),
            r.signature_value.data.to_vec(),
        )
    };
    let subject_pub = UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_ASN1,
        f.subject_key.public_key_raw().to_vec(),
    );
    subject_pub
        .verify(&info, &sig)
        .map_err(|_| "the CSR signature does not verify")?;
    run("ecdsa_p256_verify", seconds, || {
        black_box(subject_pub.verify(black_box(&info), black_box(&sig))).expect("verifies");
    });
    let rng = SystemRandom::new();
    let tbs = vec![0x42_u8; tbs_len];
    run("ecdsa_p256_sign", seconds, || {
        black_box(f.ca_ec.sign(&rng, black_box(&tbs)).expect("signs"));
    });
    Ok(())
}

/// `ocsp_sign_on_demand`: a request for one certificate (SHA-1 CertID, as `openssl ocsp`
/// sends) parsed and answered "good" by a P-256 responder, without the status lookup.
fn bench_ocsp(f: &Fixture, responder_cert: Vec<u8>, seconds: f64) -> Result<(), Error> {
    let cert_id = der::seq(&[
        der::seq(&[der::oid(&[1, 3, 14, 3, 2, 26]), der::null()]),
        der::octets(&[0x11; 20]),
        der::octets(&[0x22; 20]),
        der::uint(&SERIAL),
    ]);
    let ocsp_request = der::seq(&[der::seq(&[der::seq(&[der::seq(&[cert_id])])])]);
    let responder_hash = [0x33_u8; 20];
    let sig_alg = der::seq(&[der::oid(&[1, 2, 840, 10045, 4, 3, 2])]);
    ocsp::parse_request(&ocsp_request).map_err(|e| format!("OCSP request: {e:?}"))?;
    let rng = SystemRandom::new();
    run("ocsp_sign_on_demand", seconds, || {
        let req = ocsp::parse_request(black_box(&ocsp_request)).expect("parses");
        let answers: Vec<ocsp::Answer> = req
            .ids
            .iter()
            .map(|id| ocsp::Answer {
                cert_id_der: id.cert_id_der.clone(),
                status: ocsp::Status::Good,
                this_update: NOW,
                next_update: NOW + 3600,
            })
            .collect();
        let data = ocsp::response_data(&responder_hash, NOW, &answers, req.nonce_ext.as_deref());
        let sig = f.ca_ec.sign(&rng, &data).expect("signs");
        black_box(ocsp::response(
            &data,
            &sig_alg,
            sig.as_ref(),
            std::slice::from_ref(&responder_cert),
        ));
    });
    Ok(())
}
