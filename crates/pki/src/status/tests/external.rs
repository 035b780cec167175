//! Paths to the external authorities: trust bundles, chain validation, links checked against CRLs.

use super::*;

#[test]
fn from_pem_rejects_a_self_issued_ca_without_its_signer() {
    // "TEST GHOST" (not self-signed: issued by another key under the same name) with an
    // unrelated root: the real issuer is missing, the bundle should be refused at start.
    let ghost = Ca::root("TEST GHOST").sub(ca_params("TEST GHOST", Some(0)));
    let other = Ca::root("TEST OTHER ROOT");
    let e = from_pem_err(&pem(&[&other.der, &ghost.der]));
    assert!(e.contains("names itself as issuer"), "{e}");
}

// ---------------------------------------------------------------------------------------
// External authorities
// ---------------------------------------------------------------------------------------

fn trust(cas: &[&[u8]]) -> ExternalTrust {
    ExternalTrust::from_pem(&pem(cas)).unwrap()
}

fn from_pem_err(bundle: &[u8]) -> String {
    ExternalTrust::from_pem(bundle).unwrap_err().to_string()
}

/// A link as (certificate, issuer, end entity), to compare.
fn link(l: &Link) -> (&[u8], &[u8], bool) {
    (&l.cert, &l.issuer, l.end_entity)
}

#[test]
fn from_pem_rejects_empty_or_text_only_bundles() {
    assert_eq!(from_pem_err(b""), "no certificate in the bundle");
    assert_eq!(
        from_pem_err(b"IGC-Sante roots\nsee https://igc-sante.esante.gouv.fr\n"),
        "no certificate in the bundle"
    );
}

