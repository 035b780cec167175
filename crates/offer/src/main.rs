//! `coeur-ror`: the offer service (ROR) on its own: `serve` its FHIR API over a store (filled
//! with generated offer data when empty) and, with `--client-id` and `--client-secret-file`
//! (the offer's client in the issuer's realm: authorization code, its redirect URI
//! `PUBLIC_URL/offre/retour` and post-logout redirect URI `PUBLIC_URL/offre/au-revoir`), the
//! editors' pages (`/offre`); with `--directory-url` as well, the directory's FHIR API is read
//! with that client's tokens (client credentials, `directory:read`): the structures an
//! editor's directory record ties them to (checked on every write), and the structures an
//! empty store is filled for. `service-account` ties a client to a structure.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use coeur_common::random::Clock;
use coeur_offer::directory::{DirectoryClient, DirectorySettings};
use coeur_offer::generate::{offer_of, synthetic_structures};
use coeur_offer::http::{Config, Offer, router};
use coeur_offer::pages::{self, Pages, PagesConfig};
use coeur_offer::store::Store;
use coeur_resource_server::ratelimit::RateLimit;
use coeur_resource_server::{JwksSource, Verifier, discovery};
use std::sync::Arc;

/// mimalloc rather than the system's allocator, as in `coeur`: searches and writes allocate
/// and free many small buffers (rows, JSON), where the C library's allocator took about a
/// quarter of the offer's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "coeur-ror", about = "The offer service (ROR): FHIR R4 API")]
struct Cli {
    /// The offer's database: sqlite://FILE or postgres://…
    #[arg(
        long,
        env = "COEUR_ROR_DATABASE_URL",
        default_value = "sqlite://offre.db"
    )]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the FHIR API.
    Serve {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8084")]
        listen: std::net::SocketAddr,
        /// The public base URL (default http://<listen>).
        #[arg(long)]
        public_url: Option<String>,
        /// The issuer whose access tokens are accepted (its discovery gives the JWKS).
        #[arg(long)]
        issuer: String,
        /// Accepted token audiences (client ids); repeatable.
        #[arg(long = "audience", required = true)]
        audiences: Vec<String>,
        /// Synthetic structures generated into an empty store.
        #[arg(long, default_value_t = 50)]
        generate: usize,
        /// The offer's client in the issuer's realm, for the editors' pages (with
        /// `--client-secret-file`; without both, the pages are off).
        #[arg(long, env = "COEUR_ROR_CLIENT_ID", requires = "client_secret_file")]
        client_id: Option<String>,
        /// The file holding that client's secret.
        #[arg(long, env = "COEUR_ROR_CLIENT_SECRET_FILE", requires = "client_id")]
        client_secret_file: Option<std::path::PathBuf>,
        /// The directory's FHIR API (base URL), read with the client's tokens: editors'
        /// structures, and the structures an empty store is filled for (instead of
        /// `--generate`'s synthetic ones).
        #[arg(long, env = "COEUR_ROR_DIRECTORY_URL", requires = "client_id")]
        directory_url: Option<String>,
        /// Requests a client may make to the API at once.
        #[arg(long, env = "COEUR_ROR_RATE_BURST", default_value_t = RateLimit::DEFAULT.burst)]
        rate_burst: u32,
        /// Requests a client regains per second.
        #[arg(
            long,
            env = "COEUR_ROR_RATE_PER_SECOND",
            default_value_t = RateLimit::DEFAULT.per_second,
            value_parser = clap::value_parser!(u32).range(1..)
        )]
        rate_per_second: u32,
        /// Seconds `/readyz` answers 503 after SIGTERM before the listener closes (the load
        /// balancer drops the instance meanwhile); in-flight requests then have 20 s.
        #[arg(
            long = "shutdown-delay",
            env = "COEUR_SHUTDOWN_DELAY",
            default_value_t = 0
        )]
        shutdown_delay_secs: u64,
    },
    /// Makes a client a service account of a structure (FINESS).
    ServiceAccount {
        /// The client id.
        client_id: String,
        /// The structure's FINESS.
        finess: String,
    },
}

struct SystemClock;

struct SystemRandom;

