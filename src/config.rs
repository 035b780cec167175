//! Configuration: command-line flags, then environment, then an optional TOML file, then
//! defaults (the embedded default: SQLite file, `keys/`, `realms/`, loopback listener).

use anyhow::{Context, Result, bail};
use coeur_ca::config::{ExternalTrustConfig, LdapConfig, LdapInput, RevocationMethod, ldap_config};
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
    /// LDAP publication (`None`: off).
    pub ldap: Option<LdapConfig>,
    /// LDAP base DN under which each hierarchy's tree sits (`None`: `o=<organization>,c=FR`).
    /// It matters with publication off too: the LDAP URLs in certificates name entries under it.
    pub ldap_base_dn: Option<String>,
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
    /// The card (mutual TLS) listener.
    pub card_listen: SocketAddr,
    /// Its public base URL.
    pub card_public_url: String,
    /// External authorities trusted for client certificates.
    pub external: ExternalTrustConfig,
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
            .field("ldap", &self.ldap)
            .field("ldap_base_dn", &self.ldap_base_dn)
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
    ldap_url: Option<String>,
    ldap_starttls: Option<bool>,
    ldap_bind_dn: Option<String>,
    ldap_bind_password_file: Option<PathBuf>,
    ldap_base_dn: Option<String>,
    ldap_ca_file: Option<PathBuf>,
    log_format: Option<LogFormat>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    pki_dir: Option<PathBuf>,
    pki_hierarchy: Option<String>,
    pki_production: Option<bool>,
    crl_dir: Option<PathBuf>,
    ca_realm: Option<String>,
    card_listen: Option<SocketAddr>,
    card_public_url: Option<String>,
    card_trust_file: Option<PathBuf>,
    client_trust_file: Option<PathBuf>,
    external_revocation: Option<Vec<RevocationMethod>>,
    revocation_refresh_secs: Option<i64>,
    revocation_fetch_timeout_secs: Option<u64>,
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
    /// `--ldap-url`.
    pub ldap_url: Option<String>,
    /// `--ldap-starttls`.
    pub ldap_starttls: Option<bool>,
    /// `--ldap-bind-dn`.
    pub ldap_bind_dn: Option<String>,
    /// `COEUR_LDAP_BIND_PASSWORD`.
    pub ldap_bind_password: Option<String>,
    /// `--ldap-base-dn`.
    pub ldap_base_dn: Option<String>,
    /// `--ldap-ca-file`.
    pub ldap_ca_file: Option<PathBuf>,
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
    /// `--card-listen`.
    pub card_listen: Option<SocketAddr>,
    /// `--card-public-url`.
    pub card_public_url: Option<String>,
    /// `--card-trust-file`.
    pub card_trust_file: Option<PathBuf>,
    /// `--client-trust-file`.
    pub client_trust_file: Option<PathBuf>,
    /// `--external-revocation`.
    pub external_revocation: Option<Vec<RevocationMethod>>,
    /// `--revocation-refresh`.
    pub revocation_refresh_secs: Option<i64>,
    /// `--revocation-fetch-timeout`.
    pub revocation_fetch_timeout_secs: Option<u64>,
}

