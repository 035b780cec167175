//! First start: missing CA keys and certificates (roots, then issuing CAs and their OCSP
//! responders) are created; existing ones are loaded.

use super::*;

/// Where and how the CA runs: what [`Ca::open`] needs besides its store and hierarchy.
#[derive(Clone, Copy)]
pub struct CaSetup<'a> {
    /// Where CA keys are held.
    pub keys: &'a dyn KeyProvider,
    /// Where CRLs are assembled (scratch files only: CRLs are kept in the store).
    pub crl_dir: &'a Path,
    /// TEST twins or production CAs.
    pub env: Environment,
    /// The realm whose access tokens authorise API calls.
    pub realm: &'a str,
}

impl Ca {
    /// Opens the CA: creates missing CA keys and certificates (roots, then issuing CAs and their
    /// OCSP responders) on first start.
    pub async fn open(
        store: &CaStore,
        setup: &CaSetup<'_>,
        hierarchy: Hierarchy,
        profiles: Vec<Profile>,
        rng: &dyn Random,
        now: i64,
    ) -> Result<Self> {
        let crl_dir = setup.crl_dir;
        std::fs::create_dir_all(crl_dir)
            .with_context(|| format!("creating {}", crl_dir.display()))?;
        let mut cas: HashMap<String, Arc<CaRt>> = HashMap::new();
        let wanted: Vec<CaDef> = hierarchy
            .cas
            .iter()
            .filter(|c| c.environment() == setup.env)
            .cloned()
            .collect();
        for def in wanted {
            let key = setup.keys.key(&def.id, def.key, now).await?;
            let key = Arc::new(key);
            let cert_der = match store.ca_cert(&def.id).await? {
                Some(d) => d,
                None => {
                    let parent = def.parent.as_ref().and_then(|p| cas.get(p).cloned());
                    create_ca_cert(store, &hierarchy, &def, parent.as_deref(), &key, rng, now)
                        .await?
                }
            };
            let rt = Self::runtime(hierarchy.dn(&def), def.clone(), cert_der, key, None)?;
            cas.insert(def.id.clone(), Arc::new(rt));
        }
        let mut me = Self {
            hierarchy,
            profiles,
            cas,
            realm: setup.realm.to_owned(),
            environment: setup.env,
            crl_dir: crl_dir.to_owned(),
            ocsp_cache: Mutex::new(HashMap::new()),
            crl_dirty: Mutex::new(HashMap::new()),
            crl_cache: Mutex::new(HashMap::new()),
            bus: std::sync::OnceLock::new(),
            crl_lock: tokio::sync::Mutex::new(()),
            committer: {
                let (tx, rx) = tokio::sync::mpsc::channel(1024);
                tokio::spawn(commit_loop(store.clone(), rx));
                tx
            },
        };
        me.ensure_responders(store, setup, rng, now).await?;
        Ok(me)
    }

    /// Gives every issuing CA its delegated OCSP responder: key, and a certificate renewed when
    /// missing, expiring within a week, or certifying another key.
    async fn ensure_responders(
        &mut self,
        store: &CaStore,
        setup: &CaSetup<'_>,
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
            let key = setup.keys.key(&rid, kt, now).await?;
            let existing = store.ca_cert(&rid).await?;
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
                    let der = self.responder_cert(&ca, &profile, &key, rng, now)?;
                    store
                        .put_ca_cert(&rid, &self.hierarchy.name, &der, now)
                        .await?;
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

    /// A new certificate for the OCSP responder key `key` of `ca`.
    fn responder_cert(
        &self,
        ca: &CaRt,
        profile: &Profile,
        key: &CaKey,
        rng: &dyn Random,
        now: i64,
    ) -> Result<Vec<u8>> {
        let kt = KeyType::P256;
        let req = SubjectRequest {
            structure_id: Some("318751275100020".into()),
            organization: Some(self.hierarchy.organization.clone()),
            service_name: Some(format!("OCSP {}", ca.def.cn)),
            ..Default::default()
        };
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key.rcgen);
        let approved = csr::approve_key(&spki, kt, &req, profile, &ca.def)?;
        let serial = issue::new_serial(rng);
        let params = issue::ee_params(&self.hierarchy, &ca.def, profile, &approved, &serial, now)
            .map_err(|e| anyhow!(e))?;
        Ok(params
            .signed_by(
                &issue::subject_key(&approved).map_err(|e| anyhow!(e))?,
                &ca.issuer,
            )?
            .der()
            .to_vec())
    }
}

/// Creates, stores (announced to the directory) and audits the certificate of a CA: self-signed
/// for a root, else signed by its parent.
async fn create_ca_cert(
    store: &CaStore,
    hierarchy: &Hierarchy,
    def: &CaDef,
    parent: Option<&CaRt>,
    key: &Arc<CaKey>,
    rng: &dyn Random,
    now: i64,
) -> Result<Vec<u8>> {
    let serial = issue::new_serial(rng);
    let params = issue::ca_params(hierarchy, def, parent.map(|p| &p.def), &serial, now)
        .map_err(|e| anyhow!(e))?;
    let cert = match parent {
        None => params.self_signed(&SharedKey(key.clone()))?,
        Some(p) => params.signed_by(&SharedKey(key.clone()), &p.issuer)?,
    };
    let der = cert.der().to_vec();
    store
        .put_published_ca_cert(&def.id, &hierarchy.name, &der, now)
        .await?;
    let subject = format!("{}/{}", def.id, serial_hex(&serial));
    let details = serde_json::json!({"cn": def.cn}).to_string();
    store
        .append_audit(&AuditEntry {
            at: now,
            action: "ca-init",
            subject: &subject,
            actor: "coeur",
            details: &details,
        })
        .await?;
    Ok(der)
}
