//! `coeur identity`: the realms' identities; sandbox realms' test identities added, imported,
//! deactivated and removed by operators.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches, Subcommand};
use coeur::app::SystemClock;
use coeur::common::identity::import::{
    COLUMNS, Format, ImportErrors, identity_from_fields, identity_from_psc, parse,
};
use coeur::common::identity::{Identity, NationalId, admit, sandbox_identities};
use coeur::common::random::Clock;
use coeur::config::Config;
use coeur::oauth::realm::Realm;
use coeur::provider::state::load_realms;
use coeur::provider::store::Store;
use coeur::storage::Db;
use std::path::{Path, PathBuf};

/// Manage identities.
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
    /// Add a test identity to a sandbox realm, or update the one with its national
    /// identifier: civil status and one practice as flags (those of the CSV columns), or a
    /// JSON document shaped as PSC's userinfo.
    Add {
        /// Sandbox realm.
        #[arg(long)]
        realm: String,
        /// Make an EDIT test identifier, as ANS's sandbox does: ANS followed by the current
        /// UTC date and time, yyyymmddhhmmss (the next free second if taken).
        #[arg(long, conflicts_with = "national_id")]
        edit: bool,
        /// A JSON document shaped as PSC's userinfo (`scope_all`), e.g. copied from "Essaie ta
        /// e-CPS"; with --edit or --national-id, the identity takes that identifier instead
        /// of the document's.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        #[command(flatten)]
        fields: FieldArgs,
    },
    /// Import test identities into a sandbox realm from a CSV or JSON file. Every row is
    /// checked first; one bad row and nothing is written (each is reported with its line).
    /// An identity already in the realm is updated in place, so importing a file again
    /// changes nothing.
    #[command(after_long_help = import_help())]
    Import {
        /// Sandbox realm.
        #[arg(long)]
        realm: String,
        /// The file: CSV with a header line, or JSON (one userinfo document, an array of
        /// them, or one per line).
        file: PathBuf,
        /// csv or json (default: from the file's extension).
        #[arg(long)]
        format: Option<Format>,
        /// Check the file only; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Add the identities a sandbox realm is seeded with on first start (its generated ones
    /// and the shipped EDIT ones) that it does not have; the others are left as they are.
    Seed {
        /// Sandbox realm.
        #[arg(long)]
        realm: String,
    },
    /// Stop an identity of a sandbox realm from logging in.
    Deactivate {
        /// Sandbox realm.
        #[arg(long)]
        realm: String,
        /// National identifier.
        #[arg(long)]
        national_id: String,
    },
    /// Let a deactivated identity of a sandbox realm log in again.
    Activate {
        /// Sandbox realm.
        #[arg(long)]
        realm: String,
        /// National identifier.
        #[arg(long)]
        national_id: String,
    },
    /// Remove an identity from a sandbox realm.
    Remove {
        /// Sandbox realm.
        #[arg(long)]
        realm: String,
        /// National identifier.
        #[arg(long)]
        national_id: String,
    },
}

/// Runs an `identity` command.
pub async fn run(cfg: Config, c: IdentityCmd) -> Result<()> {
    match c {
        IdentityCmd::List { realm, limit } => list(&cfg, &realm, limit).await,
        IdentityCmd::Add {
            realm,
            edit,
            json,
            fields,
        } => add(&cfg, &realm, edit, json.as_deref(), &fields).await,
        IdentityCmd::Import {
            realm,
            file,
            format,
            check,
        } => import(&cfg, &realm, &file, format, check).await,
        IdentityCmd::Seed { realm } => seed(&cfg, &realm).await,
        IdentityCmd::Deactivate { realm, national_id } => {
            set_active(&cfg, &realm, &national_id, false).await
        }
        IdentityCmd::Activate { realm, national_id } => {
            set_active(&cfg, &realm, &national_id, true).await
        }
        IdentityCmd::Remove { realm, national_id } => remove(&cfg, &realm, &national_id).await,
    }
}

