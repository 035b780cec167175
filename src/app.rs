//! Wiring: opens the database and key store, the provider's realms, the CA (whose API trusts
//! the CA realm's tokens through the provider's in-process verifier), and assembles the
//! routers of both listeners. The only place that knows every domain.

use crate::config::Config;
use anyhow::{Context, Result, anyhow, bail};
use coeur_ca::ca::SealedKeys;
use coeur_ca::{CaService, CaSettings};
use coeur_common::environment::Environment;
use coeur_common::random::{Clock, Random};
use coeur_oauth::realm::Realm;
use coeur_provider::AppState;
use coeur_provider::ca_clients::RealmRequesters;
use coeur_provider::client_cache::ClientCache;
use coeur_provider::state::{ProviderSettings, ProviderUrls, Realms};
use coeur_provider::store::Store;
use coeur_storage::Db;
use coeur_storage::keystore::{KeyStore, MasterKey, legacy};
use coeur_web::lifecycle::{self, Lifecycle, ReadinessCheck};
use coeur_web::listener::{self, Tls};
use std::sync::Arc;
use std::time::SystemTime;

/// The environment of the CAs to run, checked against the CA realm's: the TEST hierarchy
/// serves a sandbox realm only, the production hierarchy a production realm only. Any other
/// combination would let one side's certificates be trusted by the other, and is refused.
pub fn pki_environment(cfg: &Config, ca_realm: &Realm) -> Result<Environment> {
    let pki = Environment::of_sandbox(!cfg.pki_production);
    let realm = ca_realm.environment();
    if pki != realm {
        bail!(
            "refusing to start: ca_realm {} is a {realm} realm but pki_production = {} runs the \
             {pki} CAs; TEST CAs serve sandbox realms only and production CAs production realms \
             only (set ca_realm to a {pki} realm, or pki_production = {})",
            ca_realm.name,
            cfg.pki_production,
            !cfg.pki_production,
        );
    }
    Ok(pki)
}

/// The master key of `cfg` (`COEUR_MASTER_KEY` or `master_key_file`); without one, the
/// development key of the keys directory, for SQLite only: instances sharing a PostgreSQL
/// database must all be given the same key.
pub fn master_key(cfg: &Config) -> Result<MasterKey> {
    let shared = !cfg.database_url.starts_with("sqlite:");
    MasterKey::load(&cfg.keys_dir, cfg.master_key.as_deref(), shared)
}

/// The key store of `db` under `master`: refused when `master` is not the key that sealed the
/// stored keys, or while key files of an earlier version wait for `coeur keys migrate`.
pub async fn open_keys(cfg: &Config, db: &Db, master: MasterKey, now: i64) -> Result<KeyStore> {
    let keys = KeyStore::open(db, master, now).await?;
    legacy::refuse_pending(&cfg.keys_dir, &keys).await?;
    Ok(keys)
}

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

/// The whole system, opened.
pub struct App {
    /// The configuration it was opened with.
    pub cfg: Config,
    /// The OpenID Connect provider.
    pub provider: Arc<AppState>,
    /// The certificate authority.
    pub ca: Arc<CaService>,
    /// How the pages present the service.
    service: Arc<coeur_web::ServiceIdentity>,
    /// Serving, draining or stopping: what `/readyz` says and when the listeners close.
    pub lifecycle: Lifecycle,
    /// The database, for readiness and the final close.
    db: Db,
    /// What `/readyz` asks besides the database (the directory's database).
    readiness: Arc<std::sync::Mutex<Vec<ReadinessCheck>>>,
}

impl App {
    /// Opens everything with the system clock and randomness.
    pub async fn build(cfg: Config) -> Result<Self> {
        Self::build_with(cfg, Arc::new(SystemClock), Arc::new(SystemRandom)).await
    }

