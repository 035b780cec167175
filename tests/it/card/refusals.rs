//! Every refusal of the card listener as a clear page that never reaches the client, and the
//! production realm refusing cards of the TEST CAs.

use super::*;

/// The production realm.
const PROD: &str = "esante-wallet";

/// A CA and a card-like leaf (CN = `national_id`, clientAuth, digitalSignature) made by
/// openssl outside coeur: the leaf's key and chain as PEM. `ca_subject` is the CA's name in
/// openssl's `/K=V/…` form.
async fn foreign_card(w: &Work, ca_subject: &str, national_id: &str) -> String {
    w.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-utf8",
        "-subj",
        ca_subject,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ])
    .await;
    w.openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        &format!("/CN={national_id}"),
    ])
    .await;
    w.write(
        "leaf.ext",
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    w.openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "4242",
        "-days",
        "30",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ])
    .await;
    let out = w
        .openssl(&[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-ext",
            "extendedKeyUsage",
        ])
        .await;
    assert!(out.contains("TLS Web Client Authentication"), "{out}");
    format!(
        "{}{}{}",
        w.read("leaf.key"),
        w.read("leaf.pem"),
        w.read("ca.pem")
    )
}

/// The subject of a DER certificate in openssl's `-subj` form (`/C=FR/O=…/CN=…`).
fn openssl_subject(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer as _;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).expect("certificate");
    let registry = x509_parser::objects::oid_registry();
    let mut out = String::new();
    for rdn in cert.subject().iter() {
        for attr in rdn.iter() {
            let name = x509_parser::objects::oid2abbrev(attr.attr_type(), registry)
                .map(str::to_owned)
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value = attr.as_str().expect("a string attribute");
            out.push_str(&format!("/{name}={}", value.replace('/', "\\/")));
        }
    }
    out
}

both_dbs!(card_refusals, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let root = root_pem(&s).await;
    let b = s.browser();
    let good = card(&s, &identity(&s, NATIONAL_ID).await).await;

    // No certificate at all.
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, None), &handoff_url).await;
    assert_refused(&a, 401, &fr("card.no_certificate"));

    // Wrong extended key usage: the signature certificate of a valid card.
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(
        &card_client(&root, Some(&good.sign.identity_pem)),
        &handoff_url,
    )
    .await;
    assert_refused(&a, 403, "not for this use");

    // A card-like certificate from a CA coeur does not know.
    let w = Work::new();
    let foreign = foreign_card(
        &w,
        "/C=FR/O=IMPOSTEUR/CN=AC IMPOSTEUR PERSONNES",
        NATIONAL_ID,
    )
    .await;
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, Some(&foreign)), &handoff_url).await;
    assert_refused(&a, 403, "not issued by a trusted authority");

    // A look-alike: a CA bearing the exact name of coeur's PERSONNES CA, with its own key.
    let w = Work::new();
    let ca_der = s.state.ca.ca.cas[&personnes_ca(&s)].cert_der.clone();
    let foreign = foreign_card(&w, &openssl_subject(&ca_der), NATIONAL_ID).await;
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, Some(&foreign)), &handoff_url).await;
    assert_refused(&a, 403, "signature does not verify");

    // A client certificate from coeur's own ORGANISATIONS CA is no card either.
    let org_ca = {
        let mut ids: Vec<&String> = s
            .state
            .ca
            .ca
            .cas
            .iter()
            .filter(|(_, c)| c.def.domain == Some(Domain::Organisations))
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids.first().expect("an ORGANISATIONS CA").to_string()
    };
    let (serial, _, p12) = s
        .state
        .ca
        .ca
        .issue_with_generated_key(
            &*s.state.rng,
            &coeur::ca::ca::KeyRequest {
                requester: "test",
                ca_id: &org_ca,
                profile: "ORG_AUTH_CLI",
                key_type: KeyType::P256,
                subject: &SubjectRequest {
                    structure_id: Some("318751275100020".into()),
                    organization: Some("CENTRE HOSPITALIER DE TEST".into()),
                    state: Some("Paris (75)".into()),
                    service_name: Some(NATIONAL_ID.into()),
                    ..Default::default()
                },
                password: PIN,
            },
            s.clock.now(),
        )
        .await
        .expect("organisation client certificate");
    let org = CardCert::from_p12(serial, p12);
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, Some(&org.identity_pem)), &handoff_url).await;
    assert_refused(&a, 403, "not issued by a trusted authority");

    // A valid card for a national identifier this realm does not know.
    let stranger = stranger(&s).await;
    // (Serials starting with 0 are avoided, see `card`.)
    let mut unknown = None;
    for _ in 0..30 {
        let (serial, _, p12) = s
            .state
            .ca
            .ca
            .issue_with_generated_key(
                &*s.state.rng,
                &coeur::ca::ca::KeyRequest {
                    requester: "test",
                    ca_id: &personnes_ca(&s),
                    profile: "CPS_AUTH",
                    key_type: KeyType::P256,
                    subject: &SubjectRequest {
                        national_id: Some(stranger.clone()),
                        family_name: Some("INCONNU".into()),
                        given_name: Some("JEAN".into()),
                        ..Default::default()
                    },
                    password: PIN,
                },
                s.clock.now(),
            )
            .await
            .expect("card of an unknown professional");
        if !serial.starts_with('0') {
            unknown = Some(CardCert::from_p12(serial, p12));
            break;
        }
    }
    let unknown = unknown.expect("a serial not starting with 0");
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(
        &card_client(&root, Some(&unknown.identity_pem)),
        &handoff_url,
    )
    .await;
    assert_refused(&a, 403, &fr("card.unknown"));

    // A valid card of an inactive identity.
    let inactive = s
        .state
        .store
        .identities("edit", 200)
        .await
        .expect("identities")
        .into_iter()
        .find(|i| !i.active)
        .expect("an inactive identity among the generated ones");
    let c = card(&s, &inactive).await;
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(
        &card_client(&root, Some(&c.auth.identity_pem)),
        &handoff_url,
    )
    .await;
    assert_refused(&a, 403, &fr("card.inactive"));

    // A refusal leaves the hand-off usable: the user inserts the right card and tries again.
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&card_client(&root, None), &handoff_url).await;
    assert_refused(&a, 401, &fr("card.no_certificate"));
    let with_good = card_client(&root, Some(&good.auth.identity_pem));
    let a = card_leg(&with_good, &handoff_url).await;
    let back = back_url(&s, "edit", &a);

    // The result is bound to the browser that started the login: another browser (without
    // its login cookie) is refused and gets no code.
    let other = s.browser();
    let a = answer(other.http.get(&back).send().await.expect("card return")).await;
    assert_one_time(&a, &fr("error.other_browser.message"));

    // Revocation (opposition) is seen at the very next login.
    let (holder, revoked) = first_card_clean(&s).await;
    let with_revoked = card_client(&root, Some(&revoked.auth.identity_pem));
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_revoked, &handoff_url).await;
    let code = back_to_client(&b, &back_url(&s, "edit", &a)).await;
    redeem_in(&s, "edit", &code).await;
    let done = s
        .state
        .ca
        .ca
        .revoke_cards(
            &s.ca.store,
            holder.national_id.as_str(),
            Reason::KeyCompromise,
            "test",
            s.clock.now(),
        )
        .await
        .expect("opposition");
    assert_eq!(done.len(), 2, "both certificates of the card: {done:?}");
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_revoked, &handoff_url).await;
    assert_refused(&a, 403, &fr("card.revoked"));

    // Expired: the cards are valid 1095 days.
    s.clock.advance(1096 * 86_400);
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_good, &handoff_url).await;
    assert_refused(&a, 403, "has expired");
});

