//! The `coeur` command: the server and the operators' tools.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use coeur::app::{App, SystemClock, SystemRandom};
use coeur::common::random::{Clock, Random, token as random_token};
use coeur::config::{CommonSettings, Config, LogFormat, ServeSettings, Settings, redact_url};
use coeur::oauth::client::{ClientSpec, GrantType, TokenAuthMethod, validate_spec};
use coeur::oauth::jose::SigAlg;
use coeur::oauth::secret::{MIN_SECRET_LEN, SecretHash};
use coeur::provider::state::{client_secret_context, load_realms};
use coeur::provider::store::{ClientRow, Store};
use coeur::storage::Db;
use coeur::storage::keystore::{KeyStore, MasterKey};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "coeur",
    version,
    about = "Identity provider and certificate authority for the French health sector"
)]
struct Cli {
    /// Configuration file (TOML); flags and environment override it.
    #[arg(long, global = true, env = "COEUR_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: CommonSettings,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve {
        #[command(flatten)]
        settings: ServeSettings,
    },
    /// Manage clients (relying parties).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Inspect identities.
    #[command(subcommand)]
    Identity(IdentityCmd),
    /// Operate the certificate authority.
    #[command(subcommand)]
    Ca(CaCmd),
    /// LDAP publication: queue status, reconciliation.
    #[command(subcommand)]
    Ldap(LdapCmd),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Virtual CPS cards (sandbox).
    #[command(subcommand)]
    Card(CardCmd),
}

