//! Benchmark of LDAP publication into a throwaway OpenLDAP slapd (run by
//! `scripts/bench-ldap.sh`; not a test).
//!
//! 1. Sustained publication: BENCH_BACKLOG certificates are issued with the publisher stopped,
//!    then the publisher drains the backlog; entries/s = certificates / drain time.
//! 2. Lag at a paced arrival rate: BENCH_PACED more certificates are issued, their outbox rows
//!    set aside, then written back at BENCH_RATE rows/s while the publisher runs; the lag of a
//!    row is the time from its write to its delivery.
//! 3. Lag under issuance load: BENCH_LOAD certificates issued as fast as the CA can while the
//!    publisher runs.
//!
//! BENCH_DB=postgres runs on the throwaway PostgreSQL cluster instead of SQLite.

use coeur_testkit as support;

use coeur::ca::ldap::publisher::Publisher;
use coeur::common::random::Clock as _;
use coeur::pki::csr::{self, SubjectRequest};
use coeur::pki::hierarchy::KeyType;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::slapd::{ROOT_DN, ROOT_PW, SUFFIX, Slapd};
use support::{Db, TestServer, realms_dir};

const ORG: &str = "MOD-EL-ORG-TEST";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn structure(i: usize) -> &'static str {
    ["318751275100020", "1010000024"][i % 2]
}

