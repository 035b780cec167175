//! `coeur device`: the e-CPS devices and passkeys of professionals, for operators: list them,
//! revoke a device, or everything of one professional (a lost phone, a professional who
//! leaves). Each revocation is written to the audit chain.

use anyhow::{Result, bail};
use clap::Subcommand;
use coeur::ca::store::{AuditEntry, CaStore};
use coeur::config::Config;
use coeur::provider::store::Store;
use coeur::storage::Db;

/// e-CPS devices and passkeys.
#[derive(Subcommand)]
pub enum DeviceCmd {
    /// List a professional's e-CPS devices and passkeys (kind, id, name, created, expires or
    /// last used, state).
    List {
        /// The realm.
        #[arg(long)]
        realm: String,
        /// The professional's national id.
        #[arg(long)]
        national_id: String,
    },
    /// Revoke one e-CPS device, or with `--all` every device and passkey of a professional.
    Revoke {
        /// The realm.
        #[arg(long)]
        realm: String,
        /// The device (its id, as `list` shows it).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        device_id: Option<String>,
        /// Every e-CPS device and passkey of this national id.
        #[arg(long, requires = "national_id")]
        all: bool,
        /// The professional's national id (with `--all`).
        #[arg(long)]
        national_id: Option<String>,
    },
}

fn now() -> Result<i64> {
    Ok(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?)
}

/// Runs a `device` command.
pub async fn run(cfg: Config, c: DeviceCmd) -> Result<()> {
    let db = Db::connect(&cfg.database_url).await?;
    let store = Store::new(db.clone());
    let now = now()?;
    match c {
        DeviceCmd::List { realm, national_id } => {
            for d in store.devices(&realm, &national_id).await? {
                let state = match d.revoked_at {
                    Some(_) => "revoked",
                    None if d.active(now) => "active",
                    None => "expired",
                };
                println!(
                    "ecps\t{}\t{}\t{}\t{}\t{state}",
                    d.device_id, d.name, d.created_at, d.expires_at
                );
            }
            for p in store.passkeys(&realm, &national_id).await? {
                let used = p.last_used_at.map_or("-".to_owned(), |t| t.to_string());
                println!(
                    "passkey\t{}\t{}\t{}\t{used}\tactive",
                    p.credential_id, p.name, p.created_at
                );
            }
            Ok(())
        }
        DeviceCmd::Revoke {
            realm,
            device_id: Some(id),
            ..
        } => {
            let Some(d) = store.device(&realm, &id).await? else {
                bail!("no e-CPS device {id} in realm {realm}");
            };
            if !store.revoke_device(&realm, &id, now).await? {
                bail!("e-CPS device {id} was already revoked");
            }
            audit(
                &db,
                now,
                "ecps.revoke",
                &format!("{realm}/{id}"),
                &d.national_id,
            )
            .await?;
            announce(&db, &realm, &d.national_id).await;
            println!("revoked e-CPS device {id} of {}", d.national_id);
            Ok(())
        }
        DeviceCmd::Revoke {
            realm,
            national_id: Some(nid),
            ..
        } => {
            let mut n = 0;
            for d in store.devices(&realm, &nid).await? {
                if store.revoke_device(&realm, &d.device_id, now).await? {
                    let subject = format!("{realm}/{}", d.device_id);
                    audit(&db, now, "ecps.revoke", &subject, &nid).await?;
                    n += 1;
                }
            }
            let mut p = 0;
            for k in store.passkeys(&realm, &nid).await? {
                if store.remove_passkey(&realm, &nid, &k.credential_id).await? {
                    let subject = format!("{realm}/{}", k.credential_id);
                    audit(&db, now, "passkey.remove", &subject, &nid).await?;
                    p += 1;
                }
            }
            announce(&db, &realm, &nid).await;
            println!("revoked {n} e-CPS device(s) and removed {p} passkey(s) of {nid}");
            Ok(())
        }
        DeviceCmd::Revoke { .. } => bail!("give --device-id, or --all with --national-id"),
    }
}

async fn audit(db: &Db, at: i64, action: &str, subject: &str, national_id: &str) -> Result<()> {
    let details = serde_json::json!({ "national_id": national_id }).to_string();
    CaStore::new(db.clone())
        .append_audit(&AuditEntry {
            at,
            action,
            subject,
            actor: "operator",
            details: &details,
        })
        .await
}

/// Tells running instances (on a shared PostgreSQL database) that the devices changed.
async fn announce(db: &Db, realm: &str, national_id: &str) {
    let bus = coeur::storage::Bus::new(db.clone(), "cli".into());
    coeur::provider::devices_changed_elsewhere(&bus, realm, national_id).await;
}
