//! Application state: configuration, realms with their keys and clients, the store, and the
//! injected clock and randomness.

use crate::backchannel::Backchannel;
use crate::client_cache::{CLIENT_CACHE_TTL, ClientCache};
use crate::clients::clients_changed_elsewhere;
use crate::store::Store;
use crate::tokens::RealmTokens;
use anyhow::{Context, Result, anyhow, bail};
use coeur_ca::CaService;
use coeur_common::identity::{admit, sandbox_identities};
use coeur_common::random::{Clock, Random};
use coeur_oauth::client::{Client, ClientSpec, validate_spec};
use coeur_oauth::cors::WebOrigins;
use coeur_oauth::realm::Realm;
use coeur_oauth::secret::SecretHash;
use coeur_resource_server::Verifier;
use coeur_storage::keystore::{KeyStore, LoadedRing};
use coeur_storage::{Bus, Event, Heard};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// A realm at run time: its definition, keys and file-defined clients.
pub struct RealmRt {
    /// The definition.
    pub realm: Realm,
    ring: RwLock<Arc<LoadedRing>>,
    /// When the store's ring version was last read.
    ring_checked: Mutex<Option<Instant>>,
    file_clients: HashMap<String, Client>,
    /// Upstream identity providers (FranceConnect), in wallet order.
    pub upstreams: Vec<Arc<crate::upstream::UpstreamRt>>,
}

impl RealmRt {
    /// A client defined in the realm file.
    pub fn file_client(&self, client_id: &str) -> Option<&Client> {
        self.file_clients.get(client_id)
    }

    /// The current key ring.
    pub fn ring(&self) -> Arc<LoadedRing> {
        self.ring
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Reloads the key ring if the store holds a newer version (a rotation by another
    /// instance or by `coeur keys rotate`).
    pub async fn refresh_ring(&self, keys: &KeyStore) -> Result<()> {
        if let Ok(mut g) = self.ring_checked.lock() {
            *g = Some(Instant::now());
        }
        let stored = keys.version(&self.realm.name).await?;
        if stored <= self.ring().version {
            return Ok(());
        }
        let loaded = keys.load(&self.realm.name).await?;
        let version = loaded.version;
        if let Ok(mut g) = self.ring.write()
            && g.version < version
        {
            *g = Arc::new(loaded);
            tracing::info!(realm = %self.realm.name, version, "key ring reloaded");
        }
        Ok(())
    }

    /// [`RealmRt::refresh_ring`], unless the store was read within the last second: for the
    /// paths that serve or check keys (JWKS, token verification), so that a rotation is seen
    /// within a second even without the bus (SQLite and the CLI in another process).
    pub async fn refresh_ring_soon(&self, keys: &KeyStore) -> Result<()> {
        let recent = self
            .ring_checked
            .lock()
            .map(|g| g.is_some_and(|t| t.elapsed() < RING_CHECK))
            .unwrap_or(false);
        if recent {
            return Ok(());
        }
        self.refresh_ring(keys).await
    }
}

/// How long a reading of the store's ring version holds for the paths that serve keys.
const RING_CHECK: Duration = Duration::from_secs(1);

/// Sealing context of a client's secret.
pub fn client_secret_context(realm: &str, client_id: &str) -> String {
    format!("coeur/client/{realm}/{client_id}")
}

/// Where the provider is reached.
#[derive(Debug, Clone)]
pub struct ProviderUrls {
    /// The main listener's public base URL.
    pub public_url: String,
    /// The card listener's public base URL.
    pub card_public_url: String,
}

/// What the provider is opened with besides its parts: where it is reached, how messages to
/// professionals leave (e-CPS enrolment by contact details), and the reverse proxies whose
/// forwarding headers rate limits believe.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Where the provider is reached.
    pub urls: ProviderUrls,
    /// E-mail and SMS.
    pub delivery: crate::delivery::DeliverySettings,
    /// Trusted reverse proxies (none by default).
    pub trusted_proxies: coeur_web::proxy::TrustedProxies,
    /// The server's lifecycle: long-lived answers (e-CPS event streams) end when it drains.
    pub lifecycle: coeur_web::lifecycle::Lifecycle,
    /// The process's bus to the other instances sharing the database (shared with the CA).
    pub bus: Bus,
    /// The clients registered in the database, cached briefly (shared with the CA's
    /// requesters, [`crate::ca_clients::RealmRequesters`]).
    pub clients: Arc<ClientCache>,
}

/// The realms at run time, with a token verifier each.
pub struct Realms {
    map: HashMap<String, Arc<RealmRt>>,
    verifiers: HashMap<String, Arc<Verifier>>,
}

impl Realms {
    /// Loads the realm files of `dir`, creates missing signing keys and seeds sandbox
    /// identities.
    pub async fn open(
        dir: &std::path::Path,
        public_url: &str,
        store: &Store,
        keys: &Arc<KeyStore>,
        clock: &Arc<dyn Clock>,
    ) -> Result<Self> {
        let now = clock.now();
        let mut map = HashMap::new();
        let mut verifiers = HashMap::new();
        for realm in load_realms(dir, public_url)? {
            keys.ensure(&realm.name, &realm.signing_algs, now).await?;
            let ring = keys.load(&realm.name).await?;
            if let Some(seed) = &realm.generated_identities
                && store.identity_count(&realm.name).await? == 0
            {
                let ids = admit(
                    realm.environment(),
                    sandbox_identities(seed.seed, seed.count),
                )
                .with_context(|| format!("seeding realm {}", realm.name))?;
                store.put_identities(&realm, &ids, now).await?;
                tracing::info!(
                    realm = %realm.name,
                    count = ids.identities().len(),
                    "seeded test identities"
                );
            }
            let mut file_clients = HashMap::new();
            for spec in &realm.clients {
                file_clients.insert(
                    spec.client_id.clone(),
                    client_from_spec(spec.clone(), None, None)?,
                );
            }
            let upstreams = crate::upstream::load(&realm, dir)?;
            let rt = Arc::new(RealmRt {
                upstreams,
                realm,
                ring: RwLock::new(Arc::new(ring)),
                ring_checked: Mutex::new(None),
                file_clients,
            });
            let source = RealmTokens::new(rt.clone(), store.clone(), keys.clone());
            verifiers.insert(
                rt.realm.name.clone(),
                Arc::new(Verifier::new(Arc::new(source), clock.clone())),
            );
            map.insert(rt.realm.name.clone(), rt);
        }
        Ok(Self { map, verifiers })
    }

