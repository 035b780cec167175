//! EDIT test identities (`ANS` + the time of their creation), as PSC's sandbox has them: the
//! sandbox realm ships some; operators add and import more with the `coeur` binary (checked
//! first, all or nothing, idempotent); they log in with PSC's claims (`preferred_username`,
//! `SubjectNameID`, `otherIds[].origine = "EDIT"`); a production realm holds none.

use crate::both_dbs;
use crate::support::*;
use coeur::common::identity::edit_test_identities;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

/// The `sub` of PSC's format the sandbox realm gives `national_id`.
fn psc_sub(national_id: &str) -> String {
    format!("f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:{national_id}")
}

/// Logs `national_id` in to the sandbox realm as client `rp` (`openid scope_all`), redeems
/// the code, verifies the ID token's signature, issuer and audience with the published keys,
/// and reads userinfo: (ID token claims, userinfo).
async fn login(s: &TestServer, national_id: &str) -> (Value, Value) {
    let b = s.browser();
    let cb = login_code_as(s, &b, national_id, &[]).await;
    let code = param(&cb, "code").unwrap_or_else(|| panic!("no code: {cb}"));
    let r = redeem(s, &code, &[]).await;
    assert_eq!(r.status(), 200, "code redeemed");
    let t: Value = r.json().await.expect("token JSON");
    let jwt = t["id_token"].as_str().expect("id_token");
    let header = jsonwebtoken::decode_header(jwt).expect("a signed ID token");
    let kid = header.kid.clone().expect("kid");
    let keys: JwkSet = http()
        .get(s.endpoint("edit", "certs"))
        .send()
        .await
        .expect("JWKS")
        .json()
        .await
        .expect("JWKS JSON");
    let key =
        jsonwebtoken::DecodingKey::from_jwk(keys.find(&kid).expect("published kid")).expect("key");
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false; // the server's clock is not the system's
    v.set_issuer(&[s.issuer("edit")]);
    v.set_audience(&["rp"]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .expect("the ID token verifies")
        .claims;
    let userinfo: Value = http()
        .get(s.endpoint("edit", "userinfo"))
        .bearer_auth(t["access_token"].as_str().expect("access_token"))
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("userinfo JSON");
    (claims, userinfo)
}

/// The claims every EDIT identity logs in with.
fn assert_edit_claims(national_id: &str, id_token: &Value, userinfo: &Value) {
    for doc in [id_token, userinfo] {
        assert_eq!(doc["sub"], psc_sub(national_id).as_str(), "{doc}");
        assert_eq!(doc["preferred_username"], national_id, "{doc}");
        assert_eq!(doc["SubjectNameID"], national_id, "{doc}");
    }
    assert_eq!(
        userinfo["otherIds"],
        json!([{ "identifiant": national_id, "origine": "EDIT", "qualite": 1 }])
    );
}

both_dbs!(shipped_edit_identities_log_in, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    // The 200 generated RPPS-based identities of realms/edit.toml, then the shipped EDIT ones.
    assert_eq!(
        s.state.store.identity_count("edit").await.expect("count"),
        205
    );
    for shipped in edit_test_identities() {
        let stored = s
            .state
            .store
            .identity("edit", shipped.national_id.as_str())
            .await
            .expect("store")
            .expect("a shipped EDIT identity");
        assert_eq!(stored, shipped);
    }
    let (id_token, userinfo) = login(&s, "ANS20231122132732").await;
    assert_edit_claims("ANS20231122132732", &id_token, &userinfo);
    assert_eq!(userinfo["given_name"], "SOPHIE");
    assert_eq!(userinfo["SubjectRole"], json!(["10^1.2.250.1.213.1.1.5.5"]));
    assert_eq!(userinfo["SubjectOrganization"], "CABINET MEDICAL LEFORT");
    // The RPPS-based identities keep their origin.
    let (_, rpps) = login(&s, NATIONAL_ID).await;
    assert_eq!(rpps["otherIds"][0]["origine"], "RPPS");

    // `identity seed` gives back a seeded identity the realm lost, and nothing else.
    let o = coeur_cli(
        &s,
        &[
            "identity",
            "remove",
            "--realm",
            "edit",
            "--national-id",
            "ANS20250923171203",
        ],
    )
    .await;
    assert!(o.status.success(), "remove: {}", text(&o));
    assert_eq!(
        s.state.store.identity_count("edit").await.expect("count"),
        204
    );
    let o = coeur_cli(&s, &["identity", "seed", "--realm", "edit"]).await;
    assert!(o.status.success(), "seed: {}", text(&o));
    assert!(text(&o).contains("1 identities added"), "{}", text(&o));
    assert_eq!(
        s.state.store.identity_count("edit").await.expect("count"),
        205
    );
    let (id_token, _) = login(&s, "ANS20250923171203").await;
    assert_eq!(id_token["SubjectNameID"], "ANS20250923171203");
});