    /// Opens everything with an injected clock and randomness: the database (migrated), the
    /// key store (in the database, checked against the master key), realms (missing keys
    /// created, sandbox identities seeded), then the CA (keys and certificates created on
    /// first start).
    pub async fn build_with(
        cfg: Config,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
    ) -> Result<Self> {
        coeur_web::metrics::install();
        let master = master_key(&cfg)?;
        let db = Db::connect(&cfg.database_url).await?;
        // Instances starting together on an empty database create the keys and certificates
        // once: the first holds the lock while it creates them, the next ones read them.
        let starting = db.start_lock().await?;
        let keys = Arc::new(open_keys(&cfg, &db, master, clock.now()).await?);
        let store = Store::new(db.clone());
        let lifecycle = Lifecycle::new();
        let realms = Realms::open(&cfg.realms_dir, &cfg.public_url, &store, &keys, &clock).await?;
        let ca_realm = realms
            .get(&cfg.ca_realm)
            .ok_or_else(|| anyhow!("ca_realm {} is not a realm", cfg.ca_realm))?;
        let verifier = realms
            .verifier(&cfg.ca_realm)
            .cloned()
            .context("the CA realm has no token verifier")?;
        let environment = pki_environment(&cfg, &ca_realm.realm)?;
        let settings = CaSettings {
            pki_dir: cfg.pki_dir.clone(),
            hierarchy: cfg.pki_hierarchy.clone(),
            environment,
            ldap_base_dn: cfg.ldap_base_dn.clone(),
            public_url: cfg.public_url.clone(),
            crl_dir: cfg.crl_dir.clone(),
            realm: cfg.ca_realm.clone(),
            external: cfg.external.clone(),
            ldap: cfg.ldap.clone(),
        };
        // The one bus of the process, shared by the CA and the provider.
        let bus = coeur_storage::Bus::new(db.clone(), coeur_common::random::id128(&*rng));
        let clients = ClientCache::new(store.clone(), keys.clone());
        let requesters = Arc::new(RealmRequesters::new(ca_realm.clone(), clients.clone()));
        let ca = Arc::new(
            CaService::open(
                settings,
                db.clone(),
                Arc::new(SealedKeys(keys.clone())),
                clock.clone(),
                rng.clone(),
                verifier,
            )
            .await?
            .with_requesters(requesters)
            .with_bus(&bus),
        );
        starting.release().await?;
        let settings = ProviderSettings {
            urls: ProviderUrls {
                public_url: cfg.public_url.clone(),
                card_public_url: cfg.card_public_url.clone(),
            },
            delivery: cfg.delivery.clone(),
            trusted_proxies: cfg.trusted_proxies.clone(),
            lifecycle: lifecycle.clone(),
            bus,
            clients,
        };
        let provider = AppState::new(settings, store, keys, realms, clock, rng, ca.clone())?;
        provider.remember_revocations().await?;
        let service = Arc::new(cfg.service.clone());
        Ok(Self {
            cfg,
            provider,
            ca,
            service,
            lifecycle,
            db,
            readiness: Arc::default(),
        })
    }

    /// Adds a check to `/readyz` (for the routers built from now on): a service served
    /// beside the provider whose database must answer too.
    pub fn add_readiness(&self, check: ReadinessCheck) {
        self.readiness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(check);
    }

    /// `/livez` and `/readyz`: ready while serving and the database answers.
    fn probes(&self) -> axum::Router {
        let db = self.db.clone();
        let others = self.readiness.clone();
        let check: ReadinessCheck = Arc::new(move || {
            let db = db.clone();
            let others: Vec<ReadinessCheck> = others
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            Box::pin(async move {
                db.ping().await?;
                for check in others {
                    check().await?;
                }
                Ok(())
            })
        });
        lifecycle::probes(self.lifecycle.clone(), check)
    }

    /// `router` with the layers every listener's answers get (security headers, body limit,
    /// request logs and metrics, pages rendered with the deployment's identity).
    pub fn layered(&self, router: axum::Router) -> axum::Router {
        coeur_web::with_common_layers(router, self.service.clone())
    }

    /// The main listener's router: the provider and the CA, with the common layers.
    pub fn router(&self) -> axum::Router {
        coeur_web::with_common_layers(
            coeur_provider::router(self.provider.clone())
                .merge(coeur_ca::http::router(self.ca.clone()))
                .merge(self.probes()),
            self.service.clone(),
        )
    }