    /// A realm by name.
    pub fn get(&self, name: &str) -> Option<&Arc<RealmRt>> {
        self.map.get(name)
    }

    /// The verifier of a realm's access tokens (for resource servers in this process).
    pub fn verifier(&self, name: &str) -> Option<&Arc<Verifier>> {
        self.verifiers.get(name)
    }

    /// Every realm, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Arc<RealmRt>)> {
        self.map.iter()
    }

    /// The realms' names, sorted.
    pub fn names(&self) -> Vec<&String> {
        let mut names: Vec<&String> = self.map.keys().collect();
        names.sort();
        names
    }
}

/// Everything handlers need.
pub struct AppState {
    /// Where the provider is reached.
    pub urls: ProviderUrls,
    /// The provider's store.
    pub store: Store,
    /// The key store.
    pub keys: Arc<KeyStore>,
    /// Realms by name.
    pub realms: Realms,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Random>,
    /// Clients registered in the database, cached briefly (shared with the CA's requesters).
    pub clients: Arc<ClientCache>,
    origin_cache: Mutex<HashMap<String, (Instant, Arc<WebOrigins>)>>,
    /// The sender of Back-Channel Logout requests.
    pub(crate) backchannel: Backchannel,
    /// The certificate authority (card and client certificate trust, the demo's roots).
    pub ca: Arc<CaService>,
    /// Rate limits on starting e-CPS logins and enrolments.
    pub(crate) ecps_limits: crate::ecps::limiter::Limiter,
    /// When each pending CIBA request was last polled (in memory).
    pub(crate) ciba_polls: Arc<crate::ciba::polls::PollClock>,
    /// Live e-CPS events: who listens for which professional's or request's changes.
    pub(crate) ecps_events: Arc<crate::ecps::events::Hub>,
    /// Notifications to and from the other instances sharing the database.
    pub(crate) bus: Bus,
    /// E-mail and SMS to professionals.
    pub(crate) delivery: Arc<crate::delivery::Delivery>,
    /// Reverse proxies believed about the client's address.
    pub(crate) proxies: coeur_web::proxy::TrustedProxies,
    /// The server's lifecycle.
    pub(crate) lifecycle: coeur_web::lifecycle::Lifecycle,
}