// The sandbox/production boundary: a card of coeur's TEST CAs, for a professional the
// production realm knows, does not log in there.
both_dbs!(production_realm_refuses_test_cards, |db| async move {
    let s = TestServer::start(db).await;
    s.add_client(PROD, rp_spec("rp"), Some(SECRET)).await;
    s.add_rp("edit").await;
    let root = root_pem(&s).await;
    let holder = identity(&s, NATIONAL_ID).await;
    s.put_identities(PROD, vec![holder.clone()])
        .await
        .expect("identity in the production realm");
    let c = card(&s, &holder).await;
    let with_card = card_client(&root, Some(&c.auth.identity_pem));

    // The production wallet offers the card, and no test login.
    let b = s.browser();
    let page = wallet(&s, &b, PROD).await;
    let Authz::LoginPage { html, .. } = &page else {
        unreachable!()
    };
    assert!(html.contains("value=\"card\""), "a card button: {html}");
    assert!(!html.contains("value=\"test\""), "no test button: {html}");

    let r = b.login(&s.base, &page, "", "card").await;
    assert_eq!(r.status().as_u16(), 303);
    let handoff_url = location(&r).to_string();
    assert!(
        handoff_url.starts_with(&format!("{}/auth/realms/{PROD}/card/login?", s.card_base())),
        "{handoff_url}"
    );
    let a = card_leg(&with_card, &handoff_url).await;
    assert_refused(&a, 403, "not issued by a trusted authority");

    // The same card logs in to the sandbox realm.
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(&with_card, &handoff_url).await;
    let code = back_to_client(&b, &back_url(&s, "edit", &a)).await;
    let tokens = redeem_in(&s, "edit", &code).await;
    check_card_id_token(&s, "edit", &tokens, NATIONAL_ID).await;

    // A hand-off of one realm is not accepted under another realm's path.
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = card_leg(
        &with_card,
        &handoff_url.replace("/realms/edit/", &format!("/realms/{PROD}/")),
    )
    .await;
    assert_one_time(&a, &fr("error.page_expired.message"));
});
