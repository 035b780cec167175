//! OCSP: requests, signers (the CA or a delegated responder), CertID matching, freshness.

use super::*;

/// thisUpdate (and producedAt) of the responses built below.
const THIS: i64 = NOW - 60;
/// Their nextUpdate.
const NEXT: i64 = NOW + DAY;

/// The CertID `ocsp_request` asks about `cert` with, read back by the responder's parser.
fn cert_id(cert: &[u8], issuer: &[u8]) -> ocsp::CertIdReq {
    let mut req = ocsp::parse_request(&ocsp_request(cert, issuer).unwrap()).unwrap();
    assert_eq!(req.ids.len(), 1);
    assert_eq!(req.nonce_ext, None);
    req.ids.remove(0)
}

fn answer(cert: &[u8], issuer: &Ca, status: ocsp::Status) -> ocsp::Answer {
    ocsp::Answer {
        cert_id_der: cert_id(cert, &issuer.der).cert_id_der,
        status,
        this_update: THIS,
        next_update: NEXT,
    }
}

fn revoked() -> ocsp::Status {
    ocsp::Status::Revoked {
        at: NOW - DAY,
        reason: Reason::KeyCompromise,
    }
}

/// A successful basic response: `tbs` (ResponseData) signed by `signer`, with `certs`.
fn signed(signer: &KeyPair, tbs: &[u8], certs: &[Vec<u8>]) -> Vec<u8> {
    let sig = signer.sign(tbs).unwrap();
    ocsp::response(tbs, &ecdsa_sha256(), &sig, certs)
}

/// A response from the responder code: `answers` signed by `signer`, named by its key hash.
fn ocsp_resp(signer: &KeyPair, answers: &[ocsp::Answer], certs: &[Vec<u8>]) -> Vec<u8> {
    let tbs = ocsp::response_data(&sha1(signer.public_key_raw()), THIS, answers, None);
    signed(signer, &tbs, certs)
}

/// The issuer's own response about `cert`.
fn issuer_resp(ca: &Ca, cert: &[u8], status: ocsp::Status) -> Vec<u8> {
    ocsp_resp(&ca.key, &[answer(cert, ca, status)], &[])
}

fn believed(status: Status) -> Result<OcspAnswer, String> {
    Ok(OcspAnswer {
        status,
        this_update: THIS,
        valid_until: NEXT,
    })
}

/// CertStatus good ([0] IMPLICIT NULL) and unknown ([2] IMPLICIT NULL).
const GOOD: &[u8] = &[0x80, 0x00];
const UNKNOWN: &[u8] = &[0x82, 0x00];

/// A SingleResponse written by hand (`status`: a whole CertStatus).
fn raw_single(cert_id_der: &[u8], status: &[u8], this: i64, next: Option<i64>) -> Vec<u8> {
    let mut parts = vec![
        cert_id_der.to_vec(),
        status.to_vec(),
        d::generalized_time(this),
    ];
    if let Some(n) = next {
        parts.push(d::explicit(0, &d::generalized_time(n)));
    }
    d::seq(&parts)
}

/// A ResponseData written by hand (`responder_id`: a whole ResponderID).
fn raw_response_data(responder_id: Vec<u8>, singles: &[Vec<u8>]) -> Vec<u8> {
    d::seq(&[responder_id, d::generalized_time(THIS), d::seq(singles)])
}

fn by_name(ca: &Ca) -> Vec<u8> {
    d::explicit(1, &ca.subject_raw())
}

fn by_key(key: &KeyPair) -> Vec<u8> {
    d::explicit(2, &d::octets(&sha1(key.public_key_raw())))
}

/// A CertID written by hand.
fn raw_cert_id(alg: &[u64], name_hash: &[u8], key_hash: &[u8], serial: &[u8]) -> Vec<u8> {
    d::seq(&[
        d::seq(&[d::oid(alg), d::null()]),
        d::octets(name_hash),
        d::octets(key_hash),
        d::uint(serial),
    ])
}

const SHA1_OID: &[u64] = &[1, 3, 14, 3, 2, 26];
const SHA256_OID: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const SHA384_OID: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 2];

