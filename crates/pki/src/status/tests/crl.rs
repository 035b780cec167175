//! Full CRLs: signature, issuer, freshness, scope and partitions, serial matching.

use super::*;

#[test]
fn crl_good_and_revoked() {
    let p = pki();
    let crl = crl_of(&p.inter, &[OTHER_SERIAL, &[0x01]]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.len(), 2);
    assert!(!idx.is_empty());
    assert_eq!(idx.this_update, NOW - DAY);
    assert_eq!(idx.next_update, Some(NOW + DAY));
    assert!(idx.fresh(NOW));
    assert_eq!(idx.status(&p.leaf, &p.inter.der, NOW), Ok(Status::Good));
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Revoked)
    );
}

#[test]
fn crl_empty_lists_nothing() {
    let p = pki();
    let idx = CrlIndex::parse(&crl_of(&p.inter, &[]), &p.inter.der, NOW).unwrap();
    assert!(idx.is_empty());
    assert_eq!(idx.len(), 0);
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Good)
    );
}

#[test]
fn crl_serial_with_leading_zero_byte() {
    // The top bit set: the DER INTEGER carries a leading 0x00 in both the certificate and
    // the CRL entry.
    let p = pki();
    let serial = [0x80, 0x01, 0x02, 0x03];
    let leaf = p.inter.issue(&leaf_params(&serial));
    assert_eq!(parse(&leaf).raw_serial()[0], 0);
    let crl = crl_of(&p.inter, &[&[0x00, 0x80, 0x01, 0x02, 0x03]]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&leaf, &p.inter.der, NOW), Ok(Status::Revoked));
    // A serial sharing its first octets is another one.
    let near = p.inter.issue(&leaf_params(&[0x80, 0x01, 0x02]));
    assert_eq!(idx.status(&near, &p.inter.der, NOW), Ok(Status::Good));
}

#[test]
fn crl_entry_with_redundant_leading_zero_matches() {
    // Some CAs write serials with a redundant 0x00 (non-minimal INTEGER); the lookup is on
    // the unsigned value.
    let p = pki();
    let entry = d::tlv(0x02, &[0x00, 0x12, 0x34, 0x56, 0x78]);
    let crl = raw_crl_of(&p.inter, &[entry], &[]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&p.leaf, &p.inter.der, NOW), Ok(Status::Revoked));
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Good)
    );
}

#[test]
fn crl_hand_written_matches_rcgen() {
    // The hand-written CRL builder used by the edge-case tests is itself sound.
    let p = pki();
    let crl = raw_crl_of(&p.inter, &[d::uint(OTHER_SERIAL)], &[]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&p.leaf, &p.inter.der, NOW), Ok(Status::Good));
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Revoked)
    );
}

