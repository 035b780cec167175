//! OCSP with external authorities: the request coeur sends, and whether an answer is believed.

use super::*;
use der::{Decode as _, Encode as _};

/// An RFC 6960 request (SHA-1 CertID, no nonce, so that responders may answer from their
/// cache as RFC 5019 expects) for `cert` issued by `issuer`.
pub fn ocsp_request(cert: &[u8], issuer: &[u8]) -> Result<Vec<u8>, StatusError> {
    let c = x509_cert::Certificate::from_der(cert).map_err(DerError::from)?;
    let i = x509_cert::Certificate::from_der(issuer).map_err(DerError::from)?;
    let req =
        x509_ocsp::Request::from_cert::<sha1::Sha1>(&i, &c).map_err(|e| DerError(e.to_string()))?;
    Ok(x509_ocsp::builder::OcspRequestBuilder::default()
        .with_request(req)
        .build()
        .to_der()
        .map_err(DerError::from)?)
}

/// A believed OCSP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcspAnswer {
    /// The status.
    pub status: Status,
    /// thisUpdate.
    pub this_update: i64,
    /// Until when the answer may be relied on (nextUpdate, or thisUpdate plus
    /// [`OCSP_NO_NEXT_UPDATE_MAX_AGE`]).
    pub valid_until: i64,
}

const SHA1: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OCSP_BASIC: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");

fn key_sha1(c: &X509Certificate<'_>) -> Vec<u8> {
    hash(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &c.public_key().subject_public_key.data,
    )
}

/// The first element of a DER SEQUENCE, as its exact bytes (the signed part of a signed
/// structure, without re-encoding).
fn first_element(seq: &[u8]) -> Result<&[u8], DerError> {
    let outer = der::asn1::AnyRef::from_der(seq)?;
    let content = outer.value();
    let mut r = der::SliceReader::new(content)?;
    let first: der::asn1::AnyRef<'_> = der::Decode::decode(&mut r)?;
    let len = usize::try_from(first.encoded_len()?).map_err(|e| DerError(e.to_string()))?;
    content
        .get(..len)
        .ok_or_else(|| DerError("truncated".to_owned()))
}

fn gen_time(t: &x509_ocsp::OcspGeneralizedTime) -> i64 {
    i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Checks an OCSP response about `cert` issued by `issuer` at `now`: successful basic
/// response, signed by the issuer or by a responder certificate the issuer gave
/// id-kp-OCSPSigning, a SingleResponse for exactly this certificate, and fresh.
pub fn check_ocsp_response(
    resp: &[u8],
    cert: &[u8],
    issuer: &[u8],
    now: i64,
) -> Result<OcspAnswer, StatusError> {
    let issuer_c = parse_cert(issuer)?;
    let cert_c = parse_cert(cert)?;
    let r = x509_ocsp::OcspResponse::from_der(resp)
        .map_err(|e| StatusError::UnreadableOcsp(e.to_string()))?;
    let raw = basic_bytes(&r)?;
    let basic = x509_ocsp::BasicOcspResponse::from_der(raw)
        .map_err(|e| StatusError::UnreadableBasic(e.to_string()))?;
    let embedded: Vec<Vec<u8>> = basic
        .certs
        .iter()
        .flatten()
        .filter_map(|c| c.to_der().ok())
        .collect();
    let signer = signer(&basic, &embedded, &issuer_c, now)?;
    verify_signed_by(&basic, first_element(raw)?, &signer)?;
    let single = about_certificate(&basic, &issuer_c, &cert_c)?;
    answer(single, now)
}

/// The BasicOCSPResponse of a successful response (its DER).
fn basic_bytes(r: &x509_ocsp::OcspResponse) -> Result<&[u8], StatusError> {
    if r.response_status != x509_ocsp::OcspResponseStatus::Successful {
        return Err(StatusError::ResponderStatus(format!(
            "{:?}",
            r.response_status
        )));
    }
    let rb = r.response_bytes.as_ref().ok_or(StatusError::NoContent)?;
    if rb.response_type != OCSP_BASIC {
        return Err(StatusError::NotBasic);
    }
    Ok(rb.response.as_bytes())
}

/// Who signed the response: the issuer itself, or a responder certificate among `embedded`
/// that the issuer issued with id-kp-OCSPSigning and that is valid at `now`.
fn signer<'a>(
    basic: &x509_ocsp::BasicOcspResponse,
    embedded: &'a [Vec<u8>],
    issuer: &X509Certificate<'a>,
    now: i64,
) -> Result<X509Certificate<'a>, StatusError> {
    let responder_is = |c: &X509Certificate<'_>| match &basic.tbs_response_data.responder_id {
        x509_ocsp::ResponderId::ByName(n) => n
            .to_der()
            .is_ok_and(|d| d.as_slice() == c.subject().as_raw()),
        x509_ocsp::ResponderId::ByKey(h) => h.as_bytes() == key_sha1(c).as_slice(),
    };
    if responder_is(issuer) {
        return Ok(issuer.clone());
    }
    for d in embedded {
        let Ok(c) = parse_cert(d) else { continue };
        if responder_is(&c) {
            return delegated_responder(c, issuer, now);
        }
    }
    Err(StatusError::NoSigner)
}