/// A delegated responder's certificate parameters.
fn responder_params(cn: &str, eku: Vec<ExtendedKeyUsagePurpose>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.serial_number = Some(SerialNumber::from_slice(&[0x0c, 0x5b]));
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = eku;
    p.not_before = at(NOW - 30 * DAY);
    p.not_after = at(NOW + 30 * DAY);
    p
}

fn ocsp_signing() -> CertificateParams {
    responder_params(
        "TEST OCSP IGC-SANTE PERSONNES",
        vec![ExtendedKeyUsagePurpose::OcspSigning],
    )
}

/// A responder key and its certificate issued by `ca` with `params`.
fn responder(ca: &Ca, params: &CertificateParams) -> (KeyPair, Vec<u8>) {
    let k = key();
    let der = ca.issue_for(params, &k);
    (k, der)
}

/// The response of a delegated responder (`k`, `cert`) of `p.inter`: the leaf is good.
fn delegated_resp(p: &Pki, k: &KeyPair, cert: &[u8]) -> Vec<u8> {
    ocsp_resp(
        k,
        &[answer(&p.leaf, &p.inter, ocsp::Status::Good)],
        &[cert.to_vec()],
    )
}

fn check(resp: &[u8], p: &Pki) -> Result<OcspAnswer, String> {
    check_ocsp_response(resp, &p.leaf, &p.inter.der, NOW)
}

fn check_err(resp: &[u8], p: &Pki) -> String {
    check(resp, p).unwrap_err()
}

const NOT_ISSUED_BY_CA: &str = "the responder's certificate is not issued by the CA";
const NO_OCSP_SIGNING: &str = "the responder's certificate lacks id-kp-OCSPSigning";
const NOT_VALID_NOW: &str = "the responder's certificate is not valid now";
const NO_SIGNER: &str = "the response is signed neither by the CA nor by a responder it delegated";
const BAD_SIGNATURE: &str = "the OCSP response's signature does not verify";
const NOT_ABOUT: &str = "the response is not about this certificate";
const STALE: &str = "the OCSP answer is stale";

#[test]
fn ocsp_request_parses_back() {
    let p = pki();
    let der = ocsp_request(&p.leaf, &p.inter.der).unwrap();
    let req = x509_ocsp::OcspRequest::from_der(&der).unwrap();
    assert!(req.optional_signature.is_none());
    let tbs = &req.tbs_request;
    assert!(tbs.request_extensions.is_none(), "no nonce");
    assert_eq!(tbs.request_list.len(), 1);
    let r = &tbs.request_list[0];
    assert!(r.single_request_extensions.is_none());
    let id = &r.req_cert;
    assert_eq!(id.hash_algorithm.oid.to_string(), "1.3.14.3.2.26");
    assert_eq!(id.issuer_name_hash.as_bytes(), sha1(&p.inter.subject_raw()));
    assert_eq!(id.issuer_key_hash.as_bytes(), p.inter.key_hash());
    assert_eq!(id.serial_number.as_bytes(), SERIAL);
    // The responder's parser reads the same.
    let id = cert_id(&p.leaf, &p.inter.der);
    assert_eq!(id.hash, ocsp::IdHash::Sha1);
    assert_eq!(id.name_hash, sha1(&p.inter.subject_raw()));
    assert_eq!(id.key_hash, p.inter.key_hash());
    assert_eq!(id.serial, SERIAL);
    assert_eq!(
        id.cert_id_der,
        raw_cert_id(
            SHA1_OID,
            &sha1(&p.inter.subject_raw()),
            &p.inter.key_hash(),
            SERIAL
        )
    );
}

#[test]
fn ocsp_request_with_a_top_bit_serial() {
    let p = pki();
    let serial = [0x80, 0x01, 0x02, 0x03];
    let leaf = p.inter.issue(&leaf_params(&serial));
    let id = cert_id(&leaf, &p.inter.der);
    assert_eq!(id.serial, serial);
    // The INTEGER keeps its sign byte, as in the certificate.
    assert!(
        id.cert_id_der
            .ends_with(&[0x02, 0x05, 0x00, 0x80, 0x01, 0x02, 0x03]),
        "{:02x?}",
        id.cert_id_der
    );
    let resp = issuer_resp(&p.inter, &leaf, revoked());
    assert_eq!(
        check_ocsp_response(&resp, &leaf, &p.inter.der, NOW),
        believed(Status::Revoked)
    );
}