/// Issues `n` certificates from `tasks` concurrent issuers; `each` sees every outbox row id
/// when its issuance has committed.
async fn issue_many(
    s: &Arc<TestServer>,
    tag: &str,
    n: usize,
    tasks: usize,
    each: Option<Arc<Mutex<HashMap<String, Instant>>>>,
) -> Duration {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let spki = rcgen::PublicKeyData::subject_public_key_info(&kp);
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (s, spki, tag, each) = (s.clone(), spki.clone(), tag.to_owned(), each.clone());
        handles.push(tokio::spawn(async move {
            let ca = &s.ca.ca;
            let p = ca.profile("ORG_AUTH_CLI").expect("profile").clone();
            let def = ca.ca(ORG).expect("ca").def.clone();
            let mut i = t;
            let mut failures = 0;
            while i < n {
                let req = SubjectRequest {
                    structure_id: Some(structure(i).into()),
                    organization: Some("HOPITAL DE BANC D'ESSAI".into()),
                    state: Some("Paris (75)".into()),
                    service_name: Some(format!("{tag}-{i}")),
                    ..Default::default()
                };
                let approved =
                    csr::approve_key(&spki, KeyType::P256, &req, &p, &def).expect("approved");
                let r = ca
                    .issue(
                        &*s.state.rng,
                        &coeur::ca::ca::Issuance {
                            approved: &approved,
                            ca_id: ORG,
                            profile: "ORG_AUTH_CLI",
                            actor: "bench",
                            request: None,
                        },
                        s.clock.now(),
                    )
                    .await;
                match r {
                    Ok((serial, _)) => {
                        if let Some(m) = &each {
                            m.lock()
                                .expect("lock")
                                .insert(format!("issue:{ORG}/{serial}"), Instant::now());
                        }
                        i += tasks;
                    }
                    // Audit-chain contention between issuers: retried, as a client would.
                    Err(e) => {
                        failures += 1;
                        assert!(failures < 1000, "issuance keeps failing: {e}");
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("issuer");
    }
    t0.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report_lags(label: &str, mut lags: Vec<Duration>) {
    lags.sort();
    println!(
        "{label}: rows={} lag_p50_ms={:.1} lag_p95_ms={:.1} lag_p99_ms={:.1} lag_max_ms={:.1}",
        lags.len(),
        percentile(&lags, 0.50).as_secs_f64() * 1e3,
        percentile(&lags, 0.95).as_secs_f64() * 1e3,
        percentile(&lags, 0.99).as_secs_f64() * 1e3,
        lags.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// Runs the publisher as `serve` does (batches, idle poll) until `stop`, measuring each
/// delivered row's lag against `sent`.
async fn publish_measuring(
    mut p: Publisher,
    sent: Arc<Mutex<HashMap<String, Instant>>>,
    expect: usize,
) -> (Publisher, Vec<Duration>, Duration) {
    let mut lags = Vec::with_capacity(expect);
    let t0 = Instant::now();
    let mut busy = Duration::ZERO;
    let mut seen = 0usize;
    while seen < expect {
        let b0 = Instant::now();
        let b = p.batch().await.expect("batch");
        let now = Instant::now();
        if b.delivered.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        busy += now - b0;
        let m = sent.lock().expect("lock");
        for id in b.delivered.iter().filter(|id| id.starts_with("issue:")) {
            seen += 1;
            // A row delivered before its issuer noted the commit: a lag of about zero.
            lags.push(
                m.get(id)
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(*t)),
            );
        }
        assert_eq!(b.refused, 0, "rows refused");
        if t0.elapsed() > Duration::from_secs(600) {
            panic!("publication did not keep up within 10 minutes");
        }
    }
    (p, lags, busy)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = match std::env::var("BENCH_DB").as_deref() {
        Ok("postgres") => Db::Postgres,
        _ => Db::Sqlite,
    };
    let (s, _slapd, mut p) = start(db).await;
    println!(
        "database: {db:?}; slapd: mdb, dbnosync, loopback; publisher: batches of {} rows, {} operations in flight",
        coeur::ca::ldap::publisher::BATCH,
        coeur::ca::ldap::publisher::CONCURRENCY
    );
    sustained(&s, &mut p, env_usize("BENCH_BACKLOG", 20_000)).await;
    let p = paced(
        &s,
        p,
        env_usize("BENCH_PACED", 15_000),
        env_usize("BENCH_RATE", 5_000).max(1),
    )
    .await;
    under_load(&s, p, env_usize("BENCH_LOAD", 5_000)).await;
}

/// A server publishing to a throwaway slapd, its CRLs made, and a publisher (not running)
/// that has delivered the start-up rows (CA certificates, CRLs).
async fn start(db: Db) -> (Arc<TestServer>, Slapd, Publisher) {
    let slapd = Slapd::start();
    let url = slapd.url.clone();
    let s = Arc::new(
        TestServer::start_with(db, &realms_dir(), move |o| {
            o.common.ldap_url = Some(url);
            o.common.ldap_bind_dn = Some(ROOT_DN.into());
            o.secrets.ldap_bind_password = Some(ROOT_PW.into());
            o.common.ldap_base_dn = Some(SUFFIX.into());
        })
        .await,
    );
    let ca = &s.ca.ca;
    let mut ids: Vec<String> = ca.cas.keys().cloned().collect();
    ids.sort();
    for id in &ids {
        ca.current_crl(&s.ca.store, id, false, s.clock.now())
            .await
            .expect("crl");
    }
    let cfg = s.app.cfg.ldap.clone().expect("ldap config");
    let mut p = Publisher::new(
        cfg,
        s.ca.ca.clone(),
        s.ca.store.clone(),
        s.state.clock.clone(),
        "bench".into(),
    );
    while !p.batch().await.expect("batch").delivered.is_empty() {}
    (s, slapd, p)
}

/// Sustained publication (1.): a backlog of `backlog` certificates.
async fn sustained(s: &Arc<TestServer>, p: &mut Publisher, backlog: usize) {
    let t = issue_many(s, "backlog", backlog, 2, None).await;
    println!(
        "backlog: issued {backlog} certificates in {:.1} s ({:.0} issuances/s)",
        t.as_secs_f64(),
        backlog as f64 / t.as_secs_f64()
    );
    let t0 = Instant::now();
    let mut delivered = 0usize;
    loop {
        let b = p.batch().await.expect("batch");
        if b.delivered.is_empty() {
            break;
        }
        assert_eq!(b.refused, 0);
        delivered += b.delivered.len();
    }
    let t = t0.elapsed();
    println!(
        "sustained publication: entries={delivered} seconds={:.2} entries_per_s={:.0}",
        t.as_secs_f64(),
        delivered as f64 / t.as_secs_f64()
    );
}

/// Lag at a paced arrival rate (2.): `n` certificates issued, their outbox rows set aside and
/// written back at `rate` rows/s while the publisher runs.
async fn paced(s: &Arc<TestServer>, p: Publisher, n: usize, rate: usize) -> Publisher {
    issue_many(s, "paced", n, 2, None).await;
    let pool = s.ca.store.pool();
    let rows: Vec<(String, String)> = {
        use sqlx::Row as _;
        sqlx::query("SELECT id, serial FROM ldap_outbox WHERE done_at IS NULL ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("rows")
            .iter()
            .map(|r| (r.get("id"), r.get("serial")))
            .collect()
    };
    sqlx::query("DELETE FROM ldap_outbox WHERE done_at IS NULL")
        .execute(pool)
        .await
        .expect("set aside");
    let sent = Arc::new(Mutex::new(HashMap::new()));
    let n = rows.len();
    let writer = tokio::spawn(write_paced(s.clone(), rows, rate, sent.clone()));
    let (p, lags, busy) = publish_measuring(p, sent, n).await;
    let offered = writer.await.expect("writer");
    println!(
        "paced arrivals: rate_offered_per_s={:.0} over {:.1} s; publisher busy {:.1} s",
        n as f64 / offered.as_secs_f64(),
        offered.as_secs_f64(),
        busy.as_secs_f64()
    );
    report_lags("lag at paced rate", lags);
    p
}

/// Writes `rows` back into the outbox at `rate` rows/s (a transaction every 10 ms), noting
/// when each was written; returns how long that took.
async fn write_paced(
    s: Arc<TestServer>,
    rows: Vec<(String, String)>,
    rate: usize,
    sent: Arc<Mutex<HashMap<String, Instant>>>,
) -> Duration {
    let t0 = Instant::now();
    let per_tick = (rate / 100).max(1);
    for (k, chunk) in rows.chunks(per_tick).enumerate() {
        let due = t0 + Duration::from_millis(10 * k as u64);
        tokio::time::sleep_until(due.into()).await;
        let mut tx = s.ca.store.pool().begin().await.expect("tx");
        for (id, serial) in chunk {
            sqlx::query("INSERT INTO ldap_outbox (id, kind, ca_id, serial, created_at, attempts, next_attempt_at) VALUES ($1, 'cert', $2, $3, $4, 0, $4)")
                .bind(id)
                .bind(ORG)
                .bind(serial)
                .bind(s.clock.now())
                .execute(&mut *tx)
                .await
                .expect("row");
        }
        tx.commit().await.expect("commit");
        let now = Instant::now();
        let mut m = sent.lock().expect("lock");
        for (id, _) in chunk {
            m.insert(id.clone(), now);
        }
    }
    t0.elapsed()
}

/// Lag under issuance load (3.): `load` certificates issued as fast as the CA can while the
/// publisher runs.
async fn under_load(s: &Arc<TestServer>, p: Publisher, load: usize) {
    let sent = Arc::new(Mutex::new(HashMap::new()));
    let issuer = {
        let (s, sent) = (s.clone(), sent.clone());
        tokio::spawn(async move { issue_many(&s, "live", load, 2, Some(sent)).await })
    };
    let (_p, lags, _) = publish_measuring(p, sent, load).await;
    let t = issuer.await.expect("issuer");
    println!(
        "issuance load: issued {load} in {:.1} s ({:.0} issuances/s) while publishing",
        t.as_secs_f64(),
        load as f64 / t.as_secs_f64()
    );
    report_lags("lag under issuance load", lags);
}
