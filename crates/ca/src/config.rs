//! The CA's settings, as the operator gives them: trust in external authorities and LDAP
//! publication. The `coeur` binary reads them from flags, environment and file.

use anyhow::{Result, bail};
use serde::Deserialize;
use std::path::PathBuf;

/// How the status of certificates from external authorities is established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationMethod {
    /// Ask the OCSP responder named in the certificate.
    Ocsp,
    /// Fetch (and cache) the CRL of the certificate's distribution point.
    Crl,
}

/// Trust in client certificates from external authorities (the real IGC-Santé chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalTrustConfig {
    /// PEM bundle of the authorities trusted for CPS cards (roots and issuing CAs).
    pub card_trust_file: Option<PathBuf>,
    /// PEM bundle of the authorities trusted for organisations' TLS client certificates.
    pub client_trust_file: Option<PathBuf>,
    /// Methods tried in order for each certificate of a path.
    pub methods: Vec<RevocationMethod>,
    /// A cached CRL or OCSP answer is fetched again after this long (seconds), even before
    /// its nextUpdate.
    pub refresh_secs: i64,
    /// Timeout of one CRL or OCSP fetch (seconds).
    pub fetch_timeout_secs: u64,
}

impl std::str::FromStr for RevocationMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ocsp" => Ok(Self::Ocsp),
            "crl" => Ok(Self::Crl),
            other => Err(format!("{other:?}: expected ocsp or crl")),
        }
    }
}

/// Where and how the LDAP publisher connects.
#[derive(Clone, PartialEq, Eq)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// StartTLS on an `ldap://` connection.
    pub starttls: bool,
    /// Bind DN (`None`: anonymous).
    pub bind_dn: Option<String>,
    /// Bind password (never logged).
    pub bind_password: Option<String>,
    /// CA certificates (PEM) trusted for the directory's TLS certificate (default: the
    /// system's roots).
    pub ca_file: Option<PathBuf>,
}

impl LdapConfig {
    /// A one-line description for logs (no password).
    pub fn describe(&self) -> String {
        let tls = if self.url.starts_with("ldaps:") {
            "TLS"
        } else if self.starttls {
            "StartTLS"
        } else {
            "plain"
        };
        format!(
            "{} ({tls}), bind {}",
            self.url,
            self.bind_dn.as_deref().unwrap_or("anonymous")
        )
    }
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("bind_dn", &self.bind_dn)
            .field(
                "bind_password",
                &self.bind_password.as_ref().map(|_| "<set>"),
            )
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// LDAP settings as given, before validation.
#[derive(Debug, Default, Clone)]
pub struct LdapInput {
    /// As given.
    pub url: Option<String>,
    /// As given.
    pub starttls: Option<bool>,
    /// As given.
    pub bind_dn: Option<String>,
    /// As given.
    pub bind_password: Option<String>,
    /// As given.
    pub ca_file: Option<PathBuf>,
}

/// Validates LDAP settings: `None` when publication is off.
pub fn ldap_config(i: LdapInput) -> Result<Option<LdapConfig>> {
    let Some(url) = i.url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) else {
        if i.bind_dn.is_some() || i.bind_password.is_some() || i.starttls == Some(true) {
            bail!("LDAP bind settings or StartTLS are given without --ldap-url");
        }
        return Ok(None);
    };
    let parsed = url::Url::parse(&url).map_err(|e| anyhow::anyhow!("--ldap-url {url:?}: {e}"))?;
    let tls = match parsed.scheme() {
        "ldap" => false,
        "ldaps" => true,
        s => bail!("--ldap-url: scheme {s:?}; use ldap:// (optionally with StartTLS) or ldaps://"),
    };
    if parsed.host_str().is_none_or(str::is_empty) {
        bail!("--ldap-url {url:?} names no host");
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        bail!(
            "--ldap-url {url:?}: give only scheme, host and port (the base DN is --ldap-base-dn)"
        );
    }
    if parsed.password().is_some() || !parsed.username().is_empty() {
        bail!("--ldap-url carries credentials: use --ldap-bind-dn and COEUR_LDAP_BIND_PASSWORD");
    }
    let starttls = i.starttls.unwrap_or(false);
    if starttls && tls {
        bail!("--ldap-starttls applies to ldap:// URLs; ldaps:// is TLS already");
    }
    let bind_dn = i.bind_dn.filter(|d| !d.trim().is_empty());
    let bind_password = i.bind_password.filter(|p| !p.is_empty());
    match (&bind_dn, &bind_password) {
        (Some(_), None) => bail!(
            "--ldap-bind-dn needs a password (COEUR_LDAP_BIND_PASSWORD or ldap_bind_password_file)"
        ),
        (None, Some(_)) => bail!("an LDAP bind password is given without --ldap-bind-dn"),
        _ => {}
    }
    if let Some(d) = &bind_dn {
        coeur_pki::directory::Dn::parse(d).map_err(|e| anyhow::anyhow!("--ldap-bind-dn: {e}"))?;
    }
    if let Some(f) = &i.ca_file
        && !f.is_file()
    {
        bail!("--ldap-ca-file {}: no such file", f.display());
    }
    if i.ca_file.is_some() && !tls && !starttls {
        bail!("--ldap-ca-file is for TLS: use ldaps:// or --ldap-starttls");
    }
    Ok(Some(LdapConfig {
        url: url.trim_end_matches('/').to_owned(),
        starttls,
        bind_dn,
        bind_password,
        ca_file: i.ca_file,
    }))
}