#[test]
fn ocsp_hand_written_response_data_matches_the_responder() {
    // The hand-written builder used below writes what the responder code writes.
    let p = pki();
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let a = ocsp::Answer {
        cert_id_der: id.clone(),
        status: ocsp::Status::Good,
        this_update: THIS,
        next_update: NEXT,
    };
    assert_eq!(
        raw_response_data(
            by_key(&p.inter.key),
            &[raw_single(&id, GOOD, THIS, Some(NEXT))]
        ),
        ocsp::response_data(&p.inter.key_hash(), THIS, &[a], None)
    );
}

#[test]
fn ocsp_good_signed_by_the_issuer() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    assert_eq!(check(&resp, &p), believed(Status::Good));
}

#[test]
fn ocsp_revoked_signed_by_the_issuer() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.other_leaf, revoked());
    assert_eq!(
        check_ocsp_response(&resp, &p.other_leaf, &p.inter.der, NOW),
        believed(Status::Revoked)
    );
    // certificateHold, as the responder writes it, is revoked too.
    let hold = ocsp::Status::Revoked {
        at: NOW - DAY,
        reason: Reason::CertificateHold,
    };
    let resp = issuer_resp(&p.inter, &p.leaf, hold);
    assert_eq!(check(&resp, &p), believed(Status::Revoked));
}

#[test]
fn ocsp_responder_named_by_name() {
    let p = pki();
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let tbs = raw_response_data(
        by_name(&p.inter),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(
        check(&signed(&p.inter.key, &tbs, &[]), &p),
        believed(Status::Good)
    );
    // By name, but signed by another key.
    let e = check_err(&signed(&key(), &tbs, &[]), &p);
    assert_eq!(e, BAD_SIGNATURE);
    // Named by another CA's name.
    let tbs = raw_response_data(by_name(&p.root), &[raw_single(&id, GOOD, THIS, Some(NEXT))]);
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NO_SIGNER);
}

