//! `coeur link`: links between upstream identities (FranceConnect) and national ids, for
//! operators: list them, remove one (written to the audit chain).

use anyhow::{Result, bail};
use clap::Subcommand;
use coeur::ca::store::{AuditEntry, CaStore};
use coeur::config::Config;
use coeur::provider::store::Store;
use coeur::storage::Db;

/// Links between FranceConnect identities and national ids.
#[derive(Subcommand)]
pub enum LinkCmd {
    /// List the links of a realm (of one national id if given).
    List {
        /// The realm.
        #[arg(long)]
        realm: String,
        /// Only this national id's links.
        #[arg(long)]
        national_id: Option<String>,
    },
    /// Remove a link; the upstream identity must prove a national id again to log in.
    Remove {
        /// The realm.
        #[arg(long)]
        realm: String,
        /// The upstream's name in the realm file.
        #[arg(long)]
        upstream: String,
        /// The upstream subject.
        #[arg(long)]
        sub: String,
    },
}

/// Runs a `link` command.
pub async fn run(cfg: Config, c: LinkCmd) -> Result<()> {
    let db = Db::connect(&cfg.database_url).await?;
    let store = Store::new(db.clone());
    match c {
        LinkCmd::List { realm, national_id } => {
            for l in store.upstream_links(&realm, national_id.as_deref()).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    l.upstream, l.sub, l.national_id, l.method, l.created_at
                );
            }
            Ok(())
        }
        LinkCmd::Remove {
            realm,
            upstream,
            sub,
        } => {
            let Some(l) = store
                .remove_upstream_link(&realm, &upstream, &sub, None)
                .await?
            else {
                bail!("no link of {upstream} subject {sub} in realm {realm}");
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            let subject = format!("{realm}/{upstream}/{sub}");
            let details = serde_json::json!({ "national_id": l.national_id }).to_string();
            CaStore::new(db)
                .append_audit(&AuditEntry {
                    at: i64::try_from(now)?,
                    action: "upstream.unlink",
                    subject: &subject,
                    actor: "operator",
                    details: &details,
                })
                .await?;
            println!(
                "removed the link of {upstream} subject {sub} to {}",
                l.national_id
            );
            Ok(())
        }
    }
}
