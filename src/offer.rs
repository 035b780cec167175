//! The offer service (`coeur-offer`, ROR) served by `coeur serve` beside the provider: its
//! own listener and database, offer data generated for the structures at first start, and
//! its client `ror` registered in the offer's realm.
//!
//! The offer trusts the provider as a third party does: access tokens are checked against
//! the realm's JWKS fetched over HTTP, and it reaches the directory through the directory's
//! FHIR API with its own client-credentials token (`directory:read`; the directory accepts
//! the `ror` audience when both run). Its structures come from the directory's Organizations
//! (read once the listeners are up), or, with the directory off, from the same generated list
//! the directory would have used.
//!
//! The editors' pages (`/offre`, `coeur_offer::pages`) log professionals in through the
//! realm as the client `ror`, over HTTP like any relying party.
//!
//! The client's secret is generated at its registration and written to
//! `<keys_dir>/offer-client-secret` (owner read and write only); never printed nor logged. A
//! later start completes an existing client with what it lacks (the pages' redirect URIs).

use crate::app::App;
use crate::config::{DirectoryConfig, OfferConfig};
use crate::service_clients::{ClientOf, ensure_client};
use anyhow::{Context, Result, anyhow};
use coeur_oauth::discovery::Endpoints;
use coeur_offer::directory::{DirectoryClient, DirectorySettings};
use coeur_offer::generate::{Structure, offer_of};
use coeur_offer::http::{Config, Offer, router};
use coeur_offer::pages::{self, Pages, PagesConfig};
use coeur_offer::store::Store;
use coeur_provider::clients::ClientRegistration;
use coeur_resource_server::ratelimit::RateLimit;
use coeur_resource_server::{JwksSource, Verifier};
use coeur_web::listener::{self, Tls};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The offer's own client in its realm.
pub const CLIENT_ID: &str = "ror";

/// The scopes of its client: the offer's API, and reading the directory.
pub const SCOPES: [&str; 3] = ["offer:read", "offer:write", "directory:read"];

/// The file of the key store's directory holding the client's secret.
pub const SECRET_FILE: &str = "offer-client-secret";

/// Locations generated per structure at most.
const LOCATIONS_PER_STRUCTURE: usize = 3;

/// The offer, opened and ready to serve.
pub struct OfferServer {
    /// Its routes and state (`None`: it runs elsewhere).
    served: Option<(axum::Router, Arc<Offer>)>,
    /// Its settings.
    pub settings: OfferConfig,
    /// Where the client's secret is.
    pub secret_file: PathBuf,
    /// Locations generated at this start (0: the store had data, or the directory's
    /// structures are read once serving).
    pub generated: usize,
    pending_seed: bool,
}

impl OfferServer {
    /// Opens the offer's store, registers its client if missing, fills the store from the
    /// generated structure list when the directory is off, and builds its routes.
    pub async fn open(
        app: &App,
        settings: &OfferConfig,
        directory: Option<&DirectoryConfig>,
    ) -> Result<Self> {
        let p = &app.provider;
        let rt = p.realm(&settings.realm).ok_or_else(|| {
            anyhow!(
                "--offer-realm {} is not a realm (turn the offer off with --no-offer)",
                settings.realm
            )
        })?;
        let secret_file = app.cfg.keys_dir.join(SECRET_FILE);
        if settings.elsewhere {
            if ensure_offer_client(app, &rt.realm, settings, &secret_file)
                .await?
                .is_none()
            {
                tracing::warn!(
                    "the offer's client secret is unknown here: give it in {} for the \
                     offer's pages to log editors in",
                    secret_file.display()
                );
            }
            return Ok(Self {
                served: None,
                settings: settings.clone(),
                secret_file,
                generated: 0,
                pending_seed: false,
            });
        }
        let store = Store::connect(&settings.database_url).await?;
        let secret = ensure_offer_client(app, &rt.realm, settings, &secret_file).await?;
        let issuer = rt.realm.issuer.clone();
        let endpoints = Endpoints::of(&issuer);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("the offer's HTTP client")?;
        let source = JwksSource::new(&issuer, &endpoints.jwks, http.clone());
        let verifier = Arc::new(Verifier::new(Arc::new(source), p.clock.clone()));
        let directory_client = match (directory, &secret) {
            (Some(d), Some(secret)) => Some(Arc::new(DirectoryClient::new(
                DirectorySettings {
                    base_url: d.api_url().to_owned(),
                    token_url: endpoints.token.clone(),
                    client_id: CLIENT_ID.into(),
                    client_secret: secret.clone(),
                },
                http,
                p.clock.clone(),
            ))),
            _ => None,
        };
        let mut audiences = vec![CLIENT_ID.to_owned()];
        audiences.extend(settings.audiences.iter().cloned());
        let empty = store.count_locations().await? == 0;
        let mut generated = 0;
        if empty && directory.is_none() && settings.generate_structures > 0 {
            let rng = coeur_common::random::testing::SeededRandom::new(1);
            let structures: Vec<Structure> =
                coeur_directory::generate::structures(&rng, settings.generate_structures)
                    .into_iter()
                    .map(|s| Structure {
                        finess: s.finess_et,
                        name: s.name,
                        postal_code: s.town.0.to_owned(),
                        city: s.town.2.to_owned(),
                    })
                    .collect();
            generated = fill(&store, &structures, p.now()).await?;
        }
        let offer = Arc::new(Offer::new(
            store,
            verifier,
            p.clock.clone(),
            Config {
                base_url: settings.public_url.clone(),
                audiences,
                rate_limit: RateLimit::DEFAULT,
            },
            directory_client,
        ));
        let mut routes = router(offer.clone());
        match secret {
            Some(client_secret) => {
                let pages = Pages::new(
                    offer.clone(),
                    p.rng.clone(),
                    PagesConfig {
                        issuer: issuer.clone(),
                        client_id: CLIENT_ID.to_owned(),
                        client_secret,
                        public_url: settings.public_url.clone(),
                    },
                    pages::Http::new()?,
                )?;
                routes = routes.merge(pages::router(pages));
            }
            None => {
                tracing::warn!("the offer's client secret is unknown: the editors' pages are off")
            }
        }
        Ok(Self {
            served: Some((routes, offer)),
            pending_seed: empty && directory.is_some(),
            settings: settings.clone(),
            secret_file,
            generated,
        })
    }

