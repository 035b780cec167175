//! Serial numbers: random, unique under concurrent issuance, and found whatever their first
//! digit.

use super::*;

both_dbs!(
    serials_with_a_leading_zero_digit_are_found,
    |db| async move {
        // About one serial in eight has a first byte below 0x10, so its stored hex form starts
        // with "0": fetching, revoking and OCSP must work for those too.
        let s = TestServer::start(db).await;
        let api = Api::new(&s, "edit").await;
        let w = Work::new();
        let csr = w.csr("k", Key::P256);
        let subject = org_subject(json!({ "service_name": "INSI-AUTO" }));
        let mut found = None;
        for _ in 0..100 {
            let (serial, pem) = api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject).await;
            if serial.starts_with('0') {
                found = Some((serial, pem));
                break;
            }
        }
        let (serial, pem) = found.expect("a serial starting with 0 in 100 issuances");
        let (st, body) = api
            .get_raw(&format!("/pki/api/v1/certificates/{ORG_CA}/{serial}"))
            .await;
        assert_eq!(st, 200, "GET {serial}: {}", String::from_utf8_lossy(&body));
        assert_eq!(body, pem.as_bytes());
        let (st, v) = api.revoke(ORG_CA, &serial, "superseded").await;
        assert_eq!(st, 200, "revoke {serial}: {v}");
        w.write("leaf.pem", &pem);
        w.write(
            "issuing.pem",
            api.get(&format!("/pki/ca/{ORG_CA}.pem")).await,
        );
        w.write("root.pem", api.get(&format!("/pki/ca/{ROOT}.pem")).await);
        w.write(
            "chain.pem",
            [w.read("issuing.pem"), w.read("root.pem")].concat(),
        );
        let out = ocsp(&w, &s, "leaf.pem", &[]);
        assert!(out.contains("leaf.pem: revoked"), "{out}");
    }
);

both_dbs!(concurrent_issuance_gives_unique_serials, |db| async move {
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let csr = w.csr("k", Key::P256);
    let base = rows(&s).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let (http, url, token) = (
            api.http.clone(),
            api.url("/pki/api/v1/requests"),
            api.token.clone(),
        );
        let body = json!({
            "ca": ORG_CA,
            "profile": "ORG_AUTH_CLI",
            "csr": csr,
            "subject": org_subject(json!({ "service_name": format!("Service {i}") })),
        });
        tasks.spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("submit");
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        });
    }
    let mut serials = BTreeSet::new();
    let mut first_bytes = BTreeSet::new();
    while let Some(r) = tasks.join_next().await {
        let (st, v) = r.expect("task");
        assert_eq!((st, v["status"].as_str()), (201, Some("issued")), "{v}");
        let serial = v["serial"].as_str().expect("serial").to_owned();
        let pem = v["certificate"].as_str().expect("certificate");
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        let cert = p.parse_x509().expect("certificate");
        let raw = cert.tbs_certificate.raw_serial();
        assert!(raw.len() <= 20, "at most 20 octets: {serial}");
        assert!(raw[0] & 0x80 == 0, "positive: {serial}");
        let bits = raw.len() * 8 - raw[0].leading_zeros() as usize;
        assert!(bits >= 64, "at least 64 bits: {serial} has {bits}");
        assert_eq!(coeur::ca::ca::serial_hex(raw), serial);
        first_bytes.insert(raw[0]);
        assert!(serials.insert(serial.clone()), "duplicate serial {serial}");
    }
    assert_eq!(serials.len(), 100);
    assert!(
        first_bytes.len() > 20,
        "serials look random: {first_bytes:?}"
    );
    assert_eq!(rows(&s).await, (base.0 + 100, base.1 + 100, base.2 + 100));
    let stored: BTreeSet<String> = sqlx::query("SELECT serial FROM certificates WHERE ca_id = $1")
        .bind(ORG_CA)
        .fetch_all(s.state.store.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("serial").unwrap())
        .collect();
    assert!(stored.is_superset(&serials), "every serial is stored");
    let n = base.2 + 100;
    assert_eq!(
        coeur::ca::ca::verify_audit(&s.ca.store).await.unwrap(),
        Ok(n)
    );
});

both_dbs!(listings_and_pages_stop_at_their_limit, |db| async move {
    // The limits are written in the statements' text (a listing's rounded up, the rows past
    // it left unread): each reading gives as many rows as asked, the same as a longer one's
    // first rows.
    let s = TestServer::start(db).await;
    let api = Api::new(&s, "edit").await;
    let w = Work::new();
    let csr = w.csr("k", Key::P256);
    for i in 0..5 {
        let subject = org_subject(json!({ "service_name": format!("Listed {i}") }));
        api.issue(ORG_CA, "ORG_AUTH_CLI", &csr, &subject).await;
    }
    let api = &api;
    let listed = |limit: &str| {
        let url = format!("/pki/api/v1/certificates?ca={ORG_CA}&limit={limit}");
        async move {
            let v: Value = serde_json::from_slice(&api.get(&url).await).expect("JSON");
            v["certificates"].as_array().expect("certificates").clone()
        }
    };
    let all = listed("1000").await;
    assert!(all.len() >= 5, "{}", all.len());
    for n in [1, 3, 5] {
        assert_eq!(listed(&n.to_string()).await, all[..n], "limit={n}");
    }
    // Out of range: at least one, at most 1000.
    assert_eq!(listed("0").await, all[..1]);

    let store = &s.ca.store;
    let first = store.certificates_page(ORG_CA, "", 2).await.expect("page");
    let rest = store
        .certificates_page(ORG_CA, &first[1].0, 1000)
        .await
        .expect("page");
    assert_eq!(first.len(), 2);
    assert_eq!(first.len() + rest.len(), all.len());
    let serials: Vec<&str> = first.iter().chain(&rest).map(|(s, _)| s.as_str()).collect();
    assert!(serials.is_sorted(), "{serials:?}");

    let due = coeur::ca::ldap::outbox::due(store, i64::MAX, 10_000)
        .await
        .expect("due");
    let one = coeur::ca::ldap::outbox::due(store, i64::MAX, 1)
        .await
        .expect("due");
    assert_eq!(
        one.iter().map(|r| &r.id).collect::<Vec<_>>(),
        due.iter().take(1).map(|r| &r.id).collect::<Vec<_>>()
    );

    let ids = |n| s.state.store.identities("edit", n);
    let (two, more) = (ids(2).await.expect("ids"), ids(1000).await.expect("ids"));
    assert_eq!(two.len(), 2);
    let national = |v: &[coeur::common::identity::Identity]| {
        v.iter()
            .map(|i| i.national_id.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(national(&two), national(&more[..2]));
});
