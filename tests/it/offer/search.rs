//! The store's searches against a reference computed from the records themselves, before and
//! after capacity updates: the capacities' index (type, status, location), kept in the
//! update's transaction, finds exactly the matching locations, in id order, page by page;
//! `near`, from the positions held in memory, gives exactly the locations of the bounding box
//! within the distance, by distance then id, page by page, also after another instance of the
//! store added locations.

use super::*;
use crate::both_dbs;
use coeur_offer::authz::{Editor, WRITE_SCOPE, authorise_edit};
use coeur_offer::model::Capacity;
use coeur_offer::query::{
    Query, ResourceType, bounding_box, distance_km, number_matches, parse, time_matches,
};
use coeur_offer::store::Updated;

/// Whether `l` has one capacity matching every capacity parameter of `q`.
fn capacity_matches(q: &Query, l: &LocationRecord) -> bool {
    let any = |v: &[String], x: &String| v.is_empty() || v.contains(x);
    !q.has_capacity_filter()
        || l.capacities.iter().any(|c| {
            any(&q.capacity_types, &c.capacity_type)
                && any(&q.capacity_statuses, &c.status)
                && any(&q.temporalities, &c.temporality)
                && number_matches(i64::from(c.nb), &q.nb_capacity)
                && time_matches(c.update_date, &q.capacity_update)
        })
}

/// The page `q` asks for, from the records: ids, and whether there are more.
fn reference(q: &Query, all: &[LocationRecord]) -> (Vec<String>, bool) {
    let mut hits: Vec<(f64, &LocationRecord)> = all
        .iter()
        .filter(|l| capacity_matches(q, l))
        .filter(|l| q.regions.is_empty() || q.regions.contains(&l.region))
        .filter_map(|l| match &q.near {
            None => Some((0.0, l)),
            Some(n) => {
                let (a, b, c, d) = bounding_box(n);
                let dist = distance_km(n.lat, n.lon, l.lat, l.lon);
                (l.lat >= a && l.lat <= b && l.lon >= c && l.lon <= d && dist <= n.km)
                    .then_some((dist, l))
            }
        })
        .collect();
    hits.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.id.cmp(&y.1.id)));
    let more = hits.len() > q.offset + q.count;
    let page = hits
        .into_iter()
        .skip(q.offset)
        .take(q.count)
        .map(|(_, l)| l.id.clone())
        .collect();
    (page, more)
}

fn query(s: &str) -> Query {
    let pairs: Vec<(String, String)> = s
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    parse(ResourceType::Location, &pairs).expect(s)
}

async fn check_searches(store: &Store, all: &[LocationRecord], when: &str) {
    let mut searches = vec![];
    for filter in [
        "capacity-type=01&capacity-status=02",
        "capacity-type=01&capacity-status=02&nb-capacity=ge10",
        "capacity-type=02&capacity-status=02",
        "capacity-type=01&capacity-status=06&nb-capacity=gt0",
        "capacity-type=03&capacity-status=02&nb-capacity=gt0",
        "capacity-type=01,02&capacity-status=03,02&nb-capacity=lt4",
        "capacity-status=02&nb-capacity=eq0",
        "capacity-type=03",
        "capacity-status=06",
        "capacity-type=01&capacity-status=01&temporality-capacity=01&nb-capacity=ge30",
        "capacity-type=01&capacity-status=02&capacity-update-date=gt2026-01-01T00:00:00Z",
        "capacity-type=02&capacity-status=02&_tag=84",
        "capacity-type=01&capacity-status=02&nb-capacity=ge1000",
        "_tag=11",
        "near=48.84|2.388|20|km",
        "near=48.84|2.388|1|km",
        "near=48.845|2.39|300|m&capacity-type=01&capacity-status=02&nb-capacity=ge5",
        "near=45.76|4.85|20|km&capacity-status=02",
        "near=45.76|4.85|5|km&capacity-status=06",
        "near=45.76|4.85|5|km&capacity-type=03",
        "near=43.6045|1.444|20|km&_tag=76",
        "near=46.0|3.0|20|km",
        "near=48.84|2.388|1000|km&capacity-type=02",
    ] {
        for page in [
            "_count=7",
            "_count=7&_offset=7",
            "_count=20&_offset=33",
            "_count=1000",
        ] {
            searches.push(format!("{filter}&{page}"));
        }
    }
    for s in &searches {
        let q = query(s);
        let (found, more) = store.search_locations(&q).await.expect("search");
        let ids: Vec<String> = found.iter().map(|l| l.id.clone()).collect();
        let (want, want_more) = reference(&q, all);
        assert_eq!((ids, more), (want, want_more), "{when}: {s}");
        for l in &found {
            let record = all.iter().find(|r| r.id == l.id).expect("known");
            assert_eq!(l, record, "{when}: {s}");
        }
    }
}

