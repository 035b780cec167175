//! Trust in client certificates (CPS cards, organisations' TLS clients): coeur's own issuing
//! CAs with the revocation state of the store, then the external authorities the operator
//! configured (the real IGC-Santé chain), whose revocation status comes from their OCSP
//! responders and CRLs, fetched here and cached.
//!
//! Only certificates that already chain to a configured anchor are asked about, so the URLs
//! fetched are those the trusted authorities wrote into their certificates: a client cannot
//! make coeur fetch an address of its choosing.
//!
//! Failure is closed: a certificate whose status cannot be established (responder and CRL
//! unreachable, answers stale or badly signed) is refused. A cached CRL older than the refresh
//! interval is downloaded again in the background while it keeps answering, until its
//! nextUpdate; a CRL that cannot be refreshed is used until then.

use crate::ca::Ca;
use crate::config::{ExternalTrustConfig, RevocationMethod};
use crate::store::CaStore;
use anyhow::{Context, Result};
use coeur_common::environment::Environment;
use coeur_pki::external::{ExternalTrust, Link};
use coeur_pki::hierarchy::Domain;
use coeur_pki::status::{self, CrlIndex, Status};
use coeur_pki::validate::{self, Refusal, Revoked, Usage, Validated};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest CRL accepted (bytes): a million entries with reason codes take about 45 MiB.
const CRL_MAX_BYTES: usize = 128 << 20;
/// After a failed CRL download, the next one is tried this long after (seconds).
const CRL_RETRY_AFTER: i64 = 30;
/// Largest OCSP response accepted (bytes).
const OCSP_MAX_BYTES: usize = 64 << 10;
/// After a responder did not answer, it is asked again this long after (seconds).
const OCSP_RETRY_AFTER: i64 = 30;
/// OCSP answers kept in memory at most.
const OCSP_CACHE_MAX: usize = 200_000;

struct CachedCrl {
    index: Arc<CrlIndex>,
    fetched_at: i64,
}

/// Client-certificate trust: external bundles, revocation methods, caches.
pub struct ClientTrust {
    card: Option<ExternalTrust>,
    client: Option<ExternalTrust>,
    methods: Vec<RevocationMethod>,
    refresh: i64,
    http: reqwest::Client,
    crls: Arc<CrlCache>,
    ocsp: Mutex<HashMap<Vec<u8>, (Status, i64)>>,
    /// Responders that did not answer: when, and why.
    ocsp_failed: Mutex<HashMap<String, (i64, String)>>,
}

/// Verified CRLs by URL, with one download at a time per URL.
struct CrlCache {
    http: reqwest::Client,
    entries: Mutex<HashMap<String, CachedCrl>>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The last failed download per URL: when, and why.
    failed: Mutex<HashMap<String, (i64, String)>>,
}

fn load(path: Option<&std::path::Path>) -> Result<Option<ExternalTrust>> {
    let Some(p) = path else { return Ok(None) };
    let pem = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    let t = ExternalTrust::from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    tracing::info!(file = %p.display(), authorities = ?t.names, "external client-certificate authorities");
    Ok(Some(t))
}

