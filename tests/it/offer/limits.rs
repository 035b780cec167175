//! Per-client rate limits of the offer's FHIR API: a client over its limit gets `429` with
//! `Retry-After` and an OperationOutcome, for reads and writes alike (a refused write changes
//! nothing); another client keeps its own bucket; time refills it.

use super::write::{patch, set_available};
use super::*;
use crate::both_dbs;
use coeur::resource_server::ratelimit::RateLimit;
use coeur_offer::generate::synthetic_structures;

both_dbs!(offer_rate_limits_per_client, |db| async move {
    let s = TestServer::start(db).await;
    client(&s, READER, &["offer:read"]).await;
    client(&s, "other", &["offer:read"]).await;
    client(&s, SIH_A, &["offer:write"]).await;
    let (store, _dir) = store(db).await;
    let (locations, services) = generated();
    store
        .insert_offer(&locations, &services)
        .await
        .expect("fill");
    let finess = &synthetic_structures(1)[0].finess;
    store
        .add_service_account(SIH_A, finess)
        .await
        .expect("account");
    let base = start_offer_limited(
        &s,
        store.clone(),
        &[READER, "other", SIH_A],
        None,
        RateLimit {
            burst: 3,
            per_second: 1,
        },
    )
    .await;
    let token = |id: &'static str, scope: &'static str| {
        let s = &s;
        async move { s.client_credentials_token("edit", id, scope).await }
    };
    let (reader, other, writer) = (
        token(READER, "offer:read").await,
        token("other", "offer:read").await,
        token(SIH_A, "offer:write").await,
    );
    let search = format!("{base}/Location?capacity-type=01&_count=1");

    // Refused tokens are not counted: the reader's bucket is still full after them.
    for _ in 0..5 {
        assert_outcome(&get(&search, Some("not.a.token")).await, 401, "login");
    }
    for _ in 0..3 {
        assert_eq!(get(&search, Some(&reader)).await.status, 200);
    }
    let r = get(&search, Some(&reader)).await;
    assert_outcome(&r, 429, "throttled");
    assert_eq!(r.headers["retry-after"], "1");
    // Reads of every kind share the bucket.
    let read = format!("{base}/Location/{}", locations[0].id);
    assert_outcome(&get(&read, Some(&reader)).await, 429, "throttled");
    assert_outcome(
        &get(&format!("{read}/_history"), Some(&reader)).await,
        429,
        "throttled",
    );

    // Another client is not affected.
    let r = get(&search, Some(&other)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["resourceType"], "Bundle");

    // A writer over its limit: the patch is refused and nothing changes.
    let mine = locations
        .iter()
        .find(|l| &l.finess == finess)
        .expect("a location of the first structure");
    let url = format!("{base}/Location/{}", mine.id);
    let kept = store.history(&mine.id).await.expect("history").len();
    for _ in 0..3 {
        assert_eq!(get(&url, Some(&writer)).await.status, 200);
    }
    let r = patch(&url, &writer, Some("W/\"1\""), &set_available(9)).await;
    assert_outcome(&r, 429, "throttled");
    assert!(r.headers.contains_key("retry-after"));
    let stored = store.location(&mine.id).await.expect("read").expect("kept");
    assert_eq!(stored.version, 1, "a throttled patch changes nothing");
    assert_eq!(store.history(&mine.id).await.expect("history").len(), kept);

    // A second later each bucket holds one request again.
    s.clock.advance(1);
    assert_eq!(get(&search, Some(&reader)).await.status, 200);
    assert_outcome(&get(&search, Some(&reader)).await, 429, "throttled");
    let r = patch(&url, &writer, Some("W/\"1\""), &set_available(9)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["etag"], "W/\"2\"");
});