#[test]
fn crl_signed_by_another_key_is_refused() {
    let p = pki();
    // Same name, same key usages, another key.
    let forger = key();
    let issuer = Issuer::from_params(&p.inter.params, &forger);
    let crl = rcgen_crl(&issuer, NOW - DAY, NOW + DAY, &[], None);
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn crl_with_tampered_content_is_refused() {
    let p = pki();
    let mut crl = crl_of(&p.inter, &[OTHER_SERIAL]);
    // Change the revoked serial's last byte (0x79 -> 0x78: the good leaf's serial).
    let pos = crl
        .windows(OTHER_SERIAL.len())
        .position(|w| w == OTHER_SERIAL)
        .unwrap();
    crl[pos + OTHER_SERIAL.len() - 1] = 0x78;
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn crl_of_another_issuer_is_refused() {
    let p = pki();
    let other = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let crl = crl_of(&other, &[]);
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("issued by"), "{e}");
    // It is of course a valid CRL of its own issuer.
    assert!(CrlIndex::parse(&crl, &other.der, NOW).is_ok());
}

#[test]
fn crl_from_issuer_without_crl_sign_is_refused() {
    let root = Ca::root("TEST ROOT");
    let mut params = ca_params("TEST NO CRL SIGN", Some(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = root.sub(params);
    // rcgen refuses to sign with an issuer lacking cRLSign: sign with parameters that have
    // it, same name and key.
    let signing = ca_params("TEST NO CRL SIGN", Some(0));
    let crl = rcgen_crl(
        &Issuer::from_params(&signing, &ca.key),
        NOW - DAY,
        NOW + DAY,
        &[],
        None,
    );
    let e = CrlIndex::parse(&crl, &ca.der, NOW).unwrap_err().to_string();
    assert!(e.contains("may not sign CRLs"), "{e}");
}

#[test]
fn crl_stale_is_refused_after_the_skew() {
    let p = pki();
    let next = NOW - 10 * DAY;
    let crl = rcgen_crl(&p.inter.issuer(), next - DAY, next, &[], None);
    // Parsing a stale CRL is allowed (the caller decides what to do with it)...
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    // ...but it is not fresh and answers nothing.
    assert!(!idx.fresh(NOW));
    assert!(idx.status(&p.leaf, &p.inter.der, NOW).is_err());
    // Boundaries: nextUpdate + CLOCK_SKEW is still fresh, one second later is not.
    assert!(idx.fresh(next));
    assert!(idx.fresh(next + CLOCK_SKEW));
    assert_eq!(
        idx.status(&p.leaf, &p.inter.der, next + CLOCK_SKEW),
        Ok(Status::Good)
    );
    assert!(!idx.fresh(next + CLOCK_SKEW + 1));
    assert!(
        idx.status(&p.leaf, &p.inter.der, next + CLOCK_SKEW + 1)
            .is_err()
    );
}

#[test]
fn crl_without_next_update_is_left_to_the_caller() {
    let p = pki();
    let crl = raw_crl(
        &p.inter.key,
        &p.inter.subject_raw(),
        NOW - DAY,
        None,
        &[d::uint(OTHER_SERIAL)],
        &[],
    );
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.next_update, None);
    assert!(idx.fresh(NOW + 1000 * DAY));
    assert_eq!(
        idx.status(&p.other_leaf, &p.inter.der, NOW),
        Ok(Status::Revoked)
    );
}

#[test]
fn crl_dated_in_the_future_is_refused() {
    let p = pki();
    let crl = rcgen_crl(
        &p.inter.issuer(),
        NOW + CLOCK_SKEW + 1,
        NOW + DAY,
        &[],
        None,
    );
    let e = CrlIndex::parse(&crl, &p.inter.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("future"), "{e}");
    // Within the skew it is accepted.
    let crl = rcgen_crl(&p.inter.issuer(), NOW + CLOCK_SKEW, NOW + DAY, &[], None);
    assert!(CrlIndex::parse(&crl, &p.inter.der, NOW).is_ok());
}

#[test]
fn crl_status_with_another_issuer_key_is_refused() {
    let p = pki();
    let idx = CrlIndex::parse(&crl_of(&p.inter, &[]), &p.inter.der, NOW).unwrap();
    // A certificate with the issuing CA's name but another key (a re-keyed or forged CA).
    let impostor = p.root.sub(ca_params("TEST IGC-SANTE PERSONNES", Some(0)));
    assert_eq!(impostor.subject_raw(), p.inter.subject_raw());
    let e = idx
        .status(&p.leaf, &impostor.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("another issuer"), "{e}");
    // And a leaf of the impostor, checked against it, is not covered either.
    let leaf = impostor.issue(&leaf_params(SERIAL));
    assert!(idx.status(&leaf, &impostor.der, NOW).is_err());
}

#[test]
fn crl_status_of_a_certificate_of_another_issuer_is_refused() {
    let p = pki();
    let other = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let foreign = other.issue(&leaf_params(OTHER_SERIAL));
    let idx = CrlIndex::parse(&crl_of(&p.inter, &[OTHER_SERIAL]), &p.inter.der, NOW).unwrap();
    assert!(idx.status(&foreign, &p.inter.der, NOW).is_err());
    assert!(idx.status(&foreign, &other.der, NOW).is_err());
}

#[test]
fn crl_status_with_unreadable_input_is_refused() {
    let p = pki();
    let idx = CrlIndex::parse(&crl_of(&p.inter, &[]), &p.inter.der, NOW).unwrap();
    assert!(idx.status(b"not a certificate", &p.inter.der, NOW).is_err());
    assert!(idx.status(&p.leaf, b"not a certificate", NOW).is_err());
}

#[test]
fn crl_unreadable_is_refused() {
    let p = pki();
    assert!(CrlIndex::parse(b"garbage", &p.inter.der, NOW).is_err());
    assert!(CrlIndex::parse(&[], &p.inter.der, NOW).is_err());
    let crl = crl_of(&p.inter, &[]);
    assert!(CrlIndex::parse(&crl[..crl.len() - 10], &p.inter.der, NOW).is_err());
    assert!(CrlIndex::parse(&crl, b"garbage", NOW).is_err());
}

/// `params` with one CRL distribution point.
pub(super) fn with_dp(mut params: CertificateParams, uri: &str) -> CertificateParams {
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![uri.into()],
    }];
    params
}

/// The partition [`rcgen_crl`] names in its issuing distribution point.
pub(super) const PARTITION: &str = "http://crl.test/personnes.crl";

