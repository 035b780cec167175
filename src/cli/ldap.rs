//! `coeur ldap`: the LDAP publication queue and reconciliation.

use anyhow::Result;
use clap::Subcommand;
use coeur::app::{App, SystemClock};
use coeur::common::random::Clock;
use coeur::config::Config;
use coeur::storage::Db;

/// LDAP publication: queue status, reconciliation.
#[derive(Subcommand)]
pub enum LdapCmd {
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

/// Runs an `ldap` command.
pub async fn run(cfg: Config, c: LdapCmd) -> Result<()> {
    match c {
        LdapCmd::Status { json } => {
            let store = coeur::ca::store::CaStore::new(Db::connect(&cfg.database_url).await?);
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
            let store = coeur::ca::store::CaStore::new(Db::connect(&cfg.database_url).await?);
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
