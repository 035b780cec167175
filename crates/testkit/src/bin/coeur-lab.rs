//! `coeur-lab`: a deployment of several coeur instances behind HAProxy on one PostgreSQL,
//! each instance in a network namespace of its own ([`coeur_testkit::lab`]), for benchmarks
//! and manual trials (root only).
//!
//! ```text
//! coeur-lab --coeur target/release/coeur --instances 3 [--pin 1] [--pg-stats] \
//!     [--client-id ID --secret S --redirect-uri URI]
//! ```
//!
//! Prints `public=URL`, `database=URL`, `pids=P1,P2,…` and `pg_pid=P` (PostgreSQL's
//! postmaster) and `env_file=PATH` (the instances' environment, owner only, for `coeur`
//! commands against the deployment) lines, then `ready`, and keeps the
//! deployment up until its standard input is closed; then it stops everything and removes
//! the namespaces.

use coeur_testkit::lab::{Deployment, Settings};
use std::io::Read as _;
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("coeur-lab: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut coeur, mut instances, mut pin, mut pg_stats) = (None, 3usize, None, false);
    let (mut client, mut secret, mut redirect) = (None, None, None);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--coeur" => coeur = Some(PathBuf::from(value()?)),
            "--instances" => instances = value()?.parse().map_err(|_| "--instances: a number")?,
            "--pin" => pin = Some(value()?),
            "--pg-stats" => pg_stats = true,
            "--client-id" => client = Some(value()?),
            "--secret" => secret = Some(value()?),
            "--redirect-uri" => redirect = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let Some(why) = coeur_testkit::lab::missing() {
        return Err(why);
    }
    let coeur = coeur.ok_or("--coeur is required")?;
    let d = Deployment::start(Settings {
        coeur,
        repo: coeur_testkit::repo_dir(),
        instances,
        env: Vec::new(),
        pin,
        pg_stats,
    })?;
    if let (Some(id), Some(secret), Some(redirect)) = (client, secret, redirect) {
        let out = d
            .cli()
            .args(["client", "add", "--realm", "edit", "--client-id", &id])
            .args(["--secret", &secret, "--redirect-uri", &redirect])
            .args(["--grant-type", "client_credentials"])
            .args(["--grant-type", "authorization_code"])
            .args(["--scope", "openid", "--scope", "scope_all"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "client add: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let pids: Vec<String> = d
        .instances
        .iter()
        .filter_map(|i| i.pid())
        .map(|p| p.to_string())
        .collect();
    println!("public={}", d.public);
    println!("database={}", d.database_url);
    println!("pids={}", pids.join(","));
    println!("pg_pid={}", d.pg.pid().unwrap_or(0));
    println!("env_file={}", d.write_env_file()?.display());
    println!("ready");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(d);
    Ok(())
}
