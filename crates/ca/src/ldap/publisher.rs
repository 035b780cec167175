//! The publisher: takes the lease, delivers due outbox rows to the directory in batches
//! (concurrently, one operation per changed key), marks them done, backs off when the directory
//! is away or refuses a row, and keeps the counters `/metrics` shows.

use super::outbox::{self, Kind, Row};
use super::{DirError, Directory};
use crate::ca::Ca;
use crate::config::LdapConfig;
use crate::service::CaService;
use crate::store::{CaStore, StoredCert};
use anyhow::Result;
use coeur_common::random::Clock;
use coeur_pki::directory::{self as dir, CA_CERT_ATTR, CRL_ATTR, DELTA_CRL_ATTR};
use futures_util::StreamExt as _;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Rows read per batch.
pub const BATCH: i64 = 1000;
/// Operations in flight on the directory connection.
pub const CONCURRENCY: usize = 64;
/// How often an idle publisher looks for new rows.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// Lease lifetime (seconds); renewed on every batch.
const LEASE_TTL: i64 = 30;
/// Delivered rows are kept this long (seconds) for `coeur ldap status`.
const KEEP_DONE: i64 = 7 * 86_400;
/// Longest wait before retrying a refused row (seconds).
const MAX_ROW_BACKOFF: i64 = 300;

/// Process-wide counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    published: AtomicU64,
    failures: AtomicU64,
    up: AtomicBool,
    running: AtomicBool,
    last_lag: AtomicI64,
}

/// The counters.
pub static METRICS: Metrics = Metrics {
    published: AtomicU64::new(0),
    failures: AtomicU64::new(0),
    up: AtomicBool::new(false),
    running: AtomicBool::new(false),
    last_lag: AtomicI64::new(0),
};

/// The Prometheus text exposition of LDAP publication (queue figures read from the store).
pub async fn metrics_text(store: &CaStore, now: i64, configured: bool) -> Result<String> {
    let q = outbox::status(store, now).await?;
    let oldest = q.oldest_pending_at.map_or(0, |t| (now - t).max(0));
    let m = &METRICS;
    let mut s = String::new();
    let mut put = |name: &str, kind: &str, help: &str, v: String| {
        s.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    };
    put(
        "coeur_ldap_publication_enabled",
        "gauge",
        "Whether LDAP publication is configured in this process.",
        u8::from(configured).to_string(),
    );
    put(
        "coeur_ldap_outbox_pending",
        "gauge",
        "Publication rows not delivered to the directory yet.",
        q.pending.to_string(),
    );
    put(
        "coeur_ldap_outbox_failing",
        "gauge",
        "Pending rows the directory refused at least once.",
        q.failing.to_string(),
    );
    put(
        "coeur_ldap_outbox_oldest_pending_seconds",
        "gauge",
        "Age of the oldest undelivered row.",
        oldest.to_string(),
    );
    put(
        "coeur_ldap_published_total",
        "counter",
        "Rows delivered by this process.",
        m.published.load(Ordering::Relaxed).to_string(),
    );
    put(
        "coeur_ldap_publish_failures_total",
        "counter",
        "Failed deliveries (refused rows and unreachable directory) in this process.",
        m.failures.load(Ordering::Relaxed).to_string(),
    );
    put(
        "coeur_ldap_directory_up",
        "gauge",
        "Whether this process's publisher reached the directory on its last try.",
        u8::from(m.running.load(Ordering::Relaxed) && m.up.load(Ordering::Relaxed)).to_string(),
    );
    put(
        "coeur_ldap_publication_lag_seconds",
        "gauge",
        "Age of the oldest row of the last delivered batch, when delivered.",
        m.last_lag.load(Ordering::Relaxed).to_string(),
    );
    Ok(s)
}

/// What one key (several rows may announce the same change) asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    kind: Kind,
    ca_id: String,
    serial: Option<String>,
}

async fn load_certs(
    store: &CaStore,
    keys: &[&Key],
) -> Result<HashMap<(String, String), StoredCert>> {
    let mut by_ca: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for k in keys {
        if let (Kind::Cert, Some(s)) = (k.kind, &k.serial) {
            by_ca.entry(&k.ca_id).or_default().push(s);
        }
    }
    let mut out = HashMap::new();
    for (ca, serials) in by_ca {
        for (serial, cert) in store.certificates_by_serial(ca, &serials).await? {
            out.insert((ca.to_owned(), serial), cert);
        }
    }
    Ok(out)
}

