//! A store written with the sample codes of earlier versions (statuses `03` available, `05`
//! occupied; cradles `03`; J20 `02` psychiatry…) is translated to the NOS tables' codes by its
//! migration, in the search rows, the capacities served, their history and the services.

use super::*;
use crate::both_dbs;
use coeur_offer::model::Capacity;
use coeur_offer::query::{ResourceType, parse};

fn cap(capacity_type: &str, status: &str, nb: u32, gender: Option<&str>) -> Capacity {
    Capacity {
        capacity_type: capacity_type.into(),
        status: status.into(),
        temporality: "01".into(),
        nb,
        source: "01".into(),
        gender: gender.map(str::to_owned),
        update_date: NOW,
        temporary_assignment: "01".into(),
    }
}

both_dbs!(offer_sample_codes_are_translated, |db| async move {
    let (url, _dir) = store_url(db).await;
    let store = Store::connect(&url).await.expect("offer store");
    let (mut locations, mut services) = generated();
    locations.truncate(1);
    services.truncate(1);
    let (l, v) = (&mut locations[0], &mut services[0]);
    // As the sample had them.
    l.capacities = vec![
        cap("01", "01", 10, None),
        cap("01", "03", 4, Some("01")),
        cap("01", "05", 6, Some("03")),
        cap("03", "03", 2, Some("02")),
        cap("02", "04", 1, None),
    ];
    v.location_id = l.id.clone();
    (v.service_type, v.specialty, v.care_mode) = ("02".into(), "045".into(), "01".into());
    store
        .insert_offer(&locations, &services)
        .await
        .expect("fill");
    // The store as an earlier version left it: the translation not applied yet.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
    sqlx::query("DELETE FROM offer_schema WHERE version = 5")
        .execute(&pool)
        .await
        .expect("schema");
    pool.close().await;
    drop(store);

    let store = Store::connect(&url).await.expect("offer store, migrated");
    let want = vec![
        cap("01", "01", 10, None),
        cap("01", "02", 4, Some("02")),
        cap("01", "03", 6, None),
        cap("01", "02", 2, Some("01")),
        cap("02", "05", 1, None),
    ];
    let id = locations[0].id.clone();
    let got = store.location(&id).await.expect("read").expect("kept");
    assert_eq!(got.capacities, want);
    assert_eq!(got.version, 1);
    let history = store.history(&id).await.expect("history");
    assert_eq!(history[0].capacities, want);
    // The search rows too: available beds, at least 2, of that location.
    for (query, found) in [
        ("capacity-type=01&capacity-status=02&nb-capacity=ge4", true),
        ("capacity-type=01&capacity-status=03&nb-capacity=eq6", true),
        ("capacity-type=02&capacity-status=05", true),
        ("capacity-type=03", false),
        ("capacity-status=04", false),
    ] {
        let pairs: Vec<(String, String)> = format!("_id={id}&{query}")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let q = parse(ResourceType::Location, &pairs).expect(query);
        let (page, _) = store.search_locations(&q).await.expect("search");
        assert_eq!(page.len(), usize::from(found), "{query}");
    }
    let v = store
        .service(&services[0].id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(
        (
            v.service_type.as_str(),
            v.specialty.as_str(),
            v.care_mode.as_str()
        ),
        ("03", "127", "28")
    );
});