#[derive(Subcommand)]
enum CardCmd {
    /// Make a virtual card for an identity: writes OUT (authentication, PKCS#12 protected by
    /// the PIN, usable with curl and browsers) and OUT with "-sign" before the extension
    /// (signature). Sandbox only.
    Issue {
        /// Realm of the identity.
        #[arg(long, default_value = "edit")]
        realm: String,
        /// National identifier.
        #[arg(long)]
        national_id: String,
        /// Card PIN (protects the PKCS#12).
        #[arg(long, env = "COEUR_CARD_PIN")]
        pin: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Issuing CA (default: the first PERSONNES CA).
        #[arg(long)]
        ca: Option<String>,
    },
    /// Revoke every card certificate of a national identifier (opposition).
    Revoke {
        /// National identifier.
        #[arg(long)]
        national_id: String,
        /// RFC 5280 reason name.
        #[arg(long, default_value = "keyCompromise")]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Verify the hash chain; names the first broken link.
    Verify,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum CaCmd {
    /// Create the CA hierarchy (keys, certificates, OCSP responders, CRLs) if missing; list it.
    Init,
    /// Issue a certificate from a CSR file (PEM or DER); prints the certificate (PEM).
    Issue {
        /// Issuing CA id (e.g. ACI-EL-ORG-TEST).
        #[arg(long)]
        ca: String,
        /// Profile (SSL_SERV, ORG_AUTH_CLI, ORG_SIGN, ORG_CONF, SMIME_MSS, CPS_AUTH, CPS_SIGN).
        #[arg(long)]
        profile: String,
        /// CSR file.
        #[arg(long)]
        csr: PathBuf,
        /// Structure identifier (1+FINESS or 3+SIRET).
        #[arg(long)]
        structure_id: Option<String>,
        /// Structure name (O).
        #[arg(long)]
        organization: Option<String>,
        /// Département (ST), e.g. "Paris (75)".
        #[arg(long)]
        state: Option<String>,
        /// DNS name (repeatable).
        #[arg(long = "dns")]
        dns_names: Vec<String>,
        /// E-mail address (repeatable).
        #[arg(long = "email")]
        emails: Vec<String>,
        /// Service name (CN without DNS names).
        #[arg(long)]
        service_name: Option<String>,
        /// Holder's national identifier (person profiles).
        #[arg(long)]
        national_id: Option<String>,
        /// Holder's family name.
        #[arg(long)]
        family_name: Option<String>,
        /// Holder's given name.
        #[arg(long)]
        given_name: Option<String>,
        /// Holder's profession label.
        #[arg(long)]
        title: Option<String>,
    },
    /// Revoke a certificate.
    Revoke {
        /// CA id.
        #[arg(long)]
        ca: String,
        /// Serial (hex).
        #[arg(long)]
        serial: String,
        /// RFC 5280 reason name (keyCompromise, superseded, cessationOfOperation…).
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Build a CA's CRL and delta CRL now; prints their paths.
    Crl {
        /// CA id.
        #[arg(long)]
        ca: String,
    },
    /// List issued certificates.
    List {
        /// Only this CA.
        #[arg(long)]
        ca: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Print a CA certificate (PEM), e.g. a root to install in clients.
    Export {
        /// CA id.
        #[arg(long)]
        ca: String,
    },
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum ClientCmd {
    /// Register a client; prints its registration (and a generated secret once).
    Add {
        /// Realm.
        #[arg(long)]
        realm: String,
        /// Client id.
        #[arg(long)]
        client_id: String,
        /// Redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Post-logout redirect URI (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Client secret (at least 32 characters).
        #[arg(long, env = "COEUR_CLIENT_SECRET", conflicts_with_all = ["generate_secret", "public"])]
        secret: Option<String>,
        /// Generate a 256-bit secret and print it once.
        #[arg(long, conflicts_with = "public")]
        generate_secret: bool,
        /// A public client (no secret, PKCE required).
        #[arg(long)]
        public: bool,
        /// Token endpoint authentication method.
        #[arg(long)]
        auth_method: Option<String>,
        /// Grant type (repeatable; default authorization_code, refresh_token).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// Allowed scope (repeatable; default openid scope_all profile email).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// ID token signing algorithm (ES256, RS256, PS256, HS256).
        #[arg(long)]
        id_token_alg: Option<String>,
        /// Sign userinfo answers with this algorithm.
        #[arg(long)]
        userinfo_alg: Option<String>,
        /// The client's JWKS file, for private_key_jwt.
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// tls_client_auth: the client certificate's subject DN (as `openssl x509 -subject
        /// -nameopt RFC2253` prints it).
        #[arg(long)]
        tls_subject_dn: Option<String>,
        /// tls_client_auth: a DNS name of the client certificate.
        #[arg(long)]
        tls_san_dns: Option<String>,
    },
    /// List a realm's clients.
    List {
        /// Realm.
        #[arg(long)]
        realm: String,
    },
    /// Remove a client registered with `client add`.
    Remove {
        /// Realm.
        #[arg(long)]
        realm: String,
        /// Client id.
        #[arg(long)]
        client_id: String,
    },
    /// Hash a secret read from standard input, for `secret_hash` in realm files.
    HashSecret,
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Rotate signing keys: next → active, active → retired (still verifying).
    Rotate {
        /// Only this realm.
        #[arg(long)]
        realm: Option<String>,
    },
    /// Show the key rings.
    List {
        /// Only this realm.
        #[arg(long)]
        realm: Option<String>,
    },
}

#[derive(Subcommand)]
enum IdentityCmd {
    /// List identities of a realm.
    List {
        /// Realm.
        #[arg(long)]
        realm: String,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum LdapCmd {
    /// Show the publication queue: depth, oldest pending row, failures, the publisher.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare the directory with the store and repair it: CA certificates and CRLs, missing
    /// valid certificates, stale values (revoked, expired, unknown).
    Reconcile {
        /// Only report what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Make every pending row due now (after fixing what the directory refused).
    Retry,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COEUR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b.init(),
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("coeur: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let serve_settings = match &cli.cmd {
        Cmd::Serve { settings } => Some(settings.clone()),
        _ => None,
    };
    let given = Settings::from_command_line(cli.settings, serve_settings);
    let cfg = Config::resolve(given, cli.config.as_deref())?;
    init_logging(cfg.log_format);
    match cli.cmd {
        Cmd::Serve { .. } => serve(cfg).await,
        Cmd::Client(c) => client_cmd(cfg, c).await,
        Cmd::Ldap(c) => ldap_cmd(cfg, c).await,
        Cmd::Keys(k) => keys_cmd(cfg, k),
        Cmd::Ca(c) => ca_cmd(cfg, c).await,
        Cmd::Card(c) => card_cmd(cfg, c).await,
        Cmd::Audit(AuditCmd::Verify) => {
            let store = Db::connect(&cfg.database_url).await?;
            match coeur::ca::ca::verify_audit(&store).await? {
                Ok(n) => {
                    println!("audit log intact: {n} records");
                    Ok(())
                }
                Err(seq) => bail!("audit log broken at record {seq}"),
            }
        }
        Cmd::Identity(IdentityCmd::List { realm, limit }) => {
            let store = Store::new(Db::connect(&cfg.database_url).await?);
            for i in store.identities(&realm, limit).await? {
                let prof = i
                    .exercices
                    .first()
                    .map(|e| e.code_profession.as_str())
                    .unwrap_or("");
                println!(
                    "{}\t{}\t{} {}\tprofession {}",
                    i.national_id,
                    if i.active { "active" } else { "inactive" },
                    i.given_name,
                    i.family_name,
                    prof
                );
            }
            Ok(())
        }
    }
}

async fn serve(cfg: Config) -> Result<()> {
    tracing::info!(database = %redact_url(&cfg.database_url), keys = %cfg.keys_dir.display(), "starting");
    let mut tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some(tls_config(c, k)?),
        _ => None,
    };
    let app = Arc::new(App::build(cfg.clone()).await?);
    let state = &app.provider;
    if cfg.tls_self_issued {
        let (chain, key, root) = app
            .ca
            .ca
            .own_server_certificate(
                &app.ca.store,
                &cfg.keys_dir,
                state.keys.master(),
                &*state.rng,
                "SERVER-TLS",
                &cfg.public_url,
                state.now(),
            )
            .await?;
        let root_path = cfg.crl_dir.join("coeur-root.pem");
        std::fs::write(&root_path, root)?;
        println!(
            "  HTTPS certificate issued by coeur's CA; trust its root: {}",
            root_path.display()
        );
        tls = Some(tls_config_from(&chain, key)?);
    }
    let publisher = coeur::ca::ldap::spawn(&app.ca);
    match &app.ca.ldap {
        None => tracing::info!("LDAP publication is off (not configured)"),
        Some(l) => {
            tracing::info!(target_dir = %l.describe(), "LDAP publication on");
            println!("  LDAP publication to {}", l.describe());
        }
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    println!("coeur listening on {}", cfg.listen);
    println!("  demo relying party: {}/", cfg.public_url);
    for n in state.realms.names() {
        let r = &state.realms[n.as_str()].realm;
        println!(
            "  realm {:<14} issuer {}  ({})",
            r.name,
            r.issuer,
            if r.sandbox {
                "sandbox"
            } else {
                "production rules"
            }
        );
    }
    spawn_housekeeping(&app);
    let card_listener = tokio::net::TcpListener::bind(cfg.card_listen)
        .await
        .with_context(|| format!("binding the card listener {}", cfg.card_listen))?;
    println!("  card login (mutual TLS): {}", cfg.card_public_url);
    let card_app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = card_app.serve_card(card_listener).await {
            tracing::error!(error = %format!("{e:#}"), "card listener stopped");
        }
    });
    let router = app.router();
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    };
    match tls {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await?
        }
        Some(tls) => serve_tls(listener, router, tls, shutdown).await?,
    }
    if let Some(p) = publisher {
        p.stop().await;
    }
    Ok(())
}

fn spawn_housekeeping(app: &App) {
    let ca = app.ca.clone();
    tokio::spawn(async move {
        // Revocations made by other processes reach the OCSP cache within a second.
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut since = ca.now() - 2;
        loop {
            tick.tick().await;
            let now = ca.now();
            if let Err(e) = ca.ca.sync_revocations(&ca.store, since).await {
                tracing::error!(error = %format!("{e:#}"), "revocation sync failed");
                continue;
            }
            since = now - 2;
        }
    });
    let state = app.provider.clone();
    let ca = app.ca.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            for (_, rt) in state.realms.iter() {
                if let Err(e) = state.refresh_ring(rt) {
                    tracing::error!(realm = %rt.realm.name, error = %format!("{e:#}"), "key ring reload failed");
                }
            }
            // CRLs: rebuilt after revocations and before they go stale.
            let mut ids: Vec<String> = ca.ca.cas.keys().cloned().collect();
            ids.sort();
            for id in ids {
                if let Err(e) = ca.ca.current_crl(&ca.store, &id, false, ca.now()).await {
                    tracing::error!(ca = %id, error = %e, "CRL rebuild failed");
                }
            }
            match state.store.purge_expired(state.now()).await {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "purged expired rows"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "purge failed"),
            }
        }
    });
}