#[test]
fn ocsp_delegated_responder() {
    let p = pki();
    let (k, cert) = responder(&p.inter, &ocsp_signing());
    assert_eq!(
        check(&delegated_resp(&p, &k, &cert), &p),
        believed(Status::Good)
    );
    // Named by name rather than key hash.
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let tbs = raw_response_data(
        d::explicit(1, parse(&cert).subject().as_raw()),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(
        check(&signed(&k, &tbs, std::slice::from_ref(&cert)), &p),
        believed(Status::Good)
    );
    // Without its certificate, the responder is unknown.
    let resp = ocsp_resp(&k, &[answer(&p.leaf, &p.inter, ocsp::Status::Good)], &[]);
    assert_eq!(check_err(&resp, &p), NO_SIGNER);
}

#[test]
fn ocsp_delegated_responder_not_first_in_the_certs() {
    let p = pki();
    let (k, cert) = responder(&p.inter, &ocsp_signing());
    // Another responder of another CA, and the CA certificates, before it.
    let other_ca = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let (_, other) = responder(&other_ca, &ocsp_signing());
    let resp = ocsp_resp(
        &k,
        &[answer(&p.leaf, &p.inter, ocsp::Status::Good)],
        &[other, p.root.der.clone(), p.inter.der.clone(), cert.clone()],
    );
    assert_eq!(check(&resp, &p), believed(Status::Good));
    // The first certificate naming the responder decides: a self-signed certificate of the
    // same key after it is not looked at.
    let own = ocsp_signing().self_signed(&k).unwrap().der().to_vec();
    let resp = ocsp_resp(
        &k,
        &[answer(&p.leaf, &p.inter, ocsp::Status::Good)],
        &[cert, own],
    );
    assert_eq!(check(&resp, &p), believed(Status::Good));
}

#[test]
fn ocsp_matching_single_response_among_several() {
    let p = pki();
    let third = p.inter.issue(&leaf_params(&[0x05]));
    let resp = ocsp_resp(
        &p.inter.key,
        &[
            answer(&p.other_leaf, &p.inter, revoked()),
            answer(&p.leaf, &p.inter, ocsp::Status::Good),
            answer(&third, &p.inter, ocsp::Status::Unknown),
        ],
        &[],
    );
    assert_eq!(check(&resp, &p), believed(Status::Good));
    assert_eq!(
        check_ocsp_response(&resp, &p.other_leaf, &p.inter.der, NOW),
        believed(Status::Revoked)
    );
    assert_eq!(
        check_ocsp_response(&resp, &third, &p.inter.der, NOW).unwrap_err(),
        "the responder does not know this certificate"
    );
    let absent = p.inter.issue(&leaf_params(&[0x06]));
    assert_eq!(
        check_ocsp_response(&resp, &absent, &p.inter.der, NOW).unwrap_err(),
        NOT_ABOUT
    );
}

#[test]
fn ocsp_sha256_cert_id() {
    let p = pki();
    let id = raw_cert_id(
        SHA256_OID,
        &sha256(&p.inter.subject_raw()),
        &sha256(p.inter.key.public_key_raw()),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(
        check(&signed(&p.inter.key, &tbs, &[]), &p),
        believed(Status::Good)
    );
    // SHA-256 hashes under the SHA-1 identifier do not match.
    let id = raw_cert_id(
        SHA1_OID,
        &sha256(&p.inter.subject_raw()),
        &sha256(p.inter.key.public_key_raw()),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
}

#[test]
fn ocsp_delegated_responder_without_ocsp_signing_is_refused() {
    let p = pki();
    for eku in [vec![ExtendedKeyUsagePurpose::ClientAuth], vec![]] {
        let (k, cert) = responder(
            &p.inter,
            &responder_params("TEST OCSP IGC-SANTE PERSONNES", eku),
        );
        assert_eq!(
            check_err(&delegated_resp(&p, &k, &cert), &p),
            NO_OCSP_SIGNING
        );
    }
}

#[test]
fn ocsp_responder_of_a_sibling_ca_is_refused() {
    let p = pki();
    let sibling = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let (k, cert) = responder(&sibling, &ocsp_signing());
    assert_eq!(
        check_err(&delegated_resp(&p, &k, &cert), &p),
        NOT_ISSUED_BY_CA
    );
    // Its answers are good for the sibling's own certificates.
    let leaf = sibling.issue(&leaf_params(SERIAL));
    let resp = ocsp_resp(&k, &[answer(&leaf, &sibling, ocsp::Status::Good)], &[cert]);
    assert_eq!(
        check_ocsp_response(&resp, &leaf, &sibling.der, NOW),
        believed(Status::Good)
    );
    // Signed with the CA's key, but naming the sibling as issuer.
    let k = key();
    let misnamed_issuer = Issuer::from_params(&sibling.params, &p.inter.key);
    let cert = ocsp_signing()
        .signed_by(&k, &misnamed_issuer)
        .unwrap()
        .der()
        .to_vec();
    let inter = parse(&p.inter.der);
    assert!(
        parse(&cert)
            .verify_signature(Some(inter.public_key()))
            .is_ok()
    );
    assert_eq!(
        check_err(&delegated_resp(&p, &k, &cert), &p),
        NOT_ISSUED_BY_CA
    );
}

#[test]
fn ocsp_responder_of_a_same_name_ca_with_another_key_is_refused() {
    let p = pki();
    let impostor = p.root.sub(ca_params("TEST IGC-SANTE PERSONNES", Some(0)));
    assert_eq!(impostor.subject_raw(), p.inter.subject_raw());
    let (k, cert) = responder(&impostor, &ocsp_signing());
    assert_eq!(
        check_err(&delegated_resp(&p, &k, &cert), &p),
        NOT_ISSUED_BY_CA
    );
}

#[test]
fn ocsp_responder_certificate_out_of_its_validity_is_refused() {
    let p = pki();
    let with = |not_before: i64, not_after: i64| {
        let mut params = ocsp_signing();
        params.not_before = at(not_before);
        params.not_after = at(not_after);
        let (k, cert) = responder(&p.inter, &params);
        check(&delegated_resp(&p, &k, &cert), &p)
    };
    // Expired, with the skew as the boundary.
    assert_eq!(with(NOW - 30 * DAY, NOW - DAY).unwrap_err(), NOT_VALID_NOW);
    assert_eq!(
        with(NOW - 30 * DAY, NOW - CLOCK_SKEW - 1).unwrap_err(),
        NOT_VALID_NOW
    );
    assert_eq!(
        with(NOW - 30 * DAY, NOW - CLOCK_SKEW),
        believed(Status::Good)
    );
    // Not yet valid.
    assert_eq!(with(NOW + DAY, NOW + 30 * DAY).unwrap_err(), NOT_VALID_NOW);
    assert_eq!(
        with(NOW + CLOCK_SKEW + 1, NOW + 30 * DAY).unwrap_err(),
        NOT_VALID_NOW
    );
    assert_eq!(
        with(NOW + CLOCK_SKEW, NOW + 30 * DAY),
        believed(Status::Good)
    );
}

#[test]
fn ocsp_not_signed_by_the_responder_key_is_refused() {
    let p = pki();
    let (k, cert) = responder(&p.inter, &ocsp_signing());
    let id = answer(&p.leaf, &p.inter, ocsp::Status::Good);
    // Names the delegated responder, signed by the CA's key.
    let tbs = ocsp::response_data(
        &sha1(k.public_key_raw()),
        THIS,
        std::slice::from_ref(&id),
        None,
    );
    assert_eq!(
        check_err(&signed(&p.inter.key, &tbs, std::slice::from_ref(&cert)), &p),
        BAD_SIGNATURE
    );
    // Names the CA, signed by the delegated responder's key.
    let tbs = ocsp::response_data(&p.inter.key_hash(), THIS, &[id], None);
    assert_eq!(check_err(&signed(&k, &tbs, &[cert]), &p), BAD_SIGNATURE);
}

#[test]
fn ocsp_signed_by_an_unrelated_key_is_refused() {
    let p = pki();
    let rogue = key();
    let answers = [answer(&p.leaf, &p.inter, ocsp::Status::Good)];
    assert_eq!(check_err(&ocsp_resp(&rogue, &answers, &[]), &p), NO_SIGNER);
    // With a self-signed certificate of its own, even one with id-kp-OCSPSigning.
    let own = ocsp_signing().self_signed(&rogue).unwrap().der().to_vec();
    assert_eq!(
        check_err(&ocsp_resp(&rogue, &answers, &[own]), &p),
        NOT_ISSUED_BY_CA
    );
}

#[test]
fn ocsp_signature_of_another_response_is_refused() {
    // A Good answer carrying the signature of the CA's Revoked answer.
    let p = pki();
    let rhash = p.inter.key_hash();
    let good = ocsp::response_data(
        &rhash,
        THIS,
        &[answer(&p.leaf, &p.inter, ocsp::Status::Good)],
        None,
    );
    let bad = ocsp::response_data(&rhash, THIS, &[answer(&p.leaf, &p.inter, revoked())], None);
    let sig = p.inter.key.sign(&bad).unwrap();
    let forged = ocsp::response(&good, &ecdsa_sha256(), &sig, &[]);
    assert_eq!(check_err(&forged, &p), BAD_SIGNATURE);
    // The genuine one is believed.
    let genuine = ocsp::response(&bad, &ecdsa_sha256(), &sig, &[]);
    assert_eq!(check(&genuine, &p), believed(Status::Revoked));
}

#[test]
fn ocsp_about_another_serial_is_refused() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.other_leaf, ocsp::Status::Good);
    assert_eq!(check_err(&resp, &p), NOT_ABOUT);
}

#[test]
fn ocsp_about_the_same_serial_of_another_issuer_is_refused() {
    let p = pki();
    let sibling = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let foreign = sibling.issue(&leaf_params(SERIAL));
    // Signed by the right CA, about the sibling's certificate with the same serial.
    let resp = ocsp_resp(&p.inter.key, &[answer(&foreign, &sibling, revoked())], &[]);
    assert_eq!(check_err(&resp, &p), NOT_ABOUT);
}

#[test]
fn ocsp_right_key_with_another_issuer_name_is_refused() {
    let p = pki();
    let id = raw_cert_id(
        SHA1_OID,
        &sha1(&p.root.subject_raw()),
        &p.inter.key_hash(),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
    // And the right name with another key.
    let id = raw_cert_id(
        SHA1_OID,
        &sha1(&p.inter.subject_raw()),
        &p.root.key_hash(),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
}

#[test]
fn ocsp_cert_id_with_an_unsupported_hash_is_refused() {
    let p = pki();
    let sha384 = |data: &[u8]| hash(&aws_lc_rs::digest::SHA384, data);
    let id = raw_cert_id(
        SHA384_OID,
        &sha384(&p.inter.subject_raw()),
        &sha384(p.inter.key.public_key_raw()),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
    // Nor SHA-1 values under an unsupported identifier (MD5).
    let id = raw_cert_id(
        &[1, 2, 840, 113549, 2, 5],
        &sha1(&p.inter.subject_raw()),
        &p.inter.key_hash(),
        SERIAL,
    );
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, GOOD, THIS, Some(NEXT))],
    );
    assert_eq!(check_err(&signed(&p.inter.key, &tbs, &[]), &p), NOT_ABOUT);
}

#[test]
fn ocsp_stale_is_refused_after_the_skew() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    let at_ = |now| check_ocsp_response(&resp, &p.leaf, &p.inter.der, now);
    assert_eq!(at_(NEXT), believed(Status::Good));
    assert_eq!(at_(NEXT + CLOCK_SKEW), believed(Status::Good));
    assert_eq!(at_(NEXT + CLOCK_SKEW + 1).unwrap_err(), STALE);
    assert_eq!(at_(NOW + 10 * DAY).unwrap_err(), STALE);
}

