//! The health directory (`coeur-directory`) served by `coeur serve` beside the provider: its
//! own listener and database, synthetic extracts imported into an empty store, and its client
//! `annuaire` registered in the directory's realm.
//!
//! The directory trusts the provider exactly as a third party does: its access tokens are
//! checked against the realm's JWKS fetched over HTTP ([`JwksSource`], on first use, so the
//! main listener need not be up yet when the directory is opened), never through the
//! provider's in-process verifier.
//!
//! The client's secret is generated at its registration and written to
//! `<keys_dir>/directory-client-secret` (owner read and write only), where the operator reads
//! it; it is never printed nor logged. The client has the client-credentials grant (the FHIR
//! API's callers) and the authorization code grant with the redirect and post-logout redirect
//! URIs of the professionals' space under the directory's public URL. A later start adds to
//! an existing client what it lacks of these (a store of an earlier version, a new public URL)
//! and leaves its secret, and its secret file, alone.
//!
//! The provider reads the directory back as a third party too: its identity sync
//! (`coeur_provider::directory_sync`) has a client of its own in the realm, `identity-sync`
//! (client credentials, `directory:read`, its secret in `<keys_dir>/identity-sync-client-secret`),
//! which the directory accepts as an audience, and reads the FHIR API over HTTP. Both HTTP
//! clients trust the root of coeur's CA when the main listener's certificate is self-issued.
//! `/readyz` asks the directory's database too.
//!
//! When the directory runs elsewhere (`--directory-url`: `coeur-annuaire serve` in pods of its
//! own), nothing of it is opened or served here: both clients are registered or completed as
//! above (the space's redirect URIs under the directory's public URL; `annuaire`'s secret taken
//! from its file when the store holds none, so that the operator can give the directory the
//! same one), and the identity sync reads the directory at that URL. `/readyz` does not ask it:
//! logins never wait for the directory.

use crate::app::App;
use crate::config::DirectoryConfig;
use crate::service_clients::{ClientOf, ensure_client};
use anyhow::{Context, Result, anyhow};
use coeur_directory::generate::{authorisations, generate_in_memory, social_equipment};
use coeur_directory::http::{Access, Config, Directory, router};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::record::RecordKind;
use coeur_directory::space::{self, Space, SpaceConfig};
use coeur_directory::store::Store;
use coeur_directory::summary::Summary;
use coeur_oauth::discovery::Endpoints;
use coeur_oauth::realm::Realm;
use coeur_provider::clients::ClientRegistration;
use coeur_provider::directory_sync::{DirectorySync, SyncSettings};
use coeur_resource_server::ratelimit::RateLimit;
use coeur_resource_server::{JwksSource, Verifier};
use coeur_web::listener::{self, Tls};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The directory's own client in its realm.
pub const CLIENT_ID: &str = "annuaire";

/// The scope its API asks of callers.
pub const SCOPE: &str = "directory:read";

/// The file of the key store's directory holding the client's secret.
pub const SECRET_FILE: &str = "directory-client-secret";

/// Where the client's secret is kept for the operator.
pub fn secret_path(keys_dir: &Path) -> PathBuf {
    keys_dir.join(SECRET_FILE)
}

/// The provider's identity sync's client in the directory's realm.
pub const SYNC_CLIENT_ID: &str = "identity-sync";

/// The file of the key store's directory holding the sync client's secret.
pub const SYNC_SECRET_FILE: &str = "identity-sync-client-secret";

/// The directory, opened and ready to serve.
pub struct DirectoryServer {
    /// Its routes (`None`: it runs elsewhere).
    router: Option<axum::Router>,
    /// Its settings.
    pub settings: DirectoryConfig,
    /// What the first start imported (`None`: the store had data, or nothing was asked).
    pub generated: Option<Summary>,
    /// Where the client's secret is.
    pub secret_file: PathBuf,
    /// The provider's identity sync from this directory (`None`: off).
    pub sync: Option<Arc<DirectorySync>>,
}

