//! `coeur client`: clients (relying parties) registered in the database.

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use coeur::app::{SystemClock, SystemRandom};
use coeur::common::random::{Clock, Random};
use coeur::config::Config;
use coeur::oauth::secret::{MIN_SECRET_LEN, SecretHash};
use coeur::provider::clients::{
    ClientRegistration, NewClient, SecretRequest, list_clients, register_client,
};
use coeur::provider::state::load_realms;
use coeur::provider::store::Store;
use coeur::storage::Db;
use coeur::storage::keystore::KeyStore;
use std::path::PathBuf;

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
/// Manage clients (relying parties).
#[derive(Subcommand)]
pub enum ClientCmd {
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
        /// CA API (`ca:request`): a structure (FINESS or SIRET) the client may request
        /// certificates for; repeat for several.
        #[arg(long = "ca-structure")]
        ca_structures: Vec<String>,
        /// CA API (`ca:request`): a DNS suffix the client may name in certificates (the name
        /// and every name under it); repeat for several.
        #[arg(long = "ca-dns-suffix")]
        ca_dns_suffixes: Vec<String>,
        /// A web origin (`https://app.example`) whose pages may call the token, userinfo and
        /// revocation endpoints (CORS), or `+` for the redirect URIs' origins; repeatable.
        /// Without it a public client gets `+`, a confidential client none.
        #[arg(long = "web-origin")]
        web_origins: Vec<String>,
        /// Back-Channel Logout: where coeur posts a Logout Token when a session the client
        /// took part in ends (https, or http on a loopback host).
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// Back-Channel Logout: the client needs `sid` in Logout Tokens (coeur always sends
        /// it).
        #[arg(long, requires = "backchannel_logout_uri")]
        backchannel_logout_session_required: bool,
        /// CIBA: how the client gets its tokens, `poll` or `ping` (with the
        /// urn:openid:params:grant-type:ciba grant; poll by default).
        #[arg(long, value_parser = ["poll", "ping"])]
        ciba_delivery_mode: Option<String>,
        /// CIBA ping: where coeur tells the client a request was decided (https, or http on a
        /// loopback host).
        #[arg(long)]
        ciba_notification_endpoint: Option<String>,
        /// CIBA: the client signs its requests (`request`) with this algorithm (ES256, PS256,
        /// RS256), with a key of its JWKS.
        #[arg(long)]
        ciba_signing_alg: Option<String>,
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

/// Runs a `client` command.
pub async fn run(cfg: Config, c: ClientCmd) -> Result<()> {
    match c {
        ClientCmd::HashSecret => hash_secret(),
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
            ca_structures,
            ca_dns_suffixes,
            web_origins,
            backchannel_logout_uri,
            backchannel_logout_session_required,
            ciba_delivery_mode,
            ciba_notification_endpoint,
            ciba_signing_alg,
        } => {
            let ciba = ciba_registration(
                ciba_delivery_mode.as_deref(),
                ciba_notification_endpoint,
                ciba_signing_alg.as_deref(),
            )?;
            let jwks = match jwks {
                Some(p) => Some(serde_json::from_str(
                    &std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                )?),
                None => None,
            };
            let reg = ClientRegistration {
                client_id,
                redirect_uris,
                post_logout_redirect_uris,
                secret: match (secret, generate_secret) {
                    (Some(s), _) => SecretRequest::Given(s),
                    (None, true) => SecretRequest::Generate,
                    (None, false) => SecretRequest::None,
                },
                public,
                auth_method,
                grant_types,
                scopes,
                id_token_alg,
                userinfo_alg,
                jwks,
                tls_subject_dn,
                tls_san_dns,
                ca: (!ca_structures.is_empty() || !ca_dns_suffixes.is_empty()).then_some(
                    coeur::oauth::client::CaEntitlements {
                        structures: ca_structures,
                        dns_suffixes: ca_dns_suffixes,
                    },
                ),
                web_origins: (!web_origins.is_empty()).then_some(web_origins),
                backchannel_logout_uri,
                backchannel_logout_session_required,
                ciba,
            };
            add(&cfg, &realm, reg).await
        }
        ClientCmd::List { realm } => list(&cfg, &realm).await,
        ClientCmd::Remove { realm, client_id } => remove(&cfg, &realm, &client_id).await,
    }
}

