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

use crate::app::App;
use crate::config::DirectoryConfig;
use anyhow::{Context, Result, anyhow};
use coeur_common::random::token;
use coeur_directory::generate::{Writers, generate};
use coeur_directory::http::{Access, Config, Directory, router};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::ratelimit::RateLimit;
use coeur_directory::record::RecordKind;
use coeur_directory::space::{self, Space, SpaceConfig};
use coeur_directory::store::Store;
use coeur_directory::summary::Summary;
use coeur_oauth::discovery::Endpoints;
use coeur_provider::clients::{
    ClientRegistration, NewClient, SecretRequest, complete_client, list_clients, register_client,
};
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

/// The directory, opened and ready to serve.
pub struct DirectoryServer {
    router: axum::Router,
    /// Its settings.
    pub settings: DirectoryConfig,
    /// What the first start imported (`None`: the store had data, or nothing was asked).
    pub generated: Option<Summary>,
    /// Where the client's secret is.
    pub secret_file: PathBuf,
}

impl DirectoryServer {
    /// Opens the directory's store (its schema created), fills it with generated extracts
    /// when it is empty, registers its client if missing, and builds its routes.
    pub async fn open(app: &App, settings: &DirectoryConfig) -> Result<Self> {
        let p = &app.provider;
        let rt = p.realm(&settings.realm).ok_or_else(|| {
            anyhow!(
                "--directory-realm {} is not a realm (turn the directory off with \
                 --no-directory)",
                settings.realm
            )
        })?;
        let store = Store::connect(&settings.database_url).await?;
        let generated = seed(&store, settings, p.now()).await?;
        let secret_file = secret_path(&app.cfg.keys_dir);
        ensure_client(app, &rt.realm, &secret_file, &settings.public_url).await?;

        let issuer = rt.realm.issuer.clone();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("the directory's HTTP client")?;
        let source = JwksSource::new(&issuer, &Endpoints::of(&issuer).jwks, http);
        let verifier = Arc::new(Verifier::new(Arc::new(source), p.clock.clone()));
        let mut cursor_key = [0u8; 32];
        p.rng.fill(&mut cursor_key);
        let mut audiences = vec![CLIENT_ID.to_owned()];
        audiences.extend(settings.audiences.iter().cloned());
        let config = Config {
            base_url: settings.public_url.clone(),
            audiences,
            access: Access::Tokens,
            rate_limit: RateLimit {
                burst: 100,
                per_second: 20,
            },
            cursor_key,
        };
        let directory = Directory::new(store.clone(), verifier, p.clock.clone(), config);
        let mut routes = router(directory);
        match std::fs::read_to_string(&secret_file) {
            Ok(secret) => {
                let space = Space::new(
                    store,
                    p.clock.clone(),
                    p.rng.clone(),
                    SpaceConfig {
                        issuer,
                        client_id: CLIENT_ID.to_owned(),
                        client_secret: secret.trim().to_owned(),
                        public_url: settings.public_url.clone(),
                    },
                    space::Http::new()?,
                )?;
                routes = routes.merge(space::router(space));
            }
            Err(e) => tracing::warn!(
                file = %secret_file.display(),
                error = %e,
                "the directory's client secret cannot be read: the professionals' space is off"
            ),
        }
        Ok(Self {
            router: routes,
            settings: settings.clone(),
            generated,
            secret_file,
        })
    }