impl coeur_common::random::Random for SystemRandom {
    fn fill(&self, out: &mut [u8]) {
        // aws-lc's generator does not fail once the library is initialised; a failure would
        // leave zeros, so it aborts instead.
        if aws_lc_rs::rand::fill(out).is_err() {
            std::process::abort();
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A client's secret from its file (trimmed; refused when empty).
fn read_secret(file: &std::path::Path) -> Result<String> {
    let secret = std::fs::read_to_string(file)
        .with_context(|| format!("reading {}", file.display()))?
        .trim()
        .to_owned();
    anyhow::ensure!(!secret.is_empty(), "{} is empty", file.display());
    Ok(secret)
}

/// An endpoint of the issuer's discovery document `doc`.
fn endpoint(doc: &serde_json::Value, name: &str) -> Result<String> {
    doc[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the issuer's discovery document has no {name}"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let store = Store::connect(&cli.database_url).await?;
    match cli.command {
        Command::ServiceAccount { client_id, finess } => {
            store.add_service_account(&client_id, &finess).await?;
            println!("{client_id} may change the capacities of {finess}");
        }
        Command::Serve {
            listen,
            public_url,
            issuer,
            audiences,
            generate,
            client_id,
            client_secret_file,
            directory_url,
            rate_burst,
            rate_per_second,
            shutdown_delay_secs,
        } => {
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            let secret = match &client_secret_file {
                Some(file) => Some(read_secret(file)?),
                None => None,
            };
            // Read once: the JWKS and token endpoints both come from it.
            let discovered = discovery(&issuer, &http)
                .await
                .context("the issuer's discovery")?;
            let directory = match (directory_url, &client_id, &secret) {
                (Some(base_url), Some(client_id), Some(secret)) => {
                    Some(Arc::new(DirectoryClient::new(
                        DirectorySettings {
                            base_url: base_url.trim_end_matches('/').to_owned(),
                            token_url: endpoint(&discovered, "token_endpoint")?,
                            client_id: client_id.clone(),
                            client_secret: secret.clone(),
                        },
                        http.clone(),
                        clock.clone(),
                    )))
                }
                _ => None,
            };
            if store.count_locations().await? == 0
                && let Some(d) = &directory
            {
                let structures = d
                    .structures(10_000)
                    .await
                    .context("reading the directory's structures")?;
                let (mut l, mut s) = (vec![], vec![]);
                for st in &structures {
                    let (a, b) = offer_of(st, 3, clock.now());
                    l.extend(a);
                    s.extend(b);
                }
                store.insert_offer(&l, &s).await?;
                println!(
                    "generated {} locations for the directory's {} structures",
                    l.len(),
                    structures.len()
                );
            } else if store.count_locations().await? == 0 && generate > 0 {
                let (mut l, mut s) = (vec![], vec![]);
                for st in synthetic_structures(generate) {
                    let (a, b) = offer_of(&st, 3, clock.now());
                    l.extend(a);
                    s.extend(b);
                }
                store.insert_offer(&l, &s).await?;
                println!("generated {} locations", l.len());
            }
            let jwks_uri = endpoint(&discovered, "jwks_uri")?;
            let source = JwksSource::new(&issuer, &jwks_uri, http.clone());
            let verifier = Arc::new(Verifier::new(Arc::new(source), clock.clone()));
            let base_url = public_url
                .unwrap_or_else(|| format!("http://{listen}"))
                .trim_end_matches('/')
                .to_owned();
            let readiness = store.clone();
            let offer = Arc::new(Offer::new(
                store,
                verifier,
                clock,
                Config {
                    base_url: base_url.clone(),
                    audiences,
                    rate_limit: RateLimit {
                        burst: rate_burst,
                        per_second: rate_per_second,
                    },
                },
                directory,
            ));
            let mut app = router(offer.clone());
            if let (Some(client_id), Some(secret)) = (client_id, secret) {
                let pages = Pages::new(
                    offer,
                    Arc::new(SystemRandom),
                    PagesConfig {
                        issuer,
                        client_id,
                        client_secret: secret,
                        public_url: base_url.clone(),
                    },
                    pages::Http::new()?,
                )?;
                app = app.merge(pages::router(pages));
                println!("editors' pages: {base_url}{}", pages::HOME);
            }
            let app =
                coeur_web::with_common_layers(app, Arc::new(coeur_web::ServiceIdentity::default()));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            println!("offer (ROR) FHIR API: {base_url}/metadata");
            // A lookup by primary key: the database answers, whatever it holds.
            let check = coeur_web::lifecycle::readiness_check(
                "the offer's database does not answer",
                move || {
                    let store = readiness.clone();
                    async move { store.location("-").await }
                },
            );
            coeur_web::lifecycle::serve_until_signalled(
                listener,
                app,
                check,
                std::time::Duration::from_secs(shutdown_delay_secs),
                coeur_web::listener::Limits::default(),
            )
            .await?;
        }
    }
    Ok(())
}