/// The CIBA registration the `--ciba-*` options ask for, if any.
fn ciba_registration(
    mode: Option<&str>,
    endpoint: Option<String>,
    alg: Option<&str>,
) -> Result<Option<coeur::oauth::ciba::CibaRegistration>> {
    use coeur::oauth::ciba::{CibaRegistration, DeliveryMode};
    if mode.is_none() && endpoint.is_none() && alg.is_none() {
        return Ok(None);
    }
    let token_delivery_mode = match mode {
        Some("ping") => DeliveryMode::Ping,
        _ => DeliveryMode::Poll,
    };
    let authentication_request_signing_alg = alg
        .map(|a| {
            coeur::oauth::jose::SigAlg::parse(a)
                .ok_or_else(|| anyhow::anyhow!("unknown algorithm {a}"))
        })
        .transpose()?;
    Ok(Some(CibaRegistration {
        token_delivery_mode,
        client_notification_endpoint: endpoint,
        authentication_request_signing_alg,
    }))
}

/// `client list`: the realm's clients, from its file and from the database.
async fn list(cfg: &Config, realm: &str) -> Result<()> {
    let realms = load_realms(&cfg.realms_dir, &cfg.public_url)?;
    let r = realms
        .iter()
        .find(|r| r.name == realm)
        .ok_or_else(|| anyhow!("unknown realm {realm}"))?;
    let store = Store::new(Db::connect(&cfg.database_url).await?);
    for c in list_clients(&store, r).await? {
        println!(
            "{}\t({})\t{}",
            c.client_id,
            c.source,
            c.redirect_uris.join(" ")
        );
    }
    Ok(())
}

/// `client remove`: a client registered in the database (those of realm files stay).
async fn remove(cfg: &Config, realm: &str, client_id: &str) -> Result<()> {
    let db = Db::connect(&cfg.database_url).await?;
    let store = Store::new(db.clone());
    if !store.remove_client(realm, client_id).await? {
        bail!("no client {client_id} in the database of realm {realm}");
    }
    announce(&db, realm, client_id).await;
    println!("removed {client_id}");
    Ok(())
}

/// `client add`: checks the registration, then stores it; prints it (with a generated
/// secret, once).
async fn add(cfg: &Config, realm: &str, reg: ClientRegistration) -> Result<()> {
    let realms = load_realms(&cfg.realms_dir, &cfg.public_url)?;
    let r = realms
        .iter()
        .find(|r| r.name == realm)
        .ok_or_else(|| anyhow!("unknown realm {realm}"))?;
    let new = NewClient::check(r, reg, &SystemRandom)?;
    // The key store is opened only when a secret is to be sealed.
    let master = if new.needs_master_key() {
        Some(coeur::app::master_key(cfg)?)
    } else {
        None
    };
    let db = Db::connect(&cfg.database_url).await?;
    let keys = match master {
        Some(m) => Some(coeur::app::open_keys(cfg, &db, m, SystemClock.now()).await?),
        None => None,
    };
    let store = Store::new(db.clone());
    let done = register_client(
        &store,
        keys.as_ref().map(KeyStore::master),
        new,
        SystemClock.now(),
    )
    .await?;
    announce(&db, realm, &done.spec.client_id).await;
    let mut out = serde_json::to_value(&done.spec)?;
    if let Some(secret) = done.generated_secret {
        out["client_secret"] = secret.into();
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Tells running instances (on a shared PostgreSQL database) that a client changed: they
/// read it again at once.
async fn announce(db: &Db, realm: &str, client_id: &str) {
    let bus = coeur::storage::Bus::new(db.clone(), "cli".into());
    coeur::provider::clients::clients_changed_elsewhere(&bus, realm, client_id).await;
}

/// `client hash-secret`: hashes a secret read from standard input.
fn hash_secret() -> Result<()> {
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
