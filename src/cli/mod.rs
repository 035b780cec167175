//! The command line: global settings, one module per command group.

mod audit;
mod ca;
mod card;
mod client;
mod device;
mod ecps;
mod identity;
mod keys;
mod ldap;
mod link;
mod serve;
mod stats;

use anyhow::Result;
use clap::{Parser, Subcommand};
use coeur::config::{CommonSettings, Config, LogFormat, ServeSettings, Settings};
use std::path::PathBuf;

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

// Parsed once per process: the size of the largest variant (the server's settings) does not
// matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve {
        #[command(flatten)]
        settings: ServeSettings,
    },
    /// Manage clients (relying parties).
    #[command(subcommand)]
    Client(client::ClientCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Identities: list them; add, import, deactivate and remove sandbox test identities.
    #[command(subcommand)]
    Identity(identity::IdentityCmd),
    /// Operate the certificate authority.
    #[command(subcommand)]
    Ca(ca::CaCmd),
    /// LDAP publication: queue status, reconciliation.
    #[command(subcommand)]
    Ldap(ldap::LdapCmd),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Virtual CPS cards (sandbox).
    #[command(subcommand)]
    Card(card::CardCmd),
    /// An e-CPS authenticator (sandbox): enrol a device, answer requests.
    Ecps(ecps::EcpsCmd),
    /// Links between FranceConnect identities and national ids: list, remove.
    #[command(subcommand)]
    Link(link::LinkCmd),
    /// Professionals' e-CPS devices and passkeys, for operators: list, revoke.
    #[command(subcommand)]
    Device(device::DeviceCmd),
    /// Connection statistics per relying party, method and day.
    #[command(subcommand)]
    Stats(stats::StatsCmd),
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

/// Parses the command line, resolves the configuration and runs the command.
pub async fn run() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    // The authenticator is a client of a server: it needs none of the server's settings.
    if let Cmd::Ecps(c) = cli.cmd {
        return ecps::run(c).await;
    }
    let serve_settings = match &cli.cmd {
        Cmd::Serve { settings } => Some(settings.clone()),
        _ => None,
    };
    let given = Settings::from_command_line(cli.settings, serve_settings);
    let cfg = Config::resolve(given, cli.config.as_deref())?;
    init_logging(cfg.log_format);
    match cli.cmd {
        Cmd::Serve { .. } => serve::run(cfg).await,
        Cmd::Client(c) => client::run(cfg, c).await,
        Cmd::Ldap(c) => ldap::run(cfg, c).await,
        Cmd::Keys(k) => keys::run(cfg, k).await,
        Cmd::Ca(c) => ca::run(cfg, c).await,
        Cmd::Card(c) => card::run(cfg, c).await,
        Cmd::Audit(c) => audit::run(cfg, c).await,
        Cmd::Identity(c) => identity::run(cfg, c).await,
        Cmd::Ecps(c) => ecps::run(c).await,
        Cmd::Link(c) => link::run(cfg, c).await,
        Cmd::Device(c) => device::run(cfg, c).await,
        Cmd::Stats(c) => stats::run(cfg, c).await,
    }
}
