//! `coeur card`: virtual CPS cards (sandbox) and their opposition.

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use coeur::app::App;
use coeur::config::Config;
use coeur::pki::revocation::Reason;
use std::path::PathBuf;

/// Virtual CPS cards (sandbox).
#[derive(Subcommand)]
pub enum CardCmd {
    /// Make a virtual card for an identity: writes OUT (authentication, PKCS#12 protected by
    /// the PIN, usable with curl and browsers) and OUT with "-sign" before the extension
    /// (signature). Sandbox only.
    Issue {
        /// Realm of the identity.
        #[arg(long, default_value = "edit")]
        realm: String,
        /// National identifier.
        #[arg(long)]
        national_id: String,
        /// Card PIN (protects the PKCS#12).
        #[arg(long, env = "COEUR_CARD_PIN")]
        pin: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Issuing CA (default: the first PERSONNES CA).
        #[arg(long)]
        ca: Option<String>,
    },
    /// Revoke every card certificate of a national identifier (opposition).
    Revoke {
        /// National identifier.
        #[arg(long)]
        national_id: String,
        /// RFC 5280 reason name.
        #[arg(long, default_value = "keyCompromise")]
        reason: String,
    },
}

/// Runs a `card` command.
pub async fn run(cfg: Config, c: CardCmd) -> Result<()> {
    let app = App::build(cfg).await?;
    let state = &app.provider;
    let now = state.now();
    match c {
        CardCmd::Issue {
            realm,
            national_id,
            pin,
            out,
            ca,
        } => {
            if !state.realm(&realm).is_some_and(|r| r.realm.sandbox) {
                bail!("virtual cards are made only for sandbox realms; {realm} is not one");
            }
            let identity = state
                .store
                .identity(&realm, &national_id)
                .await?
                .ok_or_else(|| anyhow!("no identity {national_id} in realm {realm}"))?;
            let ((a_serial, a_p12), (s_serial, s_p12)) = app
                .ca
                .ca
                .issue_virtual_card(&*state.rng, &identity, &pin, ca.as_deref(), "cli", now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let stem = out
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("card")
                .to_owned();
            let ext = out
                .extension()
                .and_then(|s| s.to_str())
                .unwrap_or("p12")
                .to_owned();
            let sign_path = out.with_file_name(format!("{stem}-sign.{ext}"));
            std::fs::write(&out, a_p12)?;
            std::fs::write(&sign_path, s_p12)?;
            println!("authentication certificate {a_serial}: {}", out.display());
            println!("signature certificate {s_serial}: {}", sign_path.display());
            Ok(())
        }
        CardCmd::Revoke {
            national_id,
            reason,
        } => {
            let r = Reason::parse(&reason).ok_or_else(|| anyhow!("unknown reason {reason}"))?;
            let done = app
                .ca
                .ca
                .revoke_cards(&app.ca.store, &national_id, r, "cli", now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if done.is_empty() {
                bail!("no valid card certificate for {national_id}");
            }
            for (ca, serial) in done {
                println!("revoked {ca}/{serial}");
            }
            Ok(())
        }
    }
}
