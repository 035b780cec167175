//! The realm's identities kept in sync from the health directory, read over its FHIR API as
//! any third party reads it: a client-credentials token of the realm (`directory:read`), then
//! searches paged by their `next` links. A background task ([`DirectorySync::run`]) reads the
//! increments (`_lastUpdated`) every interval and a full pass on demand
//! ([`DirectorySync::request_full`]); it writes only the local `identities` table, so logins
//! never wait for the directory and keep working while it is down.
//!
//! What a pass does (the mapping itself is pure: `coeur_common::identity::fhir`):
//! 1. the practitioners changed since the watermark (all of them in a full pass), the roles
//!    changed since then, and the roles of the organizations changed since then: the
//!    professionals concerned;
//! 2. for each batch of them, their Practitioner and their roles with the organizations they
//!    point to: an identity written (source `directory`), or deactivated (the directory
//!    deactivated them, or they have no active practice), or refused (logged);
//! 3. a full pass also deactivates the identities it wrote before that the directory no
//!    longer has; identities of another source (realm files, imports) are never touched.
//!
//! The watermark is the latest `_lastUpdated` read, plus one second once that second is
//! settled (ten seconds old on the provider's clock), so that a record written later in the
//! same second is read again rather than missed. Errors are logged (never the token or the
//! secret) and retried with backoff.

use crate::state::AppState;
use crate::store::SyncWritten;
use anyhow::{Context, Result, anyhow, bail};
use coeur_common::identity::admit;
use coeur_common::identity::fhir::{
    Organization, Page, Practitioner, PractitionerRole, Synced, identity, instant, parse_page,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify};

/// Seconds after which a second of the directory's `_lastUpdated` is taken as settled.
const SETTLE: i64 = 10;
/// Professionals per batch of detail requests.
const BATCH: usize = 50;
/// Page size asked.
const COUNT: usize = 500;
/// Longest wait between failed passes.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Where and as whom the sync reads the directory.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// The realm whose identities are synced (and whose client it is).
    pub realm: String,
    /// The directory's FHIR base URL, without a trailing `/`.
    pub directory_url: String,
    /// The realm's token endpoint.
    pub token_endpoint: String,
    /// Its client (client credentials, `directory:read`).
    pub client_id: String,
    /// The client's secret.
    pub client_secret: String,
    /// Time between passes.
    pub interval: Duration,
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassSummary {
    /// A full pass (else an increment).
    pub full: bool,
    /// Professionals read.
    pub read: usize,
    /// Identities added.
    pub added: usize,
    /// Identities changed.
    pub updated: usize,
    /// Identities read the same as stored.
    pub unchanged: usize,
    /// Identities deactivated.
    pub deactivated: usize,
    /// Professionals the provider cannot take (logged with the reason).
    pub refused: usize,
    /// The watermark after the pass.
    pub watermark: Option<i64>,
}

/// The sync of one realm.
pub struct DirectorySync {
    state: Arc<AppState>,
    settings: SyncSettings,
    http: reqwest::Client,
    token: Mutex<Option<(String, i64)>>,
    full: Notify,
    /// One pass at a time.
    pass: Mutex<()>,
}

