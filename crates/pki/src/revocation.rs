//! Revocation reasons and the CRL encoder. A CRL is produced in pieces so that the shell can
//! stream a million entries from the store to disk while hashing them: a first pass sums the
//! entries' sizes, a second writes `prefix`, every entry, and `suffix`, then the signature.

use super::der;
use serde::{Deserialize, Serialize};

/// RFC 5280 CRLReason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// unspecified (0).
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
    /// certificateHold (6).
    CertificateHold,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
}

impl Reason {
    /// The CRLReason code.
    pub fn code(self) -> u8 {
        match self {
            Reason::Unspecified => 0,
            Reason::KeyCompromise => 1,
            Reason::CaCompromise => 2,
            Reason::AffiliationChanged => 3,
            Reason::Superseded => 4,
            Reason::CessationOfOperation => 5,
            Reason::CertificateHold => 6,
            Reason::PrivilegeWithdrawn => 9,
        }
    }
    /// From a code.
    pub fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            0 => Reason::Unspecified,
            1 => Reason::KeyCompromise,
            2 => Reason::CaCompromise,
            3 => Reason::AffiliationChanged,
            4 => Reason::Superseded,
            5 => Reason::CessationOfOperation,
            6 => Reason::CertificateHold,
            9 => Reason::PrivilegeWithdrawn,
            _ => return None,
        })
    }
    /// The name [`Reason::parse`] reads (`keyCompromise`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "keyCompromise",
            Reason::CaCompromise => "caCompromise",
            Reason::AffiliationChanged => "affiliationChanged",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessationOfOperation",
            Reason::CertificateHold => "certificateHold",
            Reason::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }

    /// Parses the RFC 5280 name (`keyCompromise`…).
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// A revoked certificate as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Serial (unsigned big-endian).
    pub serial: Vec<u8>,
    /// Revocation time.
    pub at: i64,
    /// Reason.
    pub reason: Reason,
}

/// One CRL entry, DER. `unspecified` is written as no reason extension (RFC 5280 §5.3.1).
pub fn entry_der(r: &Revoked) -> Vec<u8> {
    let mut parts = vec![der::uint(&r.serial), der::time(r.at)];
    if r.reason != Reason::Unspecified {
        let ext = der::extension(&[2, 5, 29, 21], false, &der::enumerated(r.reason.code()));
        parts.push(der::seq(&[ext]));
    }
    der::seq(&parts)
}

/// What a CRL says about itself.
#[derive(Debug, Clone)]
pub struct CrlSpec {
    /// The issuer's Name, DER (its certificate's subject).
    pub issuer_name_der: Vec<u8>,
    /// The issuer's key identifier (AKI).
    pub issuer_key_id: Vec<u8>,
    /// The signature AlgorithmIdentifier, DER.
    pub sig_alg_der: Vec<u8>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
    /// cRLNumber.
    pub number: u64,
    /// For a delta CRL: the number of its base CRL (deltaCRLIndicator).
    pub delta_base: Option<u64>,
    /// For a full CRL: where its delta CRLs are (freshestCRL).
    pub freshest: Vec<String>,
}

/// The to-be-signed CRL around the entries: `prefix ‖ entries ‖ suffix`, given the entries'
/// total size.
pub fn tbs_parts(spec: &CrlSpec, entries_len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut exts = vec![
        der::extension(
            &[2, 5, 29, 35],
            false,
            &der::seq(&[der::implicit_prim(0, &spec.issuer_key_id)]),
        ),
        der::extension(&[2, 5, 29, 20], false, &der::uint_u64(spec.number)),
    ];
    if let Some(base) = spec.delta_base {
        exts.push(der::extension(&[2, 5, 29, 27], true, &der::uint_u64(base)));
    }
    if spec.delta_base.is_none() && !spec.freshest.is_empty() {
        let dps: Vec<Vec<u8>> = spec
            .freshest
            .iter()
            .map(|u| {
                der::seq(&[der::explicit(
                    0,
                    &der::explicit(0, &der::implicit_prim(6, u.as_bytes())),
                )])
            })
            .collect();
        exts.push(der::extension(&[2, 5, 29, 46], false, &der::seq(&dps)));
    }
    let suffix = der::explicit(0, &der::seq(&exts));
    let mut head = Vec::new();
    head.extend(der::uint_u64(1)); // v2
    head.extend_from_slice(&spec.sig_alg_der);
    head.extend_from_slice(&spec.issuer_name_der);
    head.extend(der::time(spec.this_update));
    head.extend(der::time(spec.next_update));
    let entries_tlv = if entries_len > 0 {
        der::tlv_size(entries_len)
    } else {
        0
    };
    let tbs_len = head.len() + entries_tlv + suffix.len();
    let mut prefix = der::header(der::tag::SEQUENCE, tbs_len);
    prefix.extend(head);
    if entries_len > 0 {
        prefix.extend(der::header(der::tag::SEQUENCE, entries_len));
    }
    (prefix, suffix)
}

/// The outer CertificateList around a TBS of `tbs_len` bytes: `(header, trailer)`.
pub fn certificate_list_parts(
    tbs_len: usize,
    sig_alg_der: &[u8],
    signature: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut trailer = sig_alg_der.to_vec();
    trailer.extend(der::bit_string(signature));
    let header = der::header(der::tag::SEQUENCE, tbs_len + trailer.len());
    (header, trailer)
}

/// A whole CRL in memory (small CRLs and tests); the signer's error comes back as is.
pub fn crl_in_memory<E>(
    spec: &CrlSpec,
    entries: &[Revoked],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, E> {
    let body: Vec<u8> = entries.iter().flat_map(entry_der).collect();
    let (prefix, suffix) = tbs_parts(spec, body.len());
    let tbs = [prefix, body, suffix].concat();
    let sig = sign(&tbs)?;
    let (h, t) = certificate_list_parts(tbs.len(), &spec.sig_alg_der, &sig);
    Ok([h, tbs, t].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer as _;

    #[test]
    fn reason_names_read_back() {
        for code in 0..=10 {
            let Some(r) = Reason::from_code(code) else {
                continue;
            };
            assert_eq!(Reason::parse(r.as_str()), Some(r), "{r:?}");
        }
    }

    #[test]
    fn crl_parses_back() {
        let spec = CrlSpec {
            issuer_name_der: der::seq(&[]),
            issuer_key_id: vec![1, 2, 3],
            sig_alg_der: der::seq(&[der::oid(&[1, 2, 840, 10045, 4, 3, 2])]),
            this_update: 1_700_000_000,
            next_update: 1_700_086_400,
            number: 7,
            delta_base: Some(6),
            freshest: vec![],
        };
        let entries = vec![
            Revoked {
                serial: vec![0x81, 2],
                at: 1_699_999_000,
                reason: Reason::KeyCompromise,
            },
            Revoked {
                serial: vec![5],
                at: 1_699_999_100,
                reason: Reason::Unspecified,
            },
        ];
        let crl = crl_in_memory(&spec, &entries, |_| {
            Ok::<_, std::convert::Infallible>(vec![0x30, 0x00])
        })
        .unwrap();
        let (rest, parsed) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&crl).unwrap();
        assert!(rest.is_empty());
        assert_eq!(parsed.iter_revoked_certificates().count(), 2);
        assert_eq!(parsed.crl_number().map(|n| n.to_string()), Some("7".into()));
        let first = parsed.iter_revoked_certificates().next().unwrap();
        assert_eq!(first.raw_serial(), &[0, 0x81, 2]);
        assert_eq!(first.reason_code().map(|r| r.1.0), Some(1));
    }
}