    /// Serves the FHIR API on `listener` until the server stops (the same lifecycle as the
    /// other listeners), with the layers of every listener (security headers, body limit,
    /// request logs, per-route metrics).
    pub async fn serve(self, app: &App, listener: tokio::net::TcpListener) {
        let stop = app.lifecycle.stopping();
        let router = app.layered(self.router);
        listener::serve(listener, Tls::Off, app.cfg.limits, router, stop).await
    }
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
    let (mut a, mut sf, mut d, mut m, mut f) = (vec![], vec![], vec![], vec![], vec![]);
    generate(
        1,
        s.generate_professionals,
        s.generate_structures,
        Writers {
            activite: &mut a,
            savoir_faire: &mut sf,
            diplome: &mut d,
            mssante: &mut m,
            finess: &mut f,
        },
    )
    .context("generating the directory's extracts")?;
    let mut out = Outcome::default();
    for (name, bytes) in [
        ("finess_etablissements", f),
        ("PS_LibreAcces_Personne_activite", a),
        ("PS_LibreAcces_SavoirFaire", sf),
        ("PS_LibreAcces_Dipl_AutExerc", d),
        ("Extraction_Correspondance_MSSante", m),
    ] {
        import_file(
            store,
            name,
            std::io::Cursor::new(bytes),
            true,
            now,
            &mut out,
            &mut |_, _| {},
        )
        .await
        .with_context(|| format!("importing the generated {name}"))?;
    }
    if let Some((file, why)) = out.skipped.first() {
        anyhow::bail!("the generated {file} was refused: {why}");
    }
    tracing::info!(summary = %out.summary, "directory filled with generated extracts");
    Ok(Some(out.summary))
}

/// Registers the directory's client (client credentials and `directory:read` for the API;
/// authorization code, `openid scope_all`, the space's redirect and post-logout redirect URIs
/// under `public_url`) in `realm` when it is missing, or completes it with what it lacks. Its secret is the one of the secret file if there is one (a database
/// started afresh beside a kept key store), else a new one, written to the file before the
/// client is stored.
async fn ensure_client(
    app: &App,
    realm: &coeur_oauth::realm::Realm,
    file: &Path,
    public_url: &str,
) -> Result<()> {
    let p = &app.provider;
    let wanted = |secret: SecretRequest| ClientRegistration {
        client_id: CLIENT_ID.to_owned(),
        secret,
        grant_types: vec!["client_credentials".into(), "authorization_code".into()],
        scopes: vec![SCOPE.into(), "openid".into(), "scope_all".into()],
        redirect_uris: vec![space::redirect_uri(public_url)],
        post_logout_redirect_uris: vec![space::post_logout_redirect_uri(public_url)],
        ..ClientRegistration::default()
    };
    let exists = |clients: &[coeur_provider::clients::ListedClient]| {
        clients.iter().any(|c| c.client_id == CLIENT_ID)
    };
    if exists(&list_clients(&p.store, realm).await?) {
        if complete_client(&p.store, realm, &wanted(SecretRequest::None)).await? {
            // Read again here and on the instances sharing the database.
            p.client_changed(&realm.name, CLIENT_ID).await;
            tracing::info!(realm = %realm.name, client_id = CLIENT_ID, "completed the directory's client for the professionals' space");
        }
        if !file.exists() {
            tracing::warn!(
                realm = %realm.name,
                file = %file.display(),
                "the directory's client exists but its secret file does not; to get a new \
                 secret, remove the client (coeur client remove --realm {} --client-id {}) \
                 and start again",
                realm.name,
                CLIENT_ID
            );
        }
        return Ok(());
    }
    let secret = match std::fs::read_to_string(file) {
        Ok(s) => s.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let s = token(&*p.rng);
            write_private(file, &s)?;
            s
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let reg = wanted(SecretRequest::Given(secret));
    let new = NewClient::check(realm, reg, &*p.rng)
        .map_err(|e| anyhow!("registering the directory's client: {e}"))?;
    match register_client(&p.store, Some(p.keys.master()), new, p.now()).await {
        Ok(_) => {
            tracing::info!(realm = %realm.name, client_id = CLIENT_ID, file = %file.display(), "registered the directory's client; its secret is in the file");
            Ok(())
        }
        // Another instance sharing the database registered it meanwhile.
        Err(_) if exists(&list_clients(&p.store, realm).await?) => Ok(()),
        Err(e) => Err(anyhow!("registering the directory's client: {e}")),
    }
}

/// Writes a new file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{text}").with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