/// `identity list`.
async fn list(cfg: &Config, realm: &str, limit: i64) -> Result<()> {
    let store = Store::new(Db::connect(&cfg.database_url).await?);
    for i in store.identities(realm, limit).await? {
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

/// The realm `name`, which must be a sandbox realm.
fn sandbox_realm(cfg: &Config, name: &str) -> Result<Realm> {
    let realm = load_realms(&cfg.realms_dir, &cfg.public_url)?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| anyhow!("unknown realm {name}"))?;
    if !realm.sandbox {
        bail!(
            "realm {name} is not a sandbox realm: `coeur identity` adds, imports and removes \
             test identities in sandbox realms only"
        );
    }
    Ok(realm)
}

/// `identity add`.
async fn add(
    cfg: &Config,
    realm: &str,
    edit: bool,
    json: Option<&Path>,
    fields: &FieldArgs,
) -> Result<()> {
    let realm = sandbox_realm(cfg, realm)?;
    let store = Store::new(Db::connect(&cfg.database_url).await?);
    let now = SystemClock.now();
    let generated = match edit {
        true => Some(free_edit_id(&store, &realm, now).await?),
        false => None,
    };
    let identity = match json {
        Some(path) => from_json(path, generated, fields)?,
        None => {
            let mut pairs: Vec<(&str, &str)> =
                fields.0.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let generated = generated.as_ref().map(NationalId::to_string);
            if let Some(n) = &generated {
                pairs.push(("national_id", n));
            }
            identity_from_fields(&pairs).map_err(anyhow::Error::msg)?
        }
    };
    let ids = admit(realm.environment(), vec![identity]).map_err(|e| anyhow!("{}", e.error))?;
    let written = store.put_identities(&realm, &ids, now).await?;
    for i in ids.identities() {
        println!(
            "{} {}\t{} {}\t(realm {})",
            if written.updated > 0 {
                "updated"
            } else {
                "added"
            },
            i.national_id,
            i.given_name,
            i.family_name,
            realm.name
        );
    }
    Ok(())
}

/// The identity of a PSC userinfo document, with the identifier `generated` or given by
/// `--national-id` instead of the document's.
fn from_json(path: &Path, generated: Option<NationalId>, fields: &FieldArgs) -> Result<Identity> {
    if let Some((flag, _)) = fields.0.iter().find(|(k, _)| *k != "national_id") {
        bail!(
            "with --json, the document gives the identity: --{} is not allowed",
            flag.replace('_', "-")
        );
    }
    let given = fields.0.iter().find(|(k, _)| *k == "national_id");
    let national_id = match (generated, given) {
        (Some(n), _) => Some(n),
        (None, Some((_, v))) => {
            Some(NationalId::parse(v).map_err(|e| anyhow!("--national-id: {e}"))?)
        }
        (None, None) => None,
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    identity_from_psc(&doc, national_id).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// `ANS` + the date and time of `now`, or of the next second no identity of the realm has.
async fn free_edit_id(store: &Store, realm: &Realm, now: i64) -> Result<NationalId> {
    for t in now..now + 600 {
        let id =
            NationalId::edit_at(t).ok_or_else(|| anyhow!("the clock is out of EDIT's range"))?;
        if store.identity(&realm.name, id.as_str()).await?.is_none() {
            return Ok(id);
        }
    }
    bail!(
        "no free EDIT identifier in the next 10 minutes of realm {}",
        realm.name
    )
}

/// At most this many bad rows are printed.
const SHOWN_ERRORS: usize = 50;

/// `identity import`.
async fn import(
    cfg: &Config,
    realm: &str,
    file: &Path,
    format: Option<Format>,
    check: bool,
) -> Result<()> {
    let realm = sandbox_realm(cfg, realm)?;
    let format = match format {
        Some(f) => f,
        None => Format::of_file_name(&file.to_string_lossy()).ok_or_else(|| {
            anyhow!(
                "cannot tell the format of {} from its extension: give --format csv or --format json",
                file.display()
            )
        })?,
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let ids = parse(format, &text, realm.environment()).map_err(|e| bad_rows(file, &e))?;
    let count = ids.identities().len();
    if check {
        println!(
            "{}: {count} identities, all valid (nothing written)",
            file.display()
        );
        return Ok(());
    }
    let store = Store::new(Db::connect(&cfg.database_url).await?);
    let written = store
        .put_identities(&realm, &ids, SystemClock.now())
        .await?;
    println!(
        "{}: {count} identities written to realm {} ({} added, {} updated)",
        file.display(),
        realm.name,
        written.added,
        written.updated
    );
    Ok(())
}

fn bad_rows(file: &Path, e: &ImportErrors) -> anyhow::Error {
    let mut msg = format!(
        "{}: {} bad row(s); nothing was written",
        file.display(),
        e.0.len()
    );
    for row in e.0.iter().take(SHOWN_ERRORS) {
        msg.push_str(&format!("\n  {row}"));
    }
    if e.0.len() > SHOWN_ERRORS {
        msg.push_str(&format!("\n  … and {} more", e.0.len() - SHOWN_ERRORS));
    }
    anyhow!(msg)
}

/// `identity seed`.
async fn seed(cfg: &Config, realm: &str) -> Result<()> {
    let realm = sandbox_realm(cfg, realm)?;
    let Some(generated) = &realm.generated_identities else {
        bail!("realm {} has no [generated_identities]", realm.name);
    };
    let store = Store::new(Db::connect(&cfg.database_url).await?);
    let mut missing = Vec::new();
    for i in sandbox_identities(generated.seed, generated.count) {
        if store
            .identity(&realm.name, i.national_id.as_str())
            .await?
            .is_none()
        {
            missing.push(i);
        }
    }
    let count = missing.len();
    let ids = admit(realm.environment(), missing).map_err(|e| anyhow!("{e}"))?;
    store
        .put_identities(&realm, &ids, SystemClock.now())
        .await?;
    println!("{count} identities added to realm {}", realm.name);
    Ok(())
}

/// `identity activate` / `identity deactivate`.
async fn set_active(cfg: &Config, realm: &str, national_id: &str, active: bool) -> Result<()> {
    let realm = sandbox_realm(cfg, realm)?;
    let store = Store::new(Db::connect(&cfg.database_url).await?);
    let mut identity = store
        .identity(&realm.name, national_id)
        .await?
        .ok_or_else(|| anyhow!("no identity {national_id} in realm {}", realm.name))?;
    identity.active = active;
    let ids = admit(realm.environment(), vec![identity]).map_err(|e| anyhow!("{}", e.error))?;
    store
        .put_identities(&realm, &ids, SystemClock.now())
        .await?;
    println!(
        "{national_id} {} (realm {})",
        if active { "activated" } else { "deactivated" },
        realm.name
    );
    Ok(())
}

/// `identity remove`.
async fn remove(cfg: &Config, realm: &str, national_id: &str) -> Result<()> {
    let realm = sandbox_realm(cfg, realm)?;
    let store = Store::new(Db::connect(&cfg.database_url).await?);
    if !store.remove_identity(&realm.name, national_id).await? {
        bail!("no identity {national_id} in realm {}", realm.name);
    }
    println!("removed {national_id} (realm {})", realm.name);
    Ok(())
}

/// The identity's fields as flags, one per CSV column ([`COLUMNS`]).
#[derive(Debug, Clone, Default)]
pub struct FieldArgs(Vec<(&'static str, String)>);

impl FromArgMatches for FieldArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(
            COLUMNS
                .iter()
                .filter_map(|c| m.get_one::<String>(c.name).map(|v| (c.name, v.clone())))
                .collect(),
        ))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for FieldArgs {
    fn augment_args(cmd: Command) -> Command {
        cmd.args(COLUMNS.iter().map(|c| {
            Arg::new(c.name)
                .long(c.flag)
                .value_name("VALUE")
                .help(c.help)
                .help_heading("Identity (the CSV columns)")
        }))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// The CSV columns, for `--help`.
fn columns_help() -> String {
    let mut s = String::from("CSV columns (and flags of `identity add`), * required:\n");
    for c in COLUMNS {
        s.push_str(&format!(
            "  {}{}\n      {}\n",
            c.name,
            if c.required { " *" } else { "" },
            c.help
        ));
    }
    s
}

/// The formats, for `import --help`.
fn import_help() -> String {
    format!(
        "CSV: a header line naming the columns (any order; comma or semicolon separated, \
         fields in double quotes when they hold the separator, a quote or a line break), then \
         one identity per line, with one practice and at most one activity.\n\
         JSON: documents shaped as PSC's userinfo (preferred_username or SubjectNameID, \
         given_name, family_name, codeCivilite, email, phone_number, SubjectRefPro.exercices; \
         \"active\": false for an inactive identity).\n\
         EDIT test identifiers (ANS + yyyymmddhhmmss) are welcome; realms that are not \
         sandboxes are refused.\n\n{}",
        columns_help()
    )
}
