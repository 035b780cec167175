//! Configuration, declared once. Each setting is one field of [`CommonSettings`] (flags every
//! command takes), [`ServeSettings`] (flags of `serve`) or [`Secrets`] (never a flag): the
//! field carries its flag and environment variable (clap) and its key in the TOML file given
//! with `--config` (serde). Precedence: flags, then environment, then the file, then the
//! defaults [`Config::resolve`] applies (SQLite file, `keys/`, `realms/`, loopback listener).

use anyhow::{Context, Result, bail};
use coeur_ca::config::{ExternalTrustConfig, LdapConfig, LdapInput, RevocationMethod, ldap_config};
use coeur_web::listener::Limits;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Declares a struct of optional settings and its `or`, which layers it over a lower one:
/// each setting from `self`, or else from `lower`. Every field must be an `Option`.
macro_rules! layered {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $( $(#[$fattr:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $( $(#[$fattr])* pub $field: $ty, )*
        }

        impl $name {
            /// Each setting from `self`, or else from `lower`.
            pub fn or(self, lower: Self) -> Self {
                Self { $( $field: self.$field.or(lower.$field), )* }
            }
        }
    };
}

pub mod delivery;
mod directory;
mod offer;
mod shared;

use directory::directory_config;
pub use directory::{DEFAULT_DIRECTORY_LISTEN, DirectoryConfig};
use offer::offer_config;
pub use offer::{DEFAULT_OFFER_LISTEN, OfferConfig};

layered! {
    /// Settings every command reads (global flags).
    #[derive(Debug, Default, Clone, clap::Args, Deserialize)]
    pub struct CommonSettings {
        /// Database URL: sqlite://FILE (default sqlite://coeur.db) or postgres://…
        #[arg(long, global = true, env = "COEUR_DATABASE_URL")]
        pub database_url: Option<String>,
        /// Key store directory (default keys/).
        #[arg(long, global = true, env = "COEUR_KEYS_DIR")]
        pub keys_dir: Option<PathBuf>,
        /// Realm definitions directory (default realms/).
        #[arg(long, global = true, env = "COEUR_REALMS_DIR")]
        pub realms_dir: Option<PathBuf>,
        /// Public base URL (default http://<listen>).
        #[arg(long, global = true, env = "COEUR_PUBLIC_URL")]
        pub public_url: Option<String>,
        /// Log format.
        #[arg(long, global = true, env = "COEUR_LOG_FORMAT", value_enum)]
        pub log_format: Option<LogFormat>,
        /// CA definitions directory (default pki/).
        #[arg(long, global = true, env = "COEUR_PKI_DIR")]
        pub pki_dir: Option<PathBuf>,
        /// CA hierarchy: a file name of pki/ without .toml (default igc-sante).
        #[arg(long, global = true, env = "COEUR_PKI_HIERARCHY")]
        pub pki_hierarchy: Option<String>,
        /// Run the production CAs instead of their TEST twins.
        #[arg(
            long,
            global = true,
            env = "COEUR_PKI_PRODUCTION",
            action = clap::ArgAction::SetTrue
        )]
        pub pki_production: Option<bool>,
        /// Where CRLs are written (default crl/).
        #[arg(long, global = true, env = "COEUR_CRL_DIR")]
        pub crl_dir: Option<PathBuf>,
        /// The realm whose access tokens authorise CA API calls (default edit).
        #[arg(long, global = true, env = "COEUR_CA_REALM")]
        pub ca_realm: Option<String>,
        /// LDAP directory to publish CA certificates, CRLs and holders' certificates to:
        /// ldap://host[:port] or ldaps://host[:port] (publication is off without it). The bind
        /// password is read from COEUR_LDAP_BIND_PASSWORD (or ldap_bind_password_file).
        #[arg(long, global = true, env = "COEUR_LDAP_URL")]
        pub ldap_url: Option<String>,
        /// Upgrade ldap:// connections with StartTLS.
        #[arg(
            long,
            global = true,
            env = "COEUR_LDAP_STARTTLS",
            action = clap::ArgAction::SetTrue
        )]
        pub ldap_starttls: Option<bool>,
        /// DN to bind as (e.g. cn=coeur,dc=example,dc=org).
        #[arg(long, global = true, env = "COEUR_LDAP_BIND_DN")]
        pub ldap_bind_dn: Option<String>,
        /// Base DN of the CA trees (default o=<organization>,c=FR); the LDAP URLs written into
        /// certificates name entries under it.
        #[arg(long, global = true, env = "COEUR_LDAP_BASE_DN")]
        pub ldap_base_dn: Option<String>,
        /// CA certificates (PEM) to trust for the directory's TLS certificate (default: system
        /// roots).
        #[arg(long, global = true, env = "COEUR_LDAP_CA_FILE")]
        pub ldap_ca_file: Option<PathBuf>,
    }
}

