//! `coeur audit`: the audit log's hash chain.

use anyhow::{Result, bail};
use clap::Subcommand;
use coeur::config::Config;
use coeur::storage::Db;

/// Check the audit log.
#[derive(Subcommand)]
pub enum AuditCmd {
    /// Verify the hash chain; names the first broken link.
    Verify,
}

/// Runs an `audit` command.
pub async fn run(cfg: Config, c: AuditCmd) -> Result<()> {
    let AuditCmd::Verify = c;
    let store = coeur::ca::store::CaStore::new(Db::connect(&cfg.database_url).await?);
    match coeur::ca::ca::verify_audit(&store).await? {
        Ok(n) => {
            println!("audit log intact: {n} records");
            Ok(())
        }
        Err(seq) => bail!("audit log broken at record {seq}"),
    }
}
