//! `coeur-annuaire`: the directory's command line.
//!
//! - `generate --persons N --structures M --out DIR` writes synthetic extracts (RPPS,
//!   MSSanté, CPS cards, FINESS establishments, the FINESS authorised care activities and
//!   social equipment);
//! - `import [--database URL] [--partial] FILE…` imports extracts into the directory's store;
//! - `check FILE…` reads extracts (plain text, UTF-8 or Latin-1), reports every bad row with
//!   file, line and reason, and prints the summary of what an import into an empty store does;
//! - `serve --issuer URL --audience CLIENT… [--public-reads]` serves the FHIR R4 API
//!   ([`coeur_directory::http`]) over the store, trusting the issuer's access tokens carrying
//!   the `directory:read` scope; with `--client-id` and `--client-secret-file` (the
//!   directory's client in that realm: authorization code, its redirect URI
//!   `BASE_URL/espace/retour` and post-logout redirect URI `BASE_URL/espace/au-revoir`), also
//!   the professionals' own space (`/espace`), off without them.

use anyhow::Context;
use clap::{Parser, Subcommand};
use coeur_directory::extract::collect;
use coeur_directory::generate::{Writers, authorisations, generate, social_equipment};
use coeur_directory::import::{Outcome, each_text_file, import_input};
use coeur_directory::record::plan;
use coeur_directory::store::{Store, Workload};
use coeur_directory::summary::Summary;
use coeur_resource_server::ratelimit::RateLimit;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;

/// mimalloc rather than the system's allocator, as in `coeur`: a search decodes and frees
/// the fields of every record it returns, many small strings, where the C library's allocator
/// took about a fifth of the server's time (a search by name, profiled).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "coeur-annuaire",
    about = "The health directory (RPPS and FINESS)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes synthetic extracts in the public formats.
    Generate {
        #[arg(long, default_value_t = 1000)]
        persons: usize,
        #[arg(long, default_value_t = 100)]
        structures: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Date and time in the file names, `AAAAMMJJhhmm`.
        #[arg(long, default_value = "202501010000")]
        stamp: String,
        /// Also write each extract as a ZIP archive (`NAME.zip` holding `NAME.txt`), as
        /// published.
        #[arg(long)]
        zip: bool,
    },
    /// Reads extracts, reports bad rows and prints the summary of an import into an empty store.
    Check { files: Vec<PathBuf> },
    /// Imports extracts into the directory's database; each file is a complete extract of its
    /// kind unless `--partial` (then nothing is deactivated).
    Import {
        /// `sqlite:…` or `postgres://…`.
        #[arg(
            long,
            env = "COEUR_DIRECTORY_DATABASE",
            default_value = "sqlite:annuaire.db"
        )]
        database: String,
        #[arg(long)]
        partial: bool,
        files: Vec<PathBuf>,
    },
    /// Serves the FHIR R4 API (Practitioner, PractitionerRole, Organization,
    /// HealthcareService, /metadata).
    Serve {
        /// Address to listen on (plain HTTP: put TLS in front).
        #[arg(long, env = "COEUR_DIRECTORY_LISTEN", default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// `sqlite:…` or `postgres://…`.
        #[arg(
            long,
            env = "COEUR_DIRECTORY_DATABASE",
            default_value = "sqlite:annuaire.db"
        )]
        database: String,
        /// The coeur realm whose access tokens are accepted (its issuer URL).
        #[arg(long, env = "COEUR_DIRECTORY_ISSUER")]
        issuer: String,
        /// The realm's JWKS URL; found through the issuer's discovery document when absent.
        #[arg(long, env = "COEUR_DIRECTORY_JWKS_URL")]
        jwks_url: Option<String>,
        /// An accepted token audience (coeur: the client id); repeat for several.
        #[arg(long = "audience", required = true)]
        audiences: Vec<String>,
        /// Serve reads without a token too.
        #[arg(long)]
        public_reads: bool,
        /// The API's base URL as clients see it (links in bundles); `http://LISTEN` by default.
        #[arg(long, env = "COEUR_DIRECTORY_BASE_URL")]
        base_url: Option<String>,
        /// Requests a caller may make at once.
        #[arg(long, env = "COEUR_DIRECTORY_RATE_BURST", default_value_t = RateLimit::DEFAULT.burst)]
        rate_burst: u32,
        /// Requests a caller regains per second.
        #[arg(
            long,
            env = "COEUR_DIRECTORY_RATE_PER_SECOND",
            default_value_t = RateLimit::DEFAULT.per_second,
            value_parser = clap::value_parser!(u32).range(1..)
        )]
        rate_per_second: u32,
        /// The directory's client in the realm, for the professionals' space (with
        /// `--client-secret-file`; without both, the space is off).
        #[arg(
            long,
            env = "COEUR_DIRECTORY_CLIENT_ID",
            requires = "client_secret_file"
        )]
        client_id: Option<String>,
        /// The file holding that client's secret.
        #[arg(
            long,
            env = "COEUR_DIRECTORY_CLIENT_SECRET_FILE",
            requires = "client_id"
        )]
        client_secret_file: Option<PathBuf>,
        /// Seconds `/readyz` answers 503 after SIGTERM before the listener closes (the load
        /// balancer drops the instance meanwhile); in-flight requests then have 20 s.
        #[arg(
            long = "shutdown-delay",
            env = "COEUR_SHUTDOWN_DELAY",
            default_value_t = 0
        )]
        shutdown_delay_secs: u64,
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