layered! {
    /// Settings of the server (flags of `serve`).
    #[derive(Debug, Default, Clone, clap::Args, Deserialize)]
    pub struct ServeSettings {
        /// Listen address (default 127.0.0.1:8080).
        #[arg(long, env = "COEUR_LISTEN")]
        pub listen: Option<SocketAddr>,
        /// TLS certificate chain (PEM) for HTTPS.
        #[arg(long, env = "COEUR_TLS_CERT")]
        pub tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, env = "COEUR_TLS_KEY")]
        pub tls_key: Option<PathBuf>,
        /// HTTPS with a server certificate issued by coeur's own CA (created at first start);
        /// the root is written next to the CRLs for clients.
        #[arg(
            long,
            env = "COEUR_TLS_SELF_ISSUED",
            action = clap::ArgAction::SetTrue,
            conflicts_with_all = ["tls_cert", "tls_key"]
        )]
        #[serde(skip)]
        pub tls_self_issued: Option<bool>,
        /// The card (mutual TLS) listener (default 127.0.0.1:8443).
        #[arg(long, env = "COEUR_CARD_LISTEN")]
        pub card_listen: Option<SocketAddr>,
        /// Its public base URL (default https://<card-listen>).
        #[arg(long, env = "COEUR_CARD_PUBLIC_URL")]
        pub card_public_url: Option<String>,
        /// PEM bundle of external authorities trusted for CPS cards besides coeur's own
        /// PERSONNES CAs (e.g. the IGC-Santé roots and PERSONNES CAs; convert the published
        /// .p7b with `openssl pkcs7 -print_certs`).
        #[arg(long, env = "COEUR_CARD_TRUST_FILE")]
        pub card_trust_file: Option<PathBuf>,
        /// PEM bundle of external authorities trusted for organisations' TLS client
        /// certificates (RFC 8705 tls_client_auth) besides coeur's ORGANISATIONS CAs.
        #[arg(long, env = "COEUR_CLIENT_TRUST_FILE")]
        pub client_trust_file: Option<PathBuf>,
        /// How the status of externally issued certificates is established, in order of
        /// preference (default ocsp,crl).
        #[arg(
            long,
            env = "COEUR_EXTERNAL_REVOCATION",
            value_enum,
            value_delimiter = ','
        )]
        pub external_revocation: Option<Vec<RevocationMethod>>,
        /// Seconds after which a cached external CRL or OCSP answer is fetched again, even
        /// before its nextUpdate (default 3600).
        #[arg(long = "revocation-refresh", env = "COEUR_REVOCATION_REFRESH")]
        pub revocation_refresh_secs: Option<i64>,
        /// Timeout in seconds of one CRL or OCSP fetch (default 10).
        #[arg(
            long = "revocation-fetch-timeout",
            env = "COEUR_REVOCATION_FETCH_TIMEOUT"
        )]
        pub revocation_fetch_timeout_secs: Option<u64>,
        /// Seconds a client has to complete the TLS handshake on the main listener (default 10).
        #[arg(long = "handshake-timeout", env = "COEUR_HANDSHAKE_TIMEOUT")]
        pub handshake_timeout_secs: Option<u64>,
        /// Seconds a client has to complete the TLS handshake on the card listener, where the
        /// browser asks the user for the card and its PIN (default 120).
        #[arg(long = "card-handshake-timeout", env = "COEUR_CARD_HANDSHAKE_TIMEOUT")]
        pub card_handshake_timeout_secs: Option<u64>,
        /// Seconds a client has to send a request's headers, on every listener (default 30).
        #[arg(long = "header-read-timeout", env = "COEUR_HEADER_READ_TIMEOUT")]
        pub header_read_timeout_secs: Option<u64>,
        /// Connections served at once by each listener; further clients wait (default 512).
        #[arg(long, env = "COEUR_MAX_CONNECTIONS")]
        pub max_connections: Option<usize>,
        /// Seconds between SIGTERM and closing the listeners, during which /readyz answers 503
        /// so that load balancers stop sending new clients (default 0; set it above the
        /// balancer's health-check interval).
        #[arg(long = "shutdown-delay", env = "COEUR_SHUTDOWN_DELAY")]
        pub shutdown_delay_secs: Option<u64>,
        /// Seconds open connections have to finish their request once the listeners are
        /// closed, before they are cut (default 20).
        #[arg(long = "shutdown-grace", env = "COEUR_SHUTDOWN_GRACE")]
        pub shutdown_grace_secs: Option<u64>,
        /// Admin listener serving /metrics (plain HTTP; off by default, and /metrics is never
        /// served on the public listeners).
        #[arg(long, env = "COEUR_ADMIN_LISTEN")]
        pub admin_listen: Option<SocketAddr>,
        /// The health directory's FHIR R4 API listener (plain HTTP; default 127.0.0.1:8083).
        #[arg(long, env = "COEUR_DIRECTORY_LISTEN")]
        pub directory_listen: Option<SocketAddr>,
        /// The directory's public base URL, in the links of its answers (default
        /// http://<directory-listen>).
        #[arg(long, env = "COEUR_DIRECTORY_PUBLIC_URL")]
        pub directory_public_url: Option<String>,
        /// The directory runs elsewhere (`coeur-annuaire serve`, e.g. its own pods), at this
        /// URL for the provider's calls: `serve` does not serve it, but still registers its
        /// clients (`annuaire`, whose pages are under --directory-public-url, by default this
        /// URL; `identity-sync`) and syncs the realm's identities from it.
        #[arg(long, env = "COEUR_DIRECTORY_URL")]
        pub directory_url: Option<String>,
        /// The directory's own database: sqlite://FILE (default sqlite://annuaire.db) or
        /// postgres://…
        #[arg(long, env = "COEUR_DIRECTORY_DATABASE_URL")]
        pub directory_database_url: Option<String>,
        /// The realm whose access tokens the directory accepts and where its client
        /// `annuaire` is registered (default edit).
        #[arg(long, env = "COEUR_DIRECTORY_REALM")]
        pub directory_realm: Option<String>,
        /// Further clients whose access tokens (with `directory:read`) the directory accepts,
        /// besides `annuaire`; repeatable or comma-separated.
        #[arg(
            long = "directory-audience",
            env = "COEUR_DIRECTORY_AUDIENCES",
            value_delimiter = ','
        )]
        pub directory_audiences: Option<Vec<String>>,
        /// Professionals generated into an empty directory at start (default 500; 0: none).
        #[arg(long, env = "COEUR_DIRECTORY_GENERATE_PROFESSIONALS")]
        pub directory_generate_professionals: Option<usize>,
        /// Structures generated with them (default 50).
        #[arg(long, env = "COEUR_DIRECTORY_GENERATE_STRUCTURES")]
        pub directory_generate_structures: Option<usize>,
        /// Seconds between the passes of the provider's identity sync from the directory
        /// (default 30; 0: no sync).
        #[arg(long, env = "COEUR_DIRECTORY_SYNC_INTERVAL_SECS")]
        pub directory_sync_interval_secs: Option<u64>,
        /// Do not serve the directory (nor sync identities from it).
        #[arg(
            long,
            env = "COEUR_NO_DIRECTORY",
            action = clap::ArgAction::SetTrue
        )]
        pub no_directory: Option<bool>,
        /// The offer service's (ROR) FHIR R4 API and pages listener (plain HTTP; default
        /// 127.0.0.1:8084).
        #[arg(long, env = "COEUR_OFFER_LISTEN")]
        pub offer_listen: Option<SocketAddr>,
        /// The offer's public base URL (default http://<offer-listen>).
        #[arg(long, env = "COEUR_OFFER_PUBLIC_URL")]
        pub offer_public_url: Option<String>,
        /// The offer runs elsewhere (`coeur-ror serve`, e.g. its own pods), its pages at this
        /// public URL: `serve` does not serve it, but still registers its client `ror` with
        /// the pages' redirect URIs under this URL.
        #[arg(long, env = "COEUR_OFFER_URL")]
        pub offer_url: Option<String>,
        /// The offer's own database: sqlite://FILE (default sqlite://offre.db) or
        /// postgres://…
        #[arg(long, env = "COEUR_OFFER_DATABASE_URL")]
        pub offer_database_url: Option<String>,
        /// The realm whose access tokens the offer accepts and where its client `ror` is
        /// registered (default edit).
        #[arg(long, env = "COEUR_OFFER_REALM")]
        pub offer_realm: Option<String>,
        /// Further clients whose access tokens the offer accepts, besides `ror`; repeatable or
        /// comma-separated.
        #[arg(long = "offer-audience", env = "COEUR_OFFER_AUDIENCES", value_delimiter = ',')]
        pub offer_audiences: Option<Vec<String>>,
        /// Structures generated for an empty offer when the directory is off (default 50,
        /// the directory's default list; with the directory on, its structures are used).
        #[arg(long, env = "COEUR_OFFER_GENERATE_STRUCTURES")]
        pub offer_generate_structures: Option<usize>,
        /// Do not serve the offer.
        #[arg(long, env = "COEUR_NO_OFFER", action = clap::ArgAction::SetTrue)]
        pub no_offer: Option<bool>,
        /// The service's name on every page (default "coeur").
        #[arg(long, env = "COEUR_SERVICE_NAME")]
        pub service_name: Option<String>,
        /// The line under the name saying what the service is, in French (default: a line
        /// saying it logs health professionals in).
        #[arg(long, env = "COEUR_SERVICE_TAGLINE_FR")]
        pub service_tagline_fr: Option<String>,
        /// The same line in English.
        #[arg(long, env = "COEUR_SERVICE_TAGLINE_EN")]
        pub service_tagline_en: Option<String>,
        /// The help link of every page: an https URL, or a path on this server (default
        /// /help, coeur's help page).
        #[arg(long, env = "COEUR_HELP_URL")]
        pub help_url: Option<String>,
        /// E-mail and SMS to professionals, trusted reverse proxies (`config/delivery.rs`): the
        /// flags of `serve`, moved to [`Settings::messaging`] (where the file's keys go too).
        #[command(flatten)]
        #[serde(skip)]
        pub messaging: delivery::MessagingSettings,
    }
}