#[test]
fn crl_scope_end_entities_only() {
    let p = pki();
    let crl = rcgen_crl(
        &p.root.issuer(),
        NOW - DAY,
        NOW + DAY,
        &[],
        Some(CrlScope::UserCertsOnly),
    );
    let idx = CrlIndex::parse(&crl, &p.root.der, NOW).unwrap();
    // The intermediate is a CA: this CRL says nothing of it.
    let e = idx
        .status(&p.inter.der, &p.root.der, NOW)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not cover"), "{e}");
    let ee = p.root.issue(&with_dp(leaf_params(SERIAL), PARTITION));
    assert_eq!(idx.status(&ee, &p.root.der, NOW), Ok(Status::Good));
}

#[test]
fn crl_scope_cas_only() {
    let p = pki();
    let inter = p.root.sub(with_dp(
        ca_params("TEST IGC-SANTE AUTRE", Some(0)),
        PARTITION,
    ));
    let inter_serial = parse(&inter.der).raw_serial().to_vec();
    let crl = rcgen_crl(
        &p.root.issuer(),
        NOW - DAY,
        NOW + DAY,
        &[&inter_serial],
        Some(CrlScope::CaCertsOnly),
    );
    let idx = CrlIndex::parse(&crl, &p.root.der, NOW).unwrap();
    assert_eq!(
        idx.status(&inter.der, &p.root.der, NOW),
        Ok(Status::Revoked)
    );
    let ee = p.root.issue(&with_dp(leaf_params(SERIAL), PARTITION));
    let e = idx.status(&ee, &p.root.der, NOW).unwrap_err().to_string();
    assert!(e.contains("does not cover"), "{e}");
}

#[test]
fn crl_scope_all_with_idp() {
    // An issuing distribution point without a scope covers everything of its partition.
    let p = pki();
    let url = "http://crl.test/root.crl";
    let idp = d::seq(&[d::explicit(
        0,
        &d::explicit(0, &d::tlv(0x86, url.as_bytes())),
    )]);
    let crl = raw_crl_of(&p.root, &[], &[d::extension(&[2, 5, 29, 28], true, &idp)]);
    let idx = CrlIndex::parse(&crl, &p.root.der, NOW).unwrap();
    let inter = p
        .root
        .sub(with_dp(ca_params("TEST IGC-SANTE AUTRE", Some(0)), url));
    assert_eq!(idx.status(&inter.der, &p.root.der, NOW), Ok(Status::Good));
    let ee = p.root.issue(&with_dp(leaf_params(SERIAL), url));
    assert_eq!(idx.status(&ee, &p.root.der, NOW), Ok(Status::Good));
}

#[test]
fn crl_of_another_partition_does_not_cover() {
    // RFC 5280 §6.3.3 (b)(2)(i): the CRL names a partition the certificate does not list
    // among its distribution points (or the certificate lists none).
    let p = pki();
    let crl = rcgen_crl(
        &p.root.issuer(),
        NOW - DAY,
        NOW + DAY,
        &[],
        Some(CrlScope::UserCertsOnly),
    );
    let idx = CrlIndex::parse(&crl, &p.root.der, NOW).unwrap();
    for ee in [
        p.root.issue(&leaf_params(SERIAL)),
        p.root
            .issue(&with_dp(leaf_params(SERIAL), "http://crl.test/other.crl")),
    ] {
        let e = idx.status(&ee, &p.root.der, NOW).unwrap_err().to_string();
        assert!(e.contains("another partition"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn crl_with_an_unparsable_critical_idp_is_refused() {
    let p = pki();
    // A critical issuingDistributionPoint whose value is not a SEQUENCE.
    let bad = d::extension(&[2, 5, 29, 28], true, &d::octets(&[0]));
    let crl = raw_crl_of(&p.inter, &[], &[bad]);
    assert!(CrlIndex::parse(&crl, &p.inter.der, NOW).is_err());
}

#[test]
fn crl_negative_serial_is_not_its_positive_twin() {
    // 0xFF is -1 and 0x00FF is 255: a CRL listing -1 says nothing of certificate 255.
    let p = pki();
    let leaf = p.inter.issue(&leaf_params(&[0xff]));
    assert_eq!(parse(&leaf).raw_serial(), &[0x00, 0xff]);
    let crl = raw_crl_of(&p.inter, &[d::tlv(0x02, &[0xff])], &[]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&leaf, &p.inter.der, NOW), Ok(Status::Good));
    let crl = raw_crl_of(&p.inter, &[d::tlv(0x02, &[0x00, 0xff])], &[]);
    let idx = CrlIndex::parse(&crl, &p.inter.der, NOW).unwrap();
    assert_eq!(idx.status(&leaf, &p.inter.der, NOW), Ok(Status::Revoked));
}
