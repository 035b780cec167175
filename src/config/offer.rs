//! The offer service (ROR) `coeur serve` runs beside the provider: its settings resolved and
//! checked.

use super::ServeSettings;
use super::directory::http_url;
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;

/// The offer service `coeur serve` runs beside the provider: its own listener and database,
/// trusting a realm's access tokens through the realm's JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferConfig {
    /// The FHIR API's (and pages') listener.
    pub listen: SocketAddr,
    /// Its public base URL, without a trailing `/`.
    pub public_url: String,
    /// The offer's database (`sqlite:…` or `postgres://…`).
    pub database_url: String,
    /// The realm whose tokens it accepts, where its client is registered.
    pub realm: String,
    /// Clients accepted besides its own (token audiences).
    pub audiences: Vec<String>,
    /// Structures generated when the directory is off (0: none).
    pub generate_structures: usize,
    /// The offer runs elsewhere (`coeur-ror`), its pages at `public_url`: `serve` only
    /// registers its client.
    pub elsewhere: bool,
}

/// Default offer listener.
pub const DEFAULT_OFFER_LISTEN: &str = "127.0.0.1:8084";

/// The offer's settings, or `None` when it is turned off.
pub(super) fn offer_config(
    serve: &ServeSettings,
    taken: &[SocketAddr],
) -> Result<Option<OfferConfig>> {
    if serve.no_offer == Some(true) {
        return Ok(None);
    }
    let listen = match serve.offer_listen {
        Some(l) => l,
        None => DEFAULT_OFFER_LISTEN
            .parse()
            .context("default offer listener")?,
    };
    let elsewhere = match &serve.offer_url {
        Some(u) => Some(http_url(u, "--offer-url")?),
        None => None,
    };
    if elsewhere.is_none() && taken.contains(&listen) {
        bail!("--offer-listen {listen} is the address of another listener");
    }
    let public_url = match (&elsewhere, &serve.offer_public_url) {
        (Some(u), _) => u.clone(),
        (None, Some(u)) => http_url(u, "--offer-public-url")?,
        (None, None) => format!("http://{listen}"),
    };
    Ok(Some(OfferConfig {
        listen,
        public_url,
        database_url: serve
            .offer_database_url
            .clone()
            .unwrap_or_else(|| "sqlite://offre.db".into()),
        realm: serve.offer_realm.clone().unwrap_or_else(|| "edit".into()),
        audiences: serve
            .offer_audiences
            .iter()
            .flatten()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        generate_structures: serve.offer_generate_structures.unwrap_or(50),
        elsewhere: elsewhere.is_some(),
    }))
}
