//! Where a certificate says its status is published, and what coeur asks there.

use super::crl::{PARTITION, with_dp};
use super::*;

const AD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const AD_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];

/// An authorityInfoAccess extension (rcgen writes none) with URI access locations.
fn aia(descriptions: &[(&[u64], &str)]) -> CustomExtension {
    let content = d::seq(
        &descriptions
            .iter()
            .map(|(method, u)| d::seq(&[d::oid(method), d::tlv(0x86, u.as_bytes())]))
            .collect::<Vec<_>>(),
    );
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
}

/// A DistributionPoint with one URI, and optional `reasons` / `cRLIssuer` (whole TLVs).
fn raw_dp(u: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut parts = vec![d::explicit(0, &d::explicit(0, &d::tlv(0x86, u.as_bytes())))];
    parts.extend_from_slice(extra);
    d::seq(&parts)
}

#[test]
fn pointers_keep_http_and_https_only() {
    let p = pki();
    let mut params = leaf_params(SERIAL);
    params.crl_distribution_points = vec![
        CrlDistributionPoint {
            uris: vec![
                "ldap://ldap.test/cn=TEST%20IGC-SANTE%20PERSONNES?certificateRevocationList".into(),
                "http://crl.test/personnes.crl".into(),
            ],
        },
        CrlDistributionPoint {
            uris: vec!["https://crl.test/personnes-bis.crl".into()],
        },
    ];
    params.custom_extensions = vec![aia(&[
        (AD_CA_ISSUERS, "http://aia.test/personnes.cer"),
        (AD_OCSP, "http://ocsp.test/personnes"),
        (AD_OCSP, "ldap://ldap.test/ocsp"),
        (AD_OCSP, "https://ocsp.test/bis"),
    ])];
    let cert = p.inter.issue(&params);
    assert_eq!(
        pointers(&cert),
        Pointers {
            ocsp: vec![
                "http://ocsp.test/personnes".into(),
                "https://ocsp.test/bis".into(),
            ],
            crl: vec![
                "http://crl.test/personnes.crl".into(),
                "https://crl.test/personnes-bis.crl".into(),
            ],
            unusable: true,
        }
    );
    // Without the LDAP locations, nothing is left unusable.
    params.crl_distribution_points.remove(0);
    params.custom_extensions = vec![aia(&[(AD_OCSP, "http://ocsp.test/personnes")])];
    assert!(!pointers(&p.inter.issue(&params)).unusable);
}

#[test]
fn pointers_skip_distribution_points_with_reasons_or_a_crl_issuer() {
    let p = pki();
    // reasons [1] ReasonFlags: keyCompromise (bit 1), 6 unused bits.
    let reasons = d::tlv(0x81, &[0x06, 0x40]);
    // cRLIssuer [2] GeneralNames { directoryName [4] Name }.
    let crl_issuer = d::tlv(0xa2, &d::explicit(4, &p.root.subject_raw()));
    let dps = d::seq(&[
        raw_dp("http://crl.test/reasons.crl", &[reasons]),
        raw_dp("http://crl.test/full.crl", &[]),
        raw_dp("http://crl.test/indirect.crl", &[crl_issuer]),
    ]);
    let mut params = leaf_params(SERIAL);
    params.custom_extensions = vec![CustomExtension::from_oid_content(&[2, 5, 29, 31], dps)];
    let cert = p.inter.issue(&params);
    // The extension is read (every point is seen by the partition logic)...
    assert_eq!(
        distribution_points(&parse(&cert)),
        vec![
            "http://crl.test/reasons.crl".to_owned(),
            "http://crl.test/full.crl".into(),
            "http://crl.test/indirect.crl".into(),
        ]
    );
    // ...but only the full CRL's point is a place to fetch the status from.
    assert_eq!(
        pointers(&cert),
        Pointers {
            ocsp: vec![],
            crl: vec!["http://crl.test/full.crl".into()],
            unusable: true,
        }
    );
}

#[test]
fn pointers_of_bare_or_unreadable_certificates_are_empty() {
    let p = pki();
    assert_eq!(pointers(&p.leaf), Pointers::default());
    assert_eq!(pointers(b"not a certificate"), Pointers::default());
    assert_eq!(pointers(&[]), Pointers::default());
    // A truncated certificate that did have pointers.
    let cert = p.inter.issue(&with_dp(leaf_params(SERIAL), PARTITION));
    assert_eq!(pointers(&cert).crl, vec![PARTITION.to_owned()]);
    assert_eq!(pointers(&cert[..cert.len() - 1]), Pointers::default());
}

#[test]
fn ocsp_request_of_garbage_is_an_error() {
    let p = pki();
    assert!(ocsp_request(b"garbage", &p.inter.der).is_err());
    assert!(ocsp_request(&p.leaf, b"garbage").is_err());
    assert!(ocsp_request(&[], &p.inter.der).is_err());
    assert!(ocsp_request(&p.leaf[..p.leaf.len() - 1], &p.inter.der).is_err());
}
