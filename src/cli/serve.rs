//! `coeur serve`: the server, its listeners and housekeeping.

use anyhow::{Context, Result};
use coeur::app::App;
use coeur::config::{Config, redact_url};
use coeur::directory::{self, DirectoryServer};
use coeur::offer::{self, OfferServer};
use std::sync::Arc;

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(cfg: Config) -> Result<()> {
    cfg.check_serving()?;
    tracing::info!(database = %redact_url(&cfg.database_url), keys = %cfg.keys_dir.display(), "starting");
    let mut tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some(tls_config(c, k)?),
        _ => None,
    };
    let app = Arc::new(App::build(cfg.clone()).await?);
    // CA certificates the directory's HTTP clients trust: the root of a self-issued
    // certificate of the main listener, whose JWKS and token endpoint they read.
    let mut trust = vec![];
    if cfg.tls_self_issued {
        let (config, root) = self_issued_tls(&app, &cfg).await?;
        tls = Some(config);
        trust.push(root);
    }
    let publisher = coeur::ca::ldap::spawn(&app.ca);
    match &app.ca.ldap {
        None => tracing::info!("LDAP publication is off (not configured)"),
        Some(l) => {
            tracing::info!(target_dir = %l.describe(), "LDAP publication on");
            println!("  LDAP publication to {}", l.describe());
        }
    }
    // The offer reads the directory with its own client's tokens: the directory accepts them.
    let directory_settings = cfg.directory.clone().map(|mut d| {
        if cfg.offer.is_some() && !d.audiences.iter().any(|a| a == offer::CLIENT_ID) {
            d.audiences.push(offer::CLIENT_ID.to_owned());
        }
        d
    });
    let directory = match &directory_settings {
        Some(d) => Some(open_directory(&app, d, &trust).await?),
        None => None,
    };
    let offer = match &cfg.offer {
        Some(o) => Some(open_offer(&app, o, cfg.directory.as_ref()).await?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    println!("coeur listening on {}", cfg.listen);
    println!("  demo relying party: {}/", cfg.public_url);
    print_realms(&app);
    if let Some((server, _)) = &directory {
        print_directory(server);
    }
    if let Some((server, _)) = &offer {
        print_offer(server);
    }
    spawn_housekeeping(&app);
    let card_listener = tokio::net::TcpListener::bind(cfg.card_listen)
        .await
        .with_context(|| format!("binding the card listener {}", cfg.card_listen))?;
    println!("  card login (mutual TLS): {}", cfg.card_public_url);
    let card_app = app.clone();
    let card = tokio::spawn(async move {
        if let Err(e) = card_app.serve_card(card_listener).await {
            tracing::error!(error = %format!("{e:#}"), "card listener stopped");
        }
    });
    let mut admin_extra = axum::Router::new();
    let directory = directory.and_then(|(mut server, listener)| {
        if let Some(sync) = server.sync.take() {
            admin_extra = coeur::provider::directory_sync::admin_router(sync.clone());
            tokio::spawn(sync.run(app.lifecycle.stopping()));
        }
        let dir_app = app.clone();
        let listener = listener?;
        Some(tokio::spawn(async move {
            server.serve(&dir_app, listener).await
        }))
    });
    let offer = offer.and_then(|(server, listener)| {
        let offer_app = app.clone();
        let listener = listener?;
        Some(tokio::spawn(async move {
            server.serve(&offer_app, listener).await
        }))
    });
    let admin = match cfg.admin_listen {
        Some(addr) => {
            let admin_listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the admin listener {addr}"))?;
            println!("  metrics: http://{addr}/metrics");
            let admin_app = app.clone();
            Some(tokio::spawn(async move {
                admin_app
                    .serve_admin_with(admin_listener, admin_extra)
                    .await
            }))
        }
        None => None,
    };
    coeur_web::lifecycle::stop_on_signals(app.lifecycle.clone(), cfg.shutdown_delay)
        .context("listening for SIGTERM")?;
    // Each listener returns once it has stopped accepting and its connections have finished
    // (or the grace has run out).
    app.serve_main(listener, tls).await;
    let _ = card.await;
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    if let Some(directory) = directory {
        let _ = directory.await;
    }
    if let Some(offer) = offer {
        let _ = offer.await;
    }
    if let Some(p) = publisher {
        p.stop().await;
    }
    app.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The health directory: opened (filled and its client registered on first start) and its
/// listener bound (none when it runs elsewhere). Nothing prints the client's secret: the
/// operator reads it from its file.
async fn open_directory(
    app: &App,
    d: &coeur::config::DirectoryConfig,
    trust: &[String],
) -> Result<(DirectoryServer, Option<tokio::net::TcpListener>)> {
    let server = DirectoryServer::open(app, d, trust).await?;
    if !server.served_here() {
        tracing::info!(url = %d.api_url(), "the directory runs elsewhere");
        return Ok((server, None));
    }
    let listener = tokio::net::TcpListener::bind(d.listen)
        .await
        .with_context(|| format!("binding the directory listener {}", d.listen))?;
    tracing::info!(listen = %d.listen, database = %redact_url(&d.database_url), "serving the directory");
    Ok((server, Some(listener)))
}

/// Where the directory is and how to call it.
fn print_directory(server: &DirectoryServer) {
    let d = &server.settings;
    println!(
        "  health directory (FHIR R4{}): {}/metadata  (realm {} tokens with scope {}; its \
         client {}, secret in {})",
        if server.served_here() {
            ""
        } else {
            ", elsewhere"
        },
        d.api_url(),
        d.realm,
        directory::SCOPE,
        directory::CLIENT_ID,
        server.secret_file.display(),
    );
    if let Some(s) = &server.generated {
        println!("    filled with generated extracts: {s}");
    }
    if let Some(sync) = &server.sync {
        println!(
            "    realm {}'s identities synced from it every {} s (client {}; full resync: POST \
             /directory/resync on the admin listener)",
            d.realm,
            sync.settings().interval.as_secs(),
            directory::SYNC_CLIENT_ID,
        );
    }
}

/// The offer service: opened (its client registered, filled on first start) and its listener
/// bound.
async fn open_offer(
    app: &App,
    o: &coeur::config::OfferConfig,
    directory: Option<&coeur::config::DirectoryConfig>,
) -> Result<(OfferServer, Option<tokio::net::TcpListener>)> {
    let server = OfferServer::open(app, o, directory).await?;
    if o.elsewhere {
        tracing::info!(url = %o.public_url, "the offer runs elsewhere");
        return Ok((server, None));
    }
    let listener = tokio::net::TcpListener::bind(o.listen)
        .await
        .with_context(|| format!("binding the offer listener {}", o.listen))?;
    tracing::info!(listen = %o.listen, database = %redact_url(&o.database_url), "serving the offer");
    Ok((server, Some(listener)))
}

/// Where the offer is.
fn print_offer(server: &OfferServer) {
    let o = &server.settings;
    println!(
        "  offer service (ROR, FHIR R4{}): {}/metadata  (realm {} tokens with scope \
         offer:read; its client {}, secret in {})",
        if o.elsewhere { ", elsewhere" } else { "" },
        o.public_url,
        o.realm,
        offer::CLIENT_ID,
        server.secret_file.display(),
    );
    if server.generated > 0 {
        println!("    filled with {} generated locations", server.generated);
    }
}

/// A server certificate from coeur's own CA (issued at first start); its root is written
/// next to the CRLs for clients to trust.
async fn self_issued_tls(app: &App, cfg: &Config) -> Result<(rustls::ServerConfig, String)> {
    let state = &app.provider;
    let (chain, key, root) = app
        .ca
        .ca
        .own_server_certificate(
            &app.ca.store,
            &*state.rng,
            &coeur::ca::ca::OwnCertificate {
                id: "SERVER-TLS",
                public_url: &cfg.public_url,
                keys: &*app.ca.keys,
            },
            state.now(),
        )
        .await?;
    let root_path = cfg.crl_dir.join("coeur-root.pem");
    std::fs::write(&root_path, &root)?;
    println!(
        "  HTTPS certificate issued by coeur's CA; trust its root: {}",
        root_path.display()
    );
    Ok((tls_config_from(&chain, key)?, root))
}

/// One line per realm: its issuer and its rules.
fn print_realms(app: &App) {
    let state = &app.provider;
    for n in state.realms.names() {
        let Some(rt) = state.realm(n) else { continue };
        let r = &rt.realm;
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
}

/// Background work: revocations of other processes, key rings, CRLs, purges.
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
    tokio::spawn(async move {
        // Key rings rotated and tokens revoked elsewhere, when no message told (SQLite, a
        // lost notification). The revocations are read again with a minute's margin for the
        // clocks of the other instances.
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        let mut since = state.now() - 60;
        loop {
            tick.tick().await;
            let now = state.now();
            match state
                .store
                .poll_revoked(since, now, state.revocation_window())
                .await
            {
                Ok(_) => since = now - 60,
                Err(e) => tracing::error!(error = %format!("{e:#}"), "revocation poll failed"),
            }
            for (_, rt) in state.realms.iter() {
                if let Err(e) = state.refresh_ring(rt).await {
                    tracing::error!(realm = %rt.realm.name, error = %format!("{e:#}"), "key ring reload failed");
                }
            }
        }
    });
    let state = app.provider.clone();
    let ca = app.ca.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
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