#[test]
fn ocsp_dated_in_the_future_is_refused() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    let at_ = |now| check_ocsp_response(&resp, &p.leaf, &p.inter.der, now);
    assert_eq!(at_(THIS - CLOCK_SKEW), believed(Status::Good));
    assert_eq!(
        at_(THIS - CLOCK_SKEW - 1).unwrap_err(),
        "the OCSP answer is dated in the future"
    );
}

#[test]
fn ocsp_unknown_is_refused() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Unknown);
    assert_eq!(
        check_err(&resp, &p),
        "the responder does not know this certificate"
    );
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let tbs = raw_response_data(
        by_key(&p.inter.key),
        &[raw_single(&id, UNKNOWN, THIS, Some(NEXT))],
    );
    assert_eq!(
        check_err(&signed(&p.inter.key, &tbs, &[]), &p),
        "the responder does not know this certificate"
    );
}

#[test]
fn ocsp_unsuccessful_responses_are_refused() {
    let p = pki();
    for (r, name) in [
        (x509_ocsp::OcspResponse::try_later(), "TryLater"),
        (x509_ocsp::OcspResponse::unauthorized(), "Unauthorized"),
        (x509_ocsp::OcspResponse::internal_error(), "InternalError"),
        (
            x509_ocsp::OcspResponse::malformed_request(),
            "MalformedRequest",
        ),
        (x509_ocsp::OcspResponse::sig_required(), "SigRequired"),
    ] {
        let der = r.to_der().unwrap();
        assert_eq!(
            check_err(&der, &p),
            format!("the responder answered {name}")
        );
    }
    // The crate's own responder refusals.
    assert_eq!(
        check_err(&ocsp::refusal(ocsp::OcspRefusal::Unauthorized), &p),
        "the responder answered Unauthorized"
    );
    // "Successful" without responseBytes.
    assert_eq!(
        check_err(&d::seq(&[d::enumerated(0)]), &p),
        "a successful response without content"
    );
}

