//! Application state: configuration, realms with their keys and clients, the store, and the
//! injected clock and randomness.

use super::config::Config;
use super::keystore::{KeyStore, LoadedRing, MasterKey};
use super::store::{ClientRow, Store};
use crate::core::client::{Client, ClientSpec, validate_spec};
use crate::core::identity::generate_test_identities;
use crate::core::random::{Clock, Random};
use crate::core::realm::Realm;
use crate::core::secret::SecretHash;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// The system clock: the only place coeur reads the time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The system CSPRNG (aws-lc).
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, out: &mut [u8]) {
        // aws-lc's generator does not fail once initialised; an error here means the
        // process cannot produce secrets at all, so it must not continue.
        if aws_lc_rs::rand::fill(out).is_err() {
            std::process::abort();
        }
    }
}

/// A realm at run time: its definition, keys and file-defined clients.
pub struct RealmRt {
    /// The definition.
    pub realm: Realm,
    ring: RwLock<Arc<LoadedRing>>,
    ring_mtime: Mutex<Option<SystemTime>>,
    file_clients: HashMap<String, Client>,
    verified: Mutex<VerifiedTokens>,
}

/// Access tokens whose signature was verified, by SHA-256 of the token, with the key ring
/// they were verified against (held, so that its address is not reused while compared: a
/// reloaded ring is another one).
type VerifiedTokens = HashMap<[u8; 32], (Arc<LoadedRing>, crate::core::claims::AccessTokenClaims)>;

/// Verified access tokens kept per realm at most.
const VERIFIED_TOKENS_MAX: usize = 100_000;

impl RealmRt {
    /// The claims of `token` if its signature was verified against the current ring `ring`.
    pub fn verified_claims(
        &self,
        token: &str,
        ring: &Arc<LoadedRing>,
    ) -> Option<crate::core::claims::AccessTokenClaims> {
        let key = token_key(token);
        let m = self.verified.lock().ok()?;
        m.get(&key)
            .filter(|(r, _)| Arc::ptr_eq(r, ring))
            .map(|(_, c)| c.clone())
    }

    /// Remembers that `token`'s signature verified against `ring`, with its claims.
    pub fn remember_verified(
        &self,
        token: &str,
        ring: &Arc<LoadedRing>,
        claims: &crate::core::claims::AccessTokenClaims,
        now: i64,
    ) {
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= VERIFIED_TOKENS_MAX {
                m.retain(|_, (_, c)| c.exp > now);
                if m.len() >= VERIFIED_TOKENS_MAX {
                    m.clear();
                }
            }
            m.insert(token_key(token), (ring.clone(), claims.clone()));
        }
    }

    /// The current key ring.
    pub fn ring(&self) -> Arc<LoadedRing> {
        self.ring
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}

fn token_key(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

/// Sealing context of a client's secret.
pub fn client_secret_context(realm: &str, client_id: &str) -> String {
    format!("coeur/client/{realm}/{client_id}")
}

/// Everything handlers need.
pub struct AppState {
    /// Configuration.
    pub cfg: Config,
    /// The store.
    pub store: Store,
    /// The key store.
    pub keys: KeyStore,
    /// Realms by name.
    pub realms: HashMap<String, Arc<RealmRt>>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Random>,
    client_cache: Mutex<ClientCache>,
    /// The certificate authority.
    pub ca: Arc<super::ca::Ca>,
    /// Trust in client certificates (own CAs, external authorities, revocation caches).
    pub trust: super::trust::ClientTrust,
    /// Demo relying-party state (state → nonce, verifier), in memory.
    pub demo: Mutex<HashMap<String, (String, String, i64)>>,
}

/// Clients read from the database, by (realm, client id), with the time they were read.
type ClientCache = HashMap<(String, String), (Instant, Option<Client>)>;

const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);

/// Loads every `*.toml` realm file of `dir`.
pub fn load_realms(dir: &std::path::Path, public_url: &str) -> Result<Vec<Realm>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading realms from {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out: Vec<Realm> = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let r = Realm::parse(&f.display().to_string(), &text, public_url)?;
        out.push(r);
    }
    if out.is_empty() {
        bail!("no realm definitions (*.toml) in {}", dir.display());
    }
    Ok(out)
}

impl AppState {
    /// Opens the store and key store, loads realms, creates missing keys and seeds sandbox
    /// identities.
    pub async fn build(cfg: Config) -> Result<Arc<Self>> {
        Self::build_with(cfg, Arc::new(SystemClock), Arc::new(SystemRandom)).await
    }