#[test]
fn from_pem_rejects_corrupt_pem() {
    let p = pki();
    let e = from_pem_err(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    assert!(e.starts_with("not a PEM certificate bundle"), "{e}");
    // An unterminated block.
    let mut truncated = pem(&[&p.root.der]);
    truncated.truncate(truncated.len() - 10);
    assert!(ExternalTrust::from_pem(&truncated).is_err());
    // Valid base64, not a certificate.
    let e = from_pem_err(&pem(&[b"not a certificate"]));
    assert!(e.starts_with("unreadable certificate"), "{e}");
}

#[test]
fn from_pem_rejects_a_non_ca_certificate() {
    let p = pki();
    let e = from_pem_err(&pem(&[&p.root.der, &p.inter.der, &p.leaf]));
    assert!(e.ends_with("is not a CA certificate"), "{e}");
    assert!(e.contains(NATIONAL_ID), "{e}");
}

#[test]
fn from_pem_rejects_an_intermediate_without_its_root() {
    let p = pki();
    let e = from_pem_err(&pem(&[&p.inter.der]));
    assert!(e.contains("is not in the bundle"), "{e}");
    assert!(e.contains("TEST IGC-SANTE ROOT"), "{e}");
    let other = Ca::root("TEST OTHER ROOT");
    let e = from_pem_err(&pem(&[&other.der, &p.inter.der]));
    assert!(e.contains("is not in the bundle"), "{e}");
}

#[test]
fn from_pem_rejects_a_duplicate() {
    let p = pki();
    let e = from_pem_err(&pem(&[&p.root.der, &p.inter.der, &p.root.der]));
    assert!(e.ends_with("appears twice"), "{e}");
    let e = from_pem_err(&pem(&[&p.root.der, &p.inter.der, &p.inter.der]));
    assert!(e.ends_with("appears twice"), "{e}");
}

#[test]
fn from_pem_accepts_root_and_intermediate_in_any_order() {
    let p = pki();
    let other = Ca::root("TEST OTHER ROOT");
    for bundle in [
        pem(&[&p.root.der, &p.inter.der]),
        pem(&[&p.inter.der, &p.root.der]),
    ] {
        let t = ExternalTrust::from_pem(&bundle).unwrap();
        assert_eq!(t.subjects.len(), 2);
        assert_eq!(t.names.len(), 2);
        assert!(t.knows_issuer(&p.root.subject_raw()));
        assert!(t.knows_issuer(&p.inter.subject_raw()));
        assert!(!t.knows_issuer(&other.subject_raw()));
        assert!(
            t.names
                .iter()
                .any(|n| n.contains("TEST IGC-SANTE PERSONNES"))
        );
        assert!(t.validate(&p.leaf, Usage::CardAuthentication, NOW).is_ok());
    }
    let t = trust(&[&p.root.der]);
    assert_eq!(t.subjects, vec![p.root.subject_raw()]);
    assert!(t.knows_issuer(&p.root.subject_raw()));
    assert!(!t.knows_issuer(&p.inter.subject_raw()));
}

#[test]
fn validate_through_root_and_intermediate() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let path = t.validate(&p.leaf, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(
        path.links.iter().map(link).collect::<Vec<_>>(),
        vec![
            (p.leaf.as_slice(), p.inter.der.as_slice(), true),
            (p.inter.der.as_slice(), p.root.der.as_slice(), false),
        ]
    );
    let v = &path.validated;
    assert_eq!(v.ca_id, "external:TEST IGC-SANTE PERSONNES");
    assert_eq!(v.cn.as_deref(), Some(NATIONAL_ID));
    assert_eq!(v.serial, "12345678");
    assert_eq!(
        v.subject.to_string(),
        "CN=899700218896,O=CABINET M. DUPONT,C=FR"
    );
    assert_eq!(
        v.subject,
        crate::dn::Dn::parse("cn=899700218896, o=cabinet m.  dupont, c=fr").unwrap()
    );
    assert!(v.dns.is_empty());
    assert_eq!(v.thumbprint, validate::thumbprint(&p.leaf));
    assert_eq!(v.not_after, NOW + 365 * DAY);
    // The same for TLS clients.
    let tls = t.validate(&p.leaf, Usage::ClientTls, NOW).unwrap();
    assert_eq!(tls.validated, path.validated);
}

#[test]
fn validate_a_card_issued_by_the_root() {
    let p = pki();
    let card = p.root.issue(&leaf_params(&[0x00, 0x9a]));
    let t = trust(&[&p.root.der, &p.inter.der]);
    let path = t.validate(&card, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(
        path.links.iter().map(link).collect::<Vec<_>>(),
        vec![(card.as_slice(), p.root.der.as_slice(), true)]
    );
    assert_eq!(path.validated.ca_id, "external:TEST IGC-SANTE ROOT");
    assert_eq!(path.validated.serial, "9a");
}

#[test]
fn validate_picks_the_right_root_among_several() {
    let p = pki();
    let other = Ca::root("TEST OTHER ROOT");
    let other_inter = other.intermediate("TEST OTHER PERSONNES");
    let third = Ca::root("TEST THIRD ROOT");
    let t = trust(&[
        &other.der,
        &other_inter.der,
        &p.inter.der,
        &third.der,
        &p.root.der,
    ]);
    let path = t.validate(&p.leaf, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(
        path.links.iter().map(link).collect::<Vec<_>>(),
        vec![
            (p.leaf.as_slice(), p.inter.der.as_slice(), true),
            (p.inter.der.as_slice(), p.root.der.as_slice(), false),
        ]
    );
    let card = other_inter.issue(&leaf_params(SERIAL));
    let path = t.validate(&card, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(path.links[1].issuer, other.der);
    assert_eq!(path.validated.ca_id, "external:TEST OTHER PERSONNES");
}

fn refused(t: &ExternalTrust, leaf: &[u8], usage: Usage) -> Refusal {
    t.validate(leaf, usage, NOW).unwrap_err()
}

#[test]
fn validate_refuses_unknown_issuers() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let unknown = Ca::root("TEST UNKNOWN ROOT").intermediate("TEST UNKNOWN PERSONNES");
    let card = unknown.issue(&leaf_params(SERIAL));
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::UnknownIssuer
    );
    // A sibling CA under the same root, not in the bundle.
    let sibling = p.root.intermediate("TEST IGC-SANTE ORGANISATIONS");
    let card = sibling.issue(&leaf_params(SERIAL));
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::UnknownIssuer
    );
    assert_eq!(refused(&t, &card, Usage::ClientTls), Refusal::UnknownIssuer);
    // It passes once the bundle has it.
    let t = trust(&[&p.root.der, &p.inter.der, &sibling.der]);
    assert!(t.validate(&card, Usage::CardAuthentication, NOW).is_ok());
}

#[test]
fn validate_refuses_bad_signatures() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    // An impostor CA with the issuing CA's name, under another root.
    let impostor = Ca::root("TEST EVIL ROOT").sub(ca_params("TEST IGC-SANTE PERSONNES", Some(0)));
    let card = impostor.issue(&leaf_params(SERIAL));
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::BadSignature
    );
    // A tampered card: another national id, same signature.
    let mut card = p.leaf.clone();
    let pos = card
        .windows(NATIONAL_ID.len())
        .position(|w| w == NATIONAL_ID.as_bytes())
        .unwrap();
    card[pos] = b'1';
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::BadSignature
    );
}

