//! LDAP publication: CA certificates, CRLs and holders' certificates written to a directory
//! (OpenLDAP or any LDAPv3 server) with `ldap3`.
//!
//! Changes reach the directory through an outbox (`outbox`): issuance, revocation and CRL
//! builds write a row in their own transaction; the publisher (`publisher`) delivers rows,
//! reading the current state from the store so that delivery is idempotent and order does not
//! matter; `reconcile` compares the whole directory with the store and repairs it. Where each
//! certificate goes is decided by the pure [`coeur_pki::directory`].

pub use crate::store::outbox;
pub mod publisher;
pub mod reconcile;

use crate::config::LdapConfig;
use anyhow::{Context, Result, anyhow};
use coeur_pki::directory::{CertAttr, Dn, EntrySpec, Holder, container_entry};
use ldap3::{LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub use publisher::{PublisherHandle, metrics_text, spawn};

/// Timeout of one LDAP operation.
const OP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a directory operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// The directory cannot be reached or is not serving: try again later; the rows being
    /// delivered are not at fault.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// The directory refused this operation.
    #[error("{0}")]
    Refused(String),
}

const RC_NO_SUCH_ATTRIBUTE: u32 = 16;
const RC_ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
const RC_NO_SUCH_OBJECT: u32 = 32;
const RC_NOT_ALLOWED_ON_NON_LEAF: u32 = 66;
const RC_ALREADY_EXISTS: u32 = 68;

/// Result codes that mean the server, not the request, is the problem.
fn server_trouble(rc: u32) -> bool {
    // timeLimitExceeded, busy, unavailable, loopDetect, other (e.g. a full database).
    matches!(rc, 3 | 51 | 52 | 54 | 80)
}

fn io(e: ldap3::LdapError) -> DirError {
    DirError::Unavailable(e.to_string())
}

fn refused(op: &str, dn: &str, r: &ldap3::LdapResult) -> DirError {
    let msg = format!("{op} {dn}: result {} {}", r.rc, r.text.trim());
    if server_trouble(r.rc) {
        DirError::Unavailable(msg)
    } else {
        DirError::Refused(msg)
    }
}

