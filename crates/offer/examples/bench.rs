//! The offer's throughput on one core (driven by `scripts/bench-offer.sh`): a store of
//! generated Locations, then audited capacity updates and searches, each for a few seconds,
//! with the 99th percentile of their latencies, against the issue's targets.
//!
//! Both go through the paths the FHIR API takes, without HTTP nor token checks: an update is
//! [`edit_capacities`] (the location read, the editor's structures asked (a structure's
//! service account, from the offer's table), [`authorise_edit`], a JSON Patch applied to the
//! Location as served, the versioned write with its history row in one transaction); a
//! search is its query string parsed into a `Query` ([`parse`]) and
//! [`Store::search_locations`] (by capacity type and status; `near` 20 km).
//!
//! Rates are given per second of wall time and per second of this process's CPU time (user
//! and system; with SQLite the database works inside the process, with PostgreSQL its
//! server's time is not counted).
//!
//! Arguments: DATABASE_URL LOCATIONS SECONDS [CONCURRENCY]: CONCURRENCY operations in flight
//! at once (default 1), as concurrent requests are served: one task each on the one thread,
//! sharing the store's pool (one SQLite connection; up to 8 PostgreSQL connections, whose
//! round trips then overlap).
//!
//! [`authorise_edit`]: coeur_offer::authz::authorise_edit

use coeur_common::random::testing::FixedClock;
use coeur_offer::authz::{Editor, WRITE_SCOPE};
use coeur_offer::edit::{Edited, edit_capacities};
use coeur_offer::generate::{offer_of, synthetic_structures};
use coeur_offer::http::{Config, Offer};
use coeur_offer::patch::apply;
use coeur_offer::query::{ResourceType, parse};
use coeur_offer::store::Store;
use coeur_resource_server::ratelimit::RateLimit;
use coeur_resource_server::{JwksSource, Verifier};
use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator of the offer's binaries (and of `coeur`, which may run the offer).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The issue's targets.
const UPDATES_PER_S: f64 = 2_000.0;
const SEARCHES_PER_S: f64 = 5_000.0;
const P99_MS: f64 = 25.0;

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() * 99 / 100).copied().unwrap_or_default()
}

/// This process's CPU time (user and system), from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), closed by ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Runs `op` for `secs` seconds, `concurrency` at once: each operation's latency, the wall
/// time and this process's CPU time.
async fn measure<F, Fut>(
    concurrency: usize,
    secs: u64,
    op: F,
) -> anyhow::Result<(Vec<Duration>, Duration, Option<Duration>)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (start, cpu0) = (Instant::now(), cpu_time());
    let deadline = start + Duration::from_secs(secs);
    let lanes = (0..concurrency).map(|_| async {
        let mut lat = vec![];
        while Instant::now() < deadline {
            let t = Instant::now();
            op().await?;
            lat.push(t.elapsed());
        }
        anyhow::Ok(lat)
    });
    let mut lat = vec![];
    for l in futures_util::future::join_all(lanes).await {
        lat.extend(l?);
    }
    let cpu = cpu_time().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    Ok((lat, start.elapsed(), cpu))
}