#[test]
fn validate_refuses_out_of_validity() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let mut params = leaf_params(SERIAL);
    params.not_before = at(NOW - 400 * DAY);
    params.not_after = at(NOW - DAY);
    let card = p.inter.issue(&params);
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::Expired
    );
    let mut params = leaf_params(SERIAL);
    params.not_before = at(NOW + DAY);
    params.not_after = at(NOW + 400 * DAY);
    let card = p.inter.issue(&params);
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::NotYetValid
    );
    // An expired intermediate.
    let mut params = ca_params("TEST IGC-SANTE PERSONNES", Some(0));
    params.not_after = at(NOW - DAY);
    let inter = p.root.sub(params);
    let t = trust(&[&p.root.der, &inter.der]);
    let card = inter.issue(&leaf_params(SERIAL));
    assert_eq!(
        refused(&t, &card, Usage::CardAuthentication),
        Refusal::Expired
    );
}

#[test]
fn validate_refuses_without_client_auth() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let no_client_auth = Refusal::WrongUsage("no clientAuth extended key usage".into());
    for eku in [vec![ExtendedKeyUsagePurpose::ServerAuth], vec![]] {
        let mut params = leaf_params(SERIAL);
        params.extended_key_usages = eku;
        let card = p.inter.issue(&params);
        for usage in [Usage::CardAuthentication, Usage::ClientTls] {
            assert_eq!(refused(&t, &card, usage), no_client_auth);
        }
    }
}

#[test]
fn validate_card_needs_digital_signature() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    for ku in [vec![KeyUsagePurpose::KeyEncipherment], vec![]] {
        let mut params = leaf_params(SERIAL);
        params.key_usages = ku;
        let card = p.inter.issue(&params);
        assert_eq!(
            refused(&t, &card, Usage::CardAuthentication),
            Refusal::WrongUsage("no digitalSignature key usage".into())
        );
        assert!(t.validate(&card, Usage::ClientTls, NOW).is_ok());
    }
}

#[test]
fn validate_refuses_a_ca_certificate() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let wrong = Refusal::WrongUsage("a CA certificate".into());
    assert_eq!(refused(&t, &p.inter.der, Usage::CardAuthentication), wrong);
    assert_eq!(refused(&t, &p.inter.der, Usage::ClientTls), wrong);
    // Even with clientAuth.
    let mut params = ca_params("TEST IGC-SANTE ORGANISATIONS", Some(0));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let ca = p.root.sub(params);
    assert_eq!(refused(&t, &ca.der, Usage::ClientTls), wrong);
}

#[test]
fn validate_refuses_an_exceeded_path_length() {
    // An intermediate allowing no CA below it, and a CA below it all the same.
    let root = Ca::self_signed(ca_params("TEST LONG ROOT", None));
    let inter = root.intermediate("TEST LONG INTERMEDIATE");
    let below = inter.intermediate("TEST LONG PERSONNES");
    let t = trust(&[&root.der, &inter.der, &below.der]);
    let card = below.issue(&leaf_params(SERIAL));
    match refused(&t, &card, Usage::CardAuthentication) {
        Refusal::BadChain(why) => assert_eq!(why, "PathLenConstraintViolated"),
        other => panic!("{other:?}"),
    }
    // The intermediate's own cards are fine.
    let card = inter.issue(&leaf_params(SERIAL));
    let path = t.validate(&card, Usage::CardAuthentication, NOW).unwrap();
    assert_eq!(path.links.len(), 2);
}