/// Builds the TLS configuration trusting the CA certificates of `ca_file`.
fn tls_config(ca_file: &std::path::Path) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
        .with_context(|| format!("reading {}", ca_file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", ca_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate", ca_file.display());
    }
    for c in certs {
        roots
            .add(c)
            .with_context(|| format!("{}: unusable CA certificate", ca_file.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A bound connection to the directory. Operations may run concurrently on clones.
#[derive(Clone)]
pub struct Directory {
    ldap: ldap3::Ldap,
}

impl Directory {
    /// Connects (TLS or StartTLS as configured) and binds.
    pub async fn connect(cfg: &LdapConfig) -> Result<Self, DirError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(Duration::from_secs(10))
            .set_starttls(cfg.starttls);
        if let Some(ca) = &cfg.ca_file {
            let c = tls_config(ca).map_err(|e| DirError::Refused(format!("{e:#}")))?;
            settings = settings.set_config(Arc::new(c));
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
            .await
            .map_err(|e| DirError::Unavailable(format!("connecting to {}: {e}", cfg.url)))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        if let (Some(dn), Some(pw)) = (&cfg.bind_dn, &cfg.bind_password) {
            let r = ldap
                .with_timeout(OP_TIMEOUT)
                .simple_bind(dn, pw)
                .await
                .map_err(io)?;
            if r.rc != 0 {
                // 49 invalidCredentials and the like: a configuration problem, reported as
                // unavailability so that no row is blamed for it.
                return Err(DirError::Unavailable(format!(
                    "bind as {dn}: result {} {}",
                    r.rc,
                    r.text.trim()
                )));
            }
        }
        Ok(Self { ldap })
    }

    /// Whether the connection is gone.
    pub fn is_closed(&mut self) -> bool {
        self.ldap.is_closed()
    }

    async fn add_raw(
        &self,
        spec: &EntrySpec,
        extra: &[(&str, Vec<Vec<u8>>)],
    ) -> Result<ldap3::LdapResult, DirError> {
        let mut attrs: HashMap<Vec<u8>, HashSet<Vec<u8>>> = HashMap::new();
        attrs.insert(
            b"objectClass".to_vec(),
            spec.object_classes
                .iter()
                .map(|c| c.as_bytes().to_vec())
                .collect(),
        );
        for (k, v) in &spec.attrs {
            attrs
                .entry(k.as_bytes().to_vec())
                .or_default()
                .insert(v.as_bytes().to_vec());
        }
        for (k, vs) in extra {
            attrs
                .entry(k.as_bytes().to_vec())
                .or_default()
                .extend(vs.iter().cloned());
        }
        let attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = attrs.into_iter().collect();
        let mut l = self.ldap.clone();
        l.with_timeout(OP_TIMEOUT)
            .add(&spec.dn.to_string(), attrs)
            .await
            .map_err(io)
    }

    async fn modify_raw(
        &self,
        dn: &str,
        mods: Vec<Mod<Vec<u8>>>,
    ) -> Result<ldap3::LdapResult, DirError> {
        let mut l = self.ldap.clone();
        l.with_timeout(OP_TIMEOUT)
            .modify(dn, mods)
            .await
            .map_err(io)
    }

    /// Makes sure `dn` exists, creating it and its missing parents (outermost first) from
    /// `known` specs or, failing that, as plain containers chosen by naming attribute.
    pub async fn ensure_entry(&self, dn: &Dn, known: &[EntrySpec]) -> Result<(), DirError> {
        let mut stack = vec![dn.clone()];
        while let Some(top) = stack.last().cloned() {
            let spec = known
                .iter()
                .find(|k| k.dn.norm() == top.norm())
                .cloned()
                .or_else(|| container_entry(&top))
                .ok_or_else(|| {
                    DirError::Refused(format!(
                        "cannot create {top}: no known object class for its naming attribute"
                    ))
                })?;
            let r = self.add_raw(&spec, &[]).await?;
            match r.rc {
                0 | RC_ALREADY_EXISTS => {
                    stack.pop();
                }
                RC_NO_SUCH_OBJECT => {
                    let parent = top.parent().filter(|p| !p.is_empty()).ok_or_else(|| {
                        DirError::Refused(format!("{top}: the directory holds no suffix for it"))
                    })?;
                    if stack.len() > 32 {
                        return Err(DirError::Refused(format!("{dn}: too deep")));
                    }
                    stack.push(parent);
                }
                _ => return Err(refused("add", &top.to_string(), &r)),
            }
        }
        Ok(())
    }

    /// Sets an attribute of a CA entry (replacing its values), creating the entry if needed.
    pub async fn put_ca_attr(
        &self,
        entry: &EntrySpec,
        attr: &str,
        value: &[u8],
    ) -> Result<(), DirError> {
        let dn = entry.dn.to_string();
        for _ in 0..3 {
            let r = self
                .modify_raw(
                    &dn,
                    vec![Mod::Replace(
                        attr.as_bytes().to_vec(),
                        HashSet::from([value.to_vec()]),
                    )],
                )
                .await?;
            match r.rc {
                0 => return Ok(()),
                RC_NO_SUCH_OBJECT => {
                    let a = self.add_raw(entry, &[(attr, vec![value.to_vec()])]).await?;
                    match a.rc {
                        0 => return Ok(()),
                        RC_ALREADY_EXISTS => continue,
                        RC_NO_SUCH_OBJECT => {
                            if let Some(p) = entry.dn.parent() {
                                self.ensure_entry(&p, &[]).await?;
                            }
                        }
                        _ => return Err(refused("add", &dn, &a)),
                    }
                }
                _ => return Err(refused("modify", &dn, &r)),
            }
        }
        Err(DirError::Refused(format!("{dn}: the entry kept changing")))
    }

    /// Reads attributes of one entry (`None` when it does not exist); attribute names are
    /// lowercased without options.
    pub async fn read(
        &self,
        dn: &str,
        attrs: &[&str],
    ) -> Result<Option<HashMap<String, Vec<Vec<u8>>>>, DirError> {
        let mut l = self.ldap.clone();
        let res = l
            .with_timeout(OP_TIMEOUT)
            .search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await
            .map_err(io)?;
        let ldap3::SearchResult(entries, r) = res;
        match r.rc {
            0 => {}
            RC_NO_SUCH_OBJECT => return Ok(None),
            _ => return Err(refused("read", dn, &r)),
        }
        let Some(e) = entries.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(entry_values(SearchEntry::construct(e))))
    }

    async fn read_certs(
        &self,
        dn: &str,
    ) -> Result<Option<HashMap<CertAttr, Vec<Vec<u8>>>>, DirError> {
        let names: Vec<&str> = CertAttr::ALL.iter().map(|a| a.ldap_name()).collect();
        Ok(self.read(dn, &names).await?.map(|m| {
            let mut out: HashMap<CertAttr, Vec<Vec<u8>>> = HashMap::new();
            for a in CertAttr::ALL {
                if let Some(v) = m.get(&attr_key(a.ldap_name())) {
                    out.insert(a, v.clone());
                }
            }
            out
        }))
    }

    /// Puts a certificate on its holder entry (creating the entry and its parents if needed).
    /// Returns whether the directory changed.
    pub async fn ensure_cert(&self, h: &Holder) -> Result<bool, DirError> {
        let dn = h.entry.dn.to_string();
        let name = h.attr.ldap_name();
        for _ in 0..4 {
            if !h.attr.has_equality() {
                // No equality rule: the attribute is rewritten whole.
                if let Some(m) = self.read_certs(&dn).await? {
                    let mut vals = m.get(&h.attr).cloned().unwrap_or_default();
                    if vals.contains(&h.value) {
                        return Ok(false);
                    }
                    vals.push(h.value.clone());
                    let r = self
                        .modify_raw(
                            &dn,
                            vec![Mod::Replace(
                                name.as_bytes().to_vec(),
                                vals.into_iter().collect(),
                            )],
                        )
                        .await?;
                    match r.rc {
                        0 => return Ok(true),
                        RC_NO_SUCH_OBJECT => continue,
                        _ => return Err(refused("modify", &dn, &r)),
                    }
                }
            }
            let r = self
                .add_raw(&h.entry, &[(name, vec![h.value.clone()])])
                .await?;
            match r.rc {
                0 => return Ok(true),
                RC_ALREADY_EXISTS if h.attr.has_equality() => {
                    let m = self
                        .modify_raw(
                            &dn,
                            vec![Mod::Add(
                                name.as_bytes().to_vec(),
                                HashSet::from([h.value.clone()]),
                            )],
                        )
                        .await?;
                    match m.rc {
                        0 => return Ok(true),
                        RC_ATTRIBUTE_OR_VALUE_EXISTS => return Ok(false),
                        RC_NO_SUCH_OBJECT => continue,
                        _ => return Err(refused("modify", &dn, &m)),
                    }
                }
                RC_ALREADY_EXISTS => continue,
                RC_NO_SUCH_OBJECT => {
                    let parent = h.entry.dn.parent().unwrap_or_default();
                    self.ensure_entry(&parent, &h.ancestors).await?;
                }
                _ => return Err(refused("add", &dn, &r)),
            }
        }
        Err(DirError::Refused(format!("{dn}: the entry kept changing")))
    }

    /// Takes a certificate value off an entry; an entry left without certificates is
    /// deleted. Returns whether the directory changed.
    pub async fn remove_cert(
        &self,
        dn: &str,
        attr: CertAttr,
        value: &[u8],
    ) -> Result<bool, DirError> {
        let name = attr.ldap_name();
        if attr.has_equality() {
            let r = self
                .modify_raw(
                    dn,
                    vec![Mod::Delete(
                        name.as_bytes().to_vec(),
                        HashSet::from([value.to_vec()]),
                    )],
                )
                .await?;
            match r.rc {
                0 => {}
                RC_NO_SUCH_ATTRIBUTE | RC_NO_SUCH_OBJECT => return Ok(false),
                _ => return Err(refused("modify", dn, &r)),
            }
        } else {
            let Some(m) = self.read_certs(dn).await? else {
                return Ok(false);
            };
            let vals = m.get(&attr).cloned().unwrap_or_default();
            if !vals.iter().any(|v| v == value) {
                return Ok(false);
            }
            let rest: HashSet<Vec<u8>> = vals.into_iter().filter(|v| v != value).collect();
            let r = self
                .modify_raw(dn, vec![Mod::Replace(name.as_bytes().to_vec(), rest)])
                .await?;
            match r.rc {
                0 => {}
                RC_NO_SUCH_OBJECT | RC_NO_SUCH_ATTRIBUTE => return Ok(false),
                _ => return Err(refused("modify", dn, &r)),
            }
        }
        self.delete_if_empty(dn).await?;
        Ok(true)
    }

    async fn delete_if_empty(&self, dn: &str) -> Result<(), DirError> {
        let Some(m) = self.read_certs(dn).await? else {
            return Ok(());
        };
        if m.values().any(|v| !v.is_empty()) {
            return Ok(());
        }
        let mut l = self.ldap.clone();
        let r = l.with_timeout(OP_TIMEOUT).delete(dn).await.map_err(io)?;
        match r.rc {
            0 | RC_NO_SUCH_OBJECT | RC_NOT_ALLOWED_ON_NON_LEAF => Ok(()),
            _ => Err(refused("delete", dn, &r)),
        }
    }

    /// Every entry below `base` holding certificates: (DN, values by attribute). Paged.
    pub async fn scan_certs(
        &self,
        base: &str,
        mut each: impl FnMut(String, HashMap<CertAttr, Vec<Vec<u8>>>),
    ) -> Result<(), DirError> {
        use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
        let names: Vec<&str> = CertAttr::ALL.iter().map(|a| a.ldap_name()).collect();
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(500)),
        ];
        let mut l = self.ldap.clone();
        let mut s = l
            .streaming_search_with(
                adapters,
                base,
                Scope::Subtree,
                "(|(userCertificate=*)(userSMIMECertificate=*))",
                names,
            )
            .await
            .map_err(io)?;
        while let Some(e) = s.next().await.map_err(io)? {
            let e = SearchEntry::construct(e);
            let dn = e.dn.clone();
            let vals = entry_values(e);
            let mut out: HashMap<CertAttr, Vec<Vec<u8>>> = HashMap::new();
            for a in CertAttr::ALL {
                if let Some(v) = vals.get(&attr_key(a.ldap_name())) {
                    out.insert(a, v.clone());
                }
            }
            each(dn, out);
        }
        let r = s.finish().await;
        match r.rc {
            0 | RC_NO_SUCH_OBJECT => Ok(()),
            _ => Err(refused("search", base, &r)),
        }
    }
}

/// `userCertificate;binary` → `usercertificate`.
fn attr_key(name: &str) -> String {
    name.split(';').next().unwrap_or(name).to_ascii_lowercase()
}

fn entry_values(e: SearchEntry) -> HashMap<String, Vec<Vec<u8>>> {
    let mut m: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for (k, vs) in e.bin_attrs {
        m.entry(attr_key(&k)).or_default().extend(vs);
    }
    for (k, vs) in e.attrs {
        m.entry(attr_key(&k))
            .or_default()
            .extend(vs.into_iter().map(String::into_bytes));
    }
    m
}

/// Connects for a CLI command, with the error in plain words.
pub async fn connect_cli(cfg: Option<&LdapConfig>) -> Result<Directory> {
    let cfg = cfg.ok_or_else(|| {
        anyhow!("LDAP publication is not configured (--ldap-url, see `coeur --help`)")
    })?;
    Directory::connect(cfg)
        .await
        .map_err(|e| anyhow!("{}: {e}", cfg.url))
}