/// Brings a certificate's holder entries in line with its state. Returns entries changed.
pub(super) async fn sync_cert(
    ca: &Ca,
    d: &Directory,
    ca_id: &str,
    cert: &StoredCert,
    now: i64,
) -> Result<usize, DirError> {
    let def = ca
        .hierarchy
        .ca(ca_id)
        .ok_or_else(|| DirError::Refused(format!("CA {ca_id} is not in the hierarchy")))?;
    let profile = ca.profile(&cert.profile).ok_or_else(|| {
        DirError::Refused(format!("profile {} is not in profiles.toml", cert.profile))
    })?;
    let holders = dir::placement(&ca.hierarchy, def, profile, &cert.der)
        .map_err(|e| DirError::Refused(format!("{ca_id}: {e}")))?;
    let mut changed = 0;
    if dir::publishable(cert.revoked_at, cert.not_after, now) {
        for h in &holders {
            changed += usize::from(d.ensure_cert(h).await?);
        }
    } else {
        for h in &holders {
            changed += usize::from(
                d.remove_cert(&h.entry.dn.to_string(), h.attr, &h.value)
                    .await?,
            );
        }
    }
    Ok(changed)
}

/// A CA's current CRL (full or delta), from the store, where whichever instance built it
/// stored it; when there is none, built if `build` (the publisher does not build: the CA's
/// housekeeping does, and each build announces itself). `None` when the store has none.
pub(super) async fn current_crl(
    ca: &Ca,
    store: &CaStore,
    ca_id: &str,
    delta: bool,
    build: bool,
    now: i64,
) -> Result<Option<Vec<u8>>> {
    if let Some(der) = ca.stored_crl(store, ca_id, delta).await? {
        return Ok(Some(der.to_vec()));
    }
    if !build || !ca.cas.contains_key(ca_id) {
        return Ok(None);
    }
    let der = ca
        .current_crl(store, ca_id, delta, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(der.to_vec()))
}

async fn deliver(
    ca: &Ca,
    store: &CaStore,
    d: &Directory,
    key: &Key,
    cert: Option<&StoredCert>,
    now: i64,
) -> Result<(), DirError> {
    let internal = |e: anyhow::Error| DirError::Refused(format!("{e:#}"));
    match key.kind {
        Kind::Cert => {
            let Some(cert) = cert else {
                tracing::warn!(ca = %key.ca_id, serial = ?key.serial, "outbox row names an unknown certificate; nothing to publish");
                return Ok(());
            };
            sync_cert(ca, d, &key.ca_id, cert, now).await.map(|_| ())
        }
        Kind::CaCert | Kind::Crl | Kind::DeltaCrl => {
            let Some(def) = ca.hierarchy.ca(&key.ca_id) else {
                tracing::warn!(ca = %key.ca_id, "outbox row names a CA outside the hierarchy; skipped");
                return Ok(());
            };
            let entry = dir::ca_entry(&ca.hierarchy, def);
            let (attr, value) = match key.kind {
                Kind::CaCert => (
                    CA_CERT_ATTR,
                    store.ca_cert(&key.ca_id).await.map_err(internal)?,
                ),
                k => {
                    let delta = k == Kind::DeltaCrl;
                    (
                        if delta { DELTA_CRL_ATTR } else { CRL_ATTR },
                        current_crl(ca, store, &key.ca_id, delta, false, now)
                            .await
                            .map_err(internal)?,
                    )
                }
            };
            let Some(value) = value else {
                tracing::warn!(ca = %key.ca_id, kind = key.kind.as_str(), "no CRL file here (another node builds it); not published from this one");
                return Ok(());
            };
            d.put_ca_attr(&entry, attr, &value).await
        }
    }
}

/// Back-off of a refused row after `attempts` earlier failures (seconds).
pub fn row_backoff(attempts: i64) -> i64 {
    (1i64 << attempts.clamp(0, 9)).min(MAX_ROW_BACKOFF)
}

/// Publishes the CA entries (certificates and current CRLs) of the CAs this process runs.
pub async fn publish_ca_entries(
    ca: &Ca,
    store: &CaStore,
    d: &Directory,
    now: i64,
) -> Result<(), DirError> {
    let internal = |e: anyhow::Error| DirError::Refused(format!("{e:#}"));
    let mut ids: Vec<&String> = ca.cas.keys().collect();
    ids.sort();
    for id in ids {
        let rt = &ca.cas[id];
        let entry = dir::ca_entry(&ca.hierarchy, &rt.def);
        d.put_ca_attr(&entry, CA_CERT_ATTR, &rt.cert_der).await?;
        for (delta, attr) in [(false, CRL_ATTR), (true, DELTA_CRL_ATTR)] {
            if let Some(crl) = current_crl(ca, store, id, delta, false, now)
                .await
                .map_err(internal)?
            {
                d.put_ca_attr(&entry, attr, &crl).await?;
            }
        }
    }
    Ok(())
}

/// Outcome of one batch.
#[derive(Debug, Default, Clone)]
pub struct BatchOutcome {
    /// Rows delivered (ids).
    pub delivered: Vec<String>,
    /// Rows refused (they are retried after a back-off).
    pub refused: usize,
}