    /// [`AppState::build`] with an injected clock and randomness.
    pub async fn build_with(
        cfg: Config,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
    ) -> Result<Arc<Self>> {
        let realms = load_realms(&cfg.realms_dir, &cfg.public_url)?;
        let store = Store::connect(&cfg.database_url).await?;
        let keys = KeyStore::open(
            &cfg.keys_dir,
            MasterKey::load(&cfg.keys_dir, cfg.master_key.as_deref())?,
        )?;
        let now = clock.now();
        let mut map = HashMap::new();
        for realm in realms {
            keys.ensure(&realm.name, &realm.signing_algs, now)?;
            let ring = keys.load(&realm.name)?;
            if let Some(seed) = &realm.generated_identities
                && store.identity_count(&realm.name).await? == 0
            {
                let ids = generate_test_identities(seed.seed, seed.count);
                store.put_identities(&realm.name, &ids, now).await?;
                tracing::info!(realm = %realm.name, count = ids.len(), "seeded test identities");
            }
            let mut file_clients = HashMap::new();
            for spec in &realm.clients {
                file_clients.insert(
                    spec.client_id.clone(),
                    client_from_spec(spec.clone(), None, None)?,
                );
            }
            let mtime = keys.modified(&realm.name);
            map.insert(
                realm.name.clone(),
                Arc::new(RealmRt {
                    realm,
                    ring: RwLock::new(Arc::new(ring)),
                    ring_mtime: Mutex::new(mtime),
                    file_clients,
                    verified: Mutex::new(HashMap::new()),
                }),
            );
        }
        let ca_realm = map
            .get(&cfg.ca_realm)
            .ok_or_else(|| anyhow!("ca_realm {} is not a realm", cfg.ca_realm))?;
        let auto_approve = ca_realm.realm.sandbox;
        let (hierarchy, profiles) =
            super::ca::load_pki(&cfg.pki_dir, &cfg.pki_hierarchy, &cfg.public_url)?;
        let hierarchy = hierarchy
            .with_ldap_base_dn(cfg.ldap_base_dn.as_deref())
            .map_err(|e| anyhow!("hierarchy {}: {e}", cfg.pki_hierarchy))?;
        let env = if cfg.pki_production {
            super::ca::PkiEnv::Production
        } else {
            super::ca::PkiEnv::Test
        };
        let ca = super::ca::Ca::open(
            &store,
            &cfg.keys_dir,
            &cfg.crl_dir,
            keys.master(),
            hierarchy,
            profiles,
            env,
            &cfg.ca_realm,
            auto_approve,
            &*rng,
            now,
        )
        .await?;
        let trust = super::trust::ClientTrust::new(&cfg.external)?;
        Ok(Arc::new(Self {
            trust,
            cfg,
            store,
            keys,
            realms: map,
            clock,
            rng,
            client_cache: Mutex::new(HashMap::new()),
            ca: Arc::new(ca),
            demo: Mutex::new(HashMap::new()),
        }))
    }

    /// A realm by name.
    pub fn realm(&self, name: &str) -> Option<&Arc<RealmRt>> {
        self.realms.get(name)
    }

    /// Current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// A client of a realm: from the realm file, else from the database (cached briefly so
    /// that clients added by `coeur client add` appear within seconds).
    pub async fn client(&self, rt: &RealmRt, client_id: &str) -> Result<Option<Client>> {
        if let Some(c) = rt.file_clients.get(client_id) {
            return Ok(Some(c.clone()));
        }
        let key = (rt.realm.name.clone(), client_id.to_owned());
        if let Ok(cache) = self.client_cache.lock()
            && let Some((t, c)) = cache.get(&key)
            && t.elapsed() < CLIENT_CACHE_TTL
        {
            return Ok(c.clone());
        }
        let c = match self.store.client(&rt.realm.name, client_id).await? {
            Some(row) => Some(self.client_from_row(&rt.realm.name, row)?),
            None => None,
        };
        if let Ok(mut cache) = self.client_cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key, (Instant::now(), c.clone()));
        }
        Ok(c)
    }

    fn client_from_row(&self, realm: &str, row: ClientRow) -> Result<Client> {
        let spec: ClientSpec =
            serde_json::from_str(&row.spec).context("stored client registration")?;
        let hmac = match &row.secret_sealed {
            Some(s) => Some(
                String::from_utf8(
                    self.keys
                        .master()
                        .open(&client_secret_context(realm, &spec.client_id), s)?,
                )
                .map_err(|_| anyhow!("sealed secret is not text"))?,
            ),
            None => None,
        };
        client_from_spec(spec, row.secret_hash, hmac)
    }

    /// Reloads a realm's key ring if its file changed (e.g. `coeur keys rotate`).
    pub fn refresh_ring(&self, rt: &RealmRt) -> Result<()> {
        let m = self.keys.modified(&rt.realm.name);
        let changed = rt.ring_mtime.lock().map(|g| *g != m).unwrap_or(true);
        if changed {
            let loaded = self.keys.load(&rt.realm.name)?;
            if let Ok(mut g) = rt.ring.write() {
                *g = Arc::new(loaded);
            }
            if let Ok(mut g) = rt.ring_mtime.lock() {
                *g = m;
            }
            tracing::info!(realm = %rt.realm.name, "key ring reloaded");
        }
        Ok(())
    }
}

/// Builds a [`Client`] from its registration and stored secret forms.
pub fn client_from_spec(
    spec: ClientSpec,
    stored_hash: Option<String>,
    hmac_secret: Option<String>,
) -> Result<Client> {
    validate_spec(&spec).map_err(|e| anyhow!("client {}: {e}", spec.client_id))?;
    let hash = stored_hash.or_else(|| spec.secret_hash.clone());
    let secret_hash = hash
        .map(|h| SecretHash::parse(&h).map_err(|e| anyhow!("{e}")))
        .transpose()?;
    let jwks = spec
        .jwks
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .context("client jwks")?;
    Ok(Client {
        spec,
        secret_hash,
        hmac_secret,
        jwks,
    })
}