const IMPORT: &str = "\
national_id,civilite,given_name,family_name,code_profession,code_mode_exercice,raison_sociale_site,code_postal,bureau_cedex
ANS20240101120000,MME,ALICE,DUPONT,60,S,CENTRE HOSPITALIER DE TEST,35000,35000 RENNES
ANS20240101120001,M,BRUNO,MARTIN,70,,CABINET MARTIN,69003,69003 LYON
";

/// A file where line 3 is bad: nothing of it may be written, not even its good rows.
const BAD_IMPORT: &str = "\
national_id,civilite,given_name,family_name,code_profession
ANS20240101120002,MME,CHLOE,PETIT,50
ANS20240101120003,M,DAVID,ROUX,99
ANS20240101120000,MME,ALICIA,DUPONT,60
";

both_dbs!(imported_edit_identities_log_in, |db| async move {
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("identities.csv");
    std::fs::write(&file, IMPORT).expect("write CSV");
    let file = file.to_str().expect("path");
    let before = s.state.store.identity_count("edit").await.expect("count");

    let o = coeur_cli(&s, &["identity", "import", "--realm", "edit", file]).await;
    assert!(o.status.success(), "import: {}", text(&o));
    assert!(text(&o).contains("(2 added, 0 updated)"), "{}", text(&o));
    assert_eq!(
        s.state.store.identity_count("edit").await.expect("count"),
        before + 2
    );

    let (id_token, userinfo) = login(&s, "ANS20240101120000").await;
    assert_edit_claims("ANS20240101120000", &id_token, &userinfo);
    assert_eq!(userinfo["given_name"], "ALICE");
    assert_eq!(
        userinfo["SubjectOrganization"],
        "CENTRE HOSPITALIER DE TEST"
    );
    assert_eq!(userinfo["Secteur_Activite"], "SA01^1.2.250.1.71.4.2.4");
    assert_eq!(userinfo["SubjectRole"], json!(["60^1.2.250.1.213.1.1.5.5"]));

    // The same file again: updated in place, nothing more.
    let stored = |nid: &'static str| {
        let store = s.state.store.clone();
        async move { store.identity("edit", nid).await.expect("store") }
    };
    let alice = stored("ANS20240101120000").await.expect("imported");
    let o = coeur_cli(&s, &["identity", "import", "--realm", "edit", file]).await;
    assert!(o.status.success(), "import again: {}", text(&o));
    assert!(text(&o).contains("(0 added, 2 updated)"), "{}", text(&o));
    assert_eq!(
        s.state.store.identity_count("edit").await.expect("count"),
        before + 2
    );
    assert_eq!(stored("ANS20240101120000").await, Some(alice.clone()));

    // A bad row: reported with its line and reason, and nothing written.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, BAD_IMPORT).expect("write CSV");
    let o = coeur_cli(
        &s,
        &[
            "identity",
            "import",
            "--realm",
            "edit",
            bad.to_str().expect("path"),
        ],
    )
    .await;
    assert!(!o.status.success(), "a bad file is refused: {}", text(&o));
    let out = text(&o);
    assert!(out.contains("1 bad row(s); nothing was written"), "{out}");
    assert!(
        out.contains("line 3 (ANS20240101120003): code_profession: unknown profession code \"99\""),
        "{out}"
    );
    assert_eq!(
        stored("ANS20240101120002").await,
        None,
        "the good row was not written"
    );
    assert_eq!(
        stored("ANS20240101120000").await,
        Some(alice),
        "nor the update"
    );
    assert_eq!(
        s.state.store.identity_count("edit").await.expect("count"),
        before + 2
    );

    // Deactivated, it no longer logs in; activated, it does again.
    let o = coeur_cli(
        &s,
        &[
            "identity",
            "deactivate",
            "--realm",
            "edit",
            "--national-id",
            "ANS20240101120001",
        ],
    )
    .await;
    assert!(o.status.success(), "deactivate: {}", text(&o));
    let b = s.browser();
    let page = b
        .authorize(&authz_url(
            &s,
            "edit",
            &[
                ("client_id", "rp"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", REDIRECT),
            ],
        ))
        .await;
    let r = b.login(&s.base, &page, "ANS20240101120001", "test").await;
    assert_eq!(r.status(), 403, "an inactive identity");
    let o = coeur_cli(
        &s,
        &[
            "identity",
            "activate",
            "--realm",
            "edit",
            "--national-id",
            "ANS20240101120001",
        ],
    )
    .await;
    assert!(o.status.success(), "activate: {}", text(&o));
    let (id_token, _) = login(&s, "ANS20240101120001").await;
    assert_eq!(id_token["preferred_username"], "ANS20240101120001");

    // Removed, it is gone.
    let o = coeur_cli(
        &s,
        &[
            "identity",
            "remove",
            "--realm",
            "edit",
            "--national-id",
            "ANS20240101120001",
        ],
    )
    .await;
    assert!(o.status.success(), "remove: {}", text(&o));
    assert_eq!(stored("ANS20240101120001").await, None);

    // A production profile (userinfo as a relying party got it) copied into a new EDIT
    // identity, its identifier made from the clock.
    let mut profile = userinfo.clone();
    profile["preferred_username"] = NATIONAL_ID.into();
    profile["SubjectNameID"] = NATIONAL_ID.into();
    profile["otherIds"] = json!([{ "identifiant": NATIONAL_ID, "origine": "RPPS", "qualite": 1 }]);
    let json_file = dir.path().join("profile.json");
    std::fs::write(&json_file, profile.to_string()).expect("write JSON");
    let o = coeur_cli(
        &s,
        &[
            "identity",
            "add",
            "--realm",
            "edit",
            "--edit",
            "--json",
            json_file.to_str().expect("path"),
        ],
    )
    .await;
    assert!(o.status.success(), "add --json --edit: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let made = out
        .strip_prefix("added ")
        .and_then(|rest| rest.split('\t').next())
        .unwrap_or_else(|| panic!("the new identifier in {out:?}"))
        .to_owned();
    assert!(made.starts_with("ANS") && made.len() == 17, "{made}");
    let copy = s
        .state
        .store
        .identity("edit", &made)
        .await
        .expect("store")
        .expect("added");
    assert_eq!(copy.origin, "EDIT");
    assert_eq!(copy.exercices, alice_exercices(&s).await);
    let (id_token, userinfo) = login(&s, &made).await;
    assert_edit_claims(&made, &id_token, &userinfo);
});

async fn alice_exercices(s: &TestServer) -> Vec<coeur::common::identity::Exercice> {
    s.state
        .store
        .identity("edit", "ANS20240101120000")
        .await
        .expect("store")
        .expect("imported")
        .exercices
}

both_dbs!(production_realms_hold_no_edit_identity, |db| async move {
    let s = TestServer::start(db).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("identities.csv");
    std::fs::write(&file, IMPORT).expect("write CSV");
    let o = coeur_cli(
        &s,
        &[
            "identity",
            "import",
            "--realm",
            "esante-wallet",
            file.to_str().expect("path"),
        ],
    )
    .await;
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("realm esante-wallet is not a sandbox realm"),
        "{}",
        text(&o)
    );
    let o = coeur_cli(
        &s,
        &[
            "identity",
            "add",
            "--realm",
            "esante-wallet",
            "--edit",
            "--civilite",
            "M",
            "--given-name",
            "A",
            "--family-name",
            "B",
            "--code-profession",
            "10",
        ],
    )
    .await;
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("not a sandbox realm"), "{}", text(&o));

    // Below the command line, the store's own entry refuses them too, with nothing written.
    let rpps = s
        .state
        .store
        .identity("edit", NATIONAL_ID)
        .await
        .expect("store")
        .expect("sandbox identity");
    let e = s
        .put_identities(
            "esante-wallet",
            vec![rpps, edit_test_identities().remove(0)],
        )
        .await
        .expect_err("an EDIT identity in production");
    assert!(
        e.to_string()
            .contains("ANS20231122132732 is an EDIT test identity"),
        "{e}"
    );
    assert_eq!(
        s.state
            .store
            .identity_count("esante-wallet")
            .await
            .expect("count"),
        0
    );
});
