//! `coeur ldap reconcile`: compares the directory with the store and repairs both ways. CA
//! entries get the stored CA certificate and the current CRLs; every valid certificate of the
//! CAs this process runs is put where it belongs; certificate values the store does not list as
//! valid at that place (revoked, expired, unknown, misplaced) are taken off.

use super::publisher::{current_crl, sync_cert};
use super::{DirError, Directory};
use crate::ca::Ca;
use crate::store::{CaStore, StoredCert};
use anyhow::{Result, anyhow};
use coeur_pki::directory::{self as dir, CA_CERT_ATTR, CRL_ATTR, CertAttr, DELTA_CRL_ATTR};
use futures_util::StreamExt as _;
use std::collections::HashMap;

/// What reconciliation found and did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// CA entry attributes that were missing or different.
    pub ca_attrs_fixed: usize,
    /// Directory entries holding certificates that were scanned.
    pub entries_scanned: usize,
    /// Certificate values found in place.
    pub in_place: usize,
    /// Valid certificates added (or that would be, in a dry run).
    pub added: usize,
    /// Values removed: revoked, expired, unknown or misplaced.
    pub removed: usize,
    /// Whether nothing was written.
    pub dry_run: bool,
}

fn digest(b: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

struct Found {
    dn: String,
    values: Vec<(CertAttr, [u8; 32], bool)>,
}

fn fail(e: DirError) -> anyhow::Error {
    anyhow!("{e}")
}

/// Reconciles the directory with the store (`dry_run`: only counts).
pub async fn reconcile(
    ca: &Ca,
    store: &CaStore,
    d: &Directory,
    now: i64,
    dry_run: bool,
) -> Result<Report> {
    let mut report = Report {
        dry_run,
        ..Report::default()
    };
    // 1. CA entries.
    fix_ca_entries(ca, store, d, now, &mut report).await?;
    // 2. What the directory holds, below the trees of the CAs this process runs.
    let mut found = scan_directory(ca, d).await?;
    report.entries_scanned = found.len();
    // 3. The store, page by page: valid certificates must be in place.
    let mut active: Vec<String> = ca.cas.keys().cloned().collect();
    active.sort();
    for ca_id in &active {
        place_valid_certs(ca, store, d, ca_id, now, &mut found, &mut report).await?;
    }
    // 4. Values nobody accounted for go.
    remove_stale(d, &found, &mut report).await?;
    Ok(report)
}

/// Step 1: gives every CA entry the stored CA certificate and the current CRLs, counting
/// (and, unless in a dry run, writing) the attributes that are missing or different.
async fn fix_ca_entries(
    ca: &Ca,
    store: &CaStore,
    d: &Directory,
    now: i64,
    report: &mut Report,
) -> Result<()> {
    let mut ids: Vec<&String> = ca.cas.keys().collect();
    ids.sort();
    for id in &ids {
        let rt = &ca.cas[*id];
        let entry = dir::ca_entry(&ca.hierarchy, &rt.def);
        let have = d
            .read(
                &entry.dn.to_string(),
                &[CA_CERT_ATTR, CRL_ATTR, DELTA_CRL_ATTR],
            )
            .await
            .map_err(fail)?
            .unwrap_or_default();
        let mut wanted = vec![(CA_CERT_ATTR, Some(rt.cert_der.clone()))];
        wanted.push((
            CRL_ATTR,
            current_crl(ca, store, id, false, true, now).await?,
        ));
        wanted.push((
            DELTA_CRL_ATTR,
            current_crl(ca, store, id, true, true, now).await?,
        ));
        for (attr, value) in wanted {
            let Some(value) = value else { continue };
            let key = attr.split(';').next().unwrap_or(attr).to_ascii_lowercase();
            let current = have.get(&key).cloned().unwrap_or_default();
            if current.len() == 1 && current[0] == value {
                continue;
            }
            report.ca_attrs_fixed += 1;
            tracing::info!(ca = %id, attr, "CA entry attribute missing or stale");
            if !report.dry_run {
                d.put_ca_attr(&entry, attr, &value).await.map_err(fail)?;
            }
        }
    }
    Ok(())
}

/// Step 2: collects the certificate values the directory holds below the trees of the CAs
/// this process runs, keyed by normalised DN, none of them yet accounted for.
async fn scan_directory(ca: &Ca, d: &Directory) -> Result<HashMap<String, Found>> {
    let mut envs: Vec<bool> = ca.cas.values().map(|c| c.def.test).collect();
    envs.sort();
    envs.dedup();
    let mut found: HashMap<String, Found> = HashMap::new();
    for test in envs {
        for base in dir::scan_bases(ca.hierarchy.directory.trees(test)) {
            d.scan_certs(&base.to_string(), |dn, vals| {
                let norm = dir::Dn::parse(&dn).map(|x| x.norm()).unwrap_or(dn.clone());
                let f = found.entry(norm).or_insert_with(|| Found {
                    dn: dn.clone(),
                    values: Vec::new(),
                });
                for (a, vs) in vals {
                    for v in vs {
                        f.values.push((a, digest(&v), false));
                    }
                }
            })
            .await
            .map_err(fail)?;
        }
    }
    Ok(found)
}

/// Step 3, for one CA: walks its stored certificates page by page, marks the directory values
/// of the valid ones as accounted for, and (unless in a dry run) publishes those that are not
/// completely in place.
async fn place_valid_certs(
    ca: &Ca,
    store: &CaStore,
    d: &Directory,
    ca_id: &str,
    now: i64,
    found: &mut HashMap<String, Found>,
    report: &mut Report,
) -> Result<()> {
    let mut after = String::new();
    loop {
        let rows = store.certificates_page(ca_id, &after, 500).await?;
        let Some((last, _)) = rows.last() else { break };
        after = last.clone();
        let missing = check_page(ca, ca_id, rows, now, found, report);
        if !report.dry_run && !missing.is_empty() {
            let results: Vec<Result<usize, DirError>> = futures_util::stream::iter(missing.iter())
                .map(|c| sync_cert(ca, d, ca_id, c, now))
                .buffer_unordered(super::publisher::CONCURRENCY)
                .collect()
                .await;
            for r in results {
                r.map_err(fail)?;
            }
        }
    }
    Ok(())
}

/// Checks one page of stored certificates against what the directory holds: values in place
/// are marked as seen; returns the valid certificates not completely in place.
fn check_page(
    ca: &Ca,
    ca_id: &str,
    rows: Vec<(String, StoredCert)>,
    now: i64,
    found: &mut HashMap<String, Found>,
    report: &mut Report,
) -> Vec<StoredCert> {
    let mut missing: Vec<StoredCert> = Vec::new();
    for (_, cert) in rows {
        if !dir::publishable(cert.revoked_at, cert.not_after, now) {
            continue;
        }
        let Some(def) = ca.hierarchy.ca(ca_id) else {
            continue;
        };
        let Some(profile) = ca.profile(&cert.profile) else {
            continue;
        };
        let holders = match dir::placement(&ca.hierarchy, def, profile, &cert.der) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(ca = %ca_id, error = %e, "certificate has no place in the directory");
                continue;
            }
        };
        let mut complete = true;
        for h in &holders {
            let want = digest(&h.value);
            let hit = found.get_mut(&h.entry.dn.norm()).and_then(|f| {
                f.values
                    .iter_mut()
                    .find(|(a, dg, _)| *a == h.attr && *dg == want)
            });
            match hit {
                Some(v) => {
                    v.2 = true;
                    report.in_place += 1;
                }
                None => complete = false,
            }
        }
        if !complete {
            report.added += 1;
            missing.push(cert);
        }
    }
    missing
}

/// Step 4: counts the certificate values nobody accounted for and (unless in a dry run)
/// removes them, as the directory holds them.
async fn remove_stale(
    d: &Directory,
    found: &HashMap<String, Found>,
    report: &mut Report,
) -> Result<()> {
    for f in found.values() {
        let stale: Vec<(CertAttr, [u8; 32])> = f
            .values
            .iter()
            .filter(|(_, _, seen)| !seen)
            .map(|(a, dg, _)| (*a, *dg))
            .collect();
        if stale.is_empty() {
            continue;
        }
        report.removed += stale.len();
        tracing::info!(dn = %f.dn, values = stale.len(), "stale certificate values in the directory");
        if report.dry_run {
            continue;
        }
        // Values are removed as the directory holds them.
        let Some(now_vals) = d
            .read(&f.dn, &CertAttr::ALL.map(CertAttr::ldap_name))
            .await
            .map_err(fail)?
        else {
            continue;
        };
        for (attr, want) in stale {
            let key = attr
                .ldap_name()
                .split(';')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            for v in now_vals.get(&key).into_iter().flatten() {
                if digest(v) == want {
                    d.remove_cert(&f.dn, attr, v).await.map_err(fail)?;
                }
            }
        }
    }
    Ok(())
}