/// Prints a rate and p99 against the targets.
fn report(what: &str, lat: Vec<Duration>, wall: Duration, cpu: Option<Duration>, target: f64) {
    let n = lat.len() as f64;
    let rate = n / wall.as_secs_f64();
    let p99 = p99(lat).as_secs_f64() * 1000.0;
    let per_cpu = cpu
        .filter(|c| !c.is_zero())
        .map(|c| format!("{:>7.0}/CPU-s", n / c.as_secs_f64()))
        .unwrap_or_else(|| "      ?/CPU-s".into());
    let met = |ok: bool| if ok { "met" } else { "NOT MET" };
    println!(
        "{what:<30} {n:>7} in {:>4.1} s  {rate:>7.0}/s  {per_cpu}  p99 {p99:>6.2} ms  \
         (targets: >= {target:.0}/s {}, p99 <= {P99_MS:.0} ms {})",
        wall.as_secs_f64(),
        met(rate >= target),
        met(p99 <= P99_MS),
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
    let concurrency: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    println!("{concurrency} operation(s) in flight at once");
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
        // Each structure has its service account, the editor of the updates.
        let mut finess: Vec<&str> = locations.iter().map(|l| l.finess.as_str()).collect();
        finess.dedup();
        for f in &finess {
            store.add_service_account(&format!("bench-{f}"), f).await?;
        }
        println!(
            "filled {} locations of {} structures in {:.1} s",
            locations.len(),
            finess.len(),
            t.elapsed().as_secs_f64()
        );
    }
    let clock = Arc::new(FixedClock::at(now));
    let offer = Offer::new(
        store.clone(),
        // Never asked: no token is verified here.
        Arc::new(Verifier::new(
            Arc::new(JwksSource::new(
                "https://bench.invalid",
                "https://bench.invalid/jwks",
                reqwest::Client::new(),
            )),
            clock.clone(),
        )),
        clock.clone(),
        Config {
            base_url: "https://bench.invalid/fhir".into(),
            audiences: vec![],
            // Never counted: the bench calls the write path and the store directly.
            rate_limit: RateLimit::DEFAULT,
        },
        None,
    );

    // Audited updates, through the one write path.
    let next = Cell::new(0usize);
    let (lat, wall, cpu) = measure(concurrency, secs, || async {
        let i = next.replace(next.get() + 1);
        let l = &locations[(i * 7919) % locations.len()];
        let editor = Editor::ServiceAccount {
            client_id: format!("bench-{}", l.finess),
        };
        let body = format!(
            r#"[{{"op":"replace","path":"/extension/1/extension/3/valueInteger","value":{}}}]"#,
            i % 30
        );
        clock.advance(1);
        match edit_capacities(&offer, &editor, WRITE_SCOPE, &l.id, None, |current| {
            apply(&current.resource(), body.as_bytes())
        })
        .await?
        {
            Edited::Done(_) => Ok(()),
            other => anyhow::bail!("unexpected {other:?}"),
        }
    })
    .await?;
    report("capacity updates (audited)", lat, wall, cpu, UPDATES_PER_S);

    // The first `near` search of an instance reads the locations' positions, held from then
    // on (until a write adds locations): once, before the searches measured.
    let (t, cpu0) = (Instant::now(), cpu_time());
    let pairs = [("near".to_owned(), "48.84|2.388|20|km".to_owned())];
    let q = parse(ResourceType::Location, &pairs).map_err(|e| anyhow::anyhow!(e))?;
    store.search_locations(&q).await?;
    let cpu = cpu_time().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    println!(
        "first near search (the positions read) {:.1} ms, {:.1} ms CPU",
        t.elapsed().as_secs_f64() * 1e3,
        cpu.unwrap_or_default().as_secs_f64() * 1e3
    );
    let mut all = (vec![], Duration::ZERO, Some(Duration::ZERO));
    for (what, queries) in [
        (
            "searches by type and status",
            [
                "capacity-type=01&capacity-status=02&nb-capacity=ge10&_count=20",
                "capacity-type=02&capacity-status=02&_count=20",
                "capacity-type=01&capacity-status=06&nb-capacity=gt0&_count=20",
            ],
        ),
        (
            "searches near 20 km",
            [
                "near=48.84|2.388|20|km&_count=20",
                "near=45.76|4.85|20|km&capacity-status=02&_count=20",
                "near=43.6045|1.444|20|km&_count=20",
            ],
        ),
    ] {
        let next = Cell::new(0usize);
        let (lat, wall, cpu) = measure(concurrency, secs, || async {
            let i = next.replace(next.get() + 1);
            // As the API takes it: the query string decoded and parsed, then the search.
            let pairs: Vec<(String, String)> =
                url::form_urlencoded::parse(queries[i % queries.len()].as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
            let q = parse(ResourceType::Location, &pairs).map_err(|e| anyhow::anyhow!(e))?;
            let (found, _) = store.search_locations(&q).await?;
            anyhow::ensure!(!found.is_empty(), "{}: nothing found", queries[i % 3]);
            std::hint::black_box(found);
            Ok(())
        })
        .await?;
        all.0.extend(lat.iter().copied());
        all.1 += wall;
        all.2 = all.2.zip(cpu).map(|(a, b)| a + b);
        report(what, lat, wall, cpu, SEARCHES_PER_S);
    }
    report("searches, all", all.0, all.1, all.2, SEARCHES_PER_S);
    Ok(())
}