/// A store failure during a batch, reported as the directory being unavailable (nothing is
/// marked, the batch is retried).
fn store_unavailable(e: anyhow::Error) -> DirError {
    DirError::Unavailable(format!("store: {e:#}"))
}

/// Groups due rows by what they publish (kind, CA, serial), in key order.
fn group_rows(rows: Vec<Row>) -> BTreeMap<Key, Vec<Row>> {
    let mut groups: BTreeMap<Key, Vec<Row>> = BTreeMap::new();
    for r in rows {
        groups
            .entry(Key {
                kind: r.kind,
                ca_id: r.ca_id.clone(),
                serial: r.serial.clone(),
            })
            .or_default()
            .push(r);
    }
    groups
}

/// The publisher.
pub struct Publisher {
    cfg: LdapConfig,
    ca: Arc<Ca>,
    store: CaStore,
    clock: Arc<dyn Clock>,
    holder: String,
    dir: Option<Directory>,
}

impl Publisher {
    /// A publisher for `cfg` (not connected yet).
    pub fn new(
        cfg: LdapConfig,
        ca: Arc<Ca>,
        store: CaStore,
        clock: Arc<dyn Clock>,
        holder: String,
    ) -> Self {
        Self {
            cfg,
            ca,
            store,
            clock,
            holder,
            dir: None,
        }
    }

    async fn directory(&mut self) -> Result<Directory, DirError> {
        if let Some(d) = &mut self.dir
            && !d.is_closed()
        {
            return Ok(d.clone());
        }
        self.dir = None;
        let d = Directory::connect(&self.cfg).await?;
        let now = self.clock.now();
        publish_ca_entries(&self.ca, &self.store, &d, now).await?;
        tracing::info!(target_url = %self.cfg.url, "LDAP directory connected; CA entries published");
        self.dir = Some(d.clone());
        Ok(d)
    }

    /// Delivers one batch of due rows. An unreachable directory is an error (nothing is
    /// marked); refused rows are marked for a later retry.
    pub async fn batch(&mut self) -> Result<BatchOutcome, DirError> {
        let now = self.clock.now();
        let rows = outbox::due(&self.store, now, BATCH)
            .await
            .map_err(store_unavailable)?;
        if rows.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let d = self.directory().await?;
        let groups = group_rows(rows);
        let results = self.deliver_groups(&d, &groups, now).await?;
        let (out, unavailable, oldest) = self.settle(&groups, results, now).await?;
        outbox::mark_done(&self.store, &out.delivered, now)
            .await
            .map_err(store_unavailable)?;
        if !out.delivered.is_empty() {
            METRICS
                .published
                .fetch_add(out.delivered.len() as u64, Ordering::Relaxed);
            METRICS.last_lag.store(now - oldest, Ordering::Relaxed);
            tracing::debug!(
                rows = out.delivered.len(),
                refused = out.refused,
                "LDAP batch delivered"
            );
        }
        match unavailable {
            Some(e) => {
                self.dir = None;
                Err(DirError::Unavailable(e))
            }
            None => Ok(out),
        }
    }

    /// Loads the certificates the groups name and delivers each group to the directory,
    /// `CONCURRENCY` at a time; returns each group's result.
    async fn deliver_groups(
        &self,
        d: &Directory,
        groups: &BTreeMap<Key, Vec<Row>>,
        now: i64,
    ) -> Result<Vec<(Key, Result<(), DirError>)>, DirError> {
        let keys: Vec<&Key> = groups.keys().collect();
        let certs = load_certs(&self.store, &keys)
            .await
            .map_err(store_unavailable)?;
        let jobs: Vec<(Key, Option<StoredCert>)> = groups
            .keys()
            .map(|k| {
                let cert = k
                    .serial
                    .as_ref()
                    .and_then(|s| certs.get(&(k.ca_id.clone(), s.clone())))
                    .cloned();
                (k.clone(), cert)
            })
            .collect();
        Ok(
            futures_util::stream::iter(jobs.into_iter().map(|(k, cert)| {
                let (ca, store, d) = (self.ca.clone(), self.store.clone(), d.clone());
                async move {
                    let r = deliver(&ca, &store, &d, &k, cert.as_ref(), now).await;
                    (k, r)
                }
            }))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await,
        )
    }