layered! {
    /// Secrets: from the environment or from files named in the configuration file, never
    /// from a flag (flags show in process listings), never printed.
    #[derive(Default, Clone, Deserialize)]
    pub struct Secrets {
        /// The master key, base64 of 32 bytes (`COEUR_MASTER_KEY`).
        #[serde(skip)]
        pub master_key: Option<String>,
        /// A file holding the master key.
        pub master_key_file: Option<PathBuf>,
        /// The LDAP bind password (`COEUR_LDAP_BIND_PASSWORD`).
        #[serde(skip)]
        pub ldap_bind_password: Option<String>,
        /// A file holding the LDAP bind password.
        pub ldap_bind_password_file: Option<PathBuf>,
        /// The SMTP relay's user name (`COEUR_SMTP_USERNAME`; environment only).
        #[serde(skip)]
        pub smtp_username: Option<String>,
        /// The SMTP relay's password (`COEUR_SMTP_PASSWORD`; environment only).
        #[serde(skip)]
        pub smtp_password: Option<String>,
        /// The SMS gateway's bearer token (`COEUR_SMS_TOKEN`; environment only).
        #[serde(skip)]
        pub sms_token: Option<String>,
    }
}

impl Secrets {
    /// The secrets the environment gives (`COEUR_MASTER_KEY`, `COEUR_LDAP_BIND_PASSWORD`);
    /// an empty variable counts as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|s| !s.is_empty());
        Self {
            master_key: var("COEUR_MASTER_KEY"),
            ldap_bind_password: var("COEUR_LDAP_BIND_PASSWORD"),
            smtp_username: var("COEUR_SMTP_USERNAME"),
            smtp_password: var("COEUR_SMTP_PASSWORD"),
            sms_token: var("COEUR_SMS_TOKEN"),
            ..Self::default()
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &Option<String>| s.as_ref().map(|_| "<set>");
        f.debug_struct("Secrets")
            .field("master_key", &set(&self.master_key))
            .field("master_key_file", &self.master_key_file)
            .field("ldap_bind_password", &set(&self.ldap_bind_password))
            .field("ldap_bind_password_file", &self.ldap_bind_password_file)
            .field("smtp_username", &set(&self.smtp_username))
            .field("smtp_password", &set(&self.smtp_password))
            .field("sms_token", &set(&self.sms_token))
            .finish()
    }
}

