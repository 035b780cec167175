//! The audit chain: every issuance and revocation recorded, tampering detected by the CA and by
//! `coeur audit verify`.

use super::*;

both_dbs!(audit_chain_detects_tampering, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let csr = w.csr("k", Key::P256);
    let subject = org_subject(json!({ "service_name": "INSI-AUTO" }));
    for _ in 0..2 {
        api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject).await;
    }
    let (serial, _) = api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject).await;
    let (st, v) = api.revoke(ORG_CA, &serial, "cessationOfOperation").await;
    assert_eq!(st, 200, "{v}");
    let n = rows(&s).await.2;
    assert!(n >= 4, "issuances and the revocation are recorded");
    let last =
        sqlx::query("SELECT action, subject, actor FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_one(s.state.store.db().pool())
            .await
            .unwrap();
    assert_eq!(last.try_get::<String, _>("action").unwrap(), "revoke");
    assert_eq!(
        last.try_get::<String, _>("subject").unwrap(),
        format!("{ORG_CA}/{serial}")
    );
    assert!(
        last.try_get::<String, _>("actor")
            .unwrap()
            .starts_with("ca-client")
    );
    assert_eq!(
        coeur::ca::ca::verify_audit(&s.ca.store).await.unwrap(),
        Ok(n)
    );
    let url = s.app.cfg.database_url.clone();
    let o = coeur(s.dir.path(), &["--database-url", &url, "audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("audit log intact: {n} records")
    );

    sqlx::query("UPDATE audit_log SET actor = 'x' WHERE seq = 3")
        .execute(s.state.store.db().pool())
        .await
        .unwrap();
    assert_eq!(
        coeur::ca::ca::verify_audit(&s.ca.store).await.unwrap(),
        Err(3)
    );
    let o = coeur(s.dir.path(), &["--database-url", &url, "audit", "verify"]);
    assert!(!o.status.success(), "a broken chain passes: {}", text(&o));
    assert!(
        text(&o).contains("audit log broken at record 3"),
        "{}",
        text(&o)
    );
});