#[test]
fn ocsp_response_type_other_than_basic_is_refused() {
    let p = pki();
    let mut resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    assert_eq!(check(&resp, &p), believed(Status::Good));
    let basic = d::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 1]);
    let pos = resp
        .windows(basic.len())
        .position(|w| w == basic.as_slice())
        .unwrap();
    // id-pkix-ocsp-basic -> 1.3.6.1.5.5.7.48.1.99.
    resp[pos + basic.len() - 1] = 99;
    assert_eq!(check_err(&resp, &p), "not a basic OCSP response");
}

#[test]
fn ocsp_unreadable_is_refused() {
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, ocsp::Status::Good);
    for bad in [
        &b"garbage"[..],
        &[],
        &resp[..resp.len() - 1],
        &resp[..resp.len() / 2],
    ] {
        let e = check_err(bad, &p);
        assert!(e.starts_with("unreadable OCSP response"), "{e}");
    }
    // A response whose BasicOCSPResponse is not one.
    let junk = d::seq(&[
        d::enumerated(0),
        d::explicit(
            0,
            &d::seq(&[d::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 1]), d::octets(b"junk")]),
        ),
    ]);
    let e = check_err(&junk, &p);
    assert!(e.starts_with("unreadable basic OCSP response"), "{e}");
    // And unreadable certificates.
    assert!(check_ocsp_response(&resp, b"garbage", &p.inter.der, NOW).is_err());
    assert!(check_ocsp_response(&resp, &p.leaf, b"garbage", NOW).is_err());
}