/// Every setting, unresolved: one layer (the command line and environment, or the file).
/// The configuration file is this struct in TOML, flat (`database_url = "…"`, `listen = "…"`,
/// `master_key_file = "…"`); an unknown key is an error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Settings every command reads.
    #[serde(flatten)]
    pub common: CommonSettings,
    /// Settings of the server.
    #[serde(flatten)]
    pub serve: ServeSettings,
    /// Secrets.
    #[serde(flatten)]
    pub secrets: Secrets,
    /// E-mail, SMS, trusted proxies.
    #[serde(flatten)]
    pub messaging: delivery::MessagingSettings,
}

impl Settings {
    /// The layer of the command line and the environment: the parsed flags (whose
    /// environment variables clap read), `serve`'s when the command is `serve`, and the
    /// secrets of the environment.
    pub fn from_command_line(mut common: CommonSettings, serve: Option<ServeSettings>) -> Self {
        let mut serve = serve.unwrap_or_default();
        // A switch left off leaves the decision to the file: it only turns a setting on.
        for switch in [
            &mut common.pki_production,
            &mut common.ldap_starttls,
            &mut serve.tls_self_issued,
            &mut serve.no_directory,
            &mut serve.no_offer,
        ] {
            if *switch == Some(false) {
                *switch = None;
            }
        }
        Self {
            messaging: std::mem::take(&mut serve.messaging),
            common,
            serve,
            secrets: Secrets::from_env(),
        }
    }

