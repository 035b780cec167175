//! `coeur keys`: the realms' signing key rings.

use anyhow::{Result, bail};
use clap::Subcommand;
use coeur::app::SystemClock;
use coeur::common::random::Clock;
use coeur::config::Config;
use coeur::provider::state::load_realms;
use coeur::storage::keystore::{KeyStore, MasterKey};

/// Manage signing keys.
#[derive(Subcommand)]
pub enum KeysCmd {
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

/// Runs a `keys` command.
pub fn run(cfg: Config, k: KeysCmd) -> Result<()> {
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
