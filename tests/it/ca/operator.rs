//! The operator's approval flow on a production CA: approve, reject, and what each writes.

use super::*;

// ------------------------------------------------------------------------------- operator

async fn request_row(
    s: &TestServer,
    id: &str,
) -> (String, Option<String>, Option<String>, Option<String>) {
    let r =
        sqlx::query("SELECT status, decided_by, serial, reason FROM cert_requests WHERE id = $1")
            .bind(id)
            .fetch_one(s.state.store.db().pool())
            .await
            .expect("request row");
    (
        r.try_get("status").unwrap(),
        r.try_get("decided_by").unwrap(),
        r.try_get("serial").unwrap(),
        r.try_get("reason").unwrap(),
    )
}

both_dbs!(operator_approves_and_rejects, |db| async move {
    let s = TestServer::start_with(db, &realms_dir(), |o| {
        o.common.ca_realm = Some("esante-wallet".into());
        o.common.pki_production = Some(true);
    })
    .await;
    assert_eq!(
        s.state.ca.ca.approval(),
        coeur::ca::policy::Approval::Operator,
        "production CAs: no automatic approval"
    );
    const PROD_ROOT: &str = "MOD-R-EL";
    const PROD_ORG_CA: &str = "MOD-EL-ORG";
    let api = Api::new(&s, "esante-wallet").await;
    let w = Work::new();
    let csr = w.csr("srv", Key::Rsa(2048));
    let base = rows(&s).await;

    let (st, v) = api
        .submit(PROD_ORG_CA, "SSL_SERV", &csr, &server_subject())
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["status"], "pending");
    assert!(v["serial"].is_null() && v["certificate"].is_null(), "{v}");
    let first = v["id"].as_str().expect("id").to_owned();
    assert_eq!(
        rows(&s).await,
        (base.0, base.1 + 1, base.2),
        "a pending request, no certificate"
    );
    assert_eq!(request_row(&s, &first).await.0, "pending");

    // Approving needs ca:approve.
    let requester = token(&s, "esante-wallet", "ca:request").await;
    let approve = format!("/pki/api/v1/requests/{first}/approve");
    let (st, v) = api.post_as(Some(&requester), &approve, &json!({})).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{v}"
    );
    // Tokens of the sandbox realm do not authorise this CA.
    let mut spec = rp_spec("ca-client");
    spec.scopes = ALL_SCOPES.split(' ').map(str::to_owned).collect();
    s.add_client("edit", spec, Some(SECRET)).await;
    let sandbox = token(&s, "edit", ALL_SCOPES).await;
    let (st, _) = api.post_as(Some(&sandbox), &approve, &json!({})).await;
    assert_eq!(st, 401);
    assert_eq!(request_row(&s, &first).await.0, "pending");

    let (st, v) = api.post(&approve, &json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "issued");
    assert_eq!(v["id"], first.as_str());
    let serial = v["serial"].as_str().expect("serial").to_owned();
    w.write("srv.pem", v["certificate"].as_str().expect("certificate"));
    api.save_ca_pems(&w, &[PROD_ROOT, PROD_ORG_CA]).await;
    let o = w.verify(
        &format!("{PROD_ROOT}.pem"),
        &format!("{PROD_ORG_CA}.pem"),
        "srv.pem",
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let (status, by, row_serial, _) = request_row(&s, &first).await;
    assert_eq!(status, "issued");
    assert!(
        by.unwrap_or_default().starts_with("ca-client"),
        "the operator is recorded"
    );
    assert_eq!(row_serial.as_deref(), Some(serial.as_str()));
    assert_eq!(rows(&s).await, (base.0 + 1, base.1 + 1, base.2 + 1));

    let (st, v) = api.post(&approve, &json!({})).await;
    assert_eq!((st, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert_eq!(v["error_description"], "the request is issued");
    assert_eq!(rows(&s).await, (base.0 + 1, base.1 + 1, base.2 + 1));

    // Another request, rejected.
    let (st, v) = api
        .submit(PROD_ORG_CA, "SSL_SERV", &csr, &server_subject())
        .await;
    assert_eq!((st, v["status"].as_str()), (201, Some("pending")), "{v}");
    let second = v["id"].as_str().expect("id").to_owned();
    let (st, v) = api
        .post(
            &format!("/pki/api/v1/requests/{second}/reject"),
            &json!({ "reason": "pièces manquantes" }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({ "id": second, "status": "rejected" }));
    let (status, by, row_serial, reason) = request_row(&s, &second).await;
    assert_eq!(status, "rejected");
    assert!(by.unwrap_or_default().starts_with("ca-client"));
    assert_eq!(row_serial, None);
    assert_eq!(reason.as_deref(), Some("pièces manquantes"));
    let (st, v) = api
        .post(
            &format!("/pki/api/v1/requests/{second}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert_eq!(v["error_description"], "the request is rejected");
    // Deciding an issued request again changes nothing.
    let (st, v) = api
        .post(&format!("/pki/api/v1/requests/{first}/reject"), &json!({}))
        .await;
    assert!(st >= 400, "{st} {v}");
    assert_eq!(request_row(&s, &first).await.0, "issued");
    let (st, v) = api
        .post("/pki/api/v1/requests/no-such-request/approve", &json!({}))
        .await;
    assert_eq!((st, v["error"].as_str()), (404, Some("not_found")), "{v}");
    assert_eq!(rows(&s).await, (base.0 + 1, base.1 + 2, base.2 + 1));
});