    /// The configuration file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Each setting from `self`, or else from `lower`.
    pub fn or(self, lower: Self) -> Self {
        Self {
            common: self.common.or(lower.common),
            serve: self.serve.or(lower.serve),
            secrets: self.secrets.or(lower.secrets),
            messaging: self.messaging.or(lower.messaging),
        }
    }
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
    /// HTTPS with a server certificate issued by coeur's own CA.
    pub tls_self_issued: bool,
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
    /// Limits of the main and admin listeners.
    pub limits: Limits,
    /// Limits of the card listener.
    pub card_limits: Limits,
    /// The admin listener (/metrics), if any.
    pub admin_listen: Option<SocketAddr>,
    /// Time between SIGTERM and closing the listeners (/readyz answers 503 meanwhile).
    pub shutdown_delay: Duration,
    /// How the pages present the service.
    pub service: coeur_web::ServiceIdentity,
    /// E-mail and SMS to professionals (e-CPS enrolment by contact details).
    pub delivery: coeur_provider::delivery::DeliverySettings,
    /// Reverse proxies believed about clients' addresses.
    pub trusted_proxies: coeur_web::proxy::TrustedProxies,
    /// The health directory served beside the provider (`None`: off).
    pub directory: Option<DirectoryConfig>,
    /// The offer service (ROR) served beside the provider (`None`: off).
    pub offer: Option<OfferConfig>,
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

/// How the pages present the service: its name and lines (non-empty, one line each) and
/// the help link (`https://`, or an absolute path on this server).
fn service_identity(serve: &ServeSettings) -> Result<coeur_web::ServiceIdentity> {
    let line = |v: &Option<String>, flag: &str| -> Result<Option<String>> {
        match v.as_deref().map(str::trim) {
            None => Ok(None),
            Some(t) if t.is_empty() || t.contains(['\n', '\r']) || t.chars().count() > 200 => {
                bail!("{flag} is one line of at most 200 characters")
            }
            Some(t) => Ok(Some(t.to_owned())),
        }
    };
    let help_url = match serve.help_url.as_deref().map(str::trim) {
        None => None,
        Some(u) if u.starts_with('/') && !u.starts_with("//") => Some(u.to_owned()),
        Some(u) => match url::Url::parse(u) {
            Ok(p) if p.scheme() == "https" || p.scheme() == "http" => Some(u.to_owned()),
            _ => bail!("--help-url must be an http(s) URL or a path on this server (/…)"),
        },
    };
    Ok(coeur_web::ServiceIdentity {
        name: line(&serve.service_name, "--service-name")?,
        tagline_fr: line(&serve.service_tagline_fr, "--service-tagline-fr")?,
        tagline_en: line(&serve.service_tagline_en, "--service-tagline-en")?,
        help_url,
    })
}

/// Default card (mutual TLS) listener.
pub const DEFAULT_CARD_LISTEN: &str = "127.0.0.1:8443";

/// Default listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// Resolves the configuration from the command line's layer (flags and environment) and
    /// an optional configuration file: each setting from the first that has it, else its
    /// default; then checks the whole.
    pub fn resolve(given: Settings, file: Option<&Path>) -> Result<Self> {
        let given = https_public_url(given)?;
        let s = match file {
            Some(p) => given.or(Settings::from_file(p)?),
            None => given,
        };
        let (c, serve) = (s.common, s.serve);
        let listen = match serve.listen {
            Some(l) => l,
            None => DEFAULT_LISTEN.parse().context("default listener")?,
        };
        let public_url = c
            .public_url
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let delivery = delivery::settings(&s.messaging, &s.secrets, &public_url)?;
        let trusted_proxies = delivery::trusted_proxies(&s.messaging)?;
        let master_key = secret_from_file(
            s.secrets.master_key,
            s.secrets.master_key_file.as_deref(),
            str::trim,
        )?;
        let ldap_bind_password = secret_from_file(
            s.secrets.ldap_bind_password,
            s.secrets.ldap_bind_password_file.as_deref(),
            |t| t.trim_end_matches(['\n', '\r']),
        )?;
        let ldap = ldap_config(LdapInput {
            url: c.ldap_url,
            starttls: c.ldap_starttls,
            bind_dn: c.ldap_bind_dn,
            bind_password: ldap_bind_password,
            ca_file: c.ldap_ca_file,
        })?;
        let ldap_base_dn = ldap_base_dn(c.ldap_base_dn)?;
        if serve.tls_cert.is_some() != serve.tls_key.is_some() {
            bail!("--tls-cert and --tls-key go together");
        }
        let (card_listen, card_public_url) = card_listener(&serve)?;
        let (limits, card_limits) = listener_limits(&serve)?;
        let service = service_identity(&serve)?;
        let taken: Vec<SocketAddr> = [Some(listen), Some(card_listen), serve.admin_listen]
            .into_iter()
            .flatten()
            .collect();
        let directory = directory_config(&serve, &taken)?;
        let taken: Vec<SocketAddr> = taken
            .into_iter()
            .chain(
                directory
                    .as_ref()
                    .filter(|d| d.elsewhere.is_none())
                    .map(|d| d.listen),
            )
            .collect();
        let offer = offer_config(&serve, &taken)?;
        Ok(Self {
            directory,
            offer,
            delivery,
            trusted_proxies,
            service,
            external: external_trust(&serve)?,
            limits,
            card_limits,
            admin_listen: serve.admin_listen,
            shutdown_delay: Duration::from_secs(serve.shutdown_delay_secs.unwrap_or(0)),
            listen,
            public_url,
            database_url: c
                .database_url
                .unwrap_or_else(|| "sqlite://coeur.db?mode=rwc".into()),
            keys_dir: c.keys_dir.unwrap_or_else(|| "keys".into()),
            realms_dir: c.realms_dir.unwrap_or_else(|| "realms".into()),
            master_key,
            ldap,
            ldap_base_dn,
            log_format: c.log_format.unwrap_or(LogFormat::Text),
            tls_cert: serve.tls_cert,
            tls_key: serve.tls_key,
            tls_self_issued: serve.tls_self_issued.unwrap_or(false),
            pki_dir: c.pki_dir.unwrap_or_else(|| "pki".into()),
            pki_hierarchy: c.pki_hierarchy.unwrap_or_else(|| "igc-sante".into()),
            pki_production: c.pki_production.unwrap_or(false),
            crl_dir: c.crl_dir.unwrap_or_else(|| "crl".into()),
            ca_realm: c.ca_realm.unwrap_or_else(|| "edit".into()),
            card_listen,
            card_public_url,
        })
    }
}