    /// Sorts the groups' results: delivered rows are collected, refused rows are marked for a
    /// retry after their back-off. Returns the outcome, the last "directory unavailable" error
    /// met, and the creation time of the oldest delivered row (`now` if none).
    async fn settle(
        &self,
        groups: &BTreeMap<Key, Vec<Row>>,
        results: Vec<(Key, Result<(), DirError>)>,
        now: i64,
    ) -> Result<(BatchOutcome, Option<String>, i64), DirError> {
        let mut out = BatchOutcome::default();
        let mut unavailable: Option<String> = None;
        let mut oldest = now;
        for (k, r) in results {
            let rows = &groups[&k];
            match r {
                Ok(()) => {
                    for row in rows {
                        oldest = oldest.min(row.created_at);
                        out.delivered.push(row.id.clone());
                    }
                }
                Err(DirError::Unavailable(e)) => unavailable = Some(e),
                Err(DirError::Refused(e)) => {
                    out.refused += rows.len();
                    METRICS
                        .failures
                        .fetch_add(rows.len() as u64, Ordering::Relaxed);
                    for row in rows {
                        let retry = now + row_backoff(row.attempts);
                        tracing::warn!(row = %row.id, attempts = row.attempts + 1, retry_in = retry - now, error = %e, "LDAP publication refused");
                        outbox::mark_failed(&self.store, &row.id, retry, &e)
                            .await
                            .map_err(store_unavailable)?;
                    }
                }
            }
        }
        Ok((out, unavailable, oldest))
    }

    /// Runs until `stop` turns true: lease, batches, back-off.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        METRICS.running.store(true, Ordering::Relaxed);
        let target = self.cfg.describe();
        let mut backoff = Duration::from_millis(250);
        let max_backoff = Duration::from_secs(30);
        let mut last_purge = 0i64;
        let mut last_health = 0i64;
        let mut down_since: Option<i64> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let now = self.clock.now();
            let wait = match outbox::take_lease(&self.store, &self.holder, &target, now, LEASE_TTL)
                .await
            {
                Ok(false) => Some(Duration::from_secs(5)),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "LDAP publisher: store unavailable");
                    Some(backoff)
                }
                Ok(true) => match self.batch().await {
                    Ok(b) => {
                        METRICS.up.store(true, Ordering::Relaxed);
                        backoff = Duration::from_millis(250);
                        if let Some(since) = down_since.take() {
                            tracing::info!(
                                down_for = now - since,
                                "LDAP directory reachable again"
                            );
                        }
                        if !b.delivered.is_empty() && now - last_health >= 5 {
                            last_health = now;
                            let _ =
                                outbox::record_health(&self.store, &self.holder, now, None).await;
                        }
                        if now - last_purge > 3600 {
                            last_purge = now;
                            match outbox::purge_done(&self.store, now - KEEP_DONE).await {
                                Ok(n) if n > 0 => {
                                    tracing::debug!(rows = n, "purged delivered outbox rows")
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::warn!(error = %format!("{e:#}"), "outbox purge failed")
                                }
                            }
                        }
                        (b.delivered.is_empty() && b.refused == 0).then_some(IDLE_POLL)
                    }
                    Err(e) => {
                        METRICS.up.store(false, Ordering::Relaxed);
                        METRICS.failures.fetch_add(1, Ordering::Relaxed);
                        let msg = e.to_string();
                        if down_since.is_none() {
                            down_since = Some(now);
                        }
                        tracing::warn!(error = %msg, retry_in_ms = backoff.as_millis() as u64, "LDAP publication paused");
                        let _ =
                            outbox::record_health(&self.store, &self.holder, now, Some(&msg)).await;
                        let w = backoff;
                        backoff = (backoff * 2).min(max_backoff);
                        Some(w)
                    }
                },
            };
            if let Some(w) = wait {
                tokio::select! {
                    _ = tokio::time::sleep(w) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        let _ = outbox::release_lease(&self.store, &self.holder).await;
        METRICS.running.store(false, Ordering::Relaxed);
    }
}

/// A running publisher: stop it with [`PublisherHandle::stop`]; dropping it aborts it.
pub struct PublisherHandle {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl PublisherHandle {
    /// Asks the publisher to finish its batch and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for PublisherHandle {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Starts the publisher when LDAP publication is configured.
pub fn spawn(state: &CaService) -> Option<PublisherHandle> {
    let cfg = state.ldap.clone()?;
    let holder = format!(
        "{}:{}",
        std::process::id(),
        coeur_common::random::id128(&*state.rng)
    );
    let p = Publisher::new(
        cfg,
        state.ca.clone(),
        state.store.clone(),
        state.clock.clone(),
        holder,
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(p.run(rx));
    Some(PublisherHandle {
        stop: tx,
        task: Some(task),
    })
}

/// `/metrics` (Prometheus text format): the figures the process recorded
/// (`coeur_web::metrics`), then the LDAP publication's, read from the store.
pub async fn http_metrics(
    axum::extract::State(state): axum::extract::State<crate::http::CaState>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match metrics_text(&state.store, state.now(), state.ldap.is_some()).await {
        Ok(ldap) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            coeur_web::metrics::render() + &ldap,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "metrics");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "metrics unavailable",
            )
                .into_response()
        }
    }
}
