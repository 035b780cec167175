//! Capacity changes through `PATCH /Location/{id}` (JSON Patch): versions as ETags,
//! `If-Match` (stale: 412), bad input refused with an OperationOutcome and nothing changed
//! (an unknown code in each coded element of a capacity among it),
//! the history of every change (who, when, before, after), and who may write: a structure's
//! service account, a professional whose directory record ties them to the structure (the
//! directory's FHIR API answered by a stand-in here, [`fake_directory`]), nobody else.

use super::*;
use crate::both_dbs;
use coeur_offer::directory::DirectorySettings;
use coeur_offer::generate::synthetic_structures;
use serde_json::json;

pub(super) async fn patch(url: &str, token: &str, if_match: Option<&str>, body: &str) -> Answer {
    let mut rb = reqwest::Client::new()
        .patch(url)
        .bearer_auth(token)
        .header("content-type", "application/json-patch+json")
        .body(body.to_owned());
    if let Some(m) = if_match {
        rb = rb.header("if-match", m);
    }
    answer(rb.send().await.expect("patch")).await
}

/// Sets the count of the location's second capacity (available beds or places).
pub(super) fn set_available(n: i64) -> String {
    json!([
        {"op": "test", "path": "/extension/1/extension/1/valueCodeableConcept/coding/0/code", "value": "02"},
        {"op": "replace", "path": "/extension/1/extension/3/valueInteger", "value": n},
        {"op": "replace", "path": "/extension/1/extension/5/valueDateTime", "value": "2026-01-02T08:30:00+01:00"}
    ])
    .to_string()
}

/// A professional's access token (code flow of client `rp`, `offer:write`).
async fn professional_token(s: &TestServer) -> String {
    let mut spec = rp_spec("rp");
    spec.scopes = ["openid", "scope_all", "offer:read", "offer:write"]
        .map(str::to_owned)
        .to_vec();
    s.add_client("edit", spec, Some(SECRET)).await;
    let browser = s.browser();
    let params = [
        ("client_id", "rp"),
        ("response_type", "code"),
        ("scope", "openid scope_all offer:write"),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        ("nonce", "n-0S6_WzA2Mj"),
    ];
    let page = browser.authorize(&authz_url(s, "edit", &params)).await;
    let cb = match page {
        Authz::Redirect(u) => u,
        p @ Authz::LoginPage { .. } => {
            let r = browser.login(&s.base, &p, NATIONAL_ID, "test").await;
            assert_eq!(r.status().as_u16(), 303);
            location(&r)
        }
        other => panic!("unexpected {other:?}"),
    };
    let code = param(&cb, "code").expect("code");
    let r = redeem(s, &code, &[]).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["access_token"].as_str().expect("token").to_owned()
}

