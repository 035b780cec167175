//! Reads and searches of the offer's FHIR API checked against the generated records (capacity
//! parameters, `near`, addresses, regions, services, includes, paging), errors as
//! OperationOutcomes, tokens (missing, wrong audience, wrong scope), and the API as fhirpy and
//! fhir.resources see it.

use super::*;
use crate::both_dbs;
use coeur_offer::query::distance_km;
use std::collections::BTreeSet;

fn locs<'a>(it: impl Iterator<Item = &'a LocationRecord>) -> Vec<String> {
    let mut v: Vec<String> = it.map(|l| format!("Location/{}", l.id)).collect();
    v.sort();
    v
}

async fn reading(db: Db) -> (TestServer, tempfile::TempDir, String, String) {
    let s = TestServer::start(db).await;
    client(&s, READER, &["offer:read"]).await;
    client(&s, "other", &["offer:read"]).await;
    client(&s, "no-scope", &["directory:read"]).await;
    let (store, dir) = store(db).await;
    let (l, v) = generated();
    store.insert_offer(&l, &v).await.expect("fill");
    let base = start_offer(&s, store, &[READER, "no-scope"], None).await;
    let token = s
        .client_credentials_token("edit", READER, "offer:read")
        .await;
    (s, dir, base, token)
}

both_dbs!(offer_search_and_read, |db| async move {
    let (s, _dir, base, token) = reading(db).await;
    let t = Some(token.as_str());
    let (locations, services) = generated();
    assert!(locations.len() >= 12);

    let cap = get(&format!("{base}/metadata"), None).await;
    assert_eq!(cap.status, 200);
    assert_eq!(cap.body["resourceType"], "CapabilityStatement");

    // Read, with the version as ETag.
    let l = &locations[0];
    let r = get(&format!("{base}/Location/{}", l.id), t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["etag"], "W/\"1\"");
    assert_eq!(r.body["id"], l.id.as_str());
    assert_eq!(r.body["meta"]["versionId"], "1");
    assert_eq!(r.body["address"]["postalCode"], l.postal_code.as_str());
    assert_eq!(
        r.body["extension"].as_array().unwrap().len(),
        l.capacities.len()
    );
    assert_outcome(
        &get(&format!("{base}/Location/nope"), t).await,
        404,
        "not-found",
    );
    let r = get(&format!("{base}/HealthcareService/{}", services[0].id), t).await;
    assert_eq!(
        r.body["location"][0]["reference"],
        format!("Location/{}", services[0].location_id)
    );

    // Available beds, at least 10: one capacity matching type, status and count together.
    let url =
        format!("{base}/Location?capacity-type=01&capacity-status=02&nb-capacity=ge10&_count=1000");
    let want = locs(locations.iter().filter(|l| {
        l.capacities
            .iter()
            .any(|c| c.capacity_type == "01" && c.status == "02" && c.nb >= 10)
    }));
    assert!(
        !want.is_empty() && want.len() < locations.len(),
        "the data discriminates"
    );
    assert_eq!(ids(&get(&url, t).await.body, "match"), want);
    for (prefix, keep) in [
        ("gt", (|n: u32, v: u32| n > v) as fn(u32, u32) -> bool),
        ("lt", |n, v| n < v),
        ("le", |n, v| n <= v),
        ("eq", |n, v| n == v),
    ] {
        let url = format!("{base}/Location?capacity-status=01&nb-capacity={prefix}20&_count=1000");
        let want = locs(locations.iter().filter(|l| {
            l.capacities
                .iter()
                .any(|c| c.status == "01" && keep(c.nb, 20))
        }));
        assert_eq!(ids(&get(&url, t).await.body, "match"), want, "{prefix}");
    }
    // Additional beds (only paediatrics has them) and the temporality.
    let want = locs(
        locations
            .iter()
            .filter(|l| l.capacities.iter().any(|c| c.status == "06")),
    );
    assert!(!want.is_empty(), "the data has additional beds");
    assert_eq!(
        ids(
            &get(
                &format!("{base}/Location?capacity-status=06&temporality-capacity=01&_count=1000"),
                t
            )
            .await
            .body,
            "match"
        ),
        want
    );
    assert!(
        ids(
            &get(&format!("{base}/Location?temporality-capacity=02"), t)
                .await
                .body,
            "match"
        )
        .is_empty()
    );
    // Update dates.
    let all = locs(locations.iter());
    assert_eq!(
        ids(
            &get(
                &format!("{base}/Location?capacity-update-date=2026-01-01&_count=1000"),
                t
            )
            .await
            .body,
            "match"
        ),
        all
    );
    assert!(
        ids(
            &get(
                &format!("{base}/Location?capacity-update-date=gt2026-01-01"),
                t
            )
            .await
            .body,
            "match"
        )
        .is_empty()
    );
    assert_eq!(
        ids(
            &get(
                &format!("{base}/Location?_lastUpdated=le2026-01&_count=1000"),
                t
            )
            .await
            .body,
            "match"
        ),
        all
    );

    // near: 20 km around the Paris generated town centre holds the Paris locations, and
    // nothing of Lyon (392 km away); sorted by distance.
    let b = get(
        &format!("{base}/Location?near=48.84|2.388|20|km&_count=1000"),
        t,
    )
    .await
    .body;
    let paris = locs(locations.iter().filter(|l| l.postal_code == "75012"));
    assert!(!paris.is_empty());
    assert_eq!(ids(&b, "match"), paris);
    let dists: Vec<f64> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let p = &e["resource"]["position"];
            distance_km(
                48.84,
                2.388,
                p["latitude"].as_f64().unwrap(),
                p["longitude"].as_f64().unwrap(),
            )
        })
        .collect();
    assert!(dists.windows(2).all(|w| w[0] <= w[1]), "{dists:?}");
    assert!(dists.iter().all(|d| *d <= 20.0));
    // 1 km around one location: that one, whatever else is near.
    let one = &locations[1];
    let b = get(
        &format!("{base}/Location?near={}|{}|1000|m", one.lat, one.lon),
        t,
    )
    .await
    .body;
    assert!(ids(&b, "match").contains(&format!("Location/{}", one.id)));
    let lyon_near = get(
        &format!("{base}/Location?near=45.76|4.85|20&capacity-type=01&_count=1000"),
        t,
    )
    .await
    .body;
    assert_eq!(
        ids(&lyon_near, "match"),
        locs(
            locations.iter().filter(|l| l.postal_code == "69003"
                && l.capacities.iter().any(|c| c.capacity_type == "01"))
        )
    );

    // Addresses and regions.
    let lyon = locs(locations.iter().filter(|l| l.city == "Lyon"));
    assert_eq!(
        ids(
            &get(&format!("{base}/Location?address-city=lyon&_count=1000"), t)
                .await
                .body,
            "match"
        ),
        lyon
    );
    assert_eq!(
        ids(
            &get(
                &format!("{base}/Location?address-postalcode=690&_count=1000"),
                t
            )
            .await
            .body,
            "match"
        ),
        lyon
    );
    assert_eq!(
        ids(
            &get(&format!("{base}/Location?_tag=84&_count=1000"), t)
                .await
                .body,
            "match"
        ),
        lyon
    );
    assert_eq!(
        ids(
            &get(&format!("{base}/Location?identifier={}", l.id), t)
                .await
                .body,
            "match"
        ),
        [format!("Location/{}", l.id)]
    );

    // Services: type, specialty, and their locations included (or reverse).
    let psy: BTreeSet<String> = services
        .iter()
        .filter(|v| v.service_type == "03")
        .map(|v| format!("HealthcareService/{}", v.id))
        .collect();
    let b = get(&format!("{base}/HealthcareService?service-type=03&_include=HealthcareService:location&_count=1000"), t).await.body;
    assert_eq!(ids(&b, "match").into_iter().collect::<BTreeSet<_>>(), psy);
    let inc: BTreeSet<String> = services
        .iter()
        .filter(|v| v.service_type == "03")
        .map(|v| format!("Location/{}", v.location_id))
        .collect();
    assert_eq!(ids(&b, "include").into_iter().collect::<BTreeSet<_>>(), inc);
    let rea = services.iter().filter(|v| v.specialty == "127").count();
    assert!(rea > 0);
    assert_eq!(
        ids(
            &get(
                &format!("{base}/HealthcareService?specialty=127&_count=1000"),
                t
            )
            .await
            .body,
            "match"
        )
        .len(),
        rea
    );
    let b = get(
        &format!(
            "{base}/Location?_id={}&_revinclude=HealthcareService:location",
            l.id
        ),
        t,
    )
    .await
    .body;
    assert_eq!(ids(&b, "include"), [format!("HealthcareService/{}", l.id)]);

    // Paging: every location once, following next links.
    let mut seen = vec![];
    let mut next = Some(format!("{base}/Location?_count=5"));
    while let Some(url) = next.take() {
        let b = get(&url, t).await.body;
        seen.extend(ids(&b, "match"));
        next = b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["relation"] == "next")
            .map(|x| x["url"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, all);

    // Bad searches: OperationOutcome 400.
    for q in [
        "capacity-type=99",
        "nb-capacity=abc",
        "near=48.8",
        "near=48|2|5|parsec",
        "capacity-update-date=yesterday",
        "_revinclude=PractitionerRole:service",
        "colour=blue",
        "_tag=00",
        "service-type=01",
    ] {
        assert_outcome(
            &get(&format!("{base}/Location?{q}"), t).await,
            400,
            "invalid",
        );
    }
    // Tokens.
    assert_outcome(&get(&format!("{base}/Location"), None).await, 401, "login");
    let other = s
        .client_credentials_token("edit", "other", "offer:read")
        .await;
    assert_outcome(
        &get(&format!("{base}/Location"), Some(&other)).await,
        401,
        "login",
    );
    let weak = s
        .client_credentials_token("edit", "no-scope", "directory:read")
        .await;
    assert_outcome(
        &get(&format!("{base}/Location"), Some(&weak)).await,
        403,
        "forbidden",
    );
    assert_outcome(
        &get(&format!("{base}/Practitioner"), t).await,
        404,
        "not-supported",
    );
});