/// Default card (mutual TLS) listener.
pub const DEFAULT_CARD_LISTEN: &str = "127.0.0.1:8443";

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
        let ldap_bind_password = match (o.ldap_bind_password, &f.ldap_bind_password_file) {
            (Some(p), _) => Some(p),
            (None, Some(p)) => Some(
                std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
            ),
            (None, None) => None,
        };
        let ldap = ldap_config(LdapInput {
            url: o.ldap_url.or(f.ldap_url),
            starttls: o.ldap_starttls.or(f.ldap_starttls),
            bind_dn: o.ldap_bind_dn.or(f.ldap_bind_dn),
            bind_password: ldap_bind_password,
            ca_file: o.ldap_ca_file.or(f.ldap_ca_file),
        })?;
        let ldap_base_dn = o
            .ldap_base_dn
            .or(f.ldap_base_dn)
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty());
        if let Some(b) = &ldap_base_dn {
            coeur_pki::directory::Dn::parse(b)
                .map_err(|e| anyhow::anyhow!("--ldap-base-dn: {e}"))?;
        }
        let tls_cert = o.tls_cert.or(f.tls_cert);
        let tls_key = o.tls_key.or(f.tls_key);
        if tls_cert.is_some() != tls_key.is_some() {
            bail!("--tls-cert and --tls-key go together");
        }
        let card_listen = match o.card_listen.or(f.card_listen) {
            Some(l) => l,
            None => DEFAULT_CARD_LISTEN
                .parse()
                .context("default card listener")?,
        };
        let card_public_url = o
            .card_public_url
            .or(f.card_public_url)
            .unwrap_or_else(|| format!("https://{card_listen}"))
            .trim_end_matches('/')
            .to_owned();
        let external = ExternalTrustConfig {
            card_trust_file: o.card_trust_file.or(f.card_trust_file),
            client_trust_file: o.client_trust_file.or(f.client_trust_file),
            methods: o
                .external_revocation
                .or(f.external_revocation)
                .unwrap_or_else(|| vec![RevocationMethod::Ocsp, RevocationMethod::Crl]),
            refresh_secs: o
                .revocation_refresh_secs
                .or(f.revocation_refresh_secs)
                .unwrap_or(3600),
            fetch_timeout_secs: o
                .revocation_fetch_timeout_secs
                .or(f.revocation_fetch_timeout_secs)
                .unwrap_or(10),
        };
        if external.methods.is_empty() {
            bail!("--external-revocation: name at least one method (ocsp, crl)");
        }
        if external.refresh_secs <= 0 || external.fetch_timeout_secs == 0 {
            bail!("--revocation-refresh and --revocation-fetch-timeout must be positive");
        }
        for (flag, f) in [
            ("--card-trust-file", &external.card_trust_file),
            ("--client-trust-file", &external.client_trust_file),
        ] {
            if let Some(f) = f
                && !f.is_file()
            {
                bail!("{flag} {}: no such file", f.display());
            }
        }
        Ok(Self {
            external,
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
            ldap,
            ldap_base_dn,
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
            card_listen,
            card_public_url,
        })
    }
}

#[cfg(test)]
mod ldap_tests {
    use super::*;

    fn ldap(o: Overrides) -> Result<Config> {
        Config::resolve(o, None)
    }

    #[test]
    fn ldap_is_off_unless_configured() {
        let c = ldap(Overrides::default()).unwrap();
        assert!(c.ldap.is_none());
        assert!(c.ldap_base_dn.is_none());
    }

    #[test]
    fn ldap_settings_are_checked() {
        let base = Overrides {
            ldap_url: Some("ldap://dir.example:389".into()),
            ldap_bind_dn: Some("cn=coeur,dc=example".into()),
            ldap_bind_password: Some("s3cret".into()),
            ldap_base_dn: Some("dc=example".into()),
            ..Overrides::default()
        };
        let c = ldap(base.clone()).unwrap();
        let l = c.ldap.as_ref().unwrap();
        assert_eq!(l.url, "ldap://dir.example:389");
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the password is never printed"
        );
        assert!(!l.describe().contains("s3cret"));
        let bad = |o: Overrides, want: &str| {
            let e = format!("{:#}", ldap(o).unwrap_err());
            assert!(e.contains(want), "{e}");
        };
        bad(
            Overrides {
                ldap_url: Some("http://dir.example".into()),
                ..base.clone()
            },
            "scheme",
        );
        bad(
            Overrides {
                ldap_url: Some("ldaps://dir.example".into()),
                ldap_starttls: Some(true),
                ..base.clone()
            },
            "TLS already",
        );
        bad(
            Overrides {
                ldap_bind_password: None,
                ..base.clone()
            },
            "needs a password",
        );
        bad(
            Overrides {
                ldap_base_dn: Some("dc=,x".into()),
                ..base.clone()
            },
            "--ldap-base-dn",
        );
        bad(
            Overrides {
                ldap_url: Some("ldap://dir.example/dc=x".into()),
                ..base.clone()
            },
            "only scheme, host and port",
        );
        bad(
            Overrides {
                ldap_url: None,
                ..base
            },
            "without --ldap-url",
        );
    }
}
