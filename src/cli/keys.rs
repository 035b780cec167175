//! `coeur keys`: the realms' signing key rings, in the database.

use anyhow::{Result, bail};
use clap::Subcommand;
use coeur::app::{SystemClock, master_key, open_keys};
use coeur::common::random::Clock;
use coeur::config::Config;
use coeur::provider::state::{keys_rotated_elsewhere, load_realms};
use coeur::storage::keystore::{KeyStore, legacy};
use coeur::storage::{Bus, Db};

/// Manage signing keys.
#[derive(Subcommand)]
pub enum KeysCmd {
    /// Rotate signing keys: next → active, active → retired (still verifying). A new version
    /// of each ring, used by the running instances within seconds.
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
    /// Move the key files of earlier versions (`<keys-dir>/realms/*.json`, `<keys-dir>/ca/*.key`)
    /// into the database, sealed as they are; once done, the files are no longer read. Run it
    /// again: it writes nothing more.
    Migrate,
}

/// Runs a `keys` command.
pub async fn run(cfg: Config, k: KeysCmd) -> Result<()> {
    let now = SystemClock.now();
    let master = master_key(&cfg)?;
    let db = Db::connect(&cfg.database_url).await?;
    if let KeysCmd::Migrate = k {
        let keys = KeyStore::open(&db, master, now).await?;
        let moved = legacy::migrate(&cfg.keys_dir, &keys, now).await?;
        if moved.is_empty() {
            println!("no key files under {}", cfg.keys_dir.display());
        }
        for m in &moved {
            let done = if m.written {
                "moved into the database"
            } else {
                "already in the database"
            };
            println!("{}\t{}\t{done}", m.path.display(), m.what);
        }
        return Ok(());
    }
    let keys = open_keys(&cfg, &db, master, now).await?;
    let realms = load_realms(&cfg.realms_dir, &cfg.public_url)?;
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
            let bus = Bus::new(db.clone(), "cli".into());
            for r in sel {
                let (version, ring) = keys
                    .rotate(&r.name, &r.signing_algs, now, r.max_jwt_lifetime() + 60)
                    .await?;
                keys_rotated_elsewhere(&bus, &r.name).await;
                println!(
                    "{}: rotated; version {version}, {} keys in the ring",
                    r.name,
                    ring.keys.len()
                );
            }
        }
        KeysCmd::List { realm } => {
            for r in pick(&realm) {
                keys.ensure(&r.name, &r.signing_algs, now).await?;
                let l = keys.load(&r.name).await?;
                for k in &l.ring.keys {
                    println!(
                        "{}\t{}\t{}\t{:?}\t{}",
                        r.name,
                        l.version,
                        k.kid,
                        k.status,
                        k.alg.as_str()
                    );
                }
            }
        }
        KeysCmd::Migrate => {}
    }
    Ok(())
}