    /// Serves the API on `listener` until the server stops, with the layers of every
    /// listener. An empty store is filled first from the directory's structures, asked
    /// once the listeners are up (a few tries).
    pub async fn serve(self, app: &App, listener: tokio::net::TcpListener) {
        let Some((router, offer)) = self.served else {
            return;
        };
        if self.pending_seed {
            tokio::spawn(async move {
                if let Err(e) = seed_from_directory(&offer).await {
                    tracing::error!(error = %format!("{e:#}"), "the offer could not read the directory's structures");
                }
            });
        }
        let stop = app.lifecycle.stopping();
        let router = app.layered(router);
        listener::serve(listener, Tls::Off, app.cfg.limits, router, stop).await
    }
}

async fn fill(store: &Store, structures: &[Structure], now: i64) -> Result<usize> {
    let (mut locations, mut services) = (vec![], vec![]);
    for s in structures {
        let (l, v) = offer_of(s, LOCATIONS_PER_STRUCTURE, now);
        locations.extend(l);
        services.extend(v);
    }
    store.insert_offer(&locations, &services).await?;
    tracing::info!(
        structures = structures.len(),
        locations = locations.len(),
        "offer filled with generated data"
    );
    Ok(locations.len())
}

async fn seed_from_directory(offer: &Offer) -> Result<()> {
    let Some(d) = &offer.directory else {
        return Ok(());
    };
    let mut last = None;
    for _ in 0..30 {
        match d.structures(10_000).await {
            Ok(s) => {
                if offer.store.count_locations().await? == 0 {
                    fill(&offer.store, &s, offer.clock.now()).await?;
                }
                return Ok(());
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(last.unwrap_or_else(|| anyhow!("no answer")))
}

/// Registers the offer's client `ror` in `realm` when missing, or completes it: client
/// credentials (the API, the directory) and the code flow with PKCE (the editors' pages,
/// their redirect and post-logout URIs under the public URL). Returns its secret, held in the
/// store (`None` when a client of an earlier version exists without a known secret).
async fn ensure_offer_client(
    app: &App,
    realm: &coeur_oauth::realm::Realm,
    settings: &OfferConfig,
    file: &Path,
) -> Result<Option<String>> {
    let public_url = settings.public_url.clone();
    ensure_client(
        app,
        realm,
        &ClientOf {
            client_id: CLIENT_ID,
            file,
            wanted: &move |secret| ClientRegistration {
                client_id: CLIENT_ID.to_owned(),
                secret,
                redirect_uris: vec![pages::redirect_uri(&public_url)],
                post_logout_redirect_uris: vec![pages::post_logout_redirect_uri(&public_url)],
                grant_types: vec!["client_credentials".into(), "authorization_code".into()],
                scopes: ["openid", "scope_all"]
                    .into_iter()
                    .chain(SCOPES)
                    .map(str::to_owned)
                    .collect(),
                ..ClientRegistration::default()
            },
        },
    )
    .await
}
