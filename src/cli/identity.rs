//! `coeur identity`: the realms' identities.

use anyhow::Result;
use clap::Subcommand;
use coeur::config::Config;
use coeur::provider::store::Store;
use coeur::storage::Db;

/// Inspect identities.
#[derive(Subcommand)]
pub enum IdentityCmd {
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

/// Runs an `identity` command.
pub async fn run(cfg: Config, c: IdentityCmd) -> Result<()> {
    let IdentityCmd::List { realm, limit } = c;
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
