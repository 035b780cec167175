//! `coeur stats`: connection statistics for operators ("Stats PSC"): completed logins per
//! relying party, method and UTC day, as a table, JSON or CSV.

use anyhow::{Result, anyhow};
use clap::{Subcommand, ValueEnum};
use coeur::config::Config;
use coeur::provider::stats::{StatsQuery, day_of, report_csv, report_json};
use coeur::provider::store::Store;
use coeur::storage::Db;

/// Connection statistics.
#[derive(Subcommand)]
pub enum StatsCmd {
    /// Completed logins per day, realm, relying party and method.
    Logins {
        /// First day (UTC, YYYY-MM-DD; default 29 days before --to).
        #[arg(long)]
        from: Option<String>,
        /// Last day (default today).
        #[arg(long)]
        to: Option<String>,
        /// Only this realm.
        #[arg(long)]
        realm: Option<String>,
        /// Only this relying party.
        #[arg(long)]
        client_id: Option<String>,
        /// Output: an aligned table with totals, JSON (with totals) or CSV (RFC 4180).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// How the report is printed.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Aligned columns, then the totals.
    Table,
    /// The admin endpoint's JSON.
    Json,
    /// CSV with a header line.
    Csv,
}

/// Runs a `stats` command.
pub async fn run(cfg: Config, c: StatsCmd) -> Result<()> {
    let StatsCmd::Logins {
        from,
        to,
        realm,
        client_id,
        format,
    } = c;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    let given = [
        ("from", from),
        ("to", to),
        ("realm", realm),
        ("client_id", client_id),
    ];
    let pairs = given
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)));
    let q = StatsQuery::parse(pairs, &day_of(now)).map_err(|e| anyhow!(e))?;
    let store = Store::new(Db::connect(&cfg.database_url).await?);
    let rows = store.login_stats(&q).await?;
    match format {
        Format::Csv => print!("{}", report_csv(&rows)),
        Format::Json => println!("{:#}", report_json(&q, &rows)),
        Format::Table => {
            println!("logins from {} to {} (UTC days)", q.from, q.to);
            println!(
                "{:<10}  {:<14}  {:<30}  {:<14}  {:>8}",
                "day", "realm", "client", "method", "logins"
            );
            for r in &rows {
                println!(
                    "{:<10}  {:<14}  {:<30}  {:<14}  {:>8}",
                    r.day, r.realm, r.client_id, r.method, r.logins
                );
            }
            let total: i64 = rows.iter().map(|r| r.logins).sum();
            println!("total: {total}");
        }
    }
    Ok(())
}