both_dbs!(offer_peer_fhirpy_and_fhir_resources, |db| async move {
    let Some(python) = python_peer("the FHIR peer (fhirpy, fhir.resources)") else {
        return;
    };
    let (_s, _dir, base, token) = reading(db).await;
    let (locations, _) = generated();
    let id = locations[0].id.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(repo_dir().join("tests/python/offer_peer.py"))
            .args([&base, &token, &id])
            .output()
            .expect("start the FHIR peer")
    })
    .await
    .expect("peer task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the FHIR peer failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("peer report");
    let want = locs(locations.iter().filter(|l| {
        l.capacities
            .iter()
            .any(|c| c.capacity_type == "01" && c.status == "02" && c.nb >= 5)
    }));
    let got: Vec<String> = report["available_beds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("Location/{}", v.as_str().unwrap()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(got, want);
    let near: BTreeSet<String> = report["near_paris"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let paris: BTreeSet<String> = locations
        .iter()
        .filter(|l| l.postal_code == "75012")
        .map(|l| l.id.clone())
        .collect();
    assert_eq!(near, paris);
    assert_eq!(report["all"].as_array().unwrap().len(), locations.len());
    for kind in [
        "Location",
        "HealthcareService",
        "Bundle",
        "OperationOutcome",
        "CapabilityStatement",
    ] {
        assert!(
            report["validated"][kind].as_u64().unwrap_or(0) > 0,
            "{kind} validated: {report}"
        );
    }
});
