//! A [`TokenSource`] for services that are not the provider: the issuer's keys come from its
//! JWKS over HTTPS (found through discovery), fetched again when a token names an unknown
//! `kid` (at most every [`JwksSource::MIN_REFRESH`], or as set) so that key rotation needs no restart.

use crate::TokenSource;
use anyhow::{Context, Result, bail};
use coeur_oauth::claims::AccessTokenClaims;
use coeur_oauth::jose::VerificationKeys;
use futures_util::future::BoxFuture;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An issuer's keys fetched from its JWKS URL.
pub struct JwksSource {
    issuer: String,
    jwks_uri: String,
    http: reqwest::Client,
    current: Mutex<(Arc<VerificationKeys>, Option<Instant>)>,
    fetch: tokio::sync::Mutex<()>,
    min_refresh: Duration,
}

impl JwksSource {
    /// How often an unknown `kid` may cause a fetch, by default.
    pub const MIN_REFRESH: Duration = Duration::from_secs(10);

    /// Sets how often an unknown `kid` may cause a fetch (default [`Self::MIN_REFRESH`]): a
    /// token naming a key the provider does not publish then costs no more than one fetch
    /// per interval.
    pub fn with_min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    /// A source for `issuer` whose keys are at `jwks_uri`; fetched on first use.
    pub fn new(issuer: &str, jwks_uri: &str, http: reqwest::Client) -> Self {
        Self {
            issuer: issuer.to_owned(),
            jwks_uri: jwks_uri.to_owned(),
            http,
            current: Mutex::new((Arc::new(VerificationKeys::default()), None)),
            fetch: tokio::sync::Mutex::new(()),
            min_refresh: Self::MIN_REFRESH,
        }
    }

    /// A source for `issuer`, its `jwks_uri` read from the issuer's discovery document
    /// ([`discovery`]).
    pub async fn discover(issuer: &str, http: reqwest::Client) -> Result<Self> {
        let doc = discovery(issuer, &http).await?;
        let jwks_uri = doc["jwks_uri"]
            .as_str()
            .with_context(|| format!("{issuer}'s discovery document has no jwks_uri"))?;
        Ok(Self::new(issuer, jwks_uri, http))
    }

    async fn fetch_keys(&self) -> Result<Arc<VerificationKeys>> {
        let set: jsonwebtoken::jwk::JwkSet = self
            .http
            .get(&self.jwks_uri)
            .send()
            .await
            .with_context(|| format!("fetching {}", self.jwks_uri))?
            .error_for_status()?
            .json()
            .await
            .with_context(|| format!("reading {}", self.jwks_uri))?;
        let keys = Arc::new(VerificationKeys::from_jwks(&set));
        if let Ok(mut g) = self.current.lock() {
            *g = (keys.clone(), Some(Instant::now()));
        }
        Ok(keys)
    }

    fn cached(&self) -> (Arc<VerificationKeys>, Option<Instant>) {
        self.current
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}

impl TokenSource for JwksSource {
    fn issuer(&self) -> &str {
        &self.issuer
    }

    fn keys(&self) -> BoxFuture<'_, Result<Arc<VerificationKeys>>> {
        Box::pin(async move {
            let (keys, fetched) = self.cached();
            if fetched.is_some() {
                return Ok(keys);
            }
            let _one = self.fetch.lock().await;
            match self.cached() {
                (keys, Some(_)) => Ok(keys),
                _ => self.fetch_keys().await,
            }
        })
    }

    fn refresh(&self) -> BoxFuture<'_, Result<Option<Arc<VerificationKeys>>>> {
        Box::pin(async move {
            let _one = self.fetch.lock().await;
            match self.cached() {
                (_, Some(t)) if t.elapsed() < self.min_refresh => Ok(None),
                _ => self.fetch_keys().await.map(Some),
            }
        })
    }

    /// Tokens are short-lived; a third party without introspection accepts them until `exp`.
    fn revoked<'a>(&'a self, _claims: &'a AccessTokenClaims) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async { Ok(false) })
    }
}

/// The discovery document of `issuer` (OpenID Connect Discovery §4), refused when it names
/// another issuer.
pub async fn discovery(issuer: &str, http: &reqwest::Client) -> Result<serde_json::Value> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: serde_json::Value = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("fetching {url}"))?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("reading {url}"))?;
    if doc["issuer"].as_str() != Some(issuer) {
        bail!("{url} names another issuer");
    }
    Ok(doc)
}