both_dbs!(offer_capacity_updates, |db| async move {
    let s = TestServer::start(db).await;
    for (id, scopes) in [
        (READER, &["offer:read"][..]),
        (SIH_A, &["offer:write"]),
        (SIH_B, &["offer:write"]),
        ("ror", &["directory:read"]),
    ] {
        client(&s, id, scopes).await;
    }
    let (store, _dir) = store(db).await;
    let (locations, services) = generated();
    store
        .insert_offer(&locations, &services)
        .await
        .expect("fill");
    let structures = synthetic_structures(12);
    store
        .add_service_account(SIH_A, &structures[0].finess)
        .await
        .expect("account");
    store
        .add_service_account(SIH_B, &structures[1].finess)
        .await
        .expect("account");
    let directory = Arc::new(DirectoryClient::new(
        DirectorySettings {
            base_url: fake_directory(vec![(NATIONAL_ID.to_owned(), structures[2].finess.clone())])
                .await,
            token_url: s.endpoint("edit", "token"),
            client_id: "ror".into(),
            client_secret: SECRET.into(),
        },
        reqwest::Client::new(),
        s.clock.clone(),
    ));
    let base = start_offer(
        &s,
        store.clone(),
        &[READER, SIH_A, SIH_B, "rp"],
        Some(directory),
    )
    .await;
    let reader = s
        .client_credentials_token("edit", READER, "offer:read")
        .await;
    let a = s
        .client_credentials_token("edit", SIH_A, "offer:write")
        .await;
    let b = s
        .client_credentials_token("edit", SIH_B, "offer:write")
        .await;

    let la = locations
        .iter()
        .find(|l| l.finess == structures[0].finess)
        .unwrap();
    let url = format!("{base}/Location/{}", la.id);
    let before = get(&url, Some(&reader)).await.body;
    let original = before["extension"][1]["extension"][3]["valueInteger"]
        .as_i64()
        .unwrap();
    let n = if original == 7 { 8 } else { 7 };

    // The structure's service account changes its available capacity.
    let r = patch(&url, &a, Some("W/\"1\""), &set_available(n)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["etag"], "W/\"2\"");
    assert_eq!(r.body["meta"]["versionId"], "2");
    assert_eq!(r.body["extension"][1]["extension"][3]["valueInteger"], n);
    assert_eq!(
        r.body["extension"][1]["extension"][5]["valueDateTime"],
        "2026-01-02T07:30:00Z"
    );
    let after = get(&url, Some(&reader)).await.body;
    assert_eq!(after, r.body);
    // Searches see it.
    let found = get(
        &format!(
            "{base}/Location?_id={}&capacity-status=02&nb-capacity={n}",
            la.id
        ),
        Some(&reader),
    )
    .await
    .body;
    assert_eq!(ids(&found, "match"), [format!("Location/{}", la.id)]);

    // A stale version: 412, nothing changed.
    let r = patch(&url, &a, Some("W/\"1\""), &set_available(1)).await;
    assert_outcome(&r, 412, "conflict");
    assert_eq!(r.headers["etag"], "W/\"2\"");
    assert_eq!(get(&url, Some(&reader)).await.body, after);

    // Bad input: an OperationOutcome, nothing changed.
    let bad: [(&str, &str, u16, &str); 7] = [
        ("[", "application/json-patch+json", 400, "structure"),
        (
            "{\"op\": \"replace\"}",
            "application/json-patch+json",
            400,
            "structure",
        ),
        (
            &set_available(-4),
            "application/json-patch+json",
            422,
            "processing",
        ),
        (
            r#"[{"op":"replace","path":"/extension/0/extension/0/valueCodeableConcept/coding/0/code","value":"42"}]"#,
            "application/json-patch+json",
            422,
            "processing",
        ),
        (
            r#"[{"op":"replace","path":"/name","value":"Elsewhere"}]"#,
            "application/json-patch+json",
            422,
            "processing",
        ),
        (
            r#"[{"op":"test","path":"/extension/1/extension/3/valueInteger","value":-99}]"#,
            "application/json-patch+json",
            422,
            "processing",
        ),
        (&set_available(3), "application/json", 415, "not-supported"),
    ];
    for (body, ct, status, code) in bad {
        let r = reqwest::Client::new()
            .patch(&url)
            .bearer_auth(&a)
            .header("content-type", ct)
            .header("if-match", "W/\"2\"")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_outcome(&answer(r).await, status, code);
        assert_eq!(get(&url, Some(&reader)).await.body, after, "{body}");
    }
    // An unknown code in any coded element of a capacity: 422 naming the element and its
    // value set, nothing changed; so is an element the offer does not keep.
    for (at, element, set) in [
        (0, "capacityType", "J187"),
        (1, "capacityStatus", "J188"),
        (2, "temporalityCapacity", "J189"),
        (4, "capacitySourceType", "J193"),
        (5, "genderCapacityAvailable", "J190"),
        (6, "temporaryAssignement", "J195"),
    ] {
        let body = if element == "genderCapacityAvailable" {
            // Not in the generated capacities (0..1): added with an unknown code.
            json!([{"op": "add", "path": "/extension/1/extension/5", "value": {
                "url": element, "valueCodeableConcept": {"coding": [{
                    "system": coeur_offer::codes::GENDER.system, "code": "99"}]}}}])
        } else {
            json!([
                {"op": "test", "path": format!("/extension/1/extension/{at}/url"), "value": element},
                {"op": "replace", "path": format!("/extension/1/extension/{at}/valueCodeableConcept/coding/0/code"), "value": "99"}
            ])
        }
        .to_string();
        let r = patch(&url, &a, Some("W/\"2\""), &body).await;
        assert_outcome(&r, 422, "processing");
        let why = r.body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or_default();
        assert!(
            why.contains(element) && why.contains(set) && why.contains("99"),
            "{why}"
        );
        assert_eq!(get(&url, Some(&reader)).await.body, after, "{element}");
    }
    let unknown = json!([{"op": "add", "path": "/extension/1/extension/-",
        "value": {"url": "capacityClosingType", "valueCode": "01"}}]);
    let r = patch(&url, &a, Some("W/\"2\""), &unknown.to_string()).await;
    assert_outcome(&r, 422, "processing");
    assert_eq!(get(&url, Some(&reader)).await.body, after);
    assert_outcome(
        &patch(&url, &a, Some("2"), &set_available(3)).await,
        400,
        "invalid",
    );
    assert_outcome(
        &patch(
            &format!("{base}/Location/nope"),
            &a,
            None,
            &set_available(3),
        )
        .await,
        404,
        "not-found",
    );

    // Another structure's service account, a reader, nobody: refused, nothing changed.
    assert_outcome(
        &patch(&url, &b, Some("W/\"2\""), &set_available(3)).await,
        403,
        "forbidden",
    );
    assert_outcome(
        &patch(&url, &reader, Some("W/\"2\""), &set_available(3)).await,
        403,
        "forbidden",
    );
    let r = reqwest::Client::new()
        .patch(&url)
        .header("content-type", "application/json-patch+json")
        .body(set_available(3))
        .send()
        .await
        .unwrap();
    assert_outcome(&answer(r).await, 401, "login");
    assert_eq!(get(&url, Some(&reader)).await.body, after);

    // A professional the directory ties to the third structure may change its locations,
    // not the first structure's.
    let pro = professional_token(&s).await;
    let lc = locations
        .iter()
        .find(|l| l.finess == structures[2].finess)
        .unwrap();
    let curl = format!("{base}/Location/{}", lc.id);
    let r = patch(&curl, &pro, None, &set_available(2)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_outcome(
        &patch(&url, &pro, Some("W/\"2\""), &set_available(3)).await,
        403,
        "forbidden",
    );

    // History: who, when, before and after.
    let h = get(&format!("{url}/_history"), Some(&reader)).await.body;
    assert_eq!(h["type"], "history");
    let e = h["entry"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(
        e[0]["extension"][0]["valueString"],
        format!("client:{SIH_A}")
    );
    assert_eq!(e[0]["resource"]["meta"]["versionId"], "2");
    assert_eq!(
        e[0]["resource"]["extension"][1]["extension"][3]["valueInteger"],
        n
    );
    assert_eq!(e[1]["extension"][0]["valueString"], "generated");
    assert_eq!(
        e[1]["resource"]["extension"][1]["extension"][3]["valueInteger"],
        original
    );
    let v1 = get(&format!("{url}/_history/1"), Some(&reader)).await;
    assert_eq!(v1.headers["etag"], "W/\"1\"");
    assert_eq!(v1.body["extension"], before["extension"]);
    let hc = get(&format!("{curl}/_history"), Some(&reader)).await.body;
    assert_eq!(
        hc["entry"][0]["extension"][0]["valueString"],
        format!("professional:{NATIONAL_ID}")
    );
    let stored = store.history(&la.id).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].changed_at, s.clock.now());
});
