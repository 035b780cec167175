//! OCSP (RFC 6960, RFC 5019): requests are parsed with `x509-ocsp`; responses are assembled
//! with the DER writer so that the CA key signs the exact bytes (any signer, HSM included).

use super::der;
use super::revocation::Reason;
use der_crate::{Decode as _, Encode as _};

use ::der as der_crate;

/// The nonce extension OID (id-pkix-ocsp-nonce).
pub const NONCE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 2];

/// Hash algorithm of a CertID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdHash {
    /// SHA-1 (RFC 5019 clients).
    Sha1,
    /// SHA-256.
    Sha256,
}

/// One certificate asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdReq {
    /// Hash algorithm.
    pub hash: IdHash,
    /// Hash of the issuer's Name.
    pub name_hash: Vec<u8>,
    /// Hash of the issuer's public key bits.
    pub key_hash: Vec<u8>,
    /// Serial (unsigned big-endian, no leading zeros).
    pub serial: Vec<u8>,
    /// The CertID as received, echoed in the answer.
    pub cert_id_der: Vec<u8>,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequest {
    /// Certificates asked about.
    pub ids: Vec<CertIdReq>,
    /// The nonce extension (whole Extension DER), to echo back.
    pub nonce_ext: Option<Vec<u8>>,
}

/// OCSPResponseStatus for refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspRefusal {
    /// malformedRequest (1).
    Malformed = 1,
    /// internalError (2).
    InternalError = 2,
    /// unauthorized (6): not an issuer of this responder.
    Unauthorized = 6,
}

impl OcspRefusal {
    /// The status's name in RFC 6960 (snake case), e.g. for counting answers.
    pub fn as_str(self) -> &'static str {
        match self {
            OcspRefusal::Malformed => "malformed_request",
            OcspRefusal::InternalError => "internal_error",
            OcspRefusal::Unauthorized => "unauthorized",
        }
    }
}

/// Parses a DER OCSPRequest.
pub fn parse_request(bytes: &[u8]) -> Result<OcspRequest, OcspRefusal> {
    let req = x509_ocsp::OcspRequest::from_der(bytes).map_err(|_| OcspRefusal::Malformed)?;
    if req.tbs_request.request_list.is_empty() || req.tbs_request.request_list.len() > 16 {
        return Err(OcspRefusal::Malformed);
    }
    let mut ids = Vec::new();
    for r in &req.tbs_request.request_list {
        let c = &r.req_cert;
        let hash = match c.hash_algorithm.oid.to_string().as_str() {
            "1.3.14.3.2.26" => IdHash::Sha1,
            "2.16.840.1.101.3.4.2.1" => IdHash::Sha256,
            _ => return Err(OcspRefusal::Malformed),
        };
        let serial = c
            .serial_number
            .as_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect::<Vec<u8>>();
        ids.push(CertIdReq {
            hash,
            name_hash: c.issuer_name_hash.as_bytes().to_vec(),
            key_hash: c.issuer_key_hash.as_bytes().to_vec(),
            serial: if serial.is_empty() { vec![0] } else { serial },
            cert_id_der: c.to_der().map_err(|_| OcspRefusal::Malformed)?,
        });
    }
    let nonce_ext = match &req.tbs_request.request_extensions {
        Some(exts) => {
            let mut found = None;
            for e in exts {
                if e.extn_id.to_string() == "1.3.6.1.5.5.7.48.1.2" {
                    if e.extn_value.as_bytes().len() > 40 {
                        return Err(OcspRefusal::Malformed);
                    }
                    found = Some(e.to_der().map_err(|_| OcspRefusal::Malformed)?);
                }
            }
            found
        }
        None => None,
    };
    Ok(OcspRequest { ids, nonce_ext })
}

/// What coeur knows of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Issued and not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// When.
        at: i64,
        /// Why.
        reason: Reason,
    },
    /// Not issued by this CA.
    Unknown,
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The CertID as asked.
    pub cert_id_der: Vec<u8>,
    /// Status.
    pub status: Status,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
}

fn single(a: &Answer) -> Vec<u8> {
    let status = match a.status {
        Status::Good => vec![0x80, 0x00],
        Status::Unknown => vec![0x82, 0x00],
        Status::Revoked { at, reason } => {
            let mut inner = der::generalized_time(at);
            inner.extend(der::explicit(0, &der::enumerated(reason.code())));
            der::tlv(0xa1, &inner)
        }
    };
    der::seq(&[
        a.cert_id_der.clone(),
        status,
        der::generalized_time(a.this_update),
        der::explicit(0, &der::generalized_time(a.next_update)),
    ])
}

/// ResponseData (the signed part), responder identified by key hash.
pub fn response_data(
    responder_key_hash: &[u8],
    produced_at: i64,
    answers: &[Answer],
    nonce_ext: Option<&[u8]>,
) -> Vec<u8> {
    let mut parts = vec![
        der::explicit(2, &der::octets(responder_key_hash)),
        der::generalized_time(produced_at),
    ];
    parts.push(der::seq(&answers.iter().map(single).collect::<Vec<_>>()));
    if let Some(n) = nonce_ext {
        parts.push(der::explicit(1, &der::seq(&[n.to_vec()])));
    }
    der::seq(&parts)
}

/// The whole OCSPResponse (successful) from signed ResponseData and the responder's chain.
pub fn response(tbs: &[u8], sig_alg_der: &[u8], signature: &[u8], certs: &[Vec<u8>]) -> Vec<u8> {
    let mut basic = vec![
        tbs.to_vec(),
        sig_alg_der.to_vec(),
        der::bit_string(signature),
    ];
    if !certs.is_empty() {
        basic.push(der::explicit(0, &der::seq(certs)));
    }
    let basic = der::seq(&basic);
    let bytes = der::seq(&[
        der::oid(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 1]),
        der::octets(&basic),
    ]);
    der::seq(&[der::enumerated(0), der::explicit(0, &bytes)])
}

/// An unsuccessful OCSPResponse.
pub fn refusal(r: OcspRefusal) -> Vec<u8> {
    der::seq(&[der::enumerated(r as u8)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_parses_with_x509_ocsp() {
        let cert_id = der::seq(&[
            der::seq(&[der::oid(&[1, 3, 14, 3, 2, 26]), der::null()]),
            der::octets(&[1; 20]),
            der::octets(&[2; 20]),
            der::uint(&[0x42]),
        ]);
        let a = Answer {
            cert_id_der: cert_id,
            status: Status::Revoked {
                at: 1_700_000_000,
                reason: Reason::KeyCompromise,
            },
            this_update: 1_700_000_100,
            next_update: 1_700_003_700,
        };
        let tbs = response_data(&[3; 20], 1_700_000_100, &[a], None);
        let sig_alg = der::seq(&[der::oid(&[1, 2, 840, 10045, 4, 3, 2])]);
        let r = response(&tbs, &sig_alg, &[0x30, 0], &[]);
        let parsed = x509_ocsp::OcspResponse::from_der(&r).expect("parses");
        assert_eq!(
            parsed.response_status,
            x509_ocsp::OcspResponseStatus::Successful
        );
        let basic = x509_ocsp::BasicOcspResponse::from_der(
            parsed.response_bytes.unwrap().response.as_bytes(),
        )
        .unwrap();
        assert_eq!(basic.tbs_response_data.responses.len(), 1);
        assert!(matches!(
            basic.tbs_response_data.responses[0].cert_status,
            x509_ocsp::CertStatus::Revoked(_)
        ));
        assert_eq!(refusal(OcspRefusal::Malformed), vec![0x30, 3, 0x0a, 1, 1]);
    }
}