/// The operator's LDAP base DN: trimmed, empty meaning none, and a valid RFC 4514 name.
fn ldap_base_dn(given: Option<String>) -> Result<Option<String>> {
    let base = given.map(|b| b.trim().to_owned()).filter(|b| !b.is_empty());
    if let Some(b) = &base {
        coeur_pki::directory::Dn::parse(b).map_err(|e| anyhow::anyhow!("--ldap-base-dn: {e}"))?;
    }
    Ok(base)
}

/// The card listener's address and public URL (by default `https://` on that address).
fn card_listener(serve: &ServeSettings) -> Result<(SocketAddr, String)> {
    let listen = match serve.card_listen {
        Some(l) => l,
        None => DEFAULT_CARD_LISTEN
            .parse()
            .context("default card listener")?,
    };
    let public_url = serve
        .card_public_url
        .clone()
        .unwrap_or_else(|| format!("https://{listen}"))
        .trim_end_matches('/')
        .to_owned();
    Ok((listen, public_url))
}

/// HTTPS asked for on the command line (`--tls-cert` or `--tls-self-issued`) without a
/// public URL there: the default public URL is `https://` on the listener given there.
fn https_public_url(mut given: Settings) -> Result<Settings> {
    let https = given.serve.tls_cert.is_some() || given.serve.tls_self_issued == Some(true);
    if given.common.public_url.is_none() && https {
        let listen = match given.serve.listen {
            Some(l) => l,
            None => DEFAULT_LISTEN.parse().context("default listener")?,
        };
        given.common.public_url = Some(format!("https://{listen}"));
    }
    Ok(given)
}

