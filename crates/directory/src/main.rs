//! `coeur-annuaire`: the directory's command line.
//!
//! - `generate --persons N --structures M --out DIR` writes synthetic extracts;
//! - `import [--database URL] [--partial] FILE…` imports extracts into the directory's store;
//! - `check FILE…` reads extracts (plain text, UTF-8 or Latin-1), reports every bad row with
//!   file, line and reason, and prints the summary of what an import into an empty store does.

use anyhow::Context;
use clap::{Parser, Subcommand};
use coeur_directory::extract::collect;
use coeur_directory::generate::{Writers, generate};
use coeur_directory::import::{Outcome, import_file};
use coeur_directory::record::plan;
use coeur_directory::store::Store;
use coeur_directory::summary::Summary;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "coeur-annuaire",
    about = "The health directory (RPPS and FINESS)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes synthetic extracts in the public formats.
    Generate {
        #[arg(long, default_value_t = 1000)]
        persons: usize,
        #[arg(long, default_value_t = 100)]
        structures: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Date and time in the file names, `AAAAMMJJhhmm`.
        #[arg(long, default_value = "202501010000")]
        stamp: String,
    },
    /// Reads extracts, reports bad rows and prints the summary of an import into an empty store.
    Check { files: Vec<PathBuf> },
    /// Imports extracts into the directory's database; each file is a complete extract of its
    /// kind unless `--partial` (then nothing is deactivated).
    Import {
        /// `sqlite:…` or `postgres://…`.
        #[arg(
            long,
            env = "COEUR_DIRECTORY_DATABASE",
            default_value = "sqlite:annuaire.db"
        )]
        database: String,
        #[arg(long)]
        partial: bool,
        files: Vec<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Import {
            database,
            partial,
            files,
        } => {
            let store = Store::connect(&database).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            let mut out = Outcome::default();
            for path in files {
                let name = path.display().to_string();
                let input = BufReader::new(File::open(&path).with_context(|| name.clone())?);
                let mut progress = |done: u64, total: u64| {
                    eprintln!("{name}: {done}/{total} changes written");
                };
                import_file(&store, &name, input, !partial, now, &mut out, &mut progress).await?;
            }
            for r in &out.rejected {
                eprintln!("{}:{}: {}", r.file, r.row.line, r.row.reason);
            }
            for (file, reason) in &out.skipped {
                eprintln!("{file}: skipped: {reason}");
            }
            println!("{}", out.summary);
        }
        Command::Generate {
            persons,
            structures,
            seed,
            out,
            stamp,
        } => {
            std::fs::create_dir_all(&out)?;
            let open = |name: &str| -> anyhow::Result<BufWriter<File>> {
                let path = out.join(format!("{name}_{stamp}.txt"));
                Ok(BufWriter::new(
                    File::create(&path).with_context(|| path.display().to_string())?,
                ))
            };
            let mut a = open("PS_LibreAcces_Personne_activite")?;
            let mut s = open("PS_LibreAcces_SavoirFaire")?;
            let mut d = open("PS_LibreAcces_Dipl_AutExerc")?;
            let mut m = open("Extraction_Correspondance_MSSante")?;
            let mut f = open("finess_etablissements")?;
            generate(
                seed,
                persons,
                structures,
                Writers {
                    activite: &mut a,
                    savoir_faire: &mut s,
                    diplome: &mut d,
                    mssante: &mut m,
                    finess: &mut f,
                },
            )?;
            for w in [&mut a, &mut s, &mut d, &mut m, &mut f] {
                w.flush()?;
            }
            println!(
                "wrote {persons} professionals and {structures} structures to {}",
                out.display()
            );
        }
        Command::Check { files } => {
            let mut summary = Summary::default();
            for path in files {
                let name = path.display().to_string();
                let input = BufReader::new(File::open(&path).with_context(|| name.clone())?);
                match collect(input) {
                    Err(e) => eprintln!("{name}: skipped: {e}"),
                    Ok((kind, c)) => {
                        for e in &c.rejected {
                            eprintln!("{name}:{}: {}", e.line, e.reason);
                        }
                        let p = plan(&HashMap::new(), &c.records, kind.record_kinds(), true);
                        summary.add(c.read, &c.rejected, &p);
                        println!("{name}: {kind:?}, {} records", c.records.len());
                    }
                }
            }
            println!("{summary}");
        }
    }
    Ok(())
}
