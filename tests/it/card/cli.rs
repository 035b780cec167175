//! Cards issued and revoked (opposition) by `coeur card issue` / `coeur card revoke`.

use super::*;

/// Arguments that point the `coeur` binary at the test server's database, keys and CAs.
fn cli_common(s: &TestServer, crl: &Path) -> Vec<String> {
    let cfg = &s.app.cfg;
    vec![
        "--database-url".into(),
        cfg.database_url.clone(),
        "--keys-dir".into(),
        cfg.keys_dir.display().to_string(),
        "--realms-dir".into(),
        cfg.realms_dir.display().to_string(),
        "--pki-dir".into(),
        cfg.pki_dir.display().to_string(),
        "--pki-hierarchy".into(),
        cfg.pki_hierarchy.clone(),
        "--crl-dir".into(),
        crl.display().to_string(),
    ]
}

/// Runs the `coeur` binary.
async fn coeur_cli(common: &[String], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coeur"));
    cmd.env_remove("COEUR_MASTER_KEY");
    // On PostgreSQL, the test servers' master key: every command needs it there.
    if common.iter().any(|a| a.starts_with("postgres")) {
        cmd.env("COEUR_MASTER_KEY", TEST_MASTER_KEY);
    }
    cmd.args(common)
        .args(args)
        .env_remove("COEUR_CONFIG")
        .env_remove("COEUR_PKI_PRODUCTION")
        .env_remove("COEUR_PUBLIC_URL")
        .env_remove("COEUR_CA_REALM")
        .env_remove("COEUR_CARD_PIN")
        .env("COEUR_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("coeur binary")
}

/// The serial `coeur card issue` printed on the line starting with `prefix`.
fn printed_serial(out: &str, prefix: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no {prefix:?} in {out}"))
        .trim()
        .to_owned()
}

both_dbs!(card_issued_and_revoked_by_the_cli, |db| async move {
    // `coeur card issue` writes the PKCS#12 curl uses; `coeur card revoke` (opposition) takes
    // effect at the next login, with the server running.
    let s = TestServer::start(db).await;
    s.add_rp("edit").await;
    let w = Work::new();
    let root = w.write("root.pem", root_pem(&s).await);
    let common = cli_common(&s, &w.path("crl"));
    // An identity whose card serials do not start with 0 (see `card`).
    let mut chosen = None;
    for i in other_active_identities(&s).await.iter().take(10) {
        let nid = i.national_id.to_string();
        let o = coeur_cli(
            &common,
            &[
                "card",
                "issue",
                "--national-id",
                &nid,
                "--pin",
                PIN,
                "--out",
                w.path("card.p12").to_str().expect("path"),
            ],
        )
        .await;
        assert!(o.status.success(), "coeur card issue: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let auth = printed_serial(&out, "authentication certificate ");
        let sign = printed_serial(&out, "signature certificate ");
        if !auth.starts_with('0') && !sign.starts_with('0') {
            chosen = Some((nid, auth, sign));
            break;
        }
    }
    let (nid, auth, sign) = chosen.expect("a card without a leading zero serial in 10 identities");
    assert!(w.path("card-sign.p12").exists(), "the signature PKCS#12");

    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = curl_card_leg(&handoff_url, &w.path("card.p12"), &root).await;
    let code = back_to_client(&b, &back_url(&s, "edit", &a)).await;
    let tokens = redeem_in(&s, "edit", &code).await;
    check_card_id_token(&s, "edit", &tokens, &nid).await;

    let o = coeur_cli(&common, &["card", "revoke", "--national-id", &nid]).await;
    assert!(o.status.success(), "coeur card revoke: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let ca = personnes_ca(&s);
    for serial in [&auth, &sign] {
        assert!(
            out.lines().any(|l| l == format!("revoked {ca}/{serial}")),
            "{serial} revoked: {out}"
        );
    }
    let b = s.browser();
    let handoff_url = to_card_listener(&s, &b, "edit").await;
    let a = curl_card_leg(&handoff_url, &w.path("card.p12"), &root).await;
    assert_refused(&a, 403, &fr("card.revoked"));
});