/// A secret given directly, or else read from `file` and cleaned by `clean`.
fn secret_from_file(
    given: Option<String>,
    file: Option<&Path>,
    clean: impl Fn(&str) -> &str,
) -> Result<Option<String>> {
    match (given, file) {
        (Some(s), _) => Ok(Some(s)),
        (None, Some(p)) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(Some(clean(&text).to_owned()))
        }
        (None, None) => Ok(None),
    }
}

/// Timeouts and connection bounds of the main and admin listeners, and of the card listener.
fn listener_limits(serve: &ServeSettings) -> Result<(Limits, Limits)> {
    let secs = |given: Option<u64>, default: u64, flag: &str| match given.unwrap_or(default) {
        0 => bail!("{flag} must be positive"),
        n => Ok(Duration::from_secs(n)),
    };
    let max_connections = serve.max_connections.unwrap_or(512);
    if max_connections == 0 {
        bail!("--max-connections must be positive");
    }
    let main = Limits {
        handshake_timeout: secs(serve.handshake_timeout_secs, 10, "--handshake-timeout")?,
        header_read_timeout: secs(serve.header_read_timeout_secs, 30, "--header-read-timeout")?,
        max_connections,
        shutdown_grace: secs(serve.shutdown_grace_secs, 20, "--shutdown-grace")?,
    };
    let card = Limits {
        handshake_timeout: secs(
            serve.card_handshake_timeout_secs,
            120,
            "--card-handshake-timeout",
        )?,
        ..main
    };
    Ok((main, card))
}

/// Trust in externally issued client certificates, checked.
fn external_trust(serve: &ServeSettings) -> Result<ExternalTrustConfig> {
    let external = ExternalTrustConfig {
        card_trust_file: serve.card_trust_file.clone(),
        client_trust_file: serve.client_trust_file.clone(),
        methods: serve
            .external_revocation
            .clone()
            .unwrap_or_else(|| vec![RevocationMethod::Ocsp, RevocationMethod::Crl]),
        refresh_secs: serve.revocation_refresh_secs.unwrap_or(3600),
        fetch_timeout_secs: serve.revocation_fetch_timeout_secs.unwrap_or(10),
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
    Ok(external)
}

#[cfg(test)]
mod tests;