/// `c`, named as the responder, if `issuer` delegated OCSP signing to it.
fn delegated_responder<'a>(
    c: X509Certificate<'a>,
    issuer: &X509Certificate<'_>,
    now: i64,
) -> Result<X509Certificate<'a>, StatusError> {
    if c.issuer().as_raw() != issuer.subject().as_raw()
        || c.verify_signature(Some(issuer.public_key())).is_err()
    {
        return Err(StatusError::ResponderNotIssued);
    }
    let delegated = c
        .extended_key_usage()
        .ok()
        .flatten()
        .is_some_and(|e| e.value.ocsp_signing);
    if !delegated {
        return Err(StatusError::ResponderNotDelegated);
    }
    let v = c.validity();
    if now + CLOCK_SKEW < v.not_before.timestamp() || now - CLOCK_SKEW > v.not_after.timestamp() {
        return Err(StatusError::ResponderNotValid);
    }
    Ok(c)
}

/// Verifies the response's signature (over the exact `tbs` bytes) with `signer`'s key.
fn verify_signed_by(
    basic: &x509_ocsp::BasicOcspResponse,
    tbs: &[u8],
    signer: &X509Certificate<'_>,
) -> Result<(), StatusError> {
    let alg_der = basic.signature_algorithm.to_der().map_err(DerError::from)?;
    let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(&alg_der)
        .map_err(|e| StatusError::SignatureAlgorithm(e.to_string()))?;
    let bits = x509_parser::asn1_rs::BitString {
        unused_bits: 0,
        data: std::borrow::Cow::Borrowed(basic.signature.raw_bytes()),
    };
    acceptable_signature(&alg, signer.public_key()).map_err(StatusError::OcspWeakSignature)?;
    x509_parser::verify::verify_signature(signer.public_key(), &alg, &bits, tbs)
        .map_err(|_| StatusError::OcspSignature)
}

/// The SingleResponse about `cert`: every answer about it is read, and contradictory
/// answers make it revoked.
fn about_certificate<'b>(
    basic: &'b x509_ocsp::BasicOcspResponse,
    issuer: &X509Certificate<'_>,
    cert: &X509Certificate<'_>,
) -> Result<&'b x509_ocsp::SingleResponse, StatusError> {
    let serial = unsigned(cert.raw_serial());
    let names = |s: &x509_ocsp::SingleResponse| {
        let alg = match s.cert_id.hash_algorithm.oid {
            o if o == SHA1 => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            o if o == SHA256 => &aws_lc_rs::digest::SHA256,
            _ => return false,
        };
        s.cert_id.issuer_name_hash.as_bytes() == hash(alg, issuer.subject().as_raw())
            && s.cert_id.issuer_key_hash.as_bytes()
                == hash(alg, &issuer.public_key().subject_public_key.data)
            && unsigned(s.cert_id.serial_number.as_bytes()) == serial
    };
    let mut about: Vec<&x509_ocsp::SingleResponse> = basic
        .tbs_response_data
        .responses
        .iter()
        .filter(|s| names(s))
        .collect();
    about.sort_by_key(|s| !matches!(s.cert_status, x509_ocsp::CertStatus::Revoked(_)));
    about.first().copied().ok_or(StatusError::NotAbout)
}

/// What `single` says at `now`, if it may be believed.
fn answer(single: &x509_ocsp::SingleResponse, now: i64) -> Result<OcspAnswer, StatusError> {
    let this_update = gen_time(&single.this_update);
    // A signed revocation stands whatever its dates: revocation is final.
    if let x509_ocsp::CertStatus::Revoked(_) = single.cert_status {
        return Ok(OcspAnswer {
            status: Status::Revoked,
            this_update,
            valid_until: single.next_update.as_ref().map_or(now, gen_time).max(now),
        });
    }
    if this_update > now + CLOCK_SKEW {
        return Err(StatusError::OcspInTheFuture);
    }
    let valid_until = match &single.next_update {
        Some(n) if gen_time(n) < this_update => {
            return Err(StatusError::OcspNextBeforeThis);
        }
        Some(n) => gen_time(n),
        None => this_update + OCSP_NO_NEXT_UPDATE_MAX_AGE,
    };
    if valid_until + CLOCK_SKEW < now {
        return Err(StatusError::OcspStale);
    }
    let status = match single.cert_status {
        x509_ocsp::CertStatus::Good(_) => Status::Good,
        x509_ocsp::CertStatus::Revoked(_) => Status::Revoked,
        x509_ocsp::CertStatus::Unknown(_) => {
            return Err(StatusError::OcspUnknown);
        }
    };
    Ok(OcspAnswer {
        status,
        this_update,
        valid_until,
    })
}