#[test]
fn ocsp_next_update_before_this_update_is_refused() {
    let p = pki();
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let with_next = |next: i64| {
        let tbs = raw_response_data(
            by_key(&p.inter.key),
            &[raw_single(&id, GOOD, THIS, Some(next))],
        );
        check(&signed(&p.inter.key, &tbs, &[]), &p)
    };
    assert_eq!(
        with_next(THIS - 1).unwrap_err(),
        "the OCSP answer's nextUpdate precedes its thisUpdate"
    );
    assert_eq!(
        with_next(THIS - DAY).unwrap_err(),
        "the OCSP answer's nextUpdate precedes its thisUpdate"
    );
    // Equal is allowed.
    assert_eq!(
        with_next(THIS),
        Ok(OcspAnswer {
            status: Status::Good,
            this_update: THIS,
            valid_until: THIS,
        })
    );
}

#[test]
fn ocsp_without_next_update_is_believed_for_a_while() {
    let p = pki();
    let id = cert_id(&p.leaf, &p.inter.der).cert_id_der;
    let tbs = raw_response_data(by_key(&p.inter.key), &[raw_single(&id, GOOD, THIS, None)]);
    let resp = signed(&p.inter.key, &tbs, &[]);
    let until = THIS + OCSP_NO_NEXT_UPDATE_MAX_AGE;
    let expected = Ok(OcspAnswer {
        status: Status::Good,
        this_update: THIS,
        valid_until: until,
    });
    let at_ = |now| check_ocsp_response(&resp, &p.leaf, &p.inter.der, now);
    assert_eq!(at_(NOW), expected);
    assert_eq!(at_(until + CLOCK_SKEW), expected);
    assert_eq!(at_(until + CLOCK_SKEW + 1).unwrap_err(), STALE);
}

#[test]
fn ocsp_contradictory_answers_about_one_certificate_mean_revoked() {
    let p = pki();
    for answers in [
        [
            answer(&p.leaf, &p.inter, ocsp::Status::Good),
            answer(&p.leaf, &p.inter, revoked()),
        ],
        [
            answer(&p.leaf, &p.inter, revoked()),
            answer(&p.leaf, &p.inter, ocsp::Status::Good),
        ],
    ] {
        let resp = ocsp_resp(&p.inter.key, &answers, &[]);
        assert_eq!(check(&resp, &p), believed(Status::Revoked));
    }
}

#[test]
fn ocsp_revoked_stands_whatever_its_dates() {
    // A signed revocation is final: stale or early, it is not traded for a CRL's Good.
    let p = pki();
    let resp = issuer_resp(&p.inter, &p.leaf, revoked());
    for now in [NOW + 10 * DAY, THIS - CLOCK_SKEW - 1] {
        let a = check_ocsp_response(&resp, &p.leaf, &p.inter.der, now).unwrap();
        assert_eq!(a.status, Status::Revoked, "at {now}");
        assert!(a.valid_until >= now);
    }
}