fn tls_config_from(chain_pem: &str, key_pkcs8: Vec<u8>) -> Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(chain_pem.as_bytes()).collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8));
    let mut c = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(c)
}

fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", cert.display()))?;
    let key =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading {}", key.display()))?;
    let mut c = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(c)
}

async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: rustls::ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            r = listener.accept() => r?,
            _ = &mut shutdown => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
        });
    }
}

async fn client_cmd(cfg: Config, c: ClientCmd) -> Result<()> {
    let now = SystemClock.now();
    match c {
        ClientCmd::HashSecret => {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            let s = s.trim_end_matches(['\n', '\r']);
            if s.len() < MIN_SECRET_LEN {
                bail!("client secrets must be at least {MIN_SECRET_LEN} characters");
            }
            let mut salt = [0u8; 16];
            SystemRandom.fill(&mut salt);
            println!("{}", SecretHash::new(s, &salt).as_str());
            Ok(())
        }
        ClientCmd::Add {
            realm,
            client_id,
            redirect_uris,
            post_logout_redirect_uris,
            secret,
            generate_secret,
            public,
            auth_method,
            grant_types,
            scopes,
            id_token_alg,
            userinfo_alg,
            jwks,
            tls_subject_dn,
            tls_san_dns,
        } => {
            let realms = load_realms(&cfg.realms_dir, &cfg.public_url)?;
            let r = realms
                .iter()
                .find(|r| r.name == realm)
                .ok_or_else(|| anyhow!("unknown realm {realm}"))?;
            if r.clients.iter().any(|c| c.client_id == client_id) {
                bail!("client {client_id} is defined in the realm file");
            }
            let auth_method = match auth_method {
                Some(m) => {
                    TokenAuthMethod::parse(&m).ok_or_else(|| anyhow!("unknown auth method {m}"))?
                }
                None if public => TokenAuthMethod::None,
                None if jwks.is_some() => TokenAuthMethod::PrivateKeyJwt,
                None if tls_subject_dn.is_some() || tls_san_dns.is_some() => {
                    TokenAuthMethod::TlsClientAuth
                }
                None => TokenAuthMethod::ClientSecretBasic,
            };
            let grant_types = if grant_types.is_empty() {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            } else {
                grant_types
                    .iter()
                    .map(|g| GrantType::parse(g).ok_or_else(|| anyhow!("unknown grant type {g}")))
                    .collect::<Result<_>>()?
            };
            let alg = |a: Option<String>| {
                a.map(|a| SigAlg::parse(&a).ok_or_else(|| anyhow!("unknown algorithm {a}")))
                    .transpose()
            };
            let jwks = match jwks {
                Some(p) => Some(serde_json::from_str(
                    &std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                )?),
                None => None,
            };
            let spec = ClientSpec {
                client_id: client_id.clone(),
                public,
                redirect_uris,
                post_logout_redirect_uris,
                token_endpoint_auth_method: auth_method,
                id_token_signed_response_alg: alg(id_token_alg)?,
                userinfo_signed_response_alg: alg(userinfo_alg)?,
                scopes: if scopes.is_empty() {
                    vec![
                        "openid".into(),
                        "scope_all".into(),
                        "profile".into(),
                        "email".into(),
                    ]
                } else {
                    scopes
                },
                grant_types,
                jwks,
                secret_hash: None,
                tls_client_auth_subject_dn: tls_subject_dn,
                tls_client_auth_san_dns: tls_san_dns,
            };
            validate_spec(&spec).map_err(|e| anyhow!(e))?;
            let needs_secret = matches!(
                auth_method,
                TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost
            );
            let (secret, generated) = match (secret, generate_secret) {
                (Some(s), _) => (Some(s), false),
                (None, true) => (Some(random_token(&SystemRandom)), true),
                (None, false) if needs_secret => {
                    bail!("a confidential client needs --secret or --generate-secret")
                }
                (None, false) => (None, false),
            };
            if let Some(s) = &secret
                && s.len() < MIN_SECRET_LEN
            {
                bail!(
                    "client secrets must be at least {MIN_SECRET_LEN} characters (coeur stores a fast hash, safe only for high-entropy secrets)"
                );
            }
            let mut salt = [0u8; 16];
            SystemRandom.fill(&mut salt);
            let sealed = match (
                &secret,
                spec.id_token_signed_response_alg == Some(SigAlg::HS256)
                    || spec.userinfo_signed_response_alg == Some(SigAlg::HS256),
            ) {
                (Some(s), true) => {
                    let keys = KeyStore::open(
                        &cfg.keys_dir,
                        MasterKey::load(&cfg.keys_dir, cfg.master_key.as_deref())?,
                    )?;
                    Some(
                        keys.master()
                            .seal(&client_secret_context(&realm, &client_id), s.as_bytes())?,
                    )
                }
                (None, true) => bail!("HS256 needs a client secret"),
                _ => None,
            };
            let row = ClientRow {
                spec: serde_json::to_string(&spec)?,
                secret_hash: secret
                    .as_deref()
                    .map(|s| SecretHash::new(s, &salt).as_str().to_owned()),
                secret_sealed: sealed,
            };
            let store = Store::new(Db::connect(&cfg.database_url).await?);
            store.add_client(&realm, &client_id, &row, now).await?;
            let mut out = serde_json::to_value(&spec)?;
            if generated {
                out["client_secret"] = secret.unwrap_or_default().into();
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        ClientCmd::List { realm } => {
            let realms = load_realms(&cfg.realms_dir, &cfg.public_url)?;
            let r = realms
                .iter()
                .find(|r| r.name == realm)
                .ok_or_else(|| anyhow!("unknown realm {realm}"))?;
            for c in &r.clients {
                println!(
                    "{}\t(realm file)\t{}",
                    c.client_id,
                    c.redirect_uris.join(" ")
                );
            }
            let store = Store::new(Db::connect(&cfg.database_url).await?);
            for (id, spec) in store.clients(&realm).await? {
                let s: ClientSpec = serde_json::from_str(&spec)?;
                println!("{id}\t(database)\t{}", s.redirect_uris.join(" "));
            }
            Ok(())
        }
        ClientCmd::Remove { realm, client_id } => {
            let store = Store::new(Db::connect(&cfg.database_url).await?);
            if !store.remove_client(&realm, &client_id).await? {
                bail!("no client {client_id} in the database of realm {realm}");
            }
            println!("removed {client_id}");
            Ok(())
        }
    }
}

async fn card_cmd(cfg: Config, c: CardCmd) -> Result<()> {
    use coeur::pki::revocation::Reason;
    let app = App::build(cfg).await?;
    let state = &app.provider;
    let now = state.now();
    match c {
        CardCmd::Issue {
            realm,
            national_id,
            pin,
            out,
            ca,
        } => {
            if !state.realm(&realm).is_some_and(|r| r.realm.sandbox) {
                bail!("virtual cards are made only for sandbox realms; {realm} is not one");
            }
            let identity = state
                .store
                .identity(&realm, &national_id)
                .await?
                .ok_or_else(|| anyhow!("no identity {national_id} in realm {realm}"))?;
            let ((a_serial, a_p12), (s_serial, s_p12)) = app
                .ca
                .ca
                .issue_virtual_card(
                    &app.ca.store,
                    &*state.rng,
                    &identity,
                    &pin,
                    ca.as_deref(),
                    "cli",
                    now,
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let stem = out
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("card")
                .to_owned();
            let ext = out
                .extension()
                .and_then(|s| s.to_str())
                .unwrap_or("p12")
                .to_owned();
            let sign_path = out.with_file_name(format!("{stem}-sign.{ext}"));
            std::fs::write(&out, a_p12)?;
            std::fs::write(&sign_path, s_p12)?;
            println!("authentication certificate {a_serial}: {}", out.display());
            println!("signature certificate {s_serial}: {}", sign_path.display());
            Ok(())
        }
        CardCmd::Revoke {
            national_id,
            reason,
        } => {
            let r = Reason::parse(&reason).ok_or_else(|| anyhow!("unknown reason {reason}"))?;
            let done = app
                .ca
                .ca
                .revoke_cards(&app.ca.store, &national_id, r, "cli", now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if done.is_empty() {
                bail!("no valid card certificate for {national_id}");
            }
            for (ca, serial) in done {
                println!("revoked {ca}/{serial}");
            }
            Ok(())
        }
    }
}

async fn ca_cmd(cfg: Config, c: CaCmd) -> Result<()> {
    use coeur::pki::csr::SubjectRequest;
    use coeur::pki::revocation::Reason;
    let app = App::build(cfg).await?;
    let state = &*app.ca;
    let ca = &*state.ca;
    let now = state.now();
    match c {
        CaCmd::Init => {
            let mut ids: Vec<&String> = ca.cas.keys().collect();
            ids.sort();
            for id in ids {
                let c = &ca.cas[id];
                println!("{id}\t{}\t{}", c.def.cn, ca.hierarchy.cert_url(id));
            }
            Ok(())
        }
        CaCmd::Issue {
            ca: ca_id,
            profile,
            csr,
            structure_id,
            organization,
            state: st,
            dns_names,
            emails,
            service_name,
            national_id,
            family_name,
            given_name,
            title,
        } => {
            let input =
                std::fs::read(&csr).with_context(|| format!("reading {}", csr.display()))?;
            let subject = SubjectRequest {
                structure_id,
                organization,
                state: st,
                dns_names,
                emails,
                service_name,
                national_id,
                family_name,
                given_name,
                title,
            };
            let approved = ca
                .check(&ca_id, &profile, &input, &subject)
                .map_err(|e| anyhow!("{e}"))?;
            let (serial, der) = ca
                .issue(
                    &state.store,
                    &*state.rng,
                    &approved,
                    &ca_id,
                    &profile,
                    None,
                    "cli",
                    now,
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            eprintln!("issued {ca_id}/{serial}");
            print!("{}", coeur::ca::ca::cert_pem(&der));
            Ok(())
        }
        CaCmd::Revoke {
            ca: ca_id,
            serial,
            reason,
        } => {
            let r = Reason::parse(&reason).ok_or_else(|| anyhow!("unknown reason {reason}"))?;
            ca.revoke(&state.store, &ca_id, &serial, r, "cli", now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("revoked {ca_id}/{serial}");
            Ok(())
        }
        CaCmd::Crl { ca: ca_id } => {
            let (full, delta) = ca
                .build_crls(&state.store, &ca_id, now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("{}\t{full} entries", ca.crl_path(&ca_id, false).display());
            println!("{}\t{delta} entries", ca.crl_path(&ca_id, true).display());
            Ok(())
        }
        CaCmd::List { ca: only, limit } => {
            for c in ca
                .list(&state.store, only.as_deref(), None, None, limit)
                .await
                .map_err(|e| anyhow!("{e}"))?
            {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    c["ca"].as_str().unwrap_or(""),
                    c["serial"].as_str().unwrap_or(""),
                    c["profile"].as_str().unwrap_or(""),
                    if c["revoked_at"].is_null() {
                        "valid"
                    } else {
                        "revoked"
                    },
                    c["subject"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        CaCmd::Export { ca: ca_id } => {
            let c = ca.ca(&ca_id).map_err(|e| anyhow!("{e}"))?;
            print!("{}", coeur::ca::ca::cert_pem(&c.cert_der));
            Ok(())
        }
    }
}

fn keys_cmd(cfg: Config, k: KeysCmd) -> Result<()> {
    let realms = load_realms(&cfg.realms_dir, &cfg.public_url)?;
    let keys = KeyStore::open(
        &cfg.keys_dir,
        MasterKey::load(&cfg.keys_dir, cfg.master_key.as_deref())?,
    )?;
    let now = SystemClock.now();
    let pick = |only: &Option<String>| {
        realms
            .iter()
            .filter(|r| only.as_ref().is_none_or(|o| *o == r.name))
            .collect::<Vec<_>>()
    };
    match k {
        KeysCmd::Rotate { realm } => {
            let sel = pick(&realm);
            if sel.is_empty() {
                bail!("no such realm");
            }
            for r in sel {
                let ring = keys.rotate(&r.name, &r.signing_algs, now, r.max_jwt_lifetime() + 60)?;
                println!("{}: rotated; {} keys in the ring", r.name, ring.keys.len());
            }
        }
        KeysCmd::List { realm } => {
            for r in pick(&realm) {
                keys.ensure(&r.name, &r.signing_algs, now)?;
                let l = keys.load(&r.name)?;
                for k in &l.ring.keys {
                    println!("{}\t{}\t{:?}\t{}", r.name, k.kid, k.status, k.alg.as_str());
                }
            }
        }
    }
    Ok(())
}

async fn ldap_cmd(cfg: Config, c: LdapCmd) -> Result<()> {
    match c {
        LdapCmd::Status { json } => {
            let store = Db::connect(&cfg.database_url).await?;
            let now = SystemClock.now();
            let q = coeur::ca::ldap::outbox::status(&store, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&q)?);
                return Ok(());
            }
            match &cfg.ldap {
                Some(l) => println!("publication: on, to {}", l.describe()),
                None => println!("publication: off (not configured); rows wait in the queue"),
            }
            println!("pending: {}", q.pending);
            match q.oldest_pending_at {
                Some(t) => println!("oldest pending: {}s ago", (now - t).max(0)),
                None => println!("oldest pending: -"),
            }
            println!("failing (refused at least once): {}", q.failing);
            println!("delivered in the last hour: {}", q.done_last_hour);
            if let Some((id, attempts, e)) = &q.last_row_error {
                println!("last row error: {id} (attempt {attempts}): {e}");
            }
            match &q.publisher {
                Some(p) => {
                    println!(
                        "publisher: {} ({}), lease {}",
                        p.holder,
                        p.target,
                        if p.expires_at >= now {
                            "held"
                        } else {
                            "expired"
                        }
                    );
                    if let Some(t) = p.last_success_at {
                        println!("last delivery: {}s ago", (now - t).max(0));
                    }
                    if let (Some(e), Some(t)) = (&p.last_error, p.last_error_at) {
                        println!(
                            "last publisher error: {}s ago: {e} ({} failures so far)",
                            (now - t).max(0),
                            p.failures
                        );
                    }
                }
                None => println!("publisher: never ran"),
            }
            Ok(())
        }
        LdapCmd::Retry => {
            let store = Db::connect(&cfg.database_url).await?;
            let n = coeur::ca::ldap::outbox::retry_all_now(&store, SystemClock.now()).await?;
            println!("{n} rows made due now");
            Ok(())
        }
        LdapCmd::Reconcile { dry_run } => {
            let ldap = cfg.ldap.clone();
            let app = App::build(cfg).await?;
            let state = &*app.ca;
            let d = coeur::ca::ldap::connect_cli(ldap.as_ref()).await?;
            let r = coeur::ca::ldap::reconcile::reconcile(
                &state.ca,
                &state.store,
                &d,
                state.now(),
                dry_run,
            )
            .await?;
            let verb = if dry_run { "would be " } else { "" };
            println!("entries with certificates scanned: {}", r.entries_scanned);
            println!("certificates in place: {}", r.in_place);
            println!("CA entry attributes {verb}fixed: {}", r.ca_attrs_fixed);
            println!("certificates {verb}added: {}", r.added);
            println!("stale values {verb}removed: {}", r.removed);
            Ok(())
        }
    }
}
