//! Configuration: command-line flags, then environment, then an optional TOML file, then
//! defaults (the embedded default: SQLite file, `keys/`, `realms/`, loopback listener).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    /// Listener address.
    pub listen: SocketAddr,
    /// Public base URL (issuers are `<public_url>/auth/realms/<realm>`).
    pub public_url: String,
    /// Database URL (`sqlite:…` or `postgres://…`).
    pub database_url: String,
    /// Key store directory.
    pub keys_dir: PathBuf,
    /// Realm definitions directory.
    pub realms_dir: PathBuf,
    /// Master key (base64), if given.
    pub master_key: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// CA definitions directory (`pki/`).
    pub pki_dir: PathBuf,
    /// Hierarchy file name in `pki/` (without `.toml`).
    pub pki_hierarchy: String,
    /// Run the production CAs instead of their TEST twins.
    pub pki_production: bool,
    /// Where CRLs are written.
    pub crl_dir: PathBuf,
    /// The realm whose access tokens authorise CA API calls.
    pub ca_realm: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database_url", &redact_url(&self.database_url))
            .field("keys_dir", &self.keys_dir)
            .field("realms_dir", &self.realms_dir)
            .field("master_key", &self.master_key.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// A database URL with any password removed, for logs.
pub fn redact_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut p) if p.password().is_some() => {
            let _ = p.set_password(Some("***"));
            p.to_string()
        }
        _ => u.to_owned(),
    }
}

/// The optional configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    database_url: Option<String>,
    keys_dir: Option<PathBuf>,
    realms_dir: Option<PathBuf>,
    master_key_file: Option<PathBuf>,
    log_format: Option<LogFormat>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    pki_dir: Option<PathBuf>,
    pki_hierarchy: Option<String>,
    pki_production: Option<bool>,
    crl_dir: Option<PathBuf>,
    ca_realm: Option<String>,
}

/// Values given on the command line or in the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--public-url`.
    pub public_url: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--keys-dir`.
    pub keys_dir: Option<PathBuf>,
    /// `--realms-dir`.
    pub realms_dir: Option<PathBuf>,
    /// `COEUR_MASTER_KEY`.
    pub master_key: Option<String>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `--tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    pub tls_key: Option<PathBuf>,
    /// `--pki-dir`.
    pub pki_dir: Option<PathBuf>,
    /// `--pki-hierarchy`.
    pub pki_hierarchy: Option<String>,
    /// `--pki-production`.
    pub pki_production: Option<bool>,
    /// `--crl-dir`.
    pub crl_dir: Option<PathBuf>,
    /// `--ca-realm`.
    pub ca_realm: Option<String>,
}

/// Default listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// Resolves the configuration from overrides and an optional file.
    pub fn resolve(o: Overrides, file: Option<&Path>) -> Result<Self> {
        let f: FileConfig = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = match o.listen.or(f.listen) {
            Some(l) => l,
            None => DEFAULT_LISTEN.parse().context("default listener")?,
        };
        let public_url = o
            .public_url
            .or(f.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let master_key = match (o.master_key, &f.master_key_file) {
            (Some(k), _) => Some(k),
            (None, Some(p)) => Some(
                std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        let tls_cert = o.tls_cert.or(f.tls_cert);
        let tls_key = o.tls_key.or(f.tls_key);
        if tls_cert.is_some() != tls_key.is_some() {
            bail!("--tls-cert and --tls-key go together");
        }
        Ok(Self {
            listen,
            public_url,
            database_url: o
                .database_url
                .or(f.database_url)
                .unwrap_or_else(|| "sqlite://coeur.db?mode=rwc".into()),
            keys_dir: o.keys_dir.or(f.keys_dir).unwrap_or_else(|| "keys".into()),
            realms_dir: o
                .realms_dir
                .or(f.realms_dir)
                .unwrap_or_else(|| "realms".into()),
            master_key,
            log_format: o.log_format.or(f.log_format).unwrap_or(LogFormat::Text),
            tls_cert,
            tls_key,
            pki_dir: o.pki_dir.or(f.pki_dir).unwrap_or_else(|| "pki".into()),
            pki_hierarchy: o
                .pki_hierarchy
                .or(f.pki_hierarchy)
                .unwrap_or_else(|| "igc-sante".into()),
            pki_production: o.pki_production.or(f.pki_production).unwrap_or(false),
            crl_dir: o.crl_dir.or(f.crl_dir).unwrap_or_else(|| "crl".into()),
            ca_realm: o.ca_realm.or(f.ca_realm).unwrap_or_else(|| "edit".into()),
        })
    }
}
