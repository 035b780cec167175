//! `coeur ca`: the certificate authority's operations.

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use coeur::app::App;
use coeur::ca::CaService;
use coeur::config::Config;
use coeur::pki::csr::SubjectRequest;
use coeur::pki::revocation::Reason;
use std::path::PathBuf;

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
/// Operate the certificate authority.
#[derive(Subcommand)]
pub enum CaCmd {
    /// Create the CA hierarchy (keys, certificates, OCSP responders, CRLs) if missing; list it.
    Init,
    /// Issue a certificate from a CSR file (PEM or DER); prints the certificate (PEM).
    Issue {
        /// Issuing CA id (e.g. ACI-EL-ORG-TEST).
        #[arg(long)]
        ca: String,
        /// Profile (SSL_SERV, ORG_AUTH_CLI, ORG_SIGN, ORG_CONF, SMIME_MSS, CPS_AUTH, CPS_SIGN).
        #[arg(long)]
        profile: String,
        /// CSR file.
        #[arg(long)]
        csr: PathBuf,
        /// Structure identifier (1+FINESS or 3+SIRET).
        #[arg(long)]
        structure_id: Option<String>,
        /// Structure name (O).
        #[arg(long)]
        organization: Option<String>,
        /// Département (ST), e.g. "Paris (75)".
        #[arg(long)]
        state: Option<String>,
        /// DNS name (repeatable).
        #[arg(long = "dns")]
        dns_names: Vec<String>,
        /// E-mail address (repeatable).
        #[arg(long = "email")]
        emails: Vec<String>,
        /// Service name (CN without DNS names).
        #[arg(long)]
        service_name: Option<String>,
        /// Holder's national identifier (person profiles).
        #[arg(long)]
        national_id: Option<String>,
        /// Holder's family name.
        #[arg(long)]
        family_name: Option<String>,
        /// Holder's given name.
        #[arg(long)]
        given_name: Option<String>,
        /// Holder's profession label.
        #[arg(long)]
        title: Option<String>,
    },
    /// Revoke a certificate.
    Revoke {
        /// CA id.
        #[arg(long)]
        ca: String,
        /// Serial (hex).
        #[arg(long)]
        serial: String,
        /// RFC 5280 reason name (keyCompromise, superseded, cessationOfOperation…).
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Build a CA's CRL and delta CRL now; prints their paths.
    Crl {
        /// CA id.
        #[arg(long)]
        ca: String,
    },
    /// List issued certificates.
    List {
        /// Only this CA.
        #[arg(long)]
        ca: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Print a CA certificate (PEM), e.g. a root to install in clients.
    Export {
        /// CA id.
        #[arg(long)]
        ca: String,
    },
}

/// Runs a `ca` command.
pub async fn run(cfg: Config, c: CaCmd) -> Result<()> {
    let app = App::build(cfg).await?;
    let state = &*app.ca;
    let ca = &*state.ca;
    let now = state.now();
    match c {
        CaCmd::Init => {
            print_cas(ca);
            Ok(())
        }
        CaCmd::Issue {
            ca: ca_id,
            profile,
            csr,
            structure_id,
            organization,
            state: st,
            dns_names,
            emails,
            service_name,
            national_id,
            family_name,
            given_name,
            title,
        } => {
            let input =
                std::fs::read(&csr).with_context(|| format!("reading {}", csr.display()))?;
            let subject = SubjectRequest {
                structure_id,
                organization,
                state: st,
                dns_names,
                emails,
                service_name,
                national_id,
                family_name,
                given_name,
                title,
            };
            issue(state, &ca_id, &profile, &input, &subject).await
        }
        CaCmd::Revoke {
            ca: ca_id,
            serial,
            reason,
        } => {
            let r = Reason::parse(&reason).ok_or_else(|| anyhow!("unknown reason {reason}"))?;
            ca.revoke(&state.store, &ca_id, &serial, r, "cli", now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("revoked {ca_id}/{serial}");
            Ok(())
        }
        CaCmd::Crl { ca: ca_id } => {
            let (full, delta) = ca
                .build_crls(&state.store, &ca_id, now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            // Built and stored; exported here for the operator (the server reads the store).
            std::fs::create_dir_all(&state.crl_dir)?;
            for (is_delta, entries) in [(false, full), (true, delta)] {
                let der = ca
                    .stored_crl(&state.store, &ca_id, is_delta)
                    .await?
                    .ok_or_else(|| anyhow!("no CRL of {ca_id} in the database"))?;
                let name = if is_delta {
                    format!("{ca_id}-delta.crl")
                } else {
                    format!("{ca_id}.crl")
                };
                let path = state.crl_dir.join(name);
                std::fs::write(&path, der.as_slice())?;
                println!("{}\t{entries} entries", path.display());
            }
            Ok(())
        }
        CaCmd::List { ca: only, limit } => list(state, only.as_deref(), limit).await,
        CaCmd::Export { ca: ca_id } => {
            let c = ca.ca(&ca_id).map_err(|e| anyhow!("{e}"))?;
            print!("{}", coeur::ca::ca::cert_pem(&c.cert_der));
            Ok(())
        }
    }
}

/// `ca init`: the CAs (created on first start), with their names and certificate URLs.
fn print_cas(ca: &coeur::ca::ca::Ca) {
    let mut ids: Vec<&String> = ca.cas.keys().collect();
    ids.sort();
    for id in ids {
        let c = &ca.cas[id];
        println!("{id}\t{}\t{}", c.def.cn, ca.hierarchy.cert_url(id));
    }
}

/// `ca list`: issued certificates, newest first, a line each.
async fn list(state: &CaService, only: Option<&str>, limit: i64) -> Result<()> {
    let filter = coeur::ca::store::ListFilter {
        ca: only,
        limit,
        ..Default::default()
    };
    let certs = state
        .ca
        .list(&state.store, filter)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    for c in certs {
        let status = if c.revoked_at.is_none() {
            "valid"
        } else {
            "revoked"
        };
        println!(
            "{}\t{}\t{}\t{status}\t{}",
            c.ca, c.serial, c.profile, c.subject
        );
    }
    Ok(())
}

/// `ca issue`: checks the request against the profile, issues, prints the certificate.
async fn issue(
    state: &CaService,
    ca_id: &str,
    profile: &str,
    csr: &[u8],
    subject: &SubjectRequest,
) -> Result<()> {
    let ca = &*state.ca;
    let approved = ca
        .check(ca_id, profile, csr, subject)
        .map_err(|e| anyhow!("{e}"))?;
    let (serial, der) = ca
        .issue(
            &*state.rng,
            &coeur::ca::ca::Issuance {
                approved: &approved,
                ca_id,
                profile,
                actor: "cli",
                request: None,
            },
            state.now(),
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    eprintln!("issued {ca_id}/{serial}");
    print!("{}", coeur::ca::ca::cert_pem(&der));
    Ok(())
}
