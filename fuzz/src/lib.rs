//! Fixtures shared by the fuzz targets: a small PKI (root, issuing CA, card certificate) and
//! signing keys, made once per process, and the "signed" input mode.
//!
//! Most parsers of outside bytes stop at a signature check, which random bytes never pass.
//! So that the code behind the check is fuzzed too, targets take a first byte that selects the
//! mode: even, the rest of the input is used as received; odd, the rest is the *content* of
//! the signed structure (a CRL's TBSCertList, an OCSP ResponseData, a JWT's claims), which the
//! target signs with the fixture's key before handing it to the parser.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SigningKey as _,
};
use std::sync::LazyLock;

/// The time the fixtures are checked at (2025-06-15T15:06:40Z).
pub const NOW: i64 = 1_750_000_000;

/// Splits an input into its mode (signed or not) and the rest.
pub fn mode(data: &[u8]) -> Option<(bool, &[u8])> {
    let (first, rest) = data.split_first()?;
    Some((first & 1 == 1, rest))
}

/// A CA of the fixture: its certificate and key.
pub struct Ca {
    /// Certificate (DER).
    pub der: Vec<u8>,
    /// Key.
    pub key: KeyPair,
    params: CertificateParams,
}

impl Ca {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// Signs `content` (DER) with the CA's P-256 key: SEQUENCE { content, ecdsa-with-SHA256,
    /// BIT STRING signature }, the shape of CRLs, certificates and BasicOCSPResponses.
    pub fn signed(&self, content: &[u8]) -> Vec<u8> {
        let sig = self.key.sign(content).expect("P-256 signs");
        coeur_pki::der::seq(&[
            content.to_vec(),
            ecdsa_sha256(),
            coeur_pki::der::bit_string(&sig),
        ])
    }
}

/// AlgorithmIdentifier ecdsa-with-SHA256.
pub fn ecdsa_sha256() -> Vec<u8> {
    coeur_pki::der::seq(&[coeur_pki::der::oid(&[1, 2, 840, 10045, 4, 3, 2])])
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CountryName, "FR");
    d.push(DnType::OrganizationName, "FUZZ");
    d.push(DnType::CommonName, cn);
    d
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

/// A root, an issuing CA and a card authentication certificate.
pub struct Pki {
    /// The root CA.
    pub root: Ca,
    /// The issuing CA.
    pub inter: Ca,
    /// A card certificate issued by `inter` (DER).
    pub leaf: Vec<u8>,
    /// The root and the issuing CA, as a PEM bundle.
    pub bundle_pem: Vec<u8>,
}

/// The fixture PKI, made once.
pub static PKI: LazyLock<Pki> = LazyLock::new(|| {
    let root_key = KeyPair::generate().expect("key");
    let root_params = ca_params("FUZZ ROOT");
    let root_der = root_params.self_signed(&root_key).expect("root").der().to_vec();
    let root = Ca {
        der: root_der,
        key: root_key,
        params: root_params,
    };
    let inter_key = KeyPair::generate().expect("key");
    let inter_params = ca_params("FUZZ PERSONNES");
    let inter_der = inter_params
        .signed_by(&inter_key, &root.issuer())
        .expect("issuing CA")
        .der()
        .to_vec();
    let inter = Ca {
        der: inter_der,
        key: inter_key,
        params: inter_params,
    };
    let mut leaf_params = CertificateParams::default();
    leaf_params.distinguished_name = dn("810000000001");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf_params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    leaf_params.not_after = rcgen::date_time_ymd(2027, 1, 1);
    let leaf = leaf_params
        .signed_by(&KeyPair::generate().expect("key"), &inter.issuer())
        .expect("leaf")
        .der()
        .to_vec();
    let pem = |der: &[u8]| {
        let b64 = coeur_common::encoding::b64(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
    };
    let bundle_pem = format!("{}{}", pem(&root.der), pem(&inter.der)).into_bytes();
    Pki {
        root,
        inter,
        leaf,
        bundle_pem,
    }
});

/// A P-256 JWS key of the fixture (kid `fuzz-es256`): coeur's view of it (public JWK,
/// decoding key) and aws-lc-rs's (to sign payloads that are not valid JSON).
pub struct JwsKey {
    /// As coeur holds signing keys.
    pub coeur: coeur_oauth::jose::SigningKey,
    raw: aws_lc_rs::signature::EcdsaKeyPair,
}

/// The fixture's JWS key, made once.
pub static JWS_KEY: LazyLock<JwsKey> = LazyLock::new(|| {
    let pkcs8 = KeyPair::generate().expect("key").serialize_der();
    JwsKey {
        coeur: coeur_oauth::jose::SigningKey::from_pkcs8(
            "fuzz-es256",
            coeur_oauth::jose::SigAlg::ES256,
            &pkcs8,
        )
        .expect("P-256 PKCS#8"),
        raw: aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
        )
        .expect("P-256 PKCS#8"),
    }
});

/// `claims` (any bytes) signed as a compact JWS with [`JWS_KEY`] and header `typ`: the
/// payload is the fuzzer's bytes as they are, so that the claim checks behind the signature
/// see malformed JSON as well as well-formed claims.
pub fn jws_of(typ: &str, claims: &[u8]) -> String {
    use coeur_common::encoding::b64url;
    let header = serde_json::json!({"alg": "ES256", "kid": JWS_KEY.coeur.kid(), "typ": typ});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims)
    );
    let sig = JWS_KEY
        .raw
        .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
        .expect("P-256 signs");
    format!("{input}.{}", b64url(sig.as_ref()))
}