/// What this instance keeps in memory and the other instances sharing the database change:
/// e-CPS feeds to wake, CIBA polls to forget once decided, clients to read again, key rings to
/// load again. A dropped listening connection (messages possibly missed) wakes every feed,
/// forgets every poll and every cached client, and reads every ring's version again.
fn hear_other_instances(bus: &Bus, st: std::sync::Weak<AppState>) {
    bus.listen(move |heard| {
        let Some(st) = st.upgrade() else {
            return;
        };
        match heard {
            Heard::Event(Event::Ecps { topic }) => st.ecps_events.notify(topic),
            Heard::Event(Event::CibaDecided { request_id }) => st.ciba_polls.decided(request_id),
            Heard::Event(Event::ClientChanged { realm, client_id }) => {
                st.forget_client(realm, client_id);
            }
            Heard::Event(Event::CertificateRevoked { .. }) => {}
            Heard::Event(e @ (Event::GrantRevoked { .. } | Event::TokenRevoked { .. })) => {
                st.store.heard_revocation(e);
            }
            Heard::Event(Event::KeysRotated { realm }) => {
                if let Some(rt) = st.realms.get(realm).cloned() {
                    tokio::spawn(async move { reload_ring(&st, &rt).await });
                }
            }
            Heard::Missed => {
                st.ecps_events.notify_all();
                st.ciba_polls.clear();
                st.forget_clients();
                st.store.distrust_revoked();
                tokio::spawn(async move {
                    if let Err(e) = st.remember_revocations().await {
                        tracing::error!(error = %format!("{e:#}"), "revocations reload failed");
                    }
                    for (_, rt) in st.realms.iter() {
                        reload_ring(&st, rt).await;
                    }
                });
            }
        }
    });
}

/// Reloads a realm's ring after another instance rotated it (or may have), logging failures.
async fn reload_ring(st: &AppState, rt: &RealmRt) {
    if let Err(e) = st.refresh_ring(rt).await {
        tracing::error!(realm = %rt.realm.name, error = %format!("{e:#}"), "key ring reload failed");
    }
}