impl ClientTrust {
    /// Reads the configured bundles.
    pub fn new(cfg: &ExternalTrustConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.fetch_timeout_secs))
            .connect_timeout(Duration::from_secs(cfg.fetch_timeout_secs.min(5)))
            // The URLs are the authorities' own; a redirect elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("coeur/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("HTTP client for revocation checks")?;
        Ok(ClientTrust {
            card: load(cfg.card_trust_file.as_deref())?,
            client: load(cfg.client_trust_file.as_deref())?,
            methods: cfg.methods.clone(),
            refresh: cfg.refresh_secs,
            crls: Arc::new(CrlCache {
                http: http.clone(),
                entries: Mutex::new(HashMap::new()),
                gates: Mutex::new(HashMap::new()),
                failed: Mutex::new(HashMap::new()),
            }),
            http,
            ocsp: Mutex::new(HashMap::new()),
            ocsp_failed: Mutex::new(HashMap::new()),
        })
    }

    fn external(&self, usage: Usage) -> Option<&ExternalTrust> {
        match usage {
            Usage::CardAuthentication => self.card.as_ref(),
            Usage::ClientTls => self.client.as_ref(),
        }
    }

    /// Fetches, in the background, the CRLs that cover the bundles' intermediates (the roots'
    /// CRLs), so that the first logins do not wait for them.
    pub fn prefetch(&self, now: i64) {
        let links: Vec<Link> = [&self.card, &self.client]
            .into_iter()
            .flatten()
            .flat_map(|t| t.ca_links().iter().cloned())
            .collect();
        for link in links {
            for url in status::pointers(&link.cert).crl {
                let (cache, refresh, issuer) =
                    (self.crls.clone(), self.refresh, link.issuer.clone());
                tokio::spawn(async move {
                    if let Err(e) = cache.crl(&url, &issuer, now, refresh).await {
                        tracing::warn!(url, error = %e, "prefetching an external CRL failed");
                    }
                });
            }
        }
    }

    /// Subject DNs (DER) of the external authorities trusted for cards, for the card
    /// listener's acceptable-issuers list.
    pub fn card_subjects(&self) -> &[Vec<u8>] {
        self.card.as_ref().map_or(&[], |t| &t.subjects)
    }

    /// Validates a client certificate for `usage`, presented to a realm of environment
    /// `realm`: coeur's own CAs of the matching domain and environment first, then the
    /// external authorities. `Err` is an internal failure (store).
    pub async fn check(
        &self,
        ca: &Ca,
        store: &CaStore,
        der: &[u8],
        usage: Usage,
        realm: Environment,
        now: i64,
    ) -> Result<Result<Validated, Refusal>> {
        let domain = match usage {
            Usage::CardAuthentication => Domain::Personnes,
            Usage::ClientTls => Domain::Organisations,
        };
        // The sandbox/production boundary: a realm trusts coeur's CAs only when they serve
        // its environment (TEST CAs for sandbox realms, production CAs for production ones).
        let anchors = if ca.environment == realm {
            ca.anchors(domain)
        } else {
            Vec::new()
        };
        let own = validate::validate(der, &anchors, usage, now);
        let external = self.external(usage);
        match own {
            Ok(v) => {
                return Ok(match ca.revocation(store, &v.ca_id, &v.serial).await? {
                    None => Ok(v),
                    Some(_) => Err(Refusal::Revoked(Revoked::Certificate)),
                });
            }
            Err(Refusal::UnknownIssuer) => {}
            // coeur's TEST twins carry the real IGC-Santé TEST names: a card of the real CA
            // matches an own CA by name but not by key, and belongs to the external bundle.
            Err(Refusal::BadSignature)
                if external.is_some_and(|t| t.knows_issuer(&issuer_name(der))) => {}
            Err(e) => return Ok(Err(e)),
        }
        let Some(trust) = external else {
            return Ok(Err(Refusal::UnknownIssuer));
        };
        let path = match trust.validate(der, usage, now) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        for link in &path.links {
            match self.link_status(link, now).await {
                Ok(Status::Good) => {}
                Ok(Status::Revoked) => {
                    return Ok(Err(Refusal::Revoked(if link.end_entity {
                        Revoked::Certificate
                    } else {
                        Revoked::Authority
                    })));
                }
                Err(why) => {
                    tracing::warn!(ca = %path.validated.ca_id, serial = %path.validated.serial, reason = %why, "revocation status unavailable");
                    return Ok(Err(Refusal::StatusUnavailable(why)));
                }
            }
        }
        Ok(Ok(path.validated))
    }

    /// The status of one link, by the configured methods in order (for a CA certificate, then
    /// by any other method it publishes: a CA's revocation must not go unseen because it
    /// publishes a CRL where cards publish OCSP).
    async fn link_status(&self, link: &Link, now: i64) -> Result<Status, String> {
        let p = status::pointers(&link.cert);
        let mut methods = self.methods.clone();
        if !link.end_entity {
            for m in [RevocationMethod::Ocsp, RevocationMethod::Crl] {
                if !methods.contains(&m) {
                    methods.push(m);
                }
            }
        }
        let mut failures = Vec::new();
        for m in &methods {
            let urls = match m {
                RevocationMethod::Ocsp => &p.ocsp,
                RevocationMethod::Crl => &p.crl,
            };
            for url in urls {
                let r = match m {
                    RevocationMethod::Ocsp => self.ocsp_status(url, link, now).await,
                    RevocationMethod::Crl => self.crl_status(url, link, now).await,
                };
                match r {
                    Ok(s) => return Ok(s),
                    Err(e) => {
                        tracing::warn!(url, error = %e, "revocation source failed");
                        failures.push(format!("{url}: {e}"));
                    }
                }
            }
        }
        if !failures.is_empty() {
            return Err(failures.join("; "));
        }
        if link.end_entity {
            return Err("the certificate names no OCSP responder or CRL usable here".into());
        }
        if p.unusable {
            return Err(
                "a CA certificate of the chain publishes its status only where coeur cannot \
                 read it (LDAP)"
                    .into(),
            );
        }
        // A CA certificate of the configured bundle that publishes no status at all: trusted
        // as configured.
        Ok(Status::Good)
    }

    async fn ocsp_status(&self, url: &str, link: &Link, now: i64) -> Result<Status, String> {
        let key = {
            let mut k = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &link.cert)
                .as_ref()
                .to_vec();
            k.extend_from_slice(url.as_bytes());
            k
        };
        if let Some((s, until)) = self.ocsp_cache().get(&key).copied()
            && now <= until
        {
            return Ok(s);
        }
        // A responder that did not answer is not asked again for a while: logins go straight
        // to the next method instead of each waiting for the timeout.
        if let Some((at, why)) = self.ocsp_down().get(url).cloned()
            && now - at < OCSP_RETRY_AFTER
        {
            return Err(format!("{why} (not asked again for {OCSP_RETRY_AFTER} s)"));
        }
        let req = status::ocsp_request(&link.cert, &link.issuer)?;
        let body = match fetch(
            self.http
                .post(url)
                .header("content-type", "application/ocsp-request")
                .body(req),
            OCSP_MAX_BYTES,
        )
        .await
        {
            Ok(b) => {
                self.ocsp_down().remove(url);
                b
            }
            Err(e) => {
                self.ocsp_down().insert(url.to_owned(), (now, e.clone()));
                return Err(e);
            }
        };
        let answer = status::check_ocsp_response(&body, &link.cert, &link.issuer, now)?;
        let until = answer.valid_until.min(now + self.refresh);
        let mut cache = self.ocsp_cache();
        if cache.len() >= OCSP_CACHE_MAX {
            cache.retain(|_, (_, u)| *u >= now);
            if cache.len() >= OCSP_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(key, (answer.status, until));
        Ok(answer.status)
    }

    fn ocsp_cache(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, (Status, i64)>> {
        self.ocsp.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ocsp_down(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, String)>> {
        self.ocsp_failed.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn crl_status(&self, url: &str, link: &Link, now: i64) -> Result<Status, String> {
        let index = self.crls.crl(url, &link.issuer, now, self.refresh).await?;
        Ok(index.status(&link.cert, &link.issuer, now)?)
    }
}

impl CrlCache {
    fn cached(&self, url: &str) -> Option<(Arc<CrlIndex>, i64)> {
        let m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        m.get(url).map(|c| (c.index.clone(), c.fetched_at))
    }

    fn gate(&self, url: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(url.to_owned()).or_default().clone()
    }

    /// The CRL at `url`. A cached CRL before its nextUpdate answers at once; once older than
    /// `refresh` it is downloaded again in the background, so that no login waits for a large
    /// CRL while a usable one is at hand. Without a usable CRL the login waits for the
    /// download, which concurrent logins share.
    async fn crl(
        self: &Arc<Self>,
        url: &str,
        issuer: &[u8],
        now: i64,
        refresh: i64,
    ) -> Result<Arc<CrlIndex>, String> {
        // A CRL without nextUpdate is believed for the refresh interval only.
        let usable =
            |i: &CrlIndex, at: i64| i.fresh(now) && (i.next_update.is_some() || now - at < refresh);
        if let Some((index, at)) = self.cached(url)
            && usable(&index, at)
        {
            if now - at >= refresh && self.may_try(url, now).is_ok() {
                self.refresh_in_background(url, issuer, now);
            }
            return Ok(index);
        }
        let gate = self.gate(url);
        let _one_download = gate.lock().await;
        if let Some((index, at)) = self.cached(url)
            && usable(&index, at)
        {
            return Ok(index);
        }
        self.may_try(url, now)?;
        self.download(url, issuer, now).await
    }

    /// Whether a download may be tried: not within [`CRL_RETRY_AFTER`] of a failed one.
    fn may_try(&self, url: &str, now: i64) -> Result<(), String> {
        let m = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        match m.get(url) {
            Some((at, why)) if now - at < CRL_RETRY_AFTER => {
                Err(format!("{why} (tried again after {CRL_RETRY_AFTER} s)"))
            }
            _ => Ok(()),
        }
    }

    fn refresh_in_background(self: &Arc<Self>, url: &str, issuer: &[u8], now: i64) {
        let Ok(guard) = self.gate(url).try_lock_owned() else {
            return; // a download is under way
        };
        let (cache, url, issuer) = (self.clone(), url.to_owned(), issuer.to_vec());
        tokio::spawn(async move {
            let _one_download = guard;
            if let Err(e) = cache.download(&url, &issuer, now).await {
                tracing::warn!(url, error = %e, "CRL refresh failed; the cached CRL is used until its nextUpdate");
            }
        });
    }

    /// Downloads, verifies and caches the CRL at `url`. A CRL past its nextUpdate, or older
    /// than the one cached (a replay), is refused and leaves the cache as it was.
    async fn download(&self, url: &str, issuer: &[u8], now: i64) -> Result<Arc<CrlIndex>, String> {
        let r = self.download_checked(url, issuer, now).await;
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        match &r {
            Ok(_) => {
                failed.remove(url);
            }
            Err(e) => {
                failed.insert(url.to_owned(), (now, e.clone()));
            }
        }
        r
    }

    async fn download_checked(
        &self,
        url: &str,
        issuer: &[u8],
        now: i64,
    ) -> Result<Arc<CrlIndex>, String> {
        let body = fetch(self.http.get(url), CRL_MAX_BYTES).await?;
        let issuer = issuer.to_vec();
        let index = tokio::task::spawn_blocking(move || {
            let der = crl_der(body)?;
            CrlIndex::parse(&der, &issuer, now).map_err(String::from)
        })
        .await
        .map_err(|e| e.to_string())??;
        if !index.fresh(now) {
            return Err("the CRL served is past its nextUpdate".into());
        }
        if let Some((cached, _)) = self.cached(url)
            && cached.this_update > index.this_update
        {
            return Err("the CRL served is older than the one cached".into());
        }
        let index = Arc::new(index);
        tracing::info!(url, entries = index.len(), next_update = ?index.next_update, "external CRL fetched");
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                url.to_owned(),
                CachedCrl {
                    index: index.clone(),
                    fetched_at: now,
                },
            );
        Ok(index)
    }
}

/// The issuer name (DER) of a certificate, empty if it cannot be read.
fn issuer_name(der: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer as _;
    x509_parser::certificate::X509Certificate::from_der(der)
        .map(|(_, c)| c.issuer().as_raw().to_vec())
        .unwrap_or_default()
}

/// A CRL body as DER (PEM is accepted too).
fn crl_der(body: Vec<u8>) -> Result<Vec<u8>, String> {
    if body.starts_with(b"-----BEGIN") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(&body)
            .map_err(|e| format!("unreadable PEM CRL: {e}"))?;
        return Ok(pem.contents);
    }
    Ok(body)
}

/// Sends `req` and reads at most `max` bytes of a successful answer.
async fn fetch(req: reqwest::RequestBuilder, max: usize) -> Result<Vec<u8>, String> {
    let mut resp = req.send().await.map_err(|e| {
        if e.is_timeout() {
            "no answer in time".to_owned()
        } else if e.is_connect() {
            "cannot connect".to_owned()
        } else {
            "request failed".to_owned()
        }
    })?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    if resp
        .content_length()
        .is_some_and(|l| l > u64::try_from(max).unwrap_or(u64::MAX))
    {
        return Err(format!("larger than {max} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| "answer cut short".to_owned())?
    {
        if body.len() + chunk.len() > max {
            return Err(format!("larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
