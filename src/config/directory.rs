//! The health directory `coeur serve` runs beside the provider: its settings resolved and
//! checked.

use super::ServeSettings;
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;

/// The health directory `coeur serve` runs beside the provider: its own listener and
/// database, trusting a realm's access tokens through the realm's JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    /// The FHIR API's listener.
    pub listen: SocketAddr,
    /// Its public base URL, without a trailing `/`.
    pub public_url: String,
    /// The directory's database (`sqlite:…` or `postgres://…`).
    pub database_url: String,
    /// The realm whose tokens it accepts, where its client is registered.
    pub realm: String,
    /// Clients accepted besides its own (token audiences).
    pub audiences: Vec<String>,
    /// Professionals generated into an empty directory (0: none).
    pub generate_professionals: usize,
    /// Structures generated with them.
    pub generate_structures: usize,
    /// Time between the passes of the realm's identity sync from the directory (`None`: no
    /// sync).
    pub sync_interval: Option<std::time::Duration>,
    /// Where the directory runs when `serve` does not serve it (`coeur-annuaire` elsewhere):
    /// the URL of its FHIR API for the provider's calls, without a trailing `/`. `None`: it is
    /// served here, on `listen`, over `database_url`.
    pub elsewhere: Option<String>,
}

impl DirectoryConfig {
    /// The base URL of the FHIR API the provider (its identity sync, the offer served beside
    /// it) reads: the directory's own when it runs elsewhere, else its public URL.
    pub fn api_url(&self) -> &str {
        self.elsewhere.as_deref().unwrap_or(&self.public_url)
    }
}

/// Default time between identity sync passes.
pub const DEFAULT_SYNC_INTERVAL_SECS: u64 = 30;

/// Default directory (FHIR API) listener.
pub const DEFAULT_DIRECTORY_LISTEN: &str = "127.0.0.1:8083";

/// The directory's settings, or `None` when it is turned off.
pub(super) fn directory_config(
    serve: &ServeSettings,
    taken: &[SocketAddr],
) -> Result<Option<DirectoryConfig>> {
    if serve.no_directory == Some(true) {
        return Ok(None);
    }
    let listen = match serve.directory_listen {
        Some(l) => l,
        None => DEFAULT_DIRECTORY_LISTEN
            .parse()
            .context("default directory listener")?,
    };
    let elsewhere = match &serve.directory_url {
        Some(u) => Some(http_url(u, "--directory-url")?),
        None => None,
    };
    if elsewhere.is_none() && taken.contains(&listen) {
        bail!("--directory-listen {listen} is the address of another listener");
    }
    let public_url = match (&serve.directory_public_url, &elsewhere) {
        (Some(u), _) => http_url(u, "--directory-public-url")?,
        (None, Some(u)) => u.clone(),
        (None, None) => format!("http://{listen}"),
    };
    let audiences: Vec<String> = serve
        .directory_audiences
        .iter()
        .flatten()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    Ok(Some(DirectoryConfig {
        listen,
        public_url,
        database_url: serve
            .directory_database_url
            .clone()
            .unwrap_or_else(|| "sqlite://annuaire.db".into()),
        realm: serve
            .directory_realm
            .clone()
            .unwrap_or_else(|| "edit".into()),
        audiences,
        generate_professionals: serve.directory_generate_professionals.unwrap_or(500),
        generate_structures: serve.directory_generate_structures.unwrap_or(50),
        sync_interval: match serve
            .directory_sync_interval_secs
            .unwrap_or(DEFAULT_SYNC_INTERVAL_SECS)
        {
            0 => None,
            secs => Some(std::time::Duration::from_secs(secs)),
        },
        elsewhere,
    }))
}

/// `url` checked to be http(s), without its trailing `/`; the error names `flag`.
pub(super) fn http_url(url: &str, flag: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    match url::Url::parse(url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {
            Ok(url.to_owned())
        }
        _ => bail!("{flag} must be an http(s) URL"),
    }
}