impl DirectorySync {
    /// The sync of `settings.realm` over `http` (which trusts the directory's and the
    /// provider's TLS certificates).
    pub fn new(state: Arc<AppState>, settings: SyncSettings, http: reqwest::Client) -> Self {
        Self {
            state,
            settings,
            http,
            token: Mutex::new(None),
            full: Notify::new(),
            pass: Mutex::new(()),
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    /// Asks the background task for a full pass now.
    pub fn request_full(&self) {
        self.full.notify_one();
    }

    /// The background task: a pass every interval (the first at once), a full one when asked
    /// or when the realm was never synced; failures logged and retried with backoff, until
    /// `stop` completes.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut backoff = self.settings.interval.max(Duration::from_secs(1));
        let mut full = false;
        loop {
            let wait = match self.pass(full).await {
                Ok(_) => {
                    backoff = self.settings.interval.max(Duration::from_secs(1));
                    self.settings.interval
                }
                Err(e) => {
                    metrics::counter!("coeur_directory_sync_failures_total").increment(1);
                    tracing::warn!(
                        realm = %self.settings.realm,
                        error = %format!("{e:#}"),
                        retry_secs = backoff.as_secs(),
                        "directory sync failed; logins go on with the identities held"
                    );
                    let w = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    w
                }
            };
            full = tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait) => false,
                () = self.full.notified() => true,
            };
        }
    }

    /// One pass, full or from the realm's watermark (full when it has none).
    pub async fn pass(&self, full: bool) -> Result<PassSummary> {
        let _one = self.pass.lock().await;
        let realm_name = self.settings.realm.clone();
        let rt = self
            .state
            .realm(&realm_name)
            .ok_or_else(|| anyhow!("realm {realm_name} is not loaded"))?;
        let environment = rt.realm.environment();
        let store = &self.state.store;
        let started = self.state.now();
        let previous = store.sync_state(&realm_name).await?;
        let since = previous.and_then(|s| s.watermark).filter(|_| !full);
        let full = since.is_none();
        let mut sum = PassSummary {
            full,
            ..PassSummary::default()
        };
        let mut latest: Option<i64> = None;
        let mut seen_max = |t: Option<i64>| {
            if let Some(t) = t {
                latest = Some(latest.map_or(t, |l| l.max(t)));
            }
        };

        // 1. Who changed.
        let filter = since
            .map(|s| format!("&_lastUpdated=ge{}", instant(s)))
            .unwrap_or_default();
        let mut who: BTreeMap<String, Option<Practitioner>> = BTreeMap::new();
        for page in self
            .pages(&format!("Practitioner?_count={COUNT}{filter}"))
            .await?
        {
            for p in page.practitioners {
                seen_max(p.last_updated());
                who.insert(p.id.clone(), Some(p));
            }
        }
        if !full {
            let searches = [
                format!("PractitionerRole?_count={COUNT}{filter}"),
                format!(
                    "Organization?_count={COUNT}{filter}&_revinclude=PractitionerRole:organization"
                ),
            ];
            for search in searches {
                for page in self.pages(&search).await? {
                    for r in &page.roles {
                        seen_max(r.last_updated());
                        if let Some(id) = r.practitioner_id() {
                            who.entry(id.to_owned()).or_insert(None);
                        }
                    }
                }
            }
        }

        // 2. Their details, by batches.
        let mut seen_ids: BTreeSet<String> = BTreeSet::new();
        let ids: Vec<String> = who.keys().cloned().collect();
        for batch in ids.chunks(BATCH) {
            let list = batch.join(",");
            let missing: Vec<&str> = batch
                .iter()
                .filter(|id| who.get(*id).is_some_and(Option::is_none))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                let search = format!("Practitioner?_count={COUNT}&_id={}", missing.join(","));
                for page in self.pages(&search).await? {
                    for p in page.practitioners {
                        who.insert(p.id.clone(), Some(p));
                    }
                }
            }
            let mut roles: HashMap<String, Vec<PractitionerRole>> = HashMap::new();
            let mut organizations: HashMap<String, Organization> = HashMap::new();
            let search = format!(
                "PractitionerRole?_count={COUNT}&practitioner={list}&_include=PractitionerRole:organization"
            );
            for page in self.pages(&search).await? {
                for r in page.roles {
                    if let Some(id) = r.practitioner_id() {
                        roles.entry(id.to_owned()).or_default().push(r);
                    }
                }
                for o in page.organizations {
                    organizations.insert(o.id.clone(), o);
                }
            }
            let (mut active, mut inactive) = (vec![], vec![]);
            for id in batch {
                let Some(Some(p)) = who.get(id) else { continue };
                sum.read += 1;
                let of: Vec<&PractitionerRole> = roles
                    .get(id)
                    .map(|v| v.iter().collect())
                    .unwrap_or_default();
                match identity(environment, p, &of, &organizations) {
                    Ok(Synced::Active(i)) => {
                        seen_ids.insert(i.national_id.to_string());
                        active.push(*i);
                    }
                    Ok(Synced::Inactive(n)) => {
                        seen_ids.insert(n.to_string());
                        inactive.push(n.to_string());
                    }
                    Err(refused) => {
                        if let Ok(n) = p.national_id() {
                            seen_ids.insert(n.to_string());
                        }
                        sum.refused += 1;
                        tracing::warn!(realm = %realm_name, refused = %refused, "a professional of the directory is not taken");
                    }
                }
            }
            let now = self.state.now();
            let admitted =
                admit(environment, active).context("admitting the directory's identities")?;
            let SyncWritten { written, unchanged } = store
                .put_synced_identities(&rt.realm, &admitted, now)
                .await?;
            sum.added += written.added;
            sum.updated += written.updated;
            sum.unchanged += unchanged;
            sum.deactivated += store.deactivate_synced(&realm_name, &inactive, now).await?;
        }

        // 3. A full pass: what the directory no longer has.
        if full {
            let gone: Vec<String> = store
                .synced_national_ids(&realm_name)
                .await?
                .into_iter()
                .filter(|n| !seen_ids.contains(n))
                .collect();
            sum.deactivated += store
                .deactivate_synced(&realm_name, &gone, self.state.now())
                .await?;
        }

        let previous_mark = since.unwrap_or(i64::MIN);
        let mark = match latest {
            Some(l) => Some((l + 1).min(started - SETTLE).max(previous_mark)),
            None if full => Some(started - SETTLE),
            None => since,
        };
        sum.watermark = mark;
        let now = self.state.now();
        store.save_sync_state(&realm_name, mark, now, full).await?;
        if let Some(m) = mark {
            metrics::gauge!("coeur_directory_sync_lag_seconds", "realm" => realm_name.clone())
                .set((now - m).max(0) as f64);
        }
        metrics::gauge!("coeur_directory_sync_last_success_seconds", "realm" => realm_name.clone())
            .set(now as f64);
        let level_info = full || sum.added + sum.updated + sum.deactivated + sum.refused > 0;
        if level_info {
            tracing::info!(realm = %realm_name, summary = ?sum, "directory sync");
        } else {
            tracing::debug!(realm = %realm_name, summary = ?sum, "directory sync");
        }
        Ok(sum)
    }

    /// Every page of a search (`Type?params`), following `next` links.
    async fn pages(&self, search: &str) -> Result<Vec<Page>> {
        let mut out = vec![];
        let mut url = Some(format!("{}/{search}", self.settings.directory_url));
        while let Some(u) = url.take() {
            let page = self.get(&u).await?;
            url = page.next.clone();
            out.push(page);
            if out.len() > 100_000 {
                bail!("the directory's search {search} does not end");
            }
        }
        Ok(out)
    }

    /// A searchset page, with the token (a new one once if refused), waiting when throttled.
    async fn get(&self, url: &str) -> Result<Page> {
        let mut renewed = false;
        let mut throttled = 0;
        loop {
            let token = self.token(renewed).await?;
            let r = self
                .http
                .get(url)
                .bearer_auth(&token)
                .header("accept", "application/fhir+json")
                .send()
                .await
                .with_context(|| {
                    format!("reaching the directory at {}", self.settings.directory_url)
                })?;
            let status = r.status().as_u16();
            match status {
                200 => {
                    let body = r.bytes().await.context("reading the directory's answer")?;
                    return parse_page(&body).map_err(|e| anyhow!("the directory's answer: {e}"));
                }
                401 if !renewed => renewed = true,
                429 if throttled < 5 => {
                    throttled += 1;
                    let secs = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(1)
                        .min(30);
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                }
                _ => {
                    let text = r.text().await.unwrap_or_default();
                    let why: String = text.chars().take(300).collect();
                    bail!("the directory answered {status}: {why}");
                }
            }
        }
    }

    /// An access token of the sync's client, kept until shortly before its expiry.
    async fn token(&self, renew: bool) -> Result<String> {
        let mut held = self.token.lock().await;
        let now = self.state.now();
        if !renew && let Some((t, _)) = held.as_ref().filter(|(_, exp)| *exp > now + 30) {
            return Ok(t.clone());
        }
        let s = &self.settings;
        let r = self
            .http
            .post(&s.token_endpoint)
            .basic_auth(&s.client_id, Some(&s.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "directory:read"),
            ])
            .send()
            .await
            .with_context(|| format!("reaching the token endpoint {}", s.token_endpoint))?;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        if status != 200 {
            // The error's code and description only: never the request's credentials.
            bail!(
                "the token endpoint refused the sync's client {}: {status} {} {}",
                s.client_id,
                body["error"].as_str().unwrap_or_default(),
                body["error_description"].as_str().unwrap_or_default()
            );
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("the token endpoint's answer has no access_token"))?
            .to_owned();
        let expires = now + body["expires_in"].as_i64().unwrap_or(60);
        *held = Some((token.clone(), expires));
        Ok(token)
    }
}

/// The admin listener's route of the sync: `POST /directory/resync` runs a full pass now and
/// answers its summary (JSON), or 502 with the reason when the directory cannot be read.
pub fn admin_router(sync: Arc<DirectorySync>) -> axum::Router {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    axum::Router::new().route(
        "/directory/resync",
        axum::routing::post(move || {
            let sync = sync.clone();
            async move {
                match sync.pass(true).await {
                    Ok(s) => axum::Json(s).into_response(),
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "directory resync failed");
                        (StatusCode::BAD_GATEWAY, format!("{e:#}\n")).into_response()
                    }
                }
            }
        }),
    )
}