    /// After the listeners have closed: stops background work that holds shared state (the
    /// LDAP publisher's lease is released by its own stop) and closes the database pool.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The card listener's router: the card login, plus every main route (their mutual-TLS
    /// aliases).
    pub fn card_router(&self) -> axum::Router {
        coeur_web::with_common_layers(
            coeur_provider::router(self.provider.clone())
                .merge(coeur_ca::http::router(self.ca.clone()))
                .merge(coeur_provider::card_routes(self.provider.clone())),
            self.service.clone(),
        )
    }

    /// The card listener's TLS configuration: its own certificate from coeur's CA (its key held
    /// in the store; the root written to `crl/coeur-root.pem` for the operator), and the PERSONNES CAs (own and external) advertised as
    /// acceptable issuers.
    pub async fn card_tls_config(&self) -> Result<rustls::ServerConfig> {
        let p = &self.provider;
        let (chain, key, root) = self
            .ca
            .ca
            .own_server_certificate(
                &self.ca.store,
                &*p.rng,
                &coeur_ca::ca::OwnCertificate {
                    id: "CARD-TLS",
                    public_url: &self.cfg.card_public_url,
                    keys: &*self.ca.keys,
                },
                p.now(),
            )
            .await?;
        let _ = std::fs::create_dir_all(&self.cfg.crl_dir);
        std::fs::write(self.cfg.crl_dir.join("coeur-root.pem"), root)?;
        let mut hints: Vec<Vec<u8>> = self
            .ca
            .ca
            .anchors(coeur_pki::hierarchy::Domain::Personnes)
            .iter()
            .filter_map(|a| coeur_web::mtls::subject_der(&a.cert_der))
            .collect();
        hints.extend(self.ca.trust.card_subjects().iter().cloned());
        coeur_web::mtls::server_config(&chain, key, hints)
    }

    /// The admin listener's router: `/metrics`, `/stats/logins`, `/livez`, `/readyz`.
    pub fn admin_router(&self) -> axum::Router {
        self.admin_router_with(axum::Router::new())
    }

    /// The admin listener's router with `extra` routes (the directory's resync).
    pub fn admin_router_with(&self, extra: axum::Router) -> axum::Router {
        coeur_web::with_common_layers(
            coeur_ca::http::admin_router(self.ca.clone())
                .merge(coeur_provider::admin_router(self.provider.clone()))
                .merge(extra)
                .merge(self.probes()),
            self.service.clone(),
        )
    }

    /// Serves the main listener (over `tls` if given) until the server stops.
    pub async fn serve_main(
        &self,
        listener: tokio::net::TcpListener,
        tls: Option<rustls::ServerConfig>,
    ) {
        let tls = match tls {
            Some(c) => Tls::On(Arc::new(c)),
            None => Tls::Off,
        };
        let stop = self.lifecycle.stopping();
        listener::serve(listener, tls, self.cfg.limits, self.router(), stop).await
    }

    /// Serves the card listener on `listener` until the server stops.
    pub async fn serve_card(&self, listener: tokio::net::TcpListener) -> Result<()> {
        let tls = self.card_tls_config().await?;
        self.serve_card_with(listener, tls).await;
        Ok(())
    }

    /// Serves the card listener with a TLS configuration already built by
    /// [`App::card_tls_config`] (whose certificate is then in the store), until the server
    /// stops.
    pub async fn serve_card_with(
        &self,
        listener: tokio::net::TcpListener,
        tls: rustls::ServerConfig,
    ) {
        self.ca.trust.prefetch(self.ca.now());
        let limits = self.cfg.card_limits;
        let stop = self.lifecycle.stopping();
        let tls = Tls::Mutual(Arc::new(tls));
        listener::serve(listener, tls, limits, self.card_router(), stop).await;
    }

    /// Serves the admin listener (plain HTTP) on `listener` until the server stops.
    pub async fn serve_admin(&self, listener: tokio::net::TcpListener) {
        self.serve_admin_with(listener, axum::Router::new()).await
    }

    /// Serves the admin listener with `extra` routes until the server stops.
    pub async fn serve_admin_with(&self, listener: tokio::net::TcpListener, extra: axum::Router) {
        let (limits, app) = (self.cfg.limits, self.admin_router_with(extra));
        let stop = self.lifecycle.stopping();
        listener::serve(listener, Tls::Off, limits, app, stop).await
    }
}