impl coeur_common::random::Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}

/// A progress bar over the `len` bytes of a file on a terminal; hidden (the import logs plain
/// lines instead) when stderr is not one.
/// Imports `files` in turn (`coeur-annuaire import`), each as an extract of its kinds
/// (`complete`: the whole extract), with a progress bar on a terminal, plain lines otherwise.
async fn import_files(
    store: &Store,
    files: Vec<PathBuf>,
    complete: bool,
    now: i64,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    for path in files {
        let name = path.display().to_string();
        let file = File::open(&path).with_context(|| name.clone())?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = progress_bar(&name, len);
        let terminal = !bar.is_hidden();
        let started = std::time::Instant::now();
        let mut progress = |rows: u64, written: u64| {
            let line = format!("{rows} rows read, {written} changes written");
            if terminal {
                bar.set_message(line);
            } else {
                eprintln!("{name}: {line} ({:.0?})", started.elapsed());
            }
        };
        import_input(
            store,
            &name,
            bar.wrap_read(file),
            complete,
            now,
            out,
            &mut progress,
        )
        .await?;
        bar.finish_and_clear();
        eprintln!("{name}: imported in {:.1?}", started.elapsed());
    }
    Ok(())
}

fn progress_bar(name: &str, len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {elapsed_precise} (eta {eta}) {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar.set_prefix(name.to_owned());
    bar
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Plain lines on standard error (`RUST_LOG` chooses what), standard output being the
    // command's own output. Not sqlx's warnings of slow statements: an import's index builds
    // are slow by nature, and their times are logged with their names.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=error")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Serve {
            listen,
            database,
            issuer,
            jwks_url,
            audiences,
            public_reads,
            base_url,
            rate_burst,
            rate_per_second,
            client_id,
            client_secret_file,
            shutdown_delay_secs,
        } => {
            use coeur_directory::http::{Access, Config, Directory, router};
            use coeur_resource_server::{JwksSource, Verifier};
            use std::sync::Arc;
            let store = Store::connect(&database).await?;
            let readiness = store.clone();
            let http = reqwest::Client::new();
            let source = match jwks_url {
                Some(url) => JwksSource::new(&issuer, &url, http),
                None => JwksSource::discover(&issuer, http).await?,
            };
            let clock: Arc<dyn coeur_common::random::Clock> = Arc::new(SystemClock);
            let verifier = Arc::new(Verifier::new(Arc::new(source), clock.clone()));
            let mut fresh = [0u8; 32];
            aws_lc_rs::rand::fill(&mut fresh)
                .map_err(|_| anyhow::anyhow!("no system randomness"))?;
            // Every instance on this database signs and reads paging cursors alike.
            let cursor_key = store.shared_key("cursor", fresh).await?;
            let config = Config {
                base_url: base_url
                    .unwrap_or_else(|| format!("http://{listen}"))
                    .trim_end_matches('/')
                    .to_owned(),
                audiences,
                access: if public_reads {
                    Access::PublicReads
                } else {
                    Access::Tokens
                },
                rate_limit: RateLimit {
                    burst: rate_burst,
                    per_second: rate_per_second,
                },
                cursor_key,
            };
            let public_url = config.base_url.clone();
            let mut app = router(Directory::new(
                store.clone(),
                verifier,
                clock.clone(),
                config,
            ));
            if let (Some(client_id), Some(file)) = (client_id, client_secret_file) {
                use coeur_directory::space::{Space, SpaceConfig, router as space_router};
                let secret = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
                    .trim()
                    .to_owned();
                anyhow::ensure!(!secret.is_empty(), "{} is empty", file.display());
                let space = Space::new(
                    store,
                    clock,
                    Arc::new(SystemRandom),
                    SpaceConfig {
                        issuer: issuer.clone(),
                        client_id,
                        client_secret: secret,
                        public_url,
                    },
                    coeur_rp::Http::new()?,
                )?;
                app = app.merge(space_router(space));
            }
            let app =
                coeur_web::with_common_layers(app, Arc::new(coeur_web::ServiceIdentity::default()));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            eprintln!("serving the directory's FHIR API on {listen}");
            coeur_web::lifecycle::serve_until_signalled(
                listener,
                app,
                readiness.readiness(),
                std::time::Duration::from_secs(shutdown_delay_secs),
                coeur_web::listener::Limits::default(),
            )
            .await?;
        }
        Command::Import {
            database,
            partial,
            files,
        } => {
            let store = Store::connect_for(&database, Workload::Import).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            let mut out = Outcome::default();
            // Into an empty store, the files are one first load: the indexes are built once,
            // after the last file (also when one fails: the records written stay searchable).
            let first_load = store.begin_first_load().await?;
            let imported = import_files(&store, files, !partial, now, &mut out).await;
            if first_load {
                let started = std::time::Instant::now();
                store.end_first_load().await?;
                eprintln!("indexes and statistics built in {:.1?}", started.elapsed());
            }
            imported?;
            for r in &out.rejected {
                eprintln!("{}:{}: {}", r.file, r.row.line, r.row.reason);
            }
            for (file, reason) in &out.skipped {
                eprintln!("{file}: skipped: {reason}");
            }
            println!("{}", out.summary);
        }
        Command::Generate {
            persons,
            structures,
            seed,
            out,
            stamp,
            zip,
        } => {
            std::fs::create_dir_all(&out)?;
            let open = |name: &str| -> anyhow::Result<BufWriter<File>> {
                let path = out.join(format!("{name}_{stamp}.txt"));
                Ok(BufWriter::new(
                    File::create(&path).with_context(|| path.display().to_string())?,
                ))
            };
            let mut a = open("PS_LibreAcces_Personne_activite")?;
            let mut s = open("PS_LibreAcces_SavoirFaire")?;
            let mut d = open("PS_LibreAcces_Dipl_AutExerc")?;
            let mut m = open("Extraction_Correspondance_MSSante")?;
            let mut f = open("finess_etablissements")?;
            let mut c = open("Porteurs_CPS_CPF")?;
            generate(
                seed,
                persons,
                structures,
                Writers {
                    activite: &mut a,
                    savoir_faire: &mut s,
                    diplome: &mut d,
                    mssante: &mut m,
                    finess: &mut f,
                    cartes: &mut c,
                },
            )?;
            let mut h = open("finess_autorisations")?;
            authorisations(seed, structures, &mut h)?;
            let mut e = open("finess_equipements_sociaux")?;
            social_equipment(seed, structures, &mut e)?;
            for w in [
                &mut a, &mut s, &mut d, &mut m, &mut f, &mut h, &mut c, &mut e,
            ] {
                w.flush()?;
            }
            drop((a, s, d, m, f, h, c, e));
            if zip {
                for name in [
                    "PS_LibreAcces_Personne_activite",
                    "PS_LibreAcces_SavoirFaire",
                    "PS_LibreAcces_Dipl_AutExerc",
                    "Extraction_Correspondance_MSSante",
                    "finess_etablissements",
                    "finess_autorisations",
                    "finess_equipements_sociaux",
                    "Porteurs_CPS_CPF",
                ] {
                    let text = format!("{name}_{stamp}.txt");
                    let mut input = File::open(out.join(&text))?;
                    let archive = File::create(out.join(format!("{name}_{stamp}.zip")))?;
                    coeur_directory::generate::zip_extract(&text, &mut input, archive)?;
                }
            }
            println!(
                "wrote {persons} professionals and {structures} structures to {}",
                out.display()
            );
        }
        Command::Check { files } => {
            let mut summary = Summary::default();
            for path in files {
                let name = path.display().to_string();
                let file = File::open(&path).with_context(|| name.clone())?;
                each_text_file(&name, file, &mut |name, input| {
                    match collect(input) {
                        Err(e) => eprintln!("{name}: skipped: {e}"),
                        Ok((kind, c)) => {
                            for e in &c.rejected {
                                eprintln!("{name}:{}: {}", e.line, e.reason);
                            }
                            let p = plan(&HashMap::new(), &c.records, kind.record_kinds(), true);
                            summary.add(c.read, &c.rejected, &p);
                            println!("{name}: {kind:?}, {} records", c.records.len());
                        }
                    }
                    Ok(())
                })?;
            }
            println!("{summary}");
        }
    }
    Ok(())
}