impl DirectoryServer {
    /// Opens the directory's store (its schema created), fills it with generated extracts
    /// when it is empty, registers its client (and the identity sync's) if missing, adds its
    /// database to the readiness check, and builds its routes and the identity sync. `trust`:
    /// CA certificates (PEM) its HTTP clients trust besides the system's (the root of a
    /// self-issued main listener's certificate).
    pub async fn open(app: &App, settings: &DirectoryConfig, trust: &[String]) -> Result<Self> {
        let p = &app.provider;
        let rt = p.realm(&settings.realm).ok_or_else(|| {
            anyhow!(
                "--directory-realm {} is not a realm (turn the directory off with \
                 --no-directory)",
                settings.realm
            )
        })?;
        let secret_file = secret_path(&app.cfg.keys_dir);
        if settings.elsewhere.is_some() {
            return Self::elsewhere(app, &rt.realm, settings, trust, secret_file).await;
        }
        let store = Store::connect(&settings.database_url).await?;
        let generated = seed(&store, settings, p.now()).await?;
        let secret = ensure_directory_client(app, &rt.realm, settings, &secret_file).await?;
        app.add_readiness(store.readiness());

        let issuer = rt.realm.issuer.clone();
        let http = http_client(trust).context("the directory's HTTP client")?;
        let sync = match settings.sync_interval {
            Some(interval) => Some(Arc::new(
                open_sync(app, &rt.realm, settings, interval, http.clone()).await?,
            )),
            None => None,
        };
        let source = JwksSource::new(&issuer, &Endpoints::of(&issuer).jwks, http);
        let verifier = Arc::new(Verifier::new(Arc::new(source), p.clock.clone()));
        let mut fresh = [0u8; 32];
        p.rng.fill(&mut fresh);
        // Every instance on the directory's database signs and reads paging cursors alike.
        let cursor_key = store.shared_key("cursor", fresh).await?;
        let mut audiences = vec![CLIENT_ID.to_owned()];
        if sync.is_some() {
            audiences.push(SYNC_CLIENT_ID.to_owned());
        }
        audiences.extend(settings.audiences.iter().cloned());
        let config = Config {
            base_url: settings.public_url.clone(),
            audiences,
            access: Access::Tokens,
            rate_limit: RateLimit::DEFAULT,
            cursor_key,
        };
        let directory = Directory::new(store.clone(), verifier, p.clock.clone(), config);
        let mut routes = router(directory);
        match secret {
            Some(client_secret) => {
                let space = Space::new(
                    store,
                    p.clock.clone(),
                    p.rng.clone(),
                    SpaceConfig {
                        issuer,
                        client_id: CLIENT_ID.to_owned(),
                        client_secret,
                        public_url: settings.public_url.clone(),
                    },
                    space::Http::new()?,
                )?;
                routes = routes.merge(space::router(space));
            }
            None => tracing::warn!(
                "the directory's client secret is unknown: the professionals' space is off"
            ),
        }
        Ok(Self {
            router: Some(routes),
            settings: settings.clone(),
            generated,
            secret_file,
            sync,
        })
    }

    /// The directory running elsewhere: its clients registered (or completed) in the realm,
    /// the identity sync reading it at its URL; nothing served here. The readiness check does
    /// not ask it: logins never wait for the directory.
    async fn elsewhere(
        app: &App,
        realm: &Realm,
        settings: &DirectoryConfig,
        trust: &[String],
        secret_file: PathBuf,
    ) -> Result<Self> {
        if ensure_directory_client(app, realm, settings, &secret_file)
            .await?
            .is_none()
        {
            tracing::warn!(
                "the directory's client secret is unknown here: give it in {} for the \
                 directory's space to log professionals in",
                secret_file.display()
            );
        }
        let sync = match settings.sync_interval {
            Some(interval) => {
                let http = http_client(trust).context("the identity sync's HTTP client")?;
                Some(Arc::new(
                    open_sync(app, realm, settings, interval, http).await?,
                ))
            }
            None => None,
        };
        Ok(Self {
            router: None,
            settings: settings.clone(),
            generated: None,
            secret_file,
            sync,
        })
    }

    /// Whether the directory is served here (else it runs elsewhere).
    pub fn served_here(&self) -> bool {
        self.router.is_some()
    }

    /// Serves the FHIR API on `listener` until the server stops (the same lifecycle as the
    /// other listeners), with the layers of every listener (security headers, body limit,
    /// request logs, per-route metrics).
    pub async fn serve(self, app: &App, listener: tokio::net::TcpListener) {
        let Some(router) = self.router else {
            return;
        };
        let stop = app.lifecycle.stopping();
        let router = app.layered(router);
        listener::serve(listener, Tls::Off, app.cfg.limits, router, stop).await
    }
}

/// An HTTP client trusting `trust` (PEM) besides the system's roots.
fn http_client(trust: &[String]) -> Result<reqwest::Client> {
    let mut certs = vec![];
    for pem in trust {
        certs.push(reqwest::Certificate::from_pem(pem.as_bytes()).context("a CA certificate")?);
    }
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .tls_certs_merge(certs)
        .build()?)
}