both_dbs!(offer_capacity_index_and_near, |db| async move {
    let (url, _dir) = store_url(db).await;
    let store = Store::connect(&url).await.expect("offer store");
    let (mut all, mut services) = (vec![], vec![]);
    for st in synthetic_structures(400) {
        let (l, s) = offer_of(&st, 3, NOW);
        all.extend(l);
        services.extend(s);
    }
    store.insert_offer(&all, &services).await.expect("fill");
    check_searches(&store, &all, "generated").await;

    // Capacities changed, added, removed: every second location of the first 300.
    let editor = Editor::ServiceAccount {
        client_id: "sih".into(),
    };
    for (i, l) in all
        .iter_mut()
        .take(300)
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
    {
        let mut caps: Vec<Capacity> = l.capacities.clone();
        match i % 6 {
            0 => caps[1].nb = (i % 5) as u32,
            2 => {
                let mut c = caps[0].clone();
                c.capacity_type = "03".into();
                c.status = "02".into();
                c.nb = 3;
                c.update_date = NOW + 86_400;
                caps.push(c);
            }
            _ => caps.retain(|c| c.status != "02"),
        }
        let auth = authorise_edit(
            &editor,
            WRITE_SCOPE,
            std::slice::from_ref(&l.finess),
            &l.id,
            &l.finess,
        )
        .expect("authorised");
        let now = NOW + 100 + i as i64;
        match store
            .update_capacities(&auth, l.version, &l.capacities, &caps, now)
            .await
            .expect("update")
        {
            Updated::Done(written) => {
                assert_eq!(written.capacities, caps);
                assert_eq!(written.version, l.version + 1);
                assert_eq!(
                    store.location(&l.id).await.expect("read").as_ref(),
                    Some(&*written)
                );
                *l = *written;
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.history(&l.id).await.expect("history").len(), 2);
    }
    check_searches(&store, &all, "after updates").await;

    // A stale version writes nothing.
    let l = &all[0];
    let auth = authorise_edit(
        &editor,
        WRITE_SCOPE,
        std::slice::from_ref(&l.finess),
        &l.id,
        &l.finess,
    )
    .expect("authorised");
    let r = store
        .update_capacities(&auth, l.version - 1, &l.capacities, &[], NOW + 9_999)
        .await
        .expect("stale");
    assert_eq!(r, Updated::Stale(l.version));
    check_searches(&store, &all, "after a stale update").await;

    // Another instance adds locations: `near` (positions held in memory) finds them too.
    let other = Store::connect(&url).await.expect("another instance");
    let (mut more, mut services) = (vec![], vec![]);
    for st in &synthetic_structures(460)[400..] {
        let (l, s) = offer_of(st, 3, NOW);
        more.extend(l);
        services.extend(s);
    }
    other.insert_offer(&more, &services).await.expect("fill");
    all.extend(more);
    check_searches(&store, &all, "after another instance's additions").await;
});
