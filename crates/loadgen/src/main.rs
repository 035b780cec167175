//! `coeur-load`: the load driver of coeur's login benchmarks (`scripts/bench-card.sh`,
//! `scripts/bench-provider.sh`, `scripts/bench-cluster.sh`, `scripts/capacity.sh`).
//!
//! `coeur-load codeflow` drives full sandbox code-flow logins (authorize, wallet login, token
//! with PKCE; a fresh browser each time), `coeur-load card` full CPS card logins (each with a
//! new TLS handshake presenting the virtual card's certificate). `--vus` virtual users run for
//! `--warmup` seconds (not counted), then for `--duration` seconds; a login counts when it
//! completes inside that window. The last line is machine-readable:
//!
//! ```text
//! RESULT logins=N errors=E warmup_errors=W seconds=S logins_per_s=R p50_ms=A p99_ms=B
//!        server_cpu_s=C core_busy_s=D driver_cpu_s=F load_core_busy_s=G
//! ```
//!
//! With `--server-pid` (Linux), the CPU time the server used during the measurement (from
//! /proc); with `--server-cpu`, the busy time of that CPU, so that what other processes took of
//! it shows; `driver_cpu_s` is the driver's own CPU time, and with `--load-cpu` the busy time
//! of the driver's CPU. A failed login is an error; the
//! driver exits 1 when there was any.

mod flows;
mod http;
mod run;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::flows::{CardLogin, CodeFlow, Endpoints};

#[derive(Parser)]
#[command(name = "coeur-load", about = "Load driver of coeur's login benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Full sandbox code-flow logins on keep-alive connections.
    Codeflow {
        /// The server's plain-HTTP loopback address (http://127.0.0.1:PORT).
        #[arg(long)]
        base: String,
        #[arg(long, default_value = "edit")]
        realm: String,
        #[arg(long)]
        client_id: String,
        /// The client's secret (client_secret_basic at the token endpoint).
        #[arg(long)]
        secret: String,
        #[arg(long)]
        redirect_uri: String,
        /// The sandbox identity logged in.
        #[arg(long, default_value = "899700218896")]
        national_id: String,
        #[arg(long, default_value = "openid scope_all")]
        scope: String,
        #[command(flatten)]
        load: Load,
    },
    /// Full CPS card logins, each with a new TLS handshake presenting the card's certificate.
    Card {
        /// The server's plain-HTTP loopback address (http://127.0.0.1:PORT).
        #[arg(long)]
        base: String,
        #[arg(long, default_value = "edit")]
        realm: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        redirect_uri: String,
        /// The CA certificate(s) the card listener's certificate chains to (PEM).
        #[arg(long)]
        card_ca: std::path::PathBuf,
        /// The card's authentication certificate and key (PKCS#12).
        #[arg(long)]
        pfx: std::path::PathBuf,
        /// The PKCS#12's password (the card's PIN).
        #[arg(long)]
        pin: String,
        #[command(flatten)]
        load: Load,
    },
}

/// How hard and how long to drive, and what to measure beside.
#[derive(Args, Clone)]
pub struct Load {
    /// Concurrent virtual users.
    #[arg(long, default_value_t = 16)]
    pub vus: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of warm-up before the measurement (not counted).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// The server's process id: its CPU time during the measurement is reported.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The server's CPU (or CPUs, comma-separated): their busy time during the measurement is
    /// reported.
    #[arg(long)]
    pub server_cpu: Option<String>,
    /// The driver's own CPU: its busy time during the measurement is reported (what other
    /// processes took of it shows beside `driver_cpu_s`).
    #[arg(long)]
    pub load_cpu: Option<String>,
    /// Runtime worker threads [default: the CPUs this process may run on].
    #[arg(long)]
    pub threads: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match start(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("coeur-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the chosen benchmark; `Ok(false)` when a login failed.
fn start(cli: Cli) -> Result<bool> {
    let load = match &cli.cmd {
        Cmd::Codeflow { load, .. } | Cmd::Card { load, .. } => load.clone(),
    };
    let threads = match load.threads {
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.cmd {
            Cmd::Codeflow {
                base,
                realm,
                client_id,
                secret,
                redirect_uri,
                national_id,
                scope,
                load,
            } => {
                let flow = Arc::new(CodeFlow {
                    endpoints: Endpoints::new(&base, &realm)?,
                    basic: CodeFlow::basic(&client_id, &secret),
                    client_id,
                    redirect_uri,
                    national_id,
                    scope,
                });
                run::drive(&load, flow).await
            }
            Cmd::Card {
                base,
                realm,
                client_id,
                redirect_uri,
                card_ca,
                pfx,
                pin,
                load,
            } => {
                let ca = std::fs::read(&card_ca).with_context(|| card_ca.display().to_string())?;
                let pfx = std::fs::read(&pfx).with_context(|| pfx.display().to_string())?;
                let flow = Arc::new(CardLogin {
                    endpoints: Endpoints::new(&base, &realm)?,
                    tls: CardLogin::tls(&ca, &pfx, &pin)?,
                    client_id,
                    redirect_uri,
                });
                run::drive(&load, flow).await
            }
        }
    })
}