#[test]
fn validate_refuses_malformed_input() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    assert_eq!(
        refused(&t, b"garbage", Usage::CardAuthentication),
        Refusal::Malformed
    );
    assert_eq!(
        refused(&t, &[], Usage::CardAuthentication),
        Refusal::Malformed
    );
    let mut trailing = p.leaf.clone();
    trailing.push(0);
    assert_eq!(
        refused(&t, &trailing, Usage::CardAuthentication),
        Refusal::Malformed
    );
    assert_eq!(
        refused(&t, &p.leaf[..p.leaf.len() - 1], Usage::CardAuthentication),
        Refusal::Malformed
    );
}

#[test]
fn validate_links_checked_against_crls() {
    let p = pki();
    let t = trust(&[&p.root.der, &p.inter.der]);
    let inter_serial = parse(&p.inter.der).raw_serial().to_vec();
    let status_of = |leaf: &[u8], revoked_inter: bool| {
        let path = t.validate(leaf, Usage::CardAuthentication, NOW).unwrap();
        let root_crl = if revoked_inter {
            crl_of(&p.root, &[&inter_serial])
        } else {
            crl_of(&p.root, &[])
        };
        let crls = [crl_of(&p.inter, &[OTHER_SERIAL]), root_crl];
        assert_eq!(path.links.len(), crls.len());
        path.links
            .iter()
            .zip(&crls)
            .map(|(l, crl)| {
                CrlIndex::parse(crl, &l.issuer, NOW)
                    .unwrap()
                    .status(&l.cert, &l.issuer, NOW)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status_of(&p.leaf, false),
        [Ok(Status::Good), Ok(Status::Good)]
    );
    assert_eq!(
        status_of(&p.other_leaf, false),
        [Ok(Status::Revoked), Ok(Status::Good)]
    );
    assert_eq!(
        status_of(&p.leaf, true),
        [Ok(Status::Good), Ok(Status::Revoked)]
    );
    // Each CRL is its link's: the intermediate's CRL does not speak of the intermediate.
    let path = t.validate(&p.leaf, Usage::CardAuthentication, NOW).unwrap();
    let l = &path.links[1];
    assert!(CrlIndex::parse(&crl_of(&p.inter, &[]), &l.issuer, NOW).is_err());
}

#[test]
fn from_pem_rejects_an_intermediate_not_signed_by_the_root_of_that_name() {
    // The root was re-keyed under the same name: the intermediate in the bundle was signed by
    // the old key, so no card of it could ever validate. Found at start, not at login.
    let p = pki();
    let rekeyed = Ca::root("TEST IGC-SANTE ROOT");
    let e = from_pem_err(&pem(&[&rekeyed.der, &p.inter.der]));
    assert!(e.contains("does not verify with the key of"), "{e}");
    assert!(ExternalTrust::from_pem(&pem(&[&p.root.der, &p.inter.der])).is_ok());
}

#[test]
fn any_extended_key_usage_alone_is_refused_by_both_paths() {
    let p = pki();
    let mut params = leaf_params(&[0x07]);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::Any];
    let card = p.inter.issue(&params);
    let own = validate::validate(
        &card,
        &[validate::Anchor {
            id: "PERSONNES".into(),
            cert_der: p.inter.der.clone(),
        }],
        Usage::CardAuthentication,
        NOW,
    );
    assert_eq!(
        own,
        Err(Refusal::WrongUsage(
            "no clientAuth extended key usage".into()
        ))
    );
    let external =
        trust(&[&p.root.der, &p.inter.der]).validate(&card, Usage::CardAuthentication, NOW);
    assert!(
        matches!(&external, Err(Refusal::WrongUsage(w)) if w.contains("clientAuth")),
        "{external:?}"
    );
}
