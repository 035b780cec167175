//! The offer's throughput on one core (driven by `scripts/bench-offer.sh`): a store of
//! generated Locations, then audited capacity updates (authorisation, JSON Patch, versioned
//! write with its history row) and searches (by capacity type and status; `near` 20 km),
//! each for a few seconds, with the 99th percentile of their latencies.
//!
//! Arguments: DATABASE_URL LOCATIONS SECONDS

use coeur_offer::authz::{Editor, authorise_edit};
use coeur_offer::generate::{offer_of, synthetic_structures};
use coeur_offer::patch::apply;
use coeur_offer::query::{ResourceType, parse};
use coeur_offer::store::{Store, Updated};
use std::time::{Duration, Instant};

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() * 99 / 100).copied().unwrap_or_default()
}

fn report(what: &str, lat: Vec<Duration>, spent: Duration) {
    let n = lat.len();
    println!(
        "{what:<34} {n:>7} in {:>5.1} s  {:>8.0}/s  p99 {:>6.2} ms",
        spent.as_secs_f64(),
        n as f64 / spent.as_secs_f64(),
        p99(lat).as_secs_f64() * 1000.0
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or("sqlite://bench-offre.db".into());
    let want: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50_000);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let store = Store::connect(&url).await?;
    let now = 1_767_225_600;
    let (mut locations, mut services) = (vec![], vec![]);
    let mut structures = synthetic_structures(want).into_iter();
    while locations.len() < want {
        let Some(s) = structures.next() else { break };
        let (l, v) = offer_of(&s, 3, now);
        locations.extend(l);
        services.extend(v);
    }
    locations.truncate(want);
    let ids: std::collections::HashSet<&str> = locations.iter().map(|l| l.id.as_str()).collect();
    services.retain(|s| ids.contains(s.location_id.as_str()));
    if store.count_locations().await? == 0 {
        let t = Instant::now();
        store.insert_offer(&locations, &services).await?;
        println!(
            "filled {} locations in {:.1} s",
            locations.len(),
            t.elapsed().as_secs_f64()
        );
    }
    let editor = Editor::ServiceAccount {
        client_id: "bench".into(),
    };

    // Audited updates: read, authorise, patch, versioned write + history.
    let (mut lat, start, mut i) = (vec![], Instant::now(), 0usize);
    while start.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        let id = &locations[(i * 7919) % locations.len()].id;
        let Some(current) = store.location(id).await? else {
            continue;
        };
        let ties = [current.finess.clone()];
        let auth = authorise_edit(&editor, "offer:write", &ties, id, &current.finess)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let body = format!(
            r#"[{{"op":"replace","path":"/extension/1/extension/3/valueInteger","value":{}}}]"#,
            i % 30
        );
        let caps = apply(&current.resource(), body.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}", e.diagnostics()))?;
        match store
            .update_capacities(&auth, current.version, &caps, now + i as i64)
            .await?
        {
            Updated::Done(_) => {}
            other => anyhow::bail!("unexpected {other:?}"),
        }
        lat.push(t.elapsed());
        i += 1;
    }
    report("capacity updates (audited)", lat, start.elapsed());

    for (what, queries) in [
        (
            "searches by type and status",
            vec![
                "capacity-type=01&capacity-status=03&nb-capacity=ge10&_count=20",
                "capacity-type=02&capacity-status=03&_count=20",
                "capacity-type=03&capacity-status=03&nb-capacity=gt0&_count=20",
            ],
        ),
        (
            "searches near 20 km",
            vec![
                "near=48.84|2.388|20|km&_count=20",
                "near=45.76|4.85|20|km&capacity-status=03&_count=20",
                "near=43.6045|1.444|20|km&_count=20",
            ],
        ),
    ] {
        let parsed: Vec<_> = queries
            .iter()
            .map(|q| {
                let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                parse(ResourceType::Location, &pairs).map_err(|e| anyhow::anyhow!(e))
            })
            .collect::<Result<_, _>>()?;
        let (mut lat, start, mut i) = (vec![], Instant::now(), 0usize);
        while start.elapsed() < Duration::from_secs(secs) {
            let t = Instant::now();
            let (found, _) = store.search_locations(&parsed[i % parsed.len()]).await?;
            std::hint::black_box(found);
            lat.push(t.elapsed());
            i += 1;
        }
        report(what, lat, start.elapsed());
    }
    Ok(())
}
