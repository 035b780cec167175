//! First start: missing CA keys and certificates (roots, then issuing CAs and their OCSP
//! responders) are created; existing ones are loaded.

use super::*;

impl Ca {
    /// Opens the CA: creates missing CA keys and certificates (roots, then issuing CAs and their
    /// OCSP responders) on first start.
    #[allow(clippy::too_many_arguments)] // Wiring of the whole CA at start.
    pub async fn open(
        store: &Store,
        keys_dir: &Path,
        crl_dir: &Path,
        master: &MasterKey,
        hierarchy: Hierarchy,
        profiles: Vec<Profile>,
        env: PkiEnv,
        realm: &str,
        auto_approve: bool,
        rng: &dyn Random,
        now: i64,
    ) -> Result<Self> {
        std::fs::create_dir_all(crl_dir)
            .with_context(|| format!("creating {}", crl_dir.display()))?;
        let mut cas: HashMap<String, Arc<CaRt>> = HashMap::new();
        let wanted: Vec<CaDef> = hierarchy
            .cas
            .iter()
            .filter(|c| c.test == (env == PkiEnv::Test))
            .cloned()
            .collect();
        for def in wanted {
            let key = match KeyFile::load(keys_dir, master, &def.id, def.key)? {
                Some(k) => k,
                None => {
                    tracing::info!(ca = %def.id, key = def.key.as_str(), "generating CA key");
                    let (k, der) = CaKey::generate(def.key)?;
                    KeyFile::save(keys_dir, master, &def.id, &der)?;
                    k
                }
            };
            let key = Arc::new(key);
            let cert_der = match store_ca_cert(store, &def.id).await? {
                Some(d) => d,
                None => {
                    let serial = issue::new_serial(rng);
                    let parent = def.parent.as_ref().and_then(|p| cas.get(p).cloned());
                    let params = issue::ca_params(
                        &hierarchy,
                        &def,
                        parent.as_ref().map(|p| &p.def),
                        &serial,
                        now,
                    )
                    .map_err(|e| anyhow!(e))?;
                    let cert = match &parent {
                        None => params.self_signed(&SharedKey(key.clone()))?,
                        Some(p) => params.signed_by(&SharedKey(key.clone()), &p.issuer)?,
                    };
                    let der = cert.der().to_vec();
                    put_ca_cert_published(store, &def.id, &hierarchy.name, &der, now).await?;
                    append_audit(
                        store,
                        now,
                        "ca-init",
                        &format!("{}/{}", def.id, serial_hex(&serial)),
                        "coeur",
                        &serde_json::json!({"cn": def.cn}).to_string(),
                    )
                    .await?;
                    der
                }
            };
            let rt = Self::runtime(hierarchy.dn(&def), def.clone(), cert_der, key, None)?;
            cas.insert(def.id.clone(), Arc::new(rt));
        }
        let mut me = Self {
            hierarchy,
            profiles,
            cas,
            realm: realm.to_owned(),
            auto_approve,
            crl_dir: crl_dir.to_owned(),
            ocsp_cache: Mutex::new(HashMap::new()),
            crl_dirty: Mutex::new(HashMap::new()),
            crl_lock: tokio::sync::Mutex::new(()),
            committer: {
                let (tx, rx) = tokio::sync::mpsc::channel(1024);
                tokio::spawn(commit_loop(store.clone(), rx));
                tx
            },
        };
        me.ensure_responders(store, keys_dir, master, rng, now)
            .await?;
        Ok(me)
    }

    async fn ensure_responders(
        &mut self,
        store: &Store,
        keys_dir: &Path,
        master: &MasterKey,
        rng: &dyn Random,
        now: i64,
    ) -> Result<()> {
        let profile = self
            .profile("OCSP")
            .cloned()
            .ok_or_else(|| anyhow!("profiles.toml has no OCSP profile"))?;
        let ids: Vec<String> = self
            .cas
            .values()
            .filter(|c| !c.def.is_root())
            .map(|c| c.def.id.clone())
            .collect();
        for id in ids {
            let Some(ca) = self.cas.get(&id).cloned() else {
                continue;
            };
            let rid = format!("{id}-OCSP");
            let kt = KeyType::P256;
            let key = match KeyFile::load(keys_dir, master, &rid, kt)? {
                Some(k) => k,
                None => {
                    let (k, der) = CaKey::generate(kt)?;
                    KeyFile::save(keys_dir, master, &rid, &der)?;
                    k
                }
            };
            let existing = store_ca_cert(store, &rid).await?;
            let valid = existing.as_ref().is_some_and(|d| {
                x509_parser::certificate::X509Certificate::from_der(d).is_ok_and(|(_, c)| {
                    c.validity().not_after.timestamp() > now + 7 * 86_400
                        && c.public_key().subject_public_key.data.as_ref()
                            == rcgen::PublicKeyData::der_bytes(&key.rcgen)
                })
            });
            let der = match (existing, valid) {
                (Some(d), true) => d,
                _ => {
                    let req = SubjectRequest {
                        structure_id: Some("318751275100020".into()),
                        organization: Some(self.hierarchy.organization.clone()),
                        service_name: Some(format!("OCSP {}", ca.def.cn)),
                        ..Default::default()
                    };
                    let spki = rcgen::PublicKeyData::subject_public_key_info(&key.rcgen);
                    let approved = csr::approve_key(&spki, kt, &req, &profile, &ca.def)?;
                    let serial = issue::new_serial(rng);
                    let params = issue::ee_params(
                        &self.hierarchy,
                        &ca.def,
                        &profile,
                        &approved,
                        &serial,
                        now,
                    )
                    .map_err(|e| anyhow!(e))?;
                    let der = params
                        .signed_by(
                            &issue::subject_key(&approved).map_err(|e| anyhow!(e))?,
                            &ca.issuer,
                        )?
                        .der()
                        .to_vec();
                    put_ca_cert(store, &rid, &self.hierarchy.name, &der, now).await?;
                    der
                }
            };
            let kh = hash(IdHash::Sha1, rcgen::PublicKeyData::der_bytes(&key.rcgen));
            let rt = Self::runtime(
                self.hierarchy.dn(&ca.def),
                ca.def.clone(),
                ca.cert_der.clone(),
                ca.key.clone(),
                Some((key, der, kh)),
            )?;
            self.cas.insert(id, Arc::new(rt));
        }
        Ok(())
    }
}

pub(super) async fn store_ca_cert(store: &Store, id: &str) -> Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT der FROM ca_certs WHERE ca_id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    row.map(|r| Ok(STANDARD.decode(r.try_get::<String, _>("der")?)?))
        .transpose()
}

pub(super) async fn put_ca_cert(
    store: &Store,
    id: &str,
    hierarchy: &str,
    der: &[u8],
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM ca_certs WHERE ca_id = $1")
        .bind(id)
        .execute(store.pool())
        .await?;
    sqlx::query("INSERT INTO ca_certs (ca_id, hierarchy, der, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(hierarchy)
        .bind(b64(der))
        .bind(now)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Stores a CA certificate and announces it to the LDAP publisher, in one transaction.
pub(super) async fn put_ca_cert_published(
    store: &Store,
    id: &str,
    hierarchy: &str,
    der: &[u8],
    now: i64,
) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("DELETE FROM ca_certs WHERE ca_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO ca_certs (ca_id, hierarchy, der, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(hierarchy)
        .bind(b64(der))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    crate::ldap::outbox::enqueue_ca_cert(&mut tx, id, der, now).await?;
    tx.commit().await?;
    Ok(())
}