/// Tells the other instances sharing the database that a realm's key ring has a new version
/// (after `coeur keys rotate` as well).
pub async fn keys_rotated_elsewhere(bus: &Bus, realm: &str) {
    bus.publish(&Event::KeysRotated {
        realm: realm.to_owned(),
    })
    .await;
}

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
    /// The provider over its opened parts.
    pub fn new(
        settings: ProviderSettings,
        store: Store,
        keys: Arc<KeyStore>,
        realms: Realms,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        ca: Arc<CaService>,
    ) -> Result<Arc<Self>> {
        let delivery = Arc::new(crate::delivery::Delivery::open(&settings.delivery)?);
        let ecps_events = Arc::new(crate::ecps::events::Hub::default());
        let ciba_polls = Arc::new(crate::ciba::polls::PollClock::default());
        let st = Arc::new(Self {
            urls: settings.urls,
            store,
            keys,
            realms,
            clock,
            rng,
            clients: settings.clients,
            origin_cache: Mutex::new(HashMap::new()),
            backchannel: Backchannel::new()?,
            ca,
            ecps_limits: Default::default(),
            ciba_polls,
            ecps_events,
            bus: settings.bus,
            delivery,
            proxies: settings.trusted_proxies,
            lifecycle: settings.lifecycle,
        });
        hear_other_instances(&st.bus, Arc::downgrade(&st));
        Ok(st)
    }

    /// The bus to the other instances sharing the database.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// How long a revoked grant can matter: the longest access token lifetime of the realms,
    /// plus five minutes.
    pub fn revocation_window(&self) -> i64 {
        let longest = self
            .realms
            .iter()
            .map(|(_, rt)| rt.realm.lifetimes.access_token)
            .max()
            .unwrap_or(0);
        longest + 300
    }

    /// Answers revocations from memory from now on: tells this instance's revocations to the
    /// others, and reads those that can still matter from the store. Returns how many are
    /// held (tokens, grants).
    pub async fn remember_revocations(&self) -> Result<(usize, usize)> {
        self.store.tell_revocations(&self.bus);
        self.store
            .load_revoked(self.now(), self.revocation_window())
            .await
    }

    /// Forgets what is cached of a client of `realm` (and the realm's web origins), so that
    /// it is read from the store again.
    fn forget_client(&self, realm: &str, client_id: &str) {
        self.clients.forget(realm, client_id);
        if let Ok(mut o) = self.origin_cache.lock() {
            o.remove(realm);
        }
    }

    /// Forgets every cached client and web origin.
    fn forget_clients(&self) {
        self.clients.forget_all();
        if let Ok(mut o) = self.origin_cache.lock() {
            o.clear();
        }
    }

    /// After a client of `realm` was added, removed or changed in the store (committed): it
    /// is read again here and, through the bus, on the other instances.
    pub async fn client_changed(&self, realm: &str, client_id: &str) {
        self.forget_client(realm, client_id);
        clients_changed_elsewhere(&self.bus, realm, client_id).await;
    }

    /// A realm by name.
    pub fn realm(&self, name: &str) -> Option<&Arc<RealmRt>> {
        self.realms.get(name)
    }

    /// The verifier of a realm's access tokens.
    pub fn verifier(&self, realm: &str) -> Option<&Arc<Verifier>> {
        self.realms.verifier(realm)
    }

    /// Current time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// A client of a realm: from the realm file, else from the database, cached briefly:
    /// dropped at once when the bus tells of a change (`coeur client add`/`remove`, another
    /// instance), else read again within seconds (SQLite, a lost message).
    pub async fn client(&self, rt: &RealmRt, client_id: &str) -> Result<Option<Client>> {
        self.clients.client(rt, client_id).await
    }

    /// The web origins of every client of a realm (file and database), those a preflight may
    /// be answered for; read again after [`CLIENT_CACHE_TTL`], like clients.
    pub async fn realm_origins(&self, rt: &RealmRt) -> Result<Arc<WebOrigins>> {
        let name = &rt.realm.name;
        if let Ok(cache) = self.origin_cache.lock()
            && let Some((t, o)) = cache.get(name)
            && t.elapsed() < CLIENT_CACHE_TTL
        {
            return Ok(o.clone());
        }
        let mut specs: Vec<ClientSpec> = Vec::new();
        for (id, spec) in self.store.clients(name).await? {
            specs.push(
                serde_json::from_str(&spec)
                    .with_context(|| format!("stored registration of client {id}"))?,
            );
        }
        let file = rt.file_clients.values().map(|c| &c.spec);
        let origins = Arc::new(WebOrigins::of_clients(file.chain(&specs)));
        if let Ok(mut cache) = self.origin_cache.lock() {
            cache.insert(name.clone(), (Instant::now(), origins.clone()));
        }
        Ok(origins)
    }

    /// Reloads a realm's key ring if the store holds a newer version (e.g. after `coeur keys
    /// rotate`, or a rotation on another instance).
    pub async fn refresh_ring(&self, rt: &RealmRt) -> Result<()> {
        rt.refresh_ring(&self.keys).await
    }

    /// Rotates a realm's signing keys (next → active, active → retired while tokens it signed
    /// live): a new version of the ring in the store, used here at once and by the other
    /// instances when they hear of it (or at their next reading of the ring's version).
    /// Returns the new version.
    pub async fn rotate_keys(&self, realm: &str) -> Result<i64> {
        let rt = self
            .realm(realm)
            .ok_or_else(|| anyhow!("no realm {realm}"))?;
        let r = &rt.realm;
        let (version, _) = self
            .keys
            .rotate(
                &r.name,
                &r.signing_algs,
                self.now(),
                r.max_jwt_lifetime() + 60,
            )
            .await?;
        rt.refresh_ring(&self.keys).await?;
        keys_rotated_elsewhere(&self.bus, realm).await;
        Ok(version)
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