/// Registers the directory's client `annuaire` in `realm` when missing, or completes it:
/// client credentials (its own API) and the code flow (the professionals' space, its redirect
/// and post-logout URIs under the public URL). Its secret (`None`: unknown, see
/// [`ensure_client`]).
async fn ensure_directory_client(
    app: &App,
    realm: &Realm,
    settings: &DirectoryConfig,
    secret_file: &Path,
) -> Result<Option<String>> {
    let public_url = settings.public_url.clone();
    let client = ClientOf {
        client_id: CLIENT_ID,
        file: secret_file,
        wanted: &move |secret| ClientRegistration {
            client_id: CLIENT_ID.to_owned(),
            secret,
            grant_types: vec!["client_credentials".into(), "authorization_code".into()],
            scopes: vec![SCOPE.into(), "openid".into(), "scope_all".into()],
            redirect_uris: vec![space::redirect_uri(&public_url)],
            post_logout_redirect_uris: vec![space::post_logout_redirect_uri(&public_url)],
            ..ClientRegistration::default()
        },
    };
    ensure_client(app, realm, &client).await
}

/// The identity sync of the directory's realm: its client registered if missing (secret in
/// the key store's directory), reading the directory at its API's URL.
async fn open_sync(
    app: &App,
    realm: &Realm,
    settings: &DirectoryConfig,
    interval: Duration,
    http: reqwest::Client,
) -> Result<DirectorySync> {
    let file = app.cfg.keys_dir.join(SYNC_SECRET_FILE);
    let secret = ensure_client(
        app,
        realm,
        &ClientOf {
            client_id: SYNC_CLIENT_ID,
            file: &file,
            wanted: &|secret| ClientRegistration {
                client_id: SYNC_CLIENT_ID.to_owned(),
                secret,
                grant_types: vec!["client_credentials".into()],
                scopes: vec![SCOPE.into()],
                ..ClientRegistration::default()
            },
        },
    )
    .await?
    .ok_or_else(|| {
        anyhow!(
            "the identity sync's client secret is unknown (to start afresh, remove the client: \
             coeur client remove --realm {} --client-id {SYNC_CLIENT_ID})",
            realm.name
        )
    })?;
    let settings = SyncSettings {
        realm: realm.name.clone(),
        directory_url: settings.api_url().to_owned(),
        token_endpoint: Endpoints::of(&realm.issuer).token,
        client_id: SYNC_CLIENT_ID.to_owned(),
        client_secret: secret,
        interval,
    };
    Ok(DirectorySync::new(app.provider.clone(), settings, http))
}

/// Generates and imports synthetic extracts when the store holds no record, so that a later
/// start leaves the data alone.
async fn seed(store: &Store, s: &DirectoryConfig, now: i64) -> Result<Option<Summary>> {
    if s.generate_professionals == 0 {
        return Ok(None);
    }
    for kind in [RecordKind::Practitioner, RecordKind::Establishment] {
        if store.count(kind, false).await? > 0 {
            return Ok(None);
        }
    }
    let g = generate_in_memory(1, s.generate_professionals, s.generate_structures)
        .context("generating the directory's extracts")?;
    let mut h = vec![];
    authorisations(1, s.generate_structures, &mut h)
        .context("generating the directory's authorisations extract")?;
    let mut e = vec![];
    social_equipment(1, s.generate_structures, &mut e)
        .context("generating the directory's social equipment extract")?;
    let mut out = Outcome::default();
    // One first load when the store is empty: its indexes built once, after the last file.
    store.begin_first_load().await?;
    let imported = import_generated(
        store,
        [
            ("finess_etablissements", g.finess),
            ("finess_autorisations", h),
            ("finess_equipements_sociaux", e),
            ("PS_LibreAcces_Personne_activite", g.activite),
            ("PS_LibreAcces_SavoirFaire", g.savoir_faire),
            ("PS_LibreAcces_Dipl_AutExerc", g.diplome),
            ("Extraction_Correspondance_MSSante", g.mssante),
            ("Porteurs_CPS_CPF", g.cartes),
        ],
        now,
        &mut out,
    )
    .await;
    store.end_first_load().await?;
    imported?;
    if let Some((file, why)) = out.skipped.first() {
        anyhow::bail!("the generated {file} was refused: {why}");
    }
    tracing::info!(summary = %out.summary, "directory filled with generated extracts");
    Ok(Some(out.summary))
}

/// Imports the generated extracts `files` (name, contents) in turn, as complete extracts.
async fn import_generated(
    store: &Store,
    files: [(&str, Vec<u8>); 8],
    now: i64,
    out: &mut Outcome,
) -> Result<()> {
    for (name, bytes) in files {
        import_file(
            store,
            name,
            std::io::Cursor::new(bytes),
            true,
            now,
            out,
            &mut |_, _| {},
        )
        .await
        .with_context(|| format!("importing the generated {name}"))?;
    }
    Ok(())
}
